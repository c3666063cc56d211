<?php
/*
 * Turns bench/run.sh's raw results into the Markdown table of BENCHMARKS.md.
 *
 *   php bench/report.php RESULTS LIB_BYTES STRIPPED_BYTES
 *
 * RESULTS has one line per measurement: "client=ID round=R key=value ...". Each figure in the
 * table is the median over the rounds; each ratio is the median of the per-round ratios (both
 * clients measured minutes apart at most, under the same load), so the machine's noise mostly
 * cancels out.
 */

declare(strict_types=1);

if ($argc < 4) {
    fwrite(STDERR, "usage: php report.php RESULTS LIB_BYTES STRIPPED_BYTES\n");
    exit(2);
}
[$file, $libBytes, $strippedBytes] = [$argv[1], (int)$argv[2], (int)$argv[3]];

/** @var array<string, array<int, array<string, string>>> $runs client => round => fields */
$runs = [];
foreach (file($file, FILE_IGNORE_NEW_LINES | FILE_SKIP_EMPTY_LINES) as $line) {
    $fields = [];
    foreach (preg_split('/\s+/', trim($line)) as $pair) {
        [$k, $v] = array_pad(explode('=', $pair, 2), 2, '');
        $fields[$k] = $v;
    }
    $runs[$fields['client']][(int)$fields['round']] = $fields;
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

function rss_kb(array $f): ?float
{
    return isset($f['hwm_kb']) ? (float)$f['hwm_kb'] : (isset($f['maxrss_kb']) ? (float)$f['maxrss_kb'] : null);
}

/** Median over rounds of f(client's fields, reference's fields) where both exist. */
function ratio(array $runs, string $client, string $ref): ?float
{
    $xs = [];
    foreach ($runs[$client] ?? [] as $round => $f) {
        if (isset($runs[$ref][$round])) {
            $xs[] = rate($f) / rate($runs[$ref][$round]);
        }
    }
    return median($xs);
}

function fmt(?float $x, int $decimals = 0): string
{
    return $x === null ? '–' : number_format($x, $decimals, '.', '');
}

$labels = [
    'wrk' => 'wrk: transport limit (1 thread, 1 connection, keep-alive)',
    'wrk2' => 'wrk, 2 threads, 2 connections (scaling reference)',
    'c_raw' => 'floor: hand-written C client, one blocking socket, no library',
    'c1' => 'libwdt, C ABI, 1 thread',
    'c2' => 'libwdt, C ABI, 2 threads sharing one client',
    'php_ffi' => 'libwdt, PHP FFI binding (bindings/php)',
    'php_vendor' => 'PHP vendor-SDK style (file_get_contents, new connection per call)',
    'php_curl' => 'PHP curl, one reused handle (keep-alive)',
];

$rounds = max(array_map('count', array_intersect_key($runs, $labels)) ?: [0]);
echo "| client | calls/s | µs per call | client CPU µs per call | peak RSS MiB | × wrk | × vendor PHP |\n";
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n";
$med = [];
foreach ($labels as $id => $label) {
    if (!isset($runs[$id])) {
        continue;
    }
    $rs = $runs[$id];
    $calls = median(array_map('rate', $rs));
    $cpu = median(array_map('cpu_per_call', $rs));
    $rss = max(array_map('rss_kb', $rs));
    $med[$id] = ['rate' => $calls, 'cpu' => $cpu, 'rss_mib' => $rss === null ? null : $rss / 1024];
    printf(
        "| %s | %s | %s | %s | %s | %s | %s |\n",
        $label,
        fmt($calls),
        fmt(1e6 / $calls, 1),
        fmt($cpu, 1),
        fmt($med[$id]['rss_mib'], 1),
        fmt(ratio($runs, $id, 'wrk'), 2),
        fmt(ratio($runs, $id, 'php_vendor'), 2)
    );
}
echo "\n";
echo "Medians over $rounds rounds. µs per call = wall time / calls (for 2 threads: per call of the pair, i.e. 1/throughput). CPU = getrusage user+sys of the client process over the timed loop / calls (wrk: /usr/bin/time over its whole run). Peak RSS = VmHWM (wrk: /usr/bin/time maximum resident set size), largest over the rounds.\n\n";

$new = median(array_map(static fn($f) => $f['wall_us'] / $f['calls'], $runs['client_new'] ?? []));
$newCpu = median(array_map(static fn($f) => $f['cpu_us'] / $f['calls'], $runs['client_new'] ?? []));
printf("- wdt_client_new: %s µs per client (wall, average of %s; CPU %s µs)\n",
    fmt($new, 1), $runs['client_new'][1]['calls'] ?? '?', fmt($newCpu, 1));
printf("- libwdt.so: %s bytes as built, %s bytes (%.2f MiB) after strip --strip-all\n",
    $libBytes, $strippedBytes, $strippedBytes / 1048576);
if (isset($runs['server_nginx'][0], $runs['server_mock'][0])) {
    $n = rate($runs['server_nginx'][0]);
    $m = rate($runs['server_mock'][0]);
    printf("- server check (wrk, 1 connection, 2 s): nginx %s calls/s, wdt-mock %s calls/s: %s is the faster server, so the table uses nginx%s\n",
        fmt($n), fmt($m), $n >= $m ? 'nginx' : 'wdt-mock',
        $n >= $m ? '' : ' anyway (it answers a fixed body; the double signs and checks every call)');
}
echo "\n";

$two = ratio($runs, 'c2', 'c1');
$targets = [
    ['C ABI, 1 thread ≥ 0.75 × wrk', ratio($runs, 'c1', 'wrk'), 0.75, '×', true],
    ['C ABI, 1 thread ≥ 3 × vendor-style PHP', ratio($runs, 'c1', 'php_vendor'), 3.0, '×', true],
    ['C ABI client CPU ≤ 10 µs per call', $med['c1']['cpu'] ?? null, 10.0, 'µs', false],
    ['2 threads ≥ 1.6 × 1 thread (wrk: ' . fmt(ratio($runs, 'wrk2', 'wrk'), 2) . ' × from 2 connections)', $two, 1.6, '×', true],
    ['PHP FFI ≥ 1.5 × PHP curl', ratio($runs, 'php_ffi', 'php_curl'), 1.5, '×', true],
    ['C benchmark peak RSS ≤ 8 MiB', max($med['c1']['rss_mib'] ?? 0, $med['c2']['rss_mib'] ?? 0), 8.0, 'MiB', false],
    ['wdt_client_new ≤ 1 ms', $new === null ? null : $new / 1000, 1.0, 'ms', false],
    ['stripped libwdt.so ≤ 3 MiB', $strippedBytes / 1048576, 3.0, 'MiB', false],
];
echo "| target | measured | |\n| --- | ---: | --- |\n";
foreach ($targets as [$what, $value, $limit, $unit, $atLeast]) {
    $met = $value !== null && ($atLeast ? $value >= $limit : $value <= $limit);
    printf("| %s | %s %s | %s |\n", $what, fmt($value, 2), $unit, $value === null ? 'not measured' : ($met ? 'met' : '**missed**'));
}
echo "\n";
