<?php

declare(strict_types=1);

/*
 * One of the processes started by concurrency_test.php: sends its quick returns (plus an invalid
 * one every 10th) through its own Client and prints one JSON line with its counts and time
 * window. It waits at two barriers of the parent's (prints "ready", then "half" halfway, and
 * each time reads one line from stdin), so the four workers provably run at the same time.
 * Usage: php hammer_worker.php COUNT
 */

require __DIR__ . '/bootstrap.php';

use Wdt\Client;
use Wdt\WdtException;

$count = (int) ($argv[1] ?? 100);
$client = new Client(T::config(), T::env('WDT_LIB'));
$good = T::loadRequest();
$bad = T::loadRequest();
$bad['refundInfo']['tid'] = '';

$barrier = static function (string $stage): void {
    echo $stage, "\n";
    fflush(STDOUT);
    if (fgets(STDIN) === false) {
        exit(3); // the parent is gone
    }
};
$barrier('ready');
$result = ['pid' => getmypid(), 'ok' => 0, 'invalid_argument' => 0, 'other' => 0, 'errors' => [], 'start' => microtime(true)];
for ($i = 0; $i < $count; $i++) {
    if ($i === intdiv($count, 2)) {
        $barrier('half');
    }
    try {
        $data = $client->smartRefundUpload($i % 10 === 9 ? $bad : $good);
        $result[isset($data['stockin_id']) ? 'ok' : 'other']++;
    } catch (WdtException $e) {
        $key = $e->getKind() === 'invalid_argument' && $e->getField() === 'refundInfo.tid' ? 'invalid_argument' : 'other';
        $result[$key]++;
        if ($key === 'other' && count($result['errors']) < 5) {
            $result['errors'][] = $e->getKind() . ': ' . $e->getMessage();
        }
    }
}
$result['end'] = microtime(true);
$client->close();
echo json_encode($result, JSON_UNESCAPED_UNICODE), "\n";
