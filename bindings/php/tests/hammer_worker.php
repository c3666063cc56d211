<?php

declare(strict_types=1);

/*
 * One of the processes started by concurrency_test.php: waits for the common start time so the
 * four really overlap, then sends its quick returns (plus an invalid one every 10th) through its
 * own Client and prints one JSON line with its counts and time window.
 * Usage: php hammer_worker.php COUNT START_AT
 */

require __DIR__ . '/bootstrap.php';

use Wdt\Client;
use Wdt\WdtException;

$count = (int) ($argv[1] ?? 100);
$startAt = (float) ($argv[2] ?? 0);
$client = new Client(T::config(), T::env('WDT_LIB'));
$good = T::loadRequest();
$bad = T::loadRequest();
$bad['refundInfo']['tid'] = '';

while (microtime(true) < $startAt) {
    usleep(1000);
}
$result = ['pid' => getmypid(), 'ok' => 0, 'invalid_argument' => 0, 'other' => 0, 'errors' => [], 'start' => microtime(true)];
for ($i = 0; $i < $count; $i++) {
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
