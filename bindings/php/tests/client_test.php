<?php

declare(strict_types=1);

/*
 * The binding's own promises, beyond the shared fixtures: what a PHP caller gets back, the
 * exception's getters, list/object and float encoding, the library path rules, the FFI cache,
 * and that misuse (close then call, clone, serialize) is an exception rather than a crash.
 */

require __DIR__ . '/bootstrap.php';

use Wdt\Client;
use Wdt\Native;
use Wdt\WdtException;

$lib = T::env('WDT_LIB');
T::env('WDT_MOCK_URL');

T::section('good quick return', static function () use ($lib): void {
    $client = new Client(T::config(), $lib);
    $data = $client->smartRefundUpload(T::loadRequest());
    T::check(is_int($data['stockin_id'] ?? null), 'good quick return: stockin_id is an int', json_encode($data));
    T::check(array_key_exists('type', $data), 'good quick return: data has type', json_encode($data));
    T::same(null, $client->lastTotalCount(), 'good quick return: no total_count');

    $envelope = json_decode($client->smartRefundUploadJson(json_encode(T::loadRequest())), true);
    T::same(true, $envelope['ok'] ?? null, 'good quick return as JSON: ok');
    T::same(0, $envelope['status'] ?? null, 'good quick return as JSON: status 0');
});

T::section('api error keeps the gateway message', static function () use ($lib): void {
    $client = new Client(T::config(), $lib);
    $request = T::loadRequest();
    $request['refundInfo']['tid'] = 'no-such-order';
    $e = T::throws(static function () use ($client, $request): void {
        $client->smartRefundUpload($request);
    }, WdtException::class, 'api error: throws WdtException');
    if ($e instanceof WdtException) {
        T::same('未找到对应的单据信息!', $e->getMessage(), 'api error: getMessage() is the gateway message, byte for byte');
        T::same(100, $e->getCode(), 'api error: getCode() is the gateway status');
        T::same(WdtException::KIND_API, $e->getKind(), 'api error: getKind()');
        T::same(null, $e->getField(), 'api error: getField() is null');
        T::check(in_array($e->getDelivery(), [null, WdtException::DELIVERY_REJECTED], true), 'api error: getDelivery() is rejected (or absent)', var_export($e->getDelivery(), true));
        T::same(false, $e->isRetryable(), 'api error 100 for an unknown order: not retryable');
        T::same('未找到对应的单据信息!', $e->getEnvelope()['error']['message'] ?? null, 'api error: getEnvelope()');
        T::check($e instanceof RuntimeException, 'api error: WdtException is a RuntimeException');
    }
    $envelope = $client->smartRefundUploadJson(json_encode($request, Native::JSON_ENCODE_FLAGS));
    T::check(strpos($envelope, '未找到对应的单据信息!') !== false, 'api error as JSON: message unescaped in the envelope', $envelope);
});

T::section('invalid_argument names the field and sends nothing', static function () use ($lib): void {
    $client = new Client(T::config(), $lib);
    $request = T::loadRequest();
    $request['detailMapList'][] = ['spec_no' => 'LOAD-SKU', 'stockin_num' => 0, 'remark' => ''];
    $before = T::mockStats()['requests'] ?? null;
    $e = T::throws(static function () use ($client, $request): void {
        $client->smartRefundUpload($request);
    }, WdtException::class, 'invalid_argument: throws');
    $after = T::mockStats()['requests'] ?? null;
    if ($e instanceof WdtException) {
        T::same(WdtException::KIND_INVALID_ARGUMENT, $e->getKind(), 'invalid_argument: getKind()');
        T::same('detailMapList[1].stockin_num', $e->getField(), 'invalid_argument: getField()');
        T::same(0, $e->getCode(), 'invalid_argument: getCode() is 0');
        T::check(in_array($e->getDelivery(), [null, WdtException::DELIVERY_NOT_SENT], true), 'invalid_argument: getDelivery() is not_sent (or absent)', var_export($e->getDelivery(), true));
        T::same(false, $e->isRetryable(), 'invalid_argument: not retryable');
    }
    T::check(is_int($before) && $before === $after, 'invalid_argument: the double saw no request', "before $before, after $after");
});

