<?php

declare(strict_types=1);

/*
 * The README's PHP-FPM setups, tried for real with the built-in web server (`php -S`), whose
 * SAPI is not "cli" and so gets the same ffi.enable=preload restriction as PHP-FPM:
 *   - nothing configured: a RuntimeException that points at the README, not a crash;
 *   - opcache.preload=preload.php (ffi.enable left at its default "preload") and WDT_LIB;
 *   - opcache.preload plus ffi.preload of the header from bin/ffi-preload-header.php, no WDT_LIB;
 *   - ffi.enable=1 alone, with WDT_LIB.
 */

require __DIR__ . '/bootstrap.php';

$lib = T::env('WDT_LIB');
T::env('WDT_MOCK_URL');
$package = dirname(__DIR__);

// Preloading refuses to run as root unless told which user to switch to.
$user = function_exists('posix_geteuid') ? (posix_getpwuid(posix_geteuid())['name'] ?? 'root') : 'root';
$header = tempnam(sys_get_temp_dir(), 'wdt') . '.h';
file_put_contents($header, (string) shell_exec(escapeshellarg(PHP_BINARY) . ' ' . escapeshellarg("$package/bin/ffi-preload-header.php") . ' ' . escapeshellarg($lib)));
$preload = ['-d', 'opcache.enable=1', '-d', "opcache.preload=$package/preload.php", '-d', "opcache.preload_user=$user"];

$setups = [
    'nothing configured' => [['-d', 'ffi.enable=preload'], true, false],
    'opcache.preload + WDT_LIB' => [array_merge($preload, ['-d', 'ffi.enable=preload']), true, true],
    'opcache.preload + ffi.preload' => [array_merge($preload, ['-d', 'ffi.enable=preload', '-d', "ffi.preload=$header"]), false, true],
    'ffi.enable=1 + WDT_LIB' => [['-d', 'ffi.enable=1'], true, true],
];

/** Runs one `php -S`, fetches the router page once, stops the server. */
function serve(array $args, bool $withLib, string $lib): ?array
{
    $probe = stream_socket_server('tcp://127.0.0.1:0');
    $address = stream_socket_get_name($probe, false);
    fclose($probe);
    $env = getenv();
    unset($env['WDT_LIB']);
    if ($withLib) {
        $env['WDT_LIB'] = $lib;
    }
    $command = array_merge([PHP_BINARY], $args, ['-S', $address, __DIR__ . '/sapi_router.php']);
    $null = PHP_OS_FAMILY === 'Windows' ? 'NUL' : '/dev/null';
    $proc = proc_open($command, [0 => ['file', $null, 'r'], 1 => ['file', $null, 'w'], 2 => ['file', $null, 'w']], $pipes, null, $env);
    $body = false;
    // Up to 30 s for the server to start and answer: a cold, busy machine is slow, and only
    // the answer's content is under test here.
    $context = stream_context_create(['http' => ['timeout' => 30, 'ignore_errors' => true]]);
    for ($i = 0; $i < 600 && $body === false; $i++) {
        usleep(50000);
        set_error_handler(static function (): bool {
            return true; // connection refused while the server starts
        });
        $body = file_get_contents("http://$address/", false, $context);
        restore_error_handler();
    }
    proc_terminate($proc);
    proc_close($proc);
    $decoded = is_string($body) ? json_decode($body, true) : null;
    return is_array($decoded) ? $decoded : ($body === false ? null : ['error' => 'not JSON: ' . $body]);
}

foreach ($setups as $name => [$args, $withLib, $works]) {
    T::section($name, static function () use ($name, $args, $withLib, $works, $lib): void {
        $result = serve($args, $withLib, $lib);
        if (!T::check(is_array($result), "$name: the server answered")) {
            return;
        }
        echo "$name: " . json_encode($result, JSON_UNESCAPED_SLASHES) . "\n";
        if ($works) {
            T::check(is_string($result['version'] ?? null), "$name: library loaded", $result['error'] ?? '');
            T::check(is_int($result['stockin_id'] ?? null), "$name: quick return sent", $result['error'] ?? '');
        } else {
            T::check(strpos($result['error'] ?? '', 'ffi.enable') !== false && strpos($result['error'] ?? '', 'README') !== false, "$name: RuntimeException pointing at the README", $result['error'] ?? '');
        }
    });
}
unlink($header);

T::finish();
