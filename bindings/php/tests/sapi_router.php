<?php

declare(strict_types=1);

/*
 * Served by `php -S` in sapi_test.php. The built-in server is not the "cli" SAPI, so FFI is
 * restricted there exactly as under PHP-FPM: this page shows whether the README's php.ini lines
 * let the package work. Prints one JSON object.
 */

header('Content-Type: application/json');
$result = ['preloaded' => class_exists('Wdt\Client', false)];
if (!$result['preloaded']) {
    require dirname(__DIR__) . '/preload.php';
}
try {
    $result['version'] = Wdt\Client::libraryVersion();
    $client = new Wdt\Client([
        'sid' => 'wdtapi3',
        'appkey' => 'wdt_test',
        'appsecret' => 'testsecret:testsalt',
        'url' => (string) getenv('WDT_MOCK_URL'),
    ]);
    $request = [
        'refundInfo' => ['tid' => 'pos-load', 'return_warehouse_no' => 'pos', 'remark' => 'php -S'],
        'detailMapList' => [['spec_no' => 'LOAD-SKU', 'stockin_num' => 1, 'remark' => '']],
        'createPreStockin' => false,
    ];
    $result['stockin_id'] = $client->smartRefundUpload($request)['stockin_id'] ?? null;
} catch (Throwable $e) {
    $result['error'] = get_class($e) . ': ' . $e->getMessage();
}
echo json_encode($result, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES);
