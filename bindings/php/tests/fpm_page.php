<?php

declare(strict_types=1);

/*
 * Served by a real php-fpm in fpm_test.php, with opcache.preload=preload.php and ffi.enable
 * left at "preload": FFI may then be used only from preloaded code, the setup the README
 * recommends. The classes come from preloading; an autoloader stands in for Composer's, so a class
 * left out of preload.php is loaded here and then fails at its first FFI call.
 * ?case= picks what to run: client, outbox, compat (the vendor-SDK drop-in) or paging (the
 * pages()/records() generators). Prints one JSON object.
 */

header('Content-Type: application/json');

$result = [
    'sapi' => PHP_SAPI,
    'ffi_enable' => ini_get('ffi.enable'),
    'preloaded' => array_values(array_filter(
        ['Wdt\\WdtException', 'Wdt\\Native', 'Wdt\\Client', 'Wdt\\Outbox'],
        static function (string $class): bool {
            return class_exists($class, false);
        }
    )),
];
// What Composer's autoloader does in a real application: a class that was not preloaded is
// still found, and then fails at its first FFI call, the way it would in production.
spl_autoload_register(static function (string $class): void {
    if (strncmp($class, 'Wdt\\', 4) === 0) {
        require dirname(__DIR__) . '/src/' . substr($class, 4) . '.php';
    }
});
$config = [
    'sid' => 'wdtapi3',
    'appkey' => 'wdt_test',
    'appsecret' => 'testsecret:testsalt',
    'url' => (string) getenv('WDT_MOCK_URL'),
];
$refund = [
    'refundInfo' => ['tid' => 'pos-6776312', 'return_warehouse_no' => 'pos', 'remark' => 'php-fpm'],
    'detailMapList' => [['spec_no' => 'RRWDMS018040S', 'stockin_num' => 1, 'remark' => 'POS 退货测试']],
    'createPreStockin' => false,
];
// Query times are Beijing time (UTC+8), whatever the server's time zone.
$beijing = static function (int $unix): string {
    return gmdate('Y-m-d H:i:s', $unix + 8 * 3600);
};
$window = ['start_time' => $beijing(time() - 86400), 'end_time' => $beijing(time() + 86400)];

try {
    switch ($_GET['case'] ?? '') {
        case 'client':
            $client = new Wdt\Client($config);
            $result['stockin_id'] = $client->smartRefundUpload($refund)['stockin_id'] ?? null;
            break;
        case 'outbox':
            $outbox = new Wdt\Outbox($config, ['path' => (string) getenv('WDT_FPM_OUTBOX')]);
            $id = 'fpm-' . bin2hex(random_bytes(6));
            $result['state'] = $outbox->submit($refund, $id)['data']['state'] ?? null;
            $result['again'] = $outbox->submit($refund, $id)['data']['state'] ?? null;
            $result['deferred'] = $outbox->submit($refund, $id . '-d', true)['data']['state'] ?? null;
            $result['flush_delivered'] = $outbox->flush()['data']['delivered'] ?? null;
            $result['get'] = $outbox->get($id . '-d')['data']['state'] ?? null;
            $outbox->close();
            break;
        case 'compat':
            require (string) getenv('WDT_PHP_PACKAGE') . '/compat/wdtsdk.php';
            $vendor = new WdtErpClient((string) getenv('WDT_MOCK_URL'), 'wdtapi3', 'wdt_test', 'testsecret:testsalt');
            $data = $vendor->call('wms.stockin.SmartRefund.upload', $refund['refundInfo'], $refund['detailMapList'], false);
            $result['stockin_id'] = $data->stockin_id ?? null;
            $page = $vendor->pageCall('wms.stockin.Refund.queryWithDetail', new Pager(50, 0, true), $window);
            $result['page_status'] = $page->status ?? null;
            $result['page_total'] = $page->data->total_count ?? null;
            break;
        case 'paging':
            $client = new Wdt\Client($config);
            $client->smartRefundUpload($refund);
            $client->smartRefundUpload($refund);
            $result['records'] = 0;
            foreach ($client->records('wms.stockin.Refund.queryWithDetail', [$window], 1) as $row) {
                $result['records']++;
            }
            $result['pages'] = 0;
            foreach ($client->pages('wms.stockin.Refund.queryWithDetail', [$window], 1) as $page) {
                $result['pages']++;
                $result['total_count'] = $page['total_count'];
            }
            break;
        default:
            $result['error'] = 'unknown case';
    }
} catch (Throwable $e) {
    $result['error'] = get_class($e) . ': ' . $e->getMessage();
}
echo json_encode($result, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES);
