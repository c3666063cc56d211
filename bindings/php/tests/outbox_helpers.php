<?php

declare(strict_types=1);

/*
 * Shared by outbox_test.php and outbox_server_test.php: the double's count of sends per entry,
 * and second PHP processes (outbox_worker.php) started together.
 */

/** How many quick returns the double received carrying this entry's marker. */
function sendsOf(string $id): int
{
    $log = json_decode((string) file_get_contents(T::env('WDT_MOCK_BASE') . '/__mock/requests'), true);
    $n = 0;
    foreach ($log['requests'] as $r) {
        // The marker is [wdt:<file tag>:<id>], a whole token.
        $marker = '/\[wdt:[0-9a-f]+:' . preg_quote($id, '/') . '\]/';
        if ($r['method'] === 'wms.stockin.SmartRefund.upload' && preg_match($marker, $r['body']) === 1) {
            $n++;
        }
    }
    return $n;
}

/** Starts outbox_worker.php; returns [process, stdout pipe]. */
function worker(array $config, array $options, int $startMs, string $action, string $id = ''): array
{
    $cmd = [PHP_BINARY, '-d', 'ffi.enable=1', __DIR__ . '/outbox_worker.php',
            json_encode($config), json_encode($options), (string) $startMs, $action];
    if ($id !== '') {
        $cmd[] = $id;
    }
    $p = proc_open($cmd, [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
    return [$p, $pipes];
}

/** @return array<string, mixed>|null */
function finish(array $w): ?array
{
    [$p, $pipes] = $w;
    $out = stream_get_contents($pipes[1]);
    $err = stream_get_contents($pipes[2]);
    fclose($pipes[1]);
    fclose($pipes[2]);
    $code = proc_close($p);
    if ($code !== 0) {
        fwrite(STDERR, "worker exited $code: $err\n");
    }
    $lines = array_values(array_filter(explode("\n", (string) $out)));
    return $lines ? json_decode(end($lines), true) : null;
}
