<?php

declare(strict_types=1);

/*
 * Four clients hammering one gateway double at the same time. PHP has no threads, so these are
 * four processes started with proc_open (each loads the library and owns its client), not
 * pcntl_fork: a forked child would inherit the parent's loaded library and open connections,
 * which is not how PHP-FPM or a POS till runs PHP, and pcntl exists neither on Windows nor
 * under FPM. proc_open works everywhere PHP does.
 *
 * That the four really overlap is proven by construction, not by a clock: every worker stops
 * halfway at a barrier (it prints "half" and waits for a line on stdin) until all four are there,
 * so each one's window holds the moment the last one arrived. A start time in the future was
 * used before; on a cold, busy machine one PHP process started later than that and finished its
 * calls before another began, and the check failed though nothing was wrong.
 */

require __DIR__ . '/bootstrap.php';

const WORKERS = 4;
const PER_WORKER = 300;

T::env('WDT_LIB');
T::env('WDT_MOCK_URL');

$before = T::mockStats()['requests'] ?? null;
$procs = [];
for ($w = 0; $w < WORKERS; $w++) {
    $command = [PHP_BINARY, '-d', 'ffi.enable=1', __DIR__ . '/hammer_worker.php', (string) PER_WORKER];
    $proc = proc_open($command, [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
    T::check(is_resource($proc), "worker $w started");
    $procs[] = [$proc, $pipes];
}

// The barriers: each worker prints "ready" once its client exists and "half" halfway; it goes
// on when it reads a line. A worker that died prints nothing, so its stdout reaches EOF instead.
foreach (['ready', 'half'] as $stage) {
    $arrived = 0;
    foreach ($procs as $w => [$proc, $pipes]) {
        $line = fgets($pipes[1]);
        if (T::check($line !== false && trim($line) === $stage, "worker $w reached $stage", var_export($line, true))) {
            $arrived++;
        }
    }
    foreach ($procs as [$proc, $pipes]) {
        @fwrite($pipes[0], "go\n");
    }
    if ($arrived !== WORKERS) {
        break;
    }
}

$results = [];
foreach ($procs as $w => [$proc, $pipes]) {
    fclose($pipes[0]);
    $out = stream_get_contents($pipes[1]);
    $err = stream_get_contents($pipes[2]);
    fclose($pipes[1]);
    fclose($pipes[2]);
    $code = proc_close($proc);
    T::same(0, $code, "worker $w exit code" . ($err !== '' ? " (stderr: $err)" : ''));
    $result = json_decode(trim((string) $out), true);
    if (!T::check(is_array($result), "worker $w printed its result", (string) $out . $err)) {
        continue;
    }
    $results[] = $result;
    $invalid = intdiv(PER_WORKER, 10);
    T::same(PER_WORKER - $invalid, $result['ok'], "worker $w: quick returns accepted");
    T::same($invalid, $result['invalid_argument'], "worker $w: invalid_argument with its field");
    T::same(0, $result['other'], "worker $w: nothing else" . ($result['errors'] ? ' (' . implode('; ', $result['errors']) . ')' : ''));
}

if (count($results) === WORKERS) {
    $latestStart = max(array_column($results, 'start'));
    $earliestEnd = min(array_column($results, 'end'));
    printf(
        "%d processes x %d calls; windows overlap %.3f s; slowest took %.3f s\n",
        WORKERS,
        PER_WORKER,
        $earliestEnd - $latestStart,
        max(array_map(static function (array $r): float {
            return $r['end'] - $r['start'];
        }, $results))
    );
    T::check($latestStart < $earliestEnd, 'the four workers ran at the same time (the barrier held all four)');
    T::same(WORKERS, count(array_unique(array_column($results, 'pid'))), 'four distinct processes');
}
$after = T::mockStats()['requests'] ?? null;
$sent = WORKERS * (PER_WORKER - intdiv(PER_WORKER, 10));
T::check(is_int($before) && is_int($after) && $after - $before >= $sent, "the double saw at least $sent requests", "before $before, after $after");

T::finish();