T::section('PHP arrays become the JSON the API wants', static function () use ($lib): void {
    $client = new Client(T::config(), $lib);

    // refundInfo => [] must reach the library as {} so it reports the missing tid, not a type.
    $request = T::loadRequest();
    $request['refundInfo'] = [];
    $e = T::throws(static function () use ($client, $request): void {
        $client->smartRefundUpload($request);
    }, WdtException::class, 'empty refundInfo: throws');
    if ($e instanceof WdtException) {
        T::check(strpos((string) $e->getField(), 'refundInfo.') === 0, 'empty refundInfo: sent as {} (field inside refundInfo)', (string) $e->getField());
    }

    // detailMapList with holes left by unset()/array_filter() is still a list.
    $request = T::loadRequest();
    $request['detailMapList'] = [3 => $request['detailMapList'][0]];
    $data = $client->smartRefundUpload($request);
    T::check(isset($data['stockin_id']), 'detailMapList with holes: accepted as a list');

    // An empty line [] goes out as {}, so the library names its first missing field.
    $request = T::loadRequest();
    $request['detailMapList'] = [[]];
    $e = T::throws(static function () use ($client, $request): void {
        $client->smartRefundUpload($request);
    }, WdtException::class, 'empty detail line: throws');
    if ($e instanceof WdtException) {
        T::check(strpos((string) $e->getField(), 'detailMapList[0].') === 0, 'empty detail line: sent as {} (field inside the line)', (string) $e->getField());
    }

    // An empty list stays a list.
    $request = T::loadRequest();
    $request['detailMapList'] = [];
    $e = T::throws(static function () use ($client, $request): void {
        $client->smartRefundUpload($request);
    }, WdtException::class, 'empty detailMapList: throws');
    if ($e instanceof WdtException) {
        T::same('detailMapList', $e->getField(), 'empty detailMapList: field');
    }

    // A whole request of [] goes out as {}.
    $e = T::throws(static function () use ($client): void {
        $client->smartRefundUpload([]);
    }, WdtException::class, 'empty request: throws');
    if ($e instanceof WdtException) {
        T::same(WdtException::KIND_INVALID_ARGUMENT, $e->getKind(), 'empty request: invalid_argument');
    }

    // Decimal quantities are accepted by the double's load order.
    $data = $client->smartRefundUpload(T::loadRequest(1.5));
    T::check(isset($data['stockin_id']), 'quantity 1.5: accepted');
});

T::section('encoding rules', static function (): void {
    T::same('{"a":1.5,"b":1.0,"c":0.1,"d":[],"e":{}}', Native::encode(['a' => 1.5, 'b' => 1.0, 'c' => 0.1, 'd' => [], 'e' => new stdClass()]), 'floats and empties');
    $old = ini_get('serialize_precision');
    ini_set('serialize_precision', '17');
    T::same('{"q":0.1}', Native::encode(['q' => 0.1]), 'serialize_precision=17 in php.ini does not leak into requests');
    T::same('17', ini_get('serialize_precision'), 'serialize_precision restored after encoding');
    ini_set('serialize_precision', (string) $old);
    T::same('{"tid":"门店/仓"}', Native::encode(['tid' => '门店/仓']), 'Chinese and slashes unescaped');
    $e = T::throws(static function (): void {
        Native::encode(['remark' => "\xD6\xD0\xCE\xC4"]); // "中文" in GBK
    }, WdtException::class, 'GBK text: throws');
    if ($e instanceof WdtException) {
        T::same(WdtException::KIND_INVALID_ARGUMENT, $e->getKind(), 'GBK text: invalid_argument');
        T::check(strpos($e->getMessage(), 'UTF-8') !== false, 'GBK text: message says UTF-8', $e->getMessage());
        T::same(false, $e->getEnvelope()['ok'] ?? null, 'GBK text: getEnvelope() has the envelope shape');
    }
});

