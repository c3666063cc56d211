<?php
/*
 * Turns bench/run.sh's raw results into the one Markdown table of BENCHMARKS.md.
 *
 *   php bench/report.php RESULTS LIB_BYTES STRIPPED_BYTES
 *
 * RESULTS has one line per measurement: "client=ID round=R key=value ...". Figures are medians
 * over the rounds with min..max; every ratio is the median of the per-round ratios (the two
 * clients ran seconds apart in the same round, under the same load), so the machine's noise
 * mostly cancels out. Lines with kind=strace carry syscalls per call (round 0, counted once).
 */

declare(strict_types=1);

if ($argc < 4) {
    fwrite(STDERR, "usage: php report.php RESULTS LIB_BYTES STRIPPED_BYTES\n");
    exit(2);
}
[$file, $libBytes, $strippedBytes] = [$argv[1], (int)$argv[2], (int)$argv[3]];

/** @var array<string, array<int, array<string, string>>> $runs client => round => fields */
$runs = [];
/** @var array<string, array<string, string>> $strace client => fields */
$strace = [];
foreach (file($file, FILE_IGNORE_NEW_LINES | FILE_SKIP_EMPTY_LINES) as $line) {
    $fields = [];
    foreach (preg_split('/\s+/', trim($line)) as $pair) {
        [$k, $v] = array_pad(explode('=', $pair, 2), 2, '');
        $fields[$k] = $v;
    }
    if (($fields['kind'] ?? '') === 'strace') {
        $strace[$fields['client']] = $fields;
    } else {
        $runs[$fields['client']][(int)$fields['round']] = $fields;
    }
}

function median(array $xs): ?float
{
    $xs = array_values(array_filter($xs, static fn($x) => $x !== null));
    if ($xs === []) {
        return null;
    }
    sort($xs);
    $n = count($xs);
    return $n % 2 ? (float)$xs[intdiv($n, 2)] : ($xs[$n / 2 - 1] + $xs[$n / 2]) / 2;
}

function rate(array $f): float
{
    return $f['calls'] / ($f['wall_us'] / 1e6);
}

function cpu_per_call(array $f): ?float
{
    if (isset($f['cpu_us'])) {
        return $f['cpu_us'] / $f['calls'];
    }
    if (isset($f['user_s'], $f['sys_s'])) { // wrk, from /usr/bin/time (10 ms resolution)
        return ((float)$f['user_s'] + (float)$f['sys_s']) * 1e6 / $f['calls'];
    }
    return null;
}

/** nginx CPU per call it served in that run, as a share of the client's wall time per call. */
function server_cpu_share(array $f): ?float
{
    if (!isset($f['srv_ticks'], $f['srv_calls'], $f['clk_tck']) || (int)$f['srv_calls'] === 0) {
        return null;
    }
    $perCall = $f['srv_ticks'] / $f['clk_tck'] * 1e6 / $f['srv_calls'];
    return 100 * $perCall / ($f['wall_us'] / $f['calls']);
}

function rss_kb(array $f): ?float
{
    return isset($f['hwm_kb']) ? (float)$f['hwm_kb'] : (isset($f['maxrss_kb']) ? (float)$f['maxrss_kb'] : null);
}

/** Per-round ratios of client's rate to ref's rate. */
function ratios(array $runs, string $client, string $ref): array
{
    $xs = [];
    foreach ($runs[$client] ?? [] as $round => $f) {
        if (isset($runs[$ref][$round])) {
            $xs[] = rate($f) / rate($runs[$ref][$round]);
        }
    }
    return $xs;
}

function ratio(array $runs, string $client, string $ref): ?float
{
    return median(ratios($runs, $client, $ref));
}

function fmt(?float $x, int $decimals = 0): string
{
    return $x === null ? '–' : number_format($x, $decimals, '.', '');
}

function spread(array $xs, int $decimals = 0): string
{
    $xs = array_values(array_filter($xs, static fn($x) => $x !== null));
    if ($xs === []) {
        return '–';
    }
    return count($xs) === 1 ? fmt($xs[0], $decimals)
        : sprintf('%s (%s..%s)', fmt(median($xs), $decimals), fmt(min($xs), $decimals), fmt(max($xs), $decimals));
}

