<?php

declare(strict_types=1);

/*
 * 10,000 calls in a loop must leave memory flat: every returned char * freed, every CData
 * released, nothing piling up in PHP. Measured twice after a warm-up, with memory_get_usage()
 * (PHP's heap, where FFI's own objects live) and VmRSS (the whole process, including the Rust
 * library's heap). The bulk are invalid_argument requests (no network), through both APIs;
 * every 50th is a real quick return to the double. Then 2,000 clients created and freed and
 * 2,000 rejected configs, so the *error_json path is shown to be freed too.
 */

require __DIR__ . '/bootstrap.php';

use Wdt\Client;
use Wdt\WdtException;

const LIMIT = 1024 * 1024;

$lib = T::env('WDT_LIB');
T::env('WDT_MOCK_URL');
$client = new Client(T::config(), $lib);

$bad = T::loadRequest();
$bad['detailMapList'][0]['stockin_num'] = 0;
$badJson = json_encode($bad);
$good = T::loadRequest();

$counts = ['invalid_argument' => 0, 'ok' => 0, 'other' => 0];
$loop = static function (int $n) use ($client, $bad, $badJson, $good, &$counts): void {
    for ($i = 0; $i < $n; $i++) {
        if ($i % 50 === 0) {
            $data = $client->smartRefundUpload($good);
            $counts[isset($data['stockin_id']) ? 'ok' : 'other']++;
        } elseif ($i % 2 === 0) {
            try {
                $client->smartRefundUpload($bad);
                $counts['other']++;
            } catch (WdtException $e) {
                $counts[$e->getKind() === 'invalid_argument' ? 'invalid_argument' : 'other']++;
            }
        } else {
            $envelope = $client->smartRefundUploadJson($badJson);
            $counts[strpos($envelope, '"invalid_argument"') !== false ? 'invalid_argument' : 'other']++;
        }
    }
};

function measure(): array
{
    gc_collect_cycles();
    return [memory_get_usage(), memory_get_usage(true), T::rss()];
}

function report(string $what, array $before, array $after): void
{
    $line = sprintf(
        '%s: memory_get_usage %d -> %d (%+d B), real %d -> %d, VmRSS %d -> %d KiB (%+d KiB)',
        $what,
        $before[0],
        $after[0],
        $after[0] - $before[0],
        $before[1],
        $after[1],
        intdiv($before[2], 1024),
        intdiv($after[2], 1024),
        intdiv($after[2] - $before[2], 1024)
    );
    echo $line, "\n";
    T::check(abs($after[0] - $before[0]) < LIMIT, "$what: memory_get_usage flat within 1 MiB", $line);
    T::check($before[2] > 0 && abs($after[2] - $before[2]) < LIMIT, "$what: VmRSS flat within 1 MiB", $line);
}

// Warm-up: the first calls grow PHP's and the allocator's pools to their working size.
$loop(3000);
$counts = ['invalid_argument' => 0, 'ok' => 0, 'other' => 0];
$before = measure();
$start = microtime(true);
$trail = [];
for ($part = 0; $part < 5; $part++) {
    $loop(2000);
    $trail[] = intdiv(T::rss(), 1024);
}
$elapsed = microtime(true) - $start;
$after = measure();
printf("10,000 calls in %.2f s (%d invalid_argument, %d real quick returns, %d other)\n", $elapsed, $counts['invalid_argument'], $counts['ok'], $counts['other']);
report('10,000 calls', $before, $after);
echo 'VmRSS every 2,000 calls: ' . implode(', ', $trail) . " KiB\n";
T::same(['invalid_argument' => 9800, 'ok' => 200, 'other' => 0], $counts, '10,000 calls: every answer as expected');

// Clients created and freed, and configs rejected: the handle and *error_json are released.
$config = T::config();
$rejected = $config;
unset($rejected['sid']);
$cycle = static function (int $n) use ($config, $rejected, $lib): int {
    $ok = 0;
    for ($i = 0; $i < $n; $i++) {
        $c = new Client($config, $lib);
        $c->close();
        try {
            new Client($rejected, $lib);
        } catch (WdtException $e) {
            $ok += $e->getKind() === 'config' ? 1 : 0;
        }
    }
    return $ok;
};
$cycle(200);
$before = measure();
$start = microtime(true);
$ok = $cycle(2000);
$elapsed = microtime(true) - $start;
$after = measure();
printf("2,000 clients + 2,000 rejected configs in %.2f s\n", $elapsed);
report('2,000 clients and 2,000 rejected configs', $before, $after);
T::same(2000, $ok, '2,000 rejected configs: kind config each time');

T::finish();