T::section('paged call and lastTotalCount', static function () use ($lib): void {
    $client = new Client(T::config(), $lib);
    $data = $client->call(
        'wms.stockin.Refund.queryWithDetail',
        [['start_time' => '2024-01-01 00:00:00', 'end_time' => '2024-01-31 00:00:00']],
        ['page_size' => 50, 'page_no' => 0, 'calc_total' => true]
    );
    T::check(array_key_exists('order', $data), 'paged call: data has order');
    T::check(is_int($client->lastTotalCount()) && $client->lastTotalCount() >= 0, 'paged call: lastTotalCount()', var_export($client->lastTotalCount(), true));
    $client->smartRefundUpload(T::loadRequest());
    T::same(null, $client->lastTotalCount(), 'lastTotalCount() is reset by the next call');
    $e = T::throws(static function () use ($client): void {
        $client->call('wms.stockin.Refund.queryWithDetail', ['start_time' => 'x']);
    }, WdtException::class, 'call($method, $params) instead of [$params]: throws');
    if ($e instanceof WdtException) {
        T::same('args', $e->getField(), 'call($method, $params): field args');
    }
});

T::section('rejected config', static function () use ($lib): void {
    $config = T::config();
    unset($config['appkey']);
    $e = T::throws(static function () use ($config, $lib): void {
        new Client($config, $lib);
    }, WdtException::class, 'missing appkey: throws');
    if ($e instanceof WdtException) {
        T::same(WdtException::KIND_CONFIG, $e->getKind(), 'missing appkey: kind config');
        T::same('appkey', $e->getField(), 'missing appkey: field');
        T::same(0, $e->getCode(), 'missing appkey: code 0');
        T::check(strpos(json_encode($e->getEnvelope()), 'testsecret') === false, 'rejected config: the secret is not in the envelope');
    }
    $e = T::throws(static function () use ($lib): void {
        new Client([], $lib);
    }, WdtException::class, 'empty config array: throws');
    if ($e instanceof WdtException) {
        T::same(WdtException::KIND_CONFIG, $e->getKind(), 'empty config array: kind config');
    }
    T::throws(static function () use ($lib): void {
        new Client(42, $lib);
    }, TypeError::class, 'config that is neither array nor string: TypeError');
    $e = T::throws(static function () use ($lib): void {
        new Client("{\"sid\":\"a\0\"}", $lib);
    }, WdtException::class, 'config with a NUL byte: throws');
    if ($e instanceof WdtException) {
        T::same(WdtException::KIND_CONFIG, $e->getKind(), 'config with a NUL byte: kind config');
        // Made on the PHP side, read like the library's: nothing was sent, and the same config
        // fails the same way.
        T::same(WdtException::DELIVERY_NOT_SENT, $e->getDelivery(), 'config with a NUL byte: delivery not_sent');
        T::same(false, $e->isRetryable(), 'config with a NUL byte: not retryable');
        $error = $e->getEnvelope()['error'] ?? [];
        T::same(['kind', 'message', 'delivery', 'retryable', 'hint'], array_keys($error), 'config with a NUL byte: the library\'s fields in its order');
    }
});

T::section('transport error says the request was not sent', static function () use ($lib): void {
    // A port that was free a moment ago: nothing listens there, so the connection is refused.
    $server = stream_socket_server('tcp://127.0.0.1:0');
    $address = stream_socket_get_name($server, false);
    fclose($server);
    $config = ['url' => "http://$address/openapi", 'connect_timeout_ms' => 1000] + T::config();
    $client = new Client($config, $lib);
    $e = T::throws(static function () use ($client): void {
        $client->smartRefundUpload(T::loadRequest());
    }, WdtException::class, 'refused connection: throws');
    if ($e instanceof WdtException) {
        T::check(in_array($e->getKind(), [WdtException::KIND_TRANSPORT, WdtException::KIND_TIMEOUT], true), 'refused connection: kind transport', $e->getKind());
        T::same(WdtException::DELIVERY_NOT_SENT, $e->getDelivery(), 'refused connection: delivery not_sent');
        T::same(0, $e->getCode(), 'refused connection: code 0');
        T::same(true, $e->isRetryable(), 'refused connection: retryable');
    }
});

