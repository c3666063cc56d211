<?php

declare(strict_types=1);

/*
 * compat/wdtsdk.php, the drop-in for the vendor's wdtsdk.php: the vendor's own PHP samples from
 * the API pages (tests/compat/samples/) run against the double with only the require line and
 * the constructor's placeholders replaced, then the drop-in's errors, pager and constructors.
 */

require __DIR__ . '/bootstrap.php';

$compat = realpath(__DIR__ . '/../compat/wdtsdk.php');
require_once $compat;

$fixtures = T::fixtures(true);
$account = $fixtures['base_config'];
$mockUrl = T::env('WDT_MOCK_URL');
$base = T::env('WDT_MOCK_BASE');

/**
 * Runs a sample after the two documented replacements; returns its variables and its output.
 *
 * @return array{vars: array<string, mixed>, output: string, error: Throwable|null}
 */
function runSample(string $name, string $compat, string $base, array $account): array
{
    $text = (string) file_get_contents(__DIR__ . "/compat/samples/$name.php");
    $replaced = 0;
    $text = str_replace("require_once('wdtsdk.php');", 'require_once(' . var_export($compat, true) . ');', $text, $n);
    $replaced += $n;
    $text = preg_replace(
        '~new WdtErpClient\(\s*"url"\s*,\s*"wdtapi3"\s*,\s*"appkey"\s*,\s*"secret"\s*\)~',
        'new WdtErpClient(' . implode(', ', array_map(static function ($v): string {
            return var_export($v, true);
        }, [$base, $account['sid'], $account['appkey'], $account['appsecret']])) . ')',
        $text,
        -1,
        $n
    );
    $replaced += $n;
    T::same(2, $replaced, "$name: exactly the require line and the constructor were replaced");
    $file = tempnam(sys_get_temp_dir(), 'wdt-sample') . '.php';
    file_put_contents($file, $text);
    $run = static function (string $__file): array {
        ob_start();
        $__error = null;
        try {
            include $__file;
        } catch (Throwable $e) {
            $__error = $e;
        }
        $__output = (string) ob_get_clean();
        $vars = get_defined_vars();
        unset($vars['__file'], $vars['__output'], $vars['__error']);
        return ['vars' => $vars, 'output' => $__output, 'error' => $__error];
    };
    try {
        return $run($file);
    } finally {
        unlink($file);
    }
}

function mockFault(string $base, string $spec): void
{
    $context = stream_context_create(['http' => ['method' => 'POST', 'content' => $spec, 'header' => "Content-Type: text/plain\r\n"]]);
    $answer = file_get_contents($base . '/__mock/fault', false, $context);
    T::check(is_string($answer) && strpos($answer, '"ok":true') !== false, "fault $spec armed", (string) $answer);
}

T::section('sample: wms.stockin.SmartRefund.upload', static function () use ($compat, $base, $account): void {
    $r = runSample('wms.stockin.SmartRefund.upload', $compat, $base, $account);
    T::same(null, $r['error'] === null ? null : get_class($r['error']) . ': ' . $r['error']->getMessage(), 'quick return sample: no exception');
    $data = $r['vars']['data'] ?? null;
    T::check($data instanceof stdClass, 'quick return sample: $data is the decoded object', var_export($data, true));
    if ($data instanceof stdClass) {
        T::check(is_int($data->stockin_id) && $data->stockin_id >= 1000, 'quick return sample: stockin_id', var_export($data->stockin_id ?? null, true));
        T::same(12, $data->type ?? null, 'quick return sample: type 12');
    }
    T::check(strpos($r['output'], '"stockin_id"') !== false, 'quick return sample: prints the data as JSON', $r['output']);
});

