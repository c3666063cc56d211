<?php

declare(strict_types=1);

/*
 * Wdt\Outbox on a shared server database, as a PHP back office configures it: `store` with the
 * URL and the password in an environment variable (store_password_env), on MariaDB and on
 * PostgreSQL (the servers of scripts/db-servers.sh; their URLs are required, never skipped).
 * One PHP process submits; two more flush one backlog at once, as two application servers
 * would, and the double's request log proves that no entry was sent twice.
 */

require __DIR__ . '/bootstrap.php';
require __DIR__ . '/outbox_helpers.php';

use Wdt\Outbox;

$config = array_merge(T::config(), ['connect_timeout_ms' => 1000, 'timeout_ms' => 2000]);
$run = 'PHPS' . getmypid();

/** A new database on the test server behind $url, made with the server's own client; its URL without the password, and the password. */
function freshDatabase(string $url, string $name): array
{
    $u = parse_url($url);
    $pass = urldecode($u['pass'] ?? '');
    if ($u['scheme'] === 'mysql') {
        $cmd = ['mysql', '--protocol=tcp', '-h', $u['host'], '-P', (string) $u['port'], '-u', $u['user'],
                '-e', "CREATE DATABASE $name"];
        $env = ['MYSQL_PWD' => $pass];
    } else {
        $cmd = ['psql', '-X', '-q', '-h', $u['host'], '-p', (string) $u['port'], '-U', $u['user'],
                '-d', ltrim($u['path'], '/'), '-c', "CREATE DATABASE $name"];
        $env = ['PGPASSWORD' => $pass];
    }
    $p = proc_open($cmd, [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, null, array_merge(getenv(), $env));
    $err = stream_get_contents($pipes[2]);
    fclose($pipes[1]);
    fclose($pipes[2]);
    if (proc_close($p) !== 0) {
        throw new RuntimeException("create database $name: $err");
    }
    return ["{$u['scheme']}://{$u['user']}@{$u['host']}:{$u['port']}/$name", $pass];
}

foreach (['WDT_TEST_MYSQL_URL' => 'MariaDB', 'WDT_TEST_PG_URL' => 'PostgreSQL'] as $var => $server) {
    T::section("$server: a back office's outbox", static function () use ($var, $server, $config, $run): void {
        $base = T::env($var);
        [$store, $password] = freshDatabase($base, strtolower('wdt_test_php_' . getmypid() . '_' . (int) (microtime(true) * 1000) . '_' . substr($var, 9, 2)));
        putenv("WDT_PHP_DB_PASSWORD=$password");
        $options = ['store' => $store, 'store_password_env' => 'WDT_PHP_DB_PASSWORD',
                    'settle_ms' => 300, 'lease_ms' => 3000];
        $outbox = new Outbox($config, $options);
        $id = "$run-$server-A";
        $r = $outbox->submit(T::loadRequest(1), $id);
        T::same('delivered', $r['data']['state'] ?? null, "$server: submitted and delivered");
        T::same(1, sendsOf($id), "$server: sent once");

        $n = 30;
        for ($i = 0; $i < $n; $i++) {
            $outbox->submit(T::loadRequest(1), sprintf('%s-%s-F%02d', $run, $server, $i), true);
        }
        $start = (int) round(microtime(true) * 1000) + 1500;
        $a = worker($config, $options, $start, 'flush');
        $b = worker($config, $options, $start, 'flush');
        $ra = finish($a);
        $rb = finish($b);
        T::check(is_array($ra) && is_array($rb), "$server: both flushers answered");
        T::same($n, ($ra['data']['delivered'] ?? 0) + ($rb['data']['delivered'] ?? 0),
            "$server: together they delivered every entry");
        $twice = 0;
        for ($i = 0; $i < $n; $i++) {
            if (sendsOf(sprintf('%s-%s-F%02d', $run, $server, $i)) !== 1) {
                $twice++;
            }
        }
        T::same(0, $twice, "$server: no entry sent twice or not at all (the double's request log)");

        // The password is nowhere in what PHP sees, not even when the login fails.
        putenv('WDT_PHP_DB_PASSWORD=wrong-' . $password);
        $e = T::throws(static function () use ($config, $options): void {
            new Outbox($config, $options);
        }, Wdt\WdtException::class, "$server: a wrong password throws");
        T::check($e !== null && strpos($e->getMessage(), $password) === false,
            "$server: the message does not carry the password", $e ? $e->getMessage() : '');
        putenv('WDT_PHP_DB_PASSWORD');
    });
}

T::finish();