T::section('use after close', static function () use ($lib): void {
    $client = new Client(T::config(), $lib);
    T::same(false, $client->isClosed(), 'open client: isClosed() false');
    $client->close();
    $client->close(); // twice is fine
    T::same(true, $client->isClosed(), 'closed client: isClosed() true');
    T::throws(static function () use ($client): void {
        $client->smartRefundUpload(T::loadRequest());
    }, LogicException::class, 'smartRefundUpload after close: LogicException');
    T::throws(static function () use ($client): void {
        $client->smartRefundUploadJson('{}');
    }, LogicException::class, 'smartRefundUploadJson after close: LogicException');
    T::throws(static function () use ($client): void {
        $client->call('wms.stockin.Refund.queryWithDetail', [[]]);
    }, LogicException::class, 'call after close: LogicException');
    T::throws(static function () use ($client): void {
        $client->callJson('{}');
    }, LogicException::class, 'callJson after close: LogicException');
    unset($client); // __destruct after close() must not free twice

    $client = new Client(T::config(), $lib);
    T::throws(static function () use ($client): void {
        $copy = clone $client;
    }, Error::class, 'clone: refused (it would free one native client twice)');
    T::throws(static function () use ($client): void {
        serialize($client);
    }, LogicException::class, 'serialize: refused');
    T::same(false, $client->isClosed(), 'still usable after a refused clone');
    $data = $client->smartRefundUpload(T::loadRequest());
    T::check(isset($data['stockin_id']), 'still works after a refused clone');
});

T::section('NUL byte in request JSON', static function () use ($lib): void {
    $client = new Client(T::config(), $lib);
    $envelope = json_decode($client->smartRefundUploadJson("{\"refundInfo\":{}}\0garbage"), true);
    T::same(false, $envelope['ok'] ?? null, 'NUL byte: an envelope, not a truncated request');
    T::same('invalid_argument', $envelope['error']['kind'] ?? null, 'NUL byte: invalid_argument');
    T::same('not_sent', $envelope['error']['delivery'] ?? null, 'NUL byte: delivery not_sent');
    T::same(false, $envelope['error']['retryable'] ?? null, 'NUL byte: retryable false');
});

T::section('four clients in one process', static function () use ($lib): void {
    $clients = [];
    for ($i = 0; $i < 4; $i++) {
        $clients[] = new Client(T::config(), $lib);
    }
    $ok = 0;
    for ($round = 0; $round < 25; $round++) {
        foreach ($clients as $client) {
            $data = $client->smartRefundUpload(T::loadRequest());
            $ok += isset($data['stockin_id']) ? 1 : 0;
        }
    }
    T::same(100, $ok, 'four interleaved clients: 100 quick returns');
    $clients[1]->close();
    $data = $clients[2]->smartRefundUpload(T::loadRequest());
    T::check(isset($data['stockin_id']), 'closing one client leaves the others working');
});