T::section('sample: wms.stockin.Refund.queryWithDetail', static function () use ($compat, $base, $account): void {
    $r = runSample('wms.stockin.Refund.queryWithDetail', $compat, $base, $account);
    T::same(null, $r['error'] === null ? null : get_class($r['error']) . ': ' . $r['error']->getMessage(), 'queryWithDetail sample: no exception');
    $response = $r['vars']['response'] ?? null;
    T::check($response instanceof stdClass, 'queryWithDetail sample: Pager(…, true) gives the whole answer', var_export($response, true));
    if ($response instanceof stdClass) {
        T::same(0, $response->status ?? null, 'queryWithDetail sample: status 0');
        T::check(isset($response->data->order) && is_array($response->data->order), 'queryWithDetail sample: data->order is a list');
        T::same(0, $response->data->total_count ?? null, 'queryWithDetail sample: total_count of 2019 is 0');
    }
});

T::section('sample: aftersales.refund.Refund.search', static function () use ($compat, $base, $account): void {
    $r = runSample('aftersales.refund.Refund.search', $compat, $base, $account);
    T::same(null, $r['error'] === null ? null : get_class($r['error']) . ': ' . $r['error']->getMessage(), 'Refund.search sample: no exception (the double implements Refund.search)');
    $response = $r['vars']['response'] ?? null;
    T::check($response instanceof stdClass, 'Refund.search sample: the whole answer', var_export($response, true));
    if ($response instanceof stdClass) {
        T::same(0, $response->status ?? null, 'Refund.search sample: status 0');
        T::check(isset($response->data->order) && is_array($response->data->order), 'Refund.search sample: data->order is a list');
    }
});

T::section('constructors', static function () use ($mockUrl, $base, $account): void {
    $withSuffix = new WdtErpClient($mockUrl, $account['sid'], $account['appkey'], $account['appsecret']);
    T::check(is_object($withSuffix->call('wms.stockin.SmartRefund.upload', ...T::vendorRefundArgs())), 'a url already ending in /openapi is used as is');
    $withSlash = new WdtErpClient($base . '/', $account['sid'], $account['appkey'], $account['appsecret']);
    T::check(is_object($withSlash->call('wms.stockin.SmartRefund.upload', ...T::vendorRefundArgs())), 'a trailing slash before the appended /openapi');
    $production = new WdtErpClient($account['sid'], $account['appkey'], $account['appsecret']);
    T::check($production instanceof WdtErpClient, 'the three-argument (production) constructor');
    $e = T::throws(static function () use ($base, $account): void {
        new WdtErpClient($base, $account['sid'], $account['appkey'], 'no-salt-here');
    }, WdtErpException::class, 'appsecret without ":salt" throws WdtErpException');
    if ($e instanceof WdtErpException) {
        T::same('config', $e->getKind(), 'bad appsecret: kind config');
        T::same('appsecret', $e->getField(), 'bad appsecret: field appsecret');
        T::check(strpos($e->getMessage(), 'no-salt-here') === false, 'bad appsecret: the value is not echoed');
    }
    T::throws(static function (): void {
        new WdtErpClient('a', 'b');
    }, ArgumentCountError::class, 'two arguments: ArgumentCountError');
});