$labels = [
    'wrk' => 'wrk: transport limit (1 thread, 1 connection, keep-alive)',
    'wrk2' => 'wrk, 2 threads, 2 connections (scaling reference)',
    'c_raw' => 'floor: hand-written C client, one blocking socket, no library',
    'c1' => 'libwdt, C ABI, 1 thread',
    'c2' => 'libwdt, C ABI, 2 threads sharing one client',
    'php_ffi' => 'libwdt, PHP FFI binding (bindings/php, smartRefundUploadJson)',
    'php_ffi_raw' => 'libwdt, bare PHP FFI::cdef call (no binding)',
    'csharp' => 'libwdt, C# binding under Mono',
    'php_vendor' => 'PHP vendor-SDK style (file_get_contents, new connection per call)',
    'php_curl' => 'PHP curl, one reused handle (keep-alive)',
];

$rounds = max(array_map('count', array_intersect_key($runs, $labels)) ?: [0]);
echo "| client | calls/s median (min..max) | µs per call | client CPU µs per call | nginx CPU % | syscalls per call | peak RSS MiB | × C floor | × PHP curl | × vendor PHP |\n";
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
$med = [];
foreach ($labels as $id => $label) {
    if (!isset($runs[$id])) {
        continue;
    }
    $rs = $runs[$id];
    $calls = median(array_map('rate', $rs));
    $cpu = median(array_map('cpu_per_call', $rs));
    $rss = max(array_map('rss_kb', $rs));
    $med[$id] = [
        'rate' => $calls,
        'cpu' => $cpu,
        'rss_mib' => $rss === null ? null : $rss / 1024,
        'srv' => median(array_map('server_cpu_share', $rs)),
        'sys' => isset($strace[$id]) ? (float)$strace[$id]['syscalls'] : null,
    ];
    printf(
        "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
        $label,
        spread(array_map('rate', $rs)),
        fmt(1e6 / $calls, 1),
        fmt($cpu, 1),
        fmt($med[$id]['srv']),
        fmt($med[$id]['sys'], 2),
        fmt($med[$id]['rss_mib'], 1),
        fmt(ratio($runs, $id, 'c_raw'), 2),
        fmt(ratio($runs, $id, 'php_curl'), 2),
        fmt(ratio($runs, $id, 'php_vendor'), 2)
    );
}
echo "\n";
echo "Medians over $rounds rounds (min..max of the rounds in brackets); ratios are medians of per-round ratios. µs per call = wall time / calls (2 threads: per call of the pair, 1/throughput). Client CPU = getrusage user+sys of the client process over the timed loop / calls (wrk: /usr/bin/time over its run; C#: the process's processor time, runtime threads included). nginx CPU % = the server's CPU (master + worker, /proc ticks at 1/CLK_TCK resolution, warm-up calls included) per call it served, as a share of the client's wall time per call: 100 % means the server is the bottleneck. Syscalls per call: strace -c -f, (total with S2 calls − total with S1 calls) / (S2 − S1). Peak RSS = VmHWM (wrk: /usr/bin/time), largest over the rounds.\n\n";

echo "Syscalls per warm call, by name (strace -c -f difference method):\n\n";
foreach ($labels as $id => $label) {
    if (isset($strace[$id])) {
        printf("- %s: %s — %s\n", $id, fmt((float)$strace[$id]['syscalls'], 2), str_replace(',', ', ', $strace[$id]['top']));
    }
}
echo "\n";

$new = median(array_map(static fn($f) => $f['wall_us'] / $f['calls'], $runs['client_new'] ?? []));
$newCpu = median(array_map(static fn($f) => $f['cpu_us'] / $f['calls'], $runs['client_new'] ?? []));
printf("- wdt_client_new: %s µs per client (wall, median of rounds, each an average of %s; CPU %s µs)\n",
    fmt($new, 1), $runs['client_new'][1]['calls'] ?? '?', fmt($newCpu, 1));
