<?php

declare(strict_types=1);

/*
 * Shared by every test script: autoloading without Composer, a few plain assertions, the shared
 * fixtures and the environment set by test.sh. Each script ends with T::finish(), which prints
 * "N passed, M failed" as its last line; test.sh adds those lines up.
 */

error_reporting(E_ALL);
ini_set('display_errors', 'stderr');

// Warnings and notices are failures too: a binding that "works" with a notice is broken.
set_error_handler(static function (int $severity, string $message, string $file, int $line): bool {
    throw new ErrorException($message, 0, $severity, $file, $line);
});

if (is_file(__DIR__ . '/../vendor/autoload.php')) {
    require __DIR__ . '/../vendor/autoload.php';
} else {
    // The same PSR-4 mapping as composer.json, so the tests need no `composer install`.
    spl_autoload_register(static function (string $class): void {
        if (strncmp($class, 'Wdt\\', 4) === 0) {
            $file = __DIR__ . '/../src/' . str_replace('\\', '/', substr($class, 4)) . '.php';
            if (is_file($file)) {
                require $file;
            }
        }
    });
}

final class T
{
    /** @var int */
    public static $passed = 0;
    /** @var int */
    public static $failed = 0;

    public static function check(bool $condition, string $name, string $detail = ''): bool
    {
        if ($condition) {
            self::$passed++;
        } else {
            self::$failed++;
            fwrite(STDERR, "FAIL: $name" . ($detail !== '' ? "\n      $detail" : '') . "\n");
        }
        return $condition;
    }

    /**
     * @param mixed $expected
     * @param mixed $actual
     */
    public static function same($expected, $actual, string $name): bool
    {
        return self::check(
            $expected === $actual,
            $name,
            'expected ' . var_export($expected, true) . ', got ' . var_export($actual, true)
        );
    }

    /**
     * Runs $fn and returns what it threw when it is an instance of $class; records a failure
     * otherwise.
     */
    public static function throws(callable $fn, string $class, string $name): ?Throwable
    {
        try {
            $fn();
        } catch (Throwable $e) {
            $ok = $e instanceof $class;
            self::check($ok, $name, "expected $class, got " . get_class($e) . ': ' . $e->getMessage());
            return $ok ? $e : null;
        }
        self::check(false, $name, "expected $class, nothing was thrown");
        return null;
    }

    /** Runs one named block; an unexpected exception fails the block instead of the script. */
    public static function section(string $name, callable $fn): void
    {
        try {
            $fn();
        } catch (Throwable $e) {
            self::check(false, $name, 'uncaught ' . get_class($e) . ': ' . $e->getMessage()
                . ' at ' . $e->getFile() . ':' . $e->getLine());
        }
    }

    public static function finish(): void
    {
        echo self::$passed . ' passed, ' . self::$failed . " failed\n";
        exit(self::$failed === 0 ? 0 : 1);
    }

    public static function env(string $name): string
    {
        $value = getenv($name);
        if (!is_string($value) || $value === '') {
            fwrite(STDERR, "the environment variable $name is not set (run the tests through test.sh)\n");
            echo "0 passed, 1 failed\n";
            exit(1);
        }
        return $value;
    }

    public static function root(): string
    {
        $root = getenv('WDT_ROOT');
        return is_string($root) && $root !== '' ? $root : dirname(__DIR__, 3);
    }

    /**
     * tests/fixtures/cases.json. $assoc false keeps {} and [] apart (for the raw JSON path);
     * true gives the PHP arrays a PHP developer would write (for the array API).
     *
     * @return mixed
     */
    public static function fixtures(bool $assoc)
    {
        $text = file_get_contents(self::root() . '/tests/fixtures/cases.json');
        return json_decode((string) $text, $assoc, 512, JSON_THROW_ON_ERROR);
    }

    /**
     * base_config + the double's url, as a PHP array.
     *
     * @return array<string, mixed>
     */
    public static function config(): array
    {
        $fixtures = self::fixtures(true);
        return $fixtures['base_config'] + ['url' => self::env('WDT_MOCK_URL')];
    }

    /** GET on the double's control endpoints (/__mock/...). */
    public static function mockStats(): array
    {
        $base = self::env('WDT_MOCK_BASE');
        $text = file_get_contents($base . '/__mock/stats');
        $stats = json_decode((string) $text, true);
        return is_array($stats) ? $stats : [];
    }

    /** VmRSS of this process in bytes (Linux). */
    public static function rss(): int
    {
        $status = (string) @file_get_contents('/proc/self/status');
        if (preg_match('/^VmRSS:\s+(\d+)\s+kB/m', $status, $m)) {
            return (int) $m[1] * 1024;
        }
        return -1;
    }

    /**
     * The quick return's three positional arguments, as the vendor's call() takes them, on the
     * double's load order (enough stock for any loop).
     *
     * @return array{0: array<string, mixed>, 1: array<int, array<string, mixed>>, 2: bool}
     */
    public static function vendorRefundArgs(): array
    {
        $request = self::loadRequest();
        return [$request['refundInfo'], $request['detailMapList'], $request['createPreStockin']];
    }

    /**
     * A quick return on the double's load order, which has enough stock for any loop.
     *
     * @param int|float $quantity
     */
    public static function loadRequest($quantity = 1): array
    {
        return [
            'refundInfo' => ['tid' => 'pos-load', 'return_warehouse_no' => 'pos', 'remark' => 'php load'],
            'detailMapList' => [['spec_no' => 'LOAD-SKU', 'stockin_num' => $quantity, 'remark' => '']],
            'createPreStockin' => false,
        ];
    }
}
