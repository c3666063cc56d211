<?php

declare(strict_types=1);

/*
 * The package under a real PHP-FPM, the way the README recommends deploying it: Debian's
 * php-fpm started by this test (foreground, its own config, a unix socket in a temporary
 * directory), opcache.preload=preload.php, ffi.enable left at its default "preload", so FFI
 * works only for preloaded code. Requests go through cgi-fcgi (libfcgi-bin), as a web server
 * would send them. The client, the outbox, the vendor-SDK drop-in and the paging generators each
 * run in a worker: a class that touches FFI without being preloaded fails here with
 * 'FFI API is restricted by "ffi.enable"'.
 *
 * Env: PHP_FPM (default: the newest /usr/sbin/php-fpm*), CGI_FCGI (default: cgi-fcgi on PATH).
 * A missing php-fpm or cgi-fcgi is a failure (apt-get install php-fpm libfcgi-bin), not a skip.
 */

require __DIR__ . '/bootstrap.php';

$lib = T::env('WDT_LIB');
$mockUrl = T::env('WDT_MOCK_URL');
$package = dirname(__DIR__);

$fpm = getenv('PHP_FPM') ?: '';
if ($fpm === '') {
    $found = glob('/usr/sbin/php-fpm*') ?: [];
    rsort($found);
    $fpm = $found[0] ?? '';
}
$cgi = getenv('CGI_FCGI') ?: trim((string) shell_exec('command -v cgi-fcgi 2>/dev/null'));
if (!T::check($fpm !== '' && is_executable($fpm), 'php-fpm is installed', 'apt-get install php-fpm (or set PHP_FPM)')
    || !T::check($cgi !== '' && is_executable($cgi), 'cgi-fcgi is installed', 'apt-get install libfcgi-bin (or set CGI_FCGI)')) {
    T::finish();
}

$dir = sys_get_temp_dir() . '/wdt-fpm-' . getmypid() . '-' . bin2hex(random_bytes(4));
mkdir($dir, 0700, true);
$socket = "$dir/fpm.sock";
$root = function_exists('posix_geteuid') && posix_geteuid() === 0;
$user = function_exists('posix_geteuid') ? (posix_getpwuid(posix_geteuid())['name'] ?? 'root') : 'root';
$group = function_exists('posix_getegid') ? (posix_getgrgid(posix_getegid())['name'] ?? $user) : $user;
$pool = [
    '[global]',
    "error_log = $dir/fpm.log",
    'daemonize = no',
    "pid = $dir/fpm.pid",
    '[wdt]',
    "listen = $socket",
    'pm = static',
    'pm.max_children = 2',
    'clear_env = yes',
    'catch_workers_output = yes',
    "env[WDT_LIB] = $lib",
    "env[WDT_MOCK_URL] = $mockUrl",
    "env[WDT_FPM_OUTBOX] = $dir/outbox.db",
    "env[WDT_PHP_PACKAGE] = $package",
];
if ($root) {
    // FPM refuses to run workers as root unless told twice: here and with -R.
    $pool[] = "user = $user";
    $pool[] = "group = $group";
}
file_put_contents("$dir/fpm.conf", implode("\n", $pool) . "\n");

$command = array_merge(
    [$fpm, '-F', '-y', "$dir/fpm.conf"],
    $root ? ['-R'] : [],
    [
        '-d', 'opcache.enable=1',
        '-d', "opcache.preload=$package/preload.php",
        '-d', "opcache.preload_user=$user",
        '-d', 'ffi.enable=preload',
    ]
);
$proc = proc_open($command, [0 => ['file', '/dev/null', 'r'], 1 => ['file', "$dir/stdout", 'w'], 2 => ['file', "$dir/stderr", 'w']], $pipes);
register_shutdown_function(static function () use ($proc, $dir): void {
    if (is_resource($proc)) {
        proc_terminate($proc);
        proc_close($proc);
    }
    foreach (glob("$dir/*") ?: [] as $f) {
        @unlink($f);
    }
    @rmdir($dir);
});
for ($i = 0; $i < 600 && !file_exists($socket); $i++) {
    usleep(50000);
}
echo 'php-fpm: ', trim((string) shell_exec(escapeshellarg($fpm) . ' -v | head -n1')), "\n";
if (!T::check(file_exists($socket), 'php-fpm started and listens on its unix socket')) {
    echo @file_get_contents("$dir/stderr"), @file_get_contents("$dir/fpm.log");
    T::finish();
}