T::section('library path and FFI cache', static function () use ($lib): void {
    T::same('libwdt.so', Native::platformLibraryName('Linux'), 'Linux name');
    T::same('wdt.dll', Native::platformLibraryName('Windows'), 'Windows name');
    T::same('libwdt.dylib', Native::platformLibraryName('Darwin'), 'macOS name');
    if (!is_file(dirname(__DIR__) . '/lib/libwdt.so')) {
        T::same('libwdt.so', Native::defaultLibraryPath(), 'default: the bare name for the loader');
    }

    $e = T::throws(static function (): void {
        new Client(T::config(), '/nonexistent/libwdt.so');
    }, RuntimeException::class, 'missing library: RuntimeException');
    if ($e !== null) {
        T::check(strpos($e->getMessage(), '/nonexistent/libwdt.so') !== false, 'missing library: message names the path', $e->getMessage());
        T::check(strpos($e->getMessage(), 'WDT_LIB') !== false, 'missing library: message mentions WDT_LIB');
    }

    // WDT_LIB is used when no path is passed; an explicit path wins over it.
    $saved = getenv('WDT_LIB');
    putenv('WDT_LIB=' . $lib);
    $client = new Client(T::config());
    T::check(!$client->isClosed(), 'WDT_LIB: used without an explicit path');
    putenv('WDT_LIB=/nonexistent/libwdt.so');
    $client = new Client(T::config(), $lib);
    T::check(!$client->isClosed(), 'explicit path wins over WDT_LIB');
    T::throws(static function (): void {
        new Client(T::config());
    }, RuntimeException::class, 'WDT_LIB pointing nowhere: RuntimeException');
    putenv('WDT_LIB=' . $saved);

    $cache = (new ReflectionClass(Native::class))->getProperty('ffiByPath');
    if (PHP_VERSION_ID < 80100) {
        $cache->setAccessible(true); // needed before 8.1, deprecated later
    }
    $before = count($cache->getValue());
    $clients = [];
    $config = T::config();
    for ($i = 0; $i < 10000; $i++) {
        $clients[] = new Client($config, $lib);
    }
    $ffi = (new ReflectionClass(Client::class))->getProperty('ffi');
    if (PHP_VERSION_ID < 80100) {
        $ffi->setAccessible(true);
    }
    T::same($before, count($cache->getValue()), '10,000 clients: no new cdef');
    T::check($ffi->getValue($clients[0]) === $ffi->getValue($clients[9999]), '10,000 clients: one shared FFI instance');
    $clients = []; // frees all 10,000 native clients
    // A relative spelling of the same file shares the cache entry.
    $relative = dirname($lib) . '/./' . basename($lib);
    new Client(T::config(), $relative);
    T::same($before, count($cache->getValue()), 'same file, other spelling: same cache entry');
});

T::section('version', static function () use ($lib): void {
    $cargo = (string) file_get_contents(T::root() . '/Cargo.toml');
    preg_match('/^\[package\].*?^version\s*=\s*"([^"]+)"/ms', $cargo, $m);
    T::same($m[1] ?? '(no version in Cargo.toml)', Client::libraryVersion($lib), 'wdt_version() is the Cargo.toml version');
    T::same(Client::libraryVersion($lib), Client::libraryVersion($lib), 'wdt_version() twice: the static string is not freed');
});

T::section('FFI in the CLI with the default ffi.enable=preload', static function () use ($lib): void {
    // The README says the CLI needs no ffi.enable setting; prove it in a child without -d.
    $php = PHP_BINARY;
    $code = 'require ' . var_export(__DIR__ . '/bootstrap.php', true) . '; echo Wdt\Client::libraryVersion(' . var_export($lib, true) . ');';
    $out = shell_exec(escapeshellarg($php) . ' -d ffi.enable=preload -r ' . escapeshellarg($code) . ' 2>&1');
    T::same(Client::libraryVersion($lib), trim((string) $out), 'CLI with ffi.enable=preload loads the library');
    $out = shell_exec(escapeshellarg($php) . ' -d ffi.enable=0 -r ' . escapeshellarg(
        'require ' . var_export(__DIR__ . '/bootstrap.php', true) . '; try { Wdt\Client::libraryVersion(' . var_export($lib, true) . '); } catch (RuntimeException $e) { echo $e->getMessage(); }'
    ) . ' 2>&1');
    T::check(strpos((string) $out, 'ffi.enable') !== false, 'ffi.enable=0: a RuntimeException that names ffi.enable', (string) $out);
});

T::finish();