T::section('errors carry status, delivery and hint', static function () use ($base, $account): void {
    $client = new WdtErpClient($base, $account['sid'], $account['appkey'], $account['appsecret']);
    $args = T::vendorRefundArgs();
    $args[0]['tid'] = 'no-such-order';
    $e = T::throws(static function () use ($client, $args): void {
        $client->call('wms.stockin.SmartRefund.upload', ...$args);
    }, WdtErpException::class, 'unknown order: WdtErpException');
    if ($e instanceof WdtErpException) {
        T::same(100, $e->getCode(), 'unknown order: code is the gateway status');
        T::same('rejected', $e->getDelivery(), 'unknown order: delivery rejected');
        T::check(is_string($e->getHint()) && $e->getHint() !== '', 'unknown order: a hint', (string) $e->getHint());
    }

    $wrong = new WdtErpClient($base, 'other-sid', $account['appkey'], $account['appsecret']);
    $e = T::throws(static function () use ($wrong): void {
        $wrong->call('wms.stockin.SmartRefund.upload', ...T::vendorRefundArgs());
    }, WdtErpException::class, 'wrong environment: WdtErpException');
    if ($e instanceof WdtErpException) {
        T::same(1, $e->getCode(), 'wrong environment: status 1');
        T::same('sid is not exists', $e->getMessage(), 'wrong environment: the gateway message');
        T::check(strpos((string) $e->getHint(), 'wdt.wangdian.cn') !== false, 'wrong environment: the hint names the production URL', (string) $e->getHint());
    }

    $pager = new Pager(10, 0, false);
    $params = new stdClass();
    $params->start_time = '2024-01-01 00:00:00';
    $params->end_time = '2024-03-01 00:00:00';
    $e = T::throws(static function () use ($client, $pager, $params): void {
        $client->pageCall('wms.stockin.Refund.queryWithDetail', $pager, $params);
    }, WdtErpException::class, 'window over 30 days: WdtErpException');
    if ($e instanceof WdtErpException) {
        T::same(0, $e->getCode(), 'window over 30 days: code 0 (not the gateway)');
        T::same('not_sent', $e->getDelivery(), 'window over 30 days: not sent');
        T::same('args[0].end_time', $e->getField(), 'window over 30 days: field');
    }
});

T::section('where the vendor says "invalid response", delivery tells', static function () use ($base, $account): void {
    $client = new WdtErpClient($base, $account['sid'], $account['appkey'], $account['appsecret']);
    mockFault($base, 'drop');
    try {
        $e = T::throws(static function () use ($client): void {
            $client->call('wms.stockin.SmartRefund.upload', ...T::vendorRefundArgs());
        }, WdtErpException::class, 'dropped answer: WdtErpException');
        if ($e instanceof WdtErpException) {
            T::same('unknown', $e->getDelivery(), 'dropped answer: delivery unknown (may have reached the ERP)');
            T::same(0, $e->getCode(), 'dropped answer: code 0');
            T::same(false, $e->isRetryable(), 'dropped answer: not retryable');
        }
        mockFault($base, 'html200');
        $e = T::throws(static function () use ($client): void {
            $client->call('wms.stockin.SmartRefund.upload', ...T::vendorRefundArgs());
        }, WdtErpException::class, 'captive portal: WdtErpException');
        if ($e instanceof WdtErpException) {
            T::same('bad_response', $e->getKind(), 'captive portal: kind bad_response');
            T::same('unknown', $e->getDelivery(), 'captive portal: delivery unknown');
        }
    } finally {
        mockFault($base, '{"mode":"none"}');
    }
});

T::section('pageCall without the total returns data', static function () use ($base, $account): void {
    $client = new WdtErpClient($base, $account['sid'], $account['appkey'], $account['appsecret']);
    $params = new stdClass();
    $params->start_time = '2024-01-01 00:00:00';
    $params->end_time = '2024-01-31 00:00:00';
    $data = $client->pageCall('wms.stockin.Refund.queryWithDetail', new Pager(5, 0), $params);
    T::check($data instanceof stdClass && isset($data->order) && !isset($data->status), 'Pager(5, 0): the data object', var_export($data, true));
});

T::section('WDT_LIB is honoured', static function () use ($compat, $base, $account): void {
    $script = '<?php require ' . var_export($compat, true) . ';'
        . 'try { new WdtErpClient(' . var_export($base, true) . ', "s", "k", "a:b"); echo "loaded"; }'
        . ' catch (Throwable $e) { echo get_class($e), ": ", $e->getMessage(); }';
    $file = tempnam(sys_get_temp_dir(), 'wdt-lib') . '.php';
    file_put_contents($file, $script);
    $out = (string) shell_exec('WDT_LIB=/nonexistent/libwdt-test.so ' . escapeshellarg(PHP_BINARY) . ' -d ffi.enable=1 ' . escapeshellarg($file) . ' 2>&1');
    unlink($file);
    T::check(strpos($out, '/nonexistent/libwdt-test.so') !== false, 'a WDT_LIB that does not exist is the file it tried', $out);
});

T::finish();