printf("- libwdt.so: %s bytes as built, %s bytes (%.2f MiB) after strip --strip-all\n",
    $libBytes, $strippedBytes, $strippedBytes / 1048576);
if (isset($runs['php_overhead'][0])) {
    $o = $runs['php_overhead'][0];
    printf("- PHP binding overhead (no network, %s calls of an invalid request): smartRefundUploadJson %s µs, bare FFI %s µs per call: the binding adds %s µs\n",
        $o['calls'], fmt((float)$o['binding_us'], 2), fmt((float)$o['raw_us'], 2), fmt($o['binding_us'] - $o['raw_us'], 2));
}
if (isset($runs['server_nginx'][0], $runs['server_mock'][0])) {
    $n = rate($runs['server_nginx'][0]);
    $m = rate($runs['server_mock'][0]);
    printf("- server check (wrk, 1 connection, 2 s): nginx %s calls/s, wdt-mock %s calls/s: %s is the faster server, so the table uses nginx%s\n",
        fmt($n), fmt($m), $n >= $m ? 'nginx' : 'wdt-mock',
        $n >= $m ? '' : ' anyway (it answers a fixed body; the double signs and checks every call)');
}
echo "\n";

// Issue 12's targets; "before" figures are from the previous table (BENCHMARKS.md history in git).
$c1cpu = $med['c1']['cpu'] ?? null;
$rawCpu = $med['c_raw']['cpu'] ?? null;
$targets = [
    ['C ABI, 1 thread ≥ 3 × vendor-style PHP', ratio($runs, 'c1', 'php_vendor'), 3.0, '×', true],
    ['C ABI, 1 thread ≥ 1.7 × PHP curl keep-alive', ratio($runs, 'c1', 'php_curl'), 1.7, '×', true],
    ['C ABI, 1 thread ≥ 0.6 × hand-written C floor', ratio($runs, 'c1', 'c_raw'), 0.6, '×', true],
    ['C ABI client CPU per call ≤ 2 × the floor\'s', $c1cpu !== null && $rawCpu ? $c1cpu / $rawCpu : null, 2.0, '×', false],
    ['PHP FFI binding ≥ 1.5 × PHP curl keep-alive', ratio($runs, 'php_ffi', 'php_curl'), 1.5, '×', true],
    ['C# binding under Mono ≥ 0.8 × C ABI', ratio($runs, 'csharp', 'c1'), 0.8, '×', true],
    ['2 threads ≥ 1.5 × 1 thread (nginx CPU ' . fmt($med['c2']['srv'] ?? null) . ' % with 2 threads; wrk 2 conn. ' . fmt(ratio($runs, 'wrk2', 'wrk'), 2) . ' × wrk)', ratio($runs, 'c2', 'c1'), 1.5, '×', true],
    ['syscalls per warm call (C ABI, 1 thread) ≤ 3', $med['c1']['sys'] ?? null, 3.0, '', false],
    ['peak RSS of the C bench ≤ 3.7 MiB (before)', max($med['c1']['rss_mib'] ?? 0, $med['c2']['rss_mib'] ?? 0), 3.7, 'MiB', false],
    // CPU, not wall: a call without I/O whose wall time on a loaded machine is mostly waiting
    // for a core (the wall figure is in the list above).
    ['wdt_client_new CPU ≤ 7.6 µs (before)', $newCpu, 7.6, 'µs', false],
    ['stripped libwdt.so ≤ 2.47 MiB (before)', $strippedBytes / 1048576, 2.47, 'MiB', false],
];
echo "| target (issue 12) | measured | |\n| --- | ---: | --- |\n";
foreach ($targets as [$what, $value, $limit, $unit, $atLeast]) {
    $met = $value !== null && ($atLeast ? $value >= $limit : $value <= $limit);
    printf("| %s | %s %s | %s |\n", $what, fmt($value, 2), $unit, $value === null ? 'not measured' : ($met ? 'met' : '**missed**'));
}
echo "\n";
