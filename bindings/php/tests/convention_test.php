<?php

declare(strict_types=1);

/*
 * The binding's convention (typed methods throw, *Json methods return envelopes) and what came
 * with it: hints on every error, callPage() (the total with the data, no state on the client),
 * the pages()/records() generators walking a multi-page result until total_count, and the log
 * callback over wdt_client_set_log_callback.
 */

require __DIR__ . '/bootstrap.php';

use Wdt\Client;
use Wdt\WdtException;

$lib = T::env('WDT_LIB');

/** A day either side of now in Beijing time, the gateway's clock: inside the 30-day limit. */
function windowAroundNow(): array
{
    $fmt = static function (int $t): string {
        return gmdate('Y-m-d H:i:s', $t + 8 * 3600);
    };
    return ['start_time' => $fmt(time() - 86400), 'end_time' => $fmt(time() + 86400)];
}

T::section('hints on every error, in exceptions and in envelopes', static function () use ($lib): void {
    $client = new Client(T::config(), $lib);
    $e = T::throws(static function () use ($client): void {
        $client->call('wms.stockin.Refund.queryWithDetail', [windowAroundNow()]);
    }, WdtException::class, 'query without pager: throws');
    if ($e instanceof WdtException) {
        T::same('pager', $e->getField(), 'query without pager: field pager');
        T::check(is_string($e->getHint()) && $e->getHint() !== '', 'invalid_argument: getHint()', (string) $e->getHint());
    }
    $request = T::loadRequest();
    $request['refundInfo']['tid'] = 'no-such-order';
    $e = T::throws(static function () use ($client, $request): void {
        $client->smartRefundUpload($request);
    }, WdtException::class, 'unknown order: throws');
    if ($e instanceof WdtException) {
        T::same(100, $e->getCode(), 'unknown order: code 100');
        T::check(strpos((string) $e->getHint(), '原始单号') !== false, 'api: the error table remedy as hint', (string) $e->getHint());
        T::same($e->getHint(), $e->getEnvelope()['error']['hint'] ?? null, 'the hint is in the envelope array too');
    }
    // *Json: the envelope, never an exception, hint inside.
    $env = json_decode($client->callJson('{"method":"wms.stockin.Refund.queryWithDetail","args":[{}],"pager":{"page_size":1,"page_no":0}}'), true);
    T::same(false, $env['ok'], 'callJson: an error envelope');
    T::check(isset($env['error']['hint']) && is_string($env['error']['hint']), 'callJson: hint in the envelope');
    // Failures found on the PHP side get one too.
    $env = json_decode($client->callJson("{\"method\":\"x\0\"}"), true);
    T::check(isset($env['error']['hint']), 'a PHP-side envelope (NUL byte) has a hint too');
    $e = T::throws(static function () use ($client): void {
        $client->call('x', ["\xB2\xE2"]);
    }, WdtException::class, 'GBK text: throws');
    if ($e instanceof WdtException) {
        T::check(is_string($e->getHint()) && $e->getHint() !== '', 'a PHP-side exception has a hint');
    }
});

T::section('callPage: the total with the data, no state', static function () use ($lib): void {
    $client = new Client(T::config(), $lib);
    $client->smartRefundUpload(T::loadRequest());
    $page = $client->callPage('wms.stockin.Refund.queryWithDetail', [windowAroundNow()], ['page_size' => 1, 'page_no' => 0, 'calc_total' => true]);
    T::check(is_int($page['total_count']) && $page['total_count'] >= 1, 'callPage: total_count', var_export($page['total_count'], true));
    T::same(1, count($page['data']['order'] ?? []), 'callPage: one row on a page of one');
    T::same(null, $client->lastTotalCount(), 'callPage leaves lastTotalCount() alone');
    $page = $client->callPage('wms.stockin.Refund.queryWithDetail', [windowAroundNow()], ['page_size' => 1, 'page_no' => 0, 'calc_total' => false]);
    T::same(null, $page['total_count'], 'callPage without calc_total: total_count null');
});