/** One GET of fpm_page.php through cgi-fcgi; the decoded JSON body. */
function fpm_get(string $cgi, string $socket, string $case): array
{
    $env = [
        'SCRIPT_FILENAME' => __DIR__ . '/fpm_page.php',
        'SCRIPT_NAME' => '/fpm_page.php',
        'REQUEST_METHOD' => 'GET',
        'QUERY_STRING' => "case=$case",
        'SERVER_PROTOCOL' => 'HTTP/1.1',
        'GATEWAY_INTERFACE' => 'CGI/1.1',
        'PATH' => (string) getenv('PATH'),
    ];
    $proc = proc_open([$cgi, '-bind', '-connect', $socket], [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, null, $env);
    $out = (string) stream_get_contents($pipes[1]);
    $err = (string) stream_get_contents($pipes[2]);
    proc_close($proc);
    $parts = preg_split("/\r?\n\r?\n/", $out, 2);
    $body = $parts[1] ?? $out;
    $decoded = json_decode($body, true);
    return is_array($decoded) ? $decoded : ['error' => "not JSON: $out $err"];
}

$cases = [
    'client' => static function (array $r): void {
        T::check(is_int($r['stockin_id'] ?? null), 'client: quick return under php-fpm', json_encode($r));
    },
    'outbox' => static function (array $r): void {
        T::same('delivered', $r['state'] ?? null, 'outbox: submit delivered under php-fpm');
        T::same('delivered', $r['again'] ?? null, 'outbox: the same id returns the stored entry');
        T::same('pending', $r['deferred'] ?? null, 'outbox: a deferred submit is pending');
        T::check(($r['flush_delivered'] ?? 0) >= 1, 'outbox: flush delivers it', json_encode($r));
        T::same('delivered', $r['get'] ?? null, 'outbox: get after flush');
    },
    'compat' => static function (array $r): void {
        T::check(is_int($r['stockin_id'] ?? null), 'compat: WdtErpClient::call quick return under php-fpm', json_encode($r));
        T::same(0, $r['page_status'] ?? null, 'compat: pageCall with the total gives the whole answer, status 0');
        T::check(($r['page_total'] ?? 0) >= 1, 'compat: pageCall total_count', json_encode($r));
    },
    'paging' => static function (array $r): void {
        T::check(($r['total_count'] ?? 0) >= 2, 'paging: total_count of the window', json_encode($r));
        T::same($r['total_count'] ?? -1, $r['records'] ?? -2, 'paging: records() yields every row, one per page');
        T::same($r['total_count'] ?? -1, $r['pages'] ?? -2, 'paging: pages() walks every page of size 1');
    },
];
foreach ($cases as $case => $verify) {
    T::section("php-fpm: $case", static function () use ($cgi, $socket, $case, $verify): void {
        $r = fpm_get($cgi, $socket, $case);
        echo "$case: " . json_encode($r, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES) . "\n";
        T::same('fpm-fcgi', $r['sapi'] ?? null, "$case: served by php-fpm");
        T::same('preload', $r['ffi_enable'] ?? null, "$case: ffi.enable is the default \"preload\"");
        T::same(['Wdt\\WdtException', 'Wdt\\Native', 'Wdt\\Client', 'Wdt\\Outbox'], $r['preloaded'] ?? null, "$case: every class that touches FFI is preloaded");
        T::check(!isset($r['error']), "$case: no error", (string) ($r['error'] ?? ''));
        $verify($r);
    });
}
T::finish();