T::section('pages() and records() walk every page until total_count', static function () use ($lib): void {
    $client = new Client(T::config(), $lib);
    for ($i = 0; $i < 5; $i++) {
        $client->smartRefundUpload(T::loadRequest());
    }
    $args = [windowAroundNow()];
    $first = $client->callPage('wms.stockin.Refund.queryWithDetail', $args, ['page_size' => 1, 'page_no' => 0, 'calc_total' => true]);
    $total = (int) $first['total_count'];
    T::check($total >= 5, 'at least the five stock-ins', (string) $total);

    $pages = 0;
    $rows = 0;
    $ids = [];
    foreach ($client->pages('wms.stockin.Refund.queryWithDetail', $args, 2) as $pageNo => $page) {
        T::same($pages, $pageNo, "pages(): keys are page numbers ($pageNo)");
        T::same($total, $page['total_count'], "pages(): every page carries the total ($pageNo)");
        $pages++;
        foreach ($page['data']['order'] as $row) {
            $ids[] = $row['stockin_id'];
            $rows++;
        }
    }
    T::same((int) ceil($total / 2), $pages, 'pages(): ceil(total / 2) pages');
    T::same($total, $rows, 'pages(): total_count rows');
    T::same($total, count(array_unique($ids)), 'pages(): no row twice');

    $seen = [];
    foreach ($client->records('wms.stockin.Refund.queryWithDetail', $args, 3) as $i => $row) {
        $seen[$i] = $row['stockin_id'];
    }
    T::same($total, count($seen), 'records(): every row');
    T::same(range(0, $total - 1), array_keys($seen), 'records(): keys 0..total-1');
    T::same(array_values(array_unique($ids)), array_values(array_unique($seen)), 'records(): the same rows as pages()');

    $fetched = 0;
    foreach ($client->pages('wms.stockin.Refund.queryWithDetail', $args, 2) as $page) {
        $fetched++;
        break;
    }
    T::same(1, $fetched, 'pages(): break stops the walk');

    T::throws(static function () use ($client, $args): void {
        foreach ($client->pages('wms.stockin.Refund.queryWithDetail', $args, 0) as $page) {
        }
    }, WdtException::class, 'pages(): page size 0 throws');
    $e = T::throws(static function () use ($client): void {
        foreach ($client->records('wms.stockin.Refund.queryWithDetail', [['start_time' => '2024-01-01 00:00:00', 'end_time' => '2024-06-01 00:00:00']]) as $row) {
        }
    }, WdtException::class, 'records(): a window over 30 days throws before sending');
    if ($e instanceof WdtException) {
        T::same('args[0].end_time', $e->getField(), 'records(): the field of the too-wide window');
    }
});

T::section('log callback', static function () use ($lib): void {
    $config = T::config();
    $client = new Client($config, $lib);
    $lines = [];
    $client->setLogCallback(static function (string $line) use (&$lines): void {
        $lines[] = $line;
    });
    $client->smartRefundUpload(T::loadRequest());
    T::check(count($lines) >= 1, 'a log line per attempt', var_export($lines, true));
    T::check(isset($lines[0]) && strpos($lines[0], 'wms.stockin.SmartRefund.upload') !== false, 'the line names the method', $lines[0] ?? '');
    $secret = explode(':', $config['appsecret'])[0];
    foreach ($lines as $line) {
        T::check(strpos($line, $secret) === false, 'no line carries the secret', $line);
    }
    // A throwing callback must not take the call down with it.
    $client->setLogCallback(static function (string $line): void {
        throw new RuntimeException('callback failure');
    });
    T::check(is_array($client->smartRefundUpload(T::loadRequest())), 'a throwing callback does not break the call');
    $count = count($lines);
    $client->setLogCallback(null);
    $client->smartRefundUpload(T::loadRequest());
    T::same($count, count($lines), 'null turns it off');
    $client->close();
    T::throws(static function () use ($client): void {
        $client->setLogCallback(null);
    }, LogicException::class, 'setLogCallback after close: LogicException');
});

T::finish();
