<?php
/*
 * PHP clients of the loopback benchmark (bench/run.sh). One quick return (快速退货,
 * wms.stockin.SmartRefund.upload) per call, N calls in a row after a warm-up:
 *
 *   php -d ffi.enable=1 bench/php_bench.php MODE URL N [WARMUP]
 *   php bench/php_bench.php query URL      print a freshly signed URL for wrk (valid ~2 min)
 *
 * MODE
 *   ffi     libwdt through the PHP binding (bindings/php, Wdt\Client::smartRefundUploadJson),
 *           library from env WDT_LIB; signing, HTTP and keep-alive happen in the library.
 *   vendor  the way the vendor's PHP SDK works: the signed query built in PHP (docs/protocol.md),
 *           file_get_contents with a stream_context_create http POST context, so a new TCP
 *           connection for every call. Written for this benchmark from docs/protocol.md.
 *   curl    the same signing in PHP, sent through one curl handle made once and reused, so the
 *           connection is kept alive between calls.
 *   ffi_raw libwdt through a bare FFI::cdef of the C ABI, no binding: the floor of any PHP
 *           binding (same JSON work in PHP as ffi).
 *   overhead  what the binding adds per call over the bare FFI call, without the network: N
 *           calls of smartRefundUploadJson('[]') (an invalid request, answered by the library
 *           without sending anything) against the same N on the bare FFI, alternated in blocks.
 *           Prints RESULT mode=php_overhead calls=N binding_us=… raw_us=… (per call).
 *
 * Every mode does the work a POS program does per call: encode the request from PHP arrays,
 * send it, decode the answer and check it. Prints one line
 *   RESULT mode=... calls=N wall_us=... cpu_us=... user_us=... sys_us=... hwm_kb=... fails=...
 * where the CPU is getrusage() of this PHP process over the timed loop (the interpreter's own
 * work included, nothing subtracted) and hwm_kb is VmHWM (peak RSS) at the end.
 */

declare(strict_types=1);

const SID = 'wdtapi3';
const APPKEY = 'wdt_test';
const SECRET = 'testsecret';
const SALT = 'testsalt';
const METHOD = 'wms.stockin.SmartRefund.upload';
const GATEWAY_EPOCH = 1325347200; // 2012-01-01, the gateway's timestamp origin
const JSON_FLAGS = JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES;

function refund_info(): array
{
    return ['tid' => 'pos-6776312', 'return_warehouse_no' => 'pos', 'remark' => 'pos refundInfo remark'];
}

function detail_map_list(): array
{
    return [['spec_no' => 'RRWDMS018040S', 'stockin_num' => 1, 'remark' => 'POS 退货测试']];
}

/**
 * docs/protocol.md "Sign": every query parameter but sign, plus body, sorted by name in byte order,
 * name.value concatenated, wrapped in the secret, lowercase hex MD5.
 */
function wdt_sign(string $secret, array $params, string $body): string
{
    $params['body'] = $body;
    ksort($params, SORT_STRING);
    $text = $secret;
    foreach ($params as $name => $value) {
        $text .= $name . $value;
    }
    return md5($text . $secret);
}

/** The signed URL and body of one quick return, as the vendor-style peers build them. */
function signed_call(string $url): array
{
    $body = json_encode([refund_info(), detail_map_list(), false], JSON_FLAGS);
    $params = [
        'sid' => SID,
        'key' => APPKEY,
        'salt' => SALT,
        'method' => METHOD,
        'v' => '1.0',
        'timestamp' => (string)(time() - GATEWAY_EPOCH),
    ];
    $params['sign'] = wdt_sign(SECRET, $params, $body);
    return [$url . '?' . http_build_query($params, '', '&', PHP_QUERY_RFC3986), $body];
}

function gateway_ok($text): bool
{
    if (!is_string($text)) {
        return false;
    }
    $answer = json_decode($text, true);
    return is_array($answer) && ($answer['status'] ?? null) === 0 && isset($answer['data']['stockin_id']);
}

/** Vendor-SDK style: a fresh stream context and a fresh TCP connection per call. */
function vendor_call(string $url): bool
{
    [$full, $body] = signed_call($url);
    $context = stream_context_create([
        'http' => [
            'method' => 'POST',
            'header' => "Content-Type: application/json; charset=utf-8\r\n",
            'content' => $body,
            'timeout' => 30,
            'ignore_errors' => true,
        ],
    ]);
    return gateway_ok(@file_get_contents($full, false, $context));
}

/** One curl handle for the whole run: libcurl keeps the connection alive between calls. */
function curl_call($handle, string $url): bool
{
    [$full, $body] = signed_call($url);
    curl_setopt($handle, CURLOPT_URL, $full);
    curl_setopt($handle, CURLOPT_POSTFIELDS, $body);
    return gateway_ok(curl_exec($handle));
}

function ffi_call(\Wdt\Client $client): bool
{
    $request = json_encode([
        'refundInfo' => refund_info(),
        'detailMapList' => detail_map_list(),
        'createPreStockin' => false,
    ], JSON_FLAGS);
    $envelope = json_decode($client->smartRefundUploadJson($request), true);
    return is_array($envelope) && ($envelope['ok'] ?? false) === true && isset($envelope['data']['stockin_id']);
}

const RAW_CDEF = <<<'C'
typedef struct WdtClient WdtClient;
WdtClient *wdt_client_new(const char *config_json, char **error_json);
char *wdt_smart_refund_upload(WdtClient *client, const char *request_json);
void wdt_free_string(char *s);
void wdt_client_free(WdtClient *client);
C;

/** The bare FFI path: what any binding must at least do per call. */
function raw_call(FFI $ffi, $handle, string $request): string
{
    $ptr = $ffi->wdt_smart_refund_upload($handle, $request);
    $text = FFI::string($ptr);
    $ffi->wdt_free_string($ptr);
    return $text;
}

function raw_client(string $url): array
{
    $ffi = FFI::cdef(RAW_CDEF, getenv('WDT_LIB') ?: 'libwdt.so');
    $config = json_encode(['sid' => SID, 'appkey' => APPKEY, 'appsecret' => SECRET . ':' . SALT,
        'url' => $url, 'connect_timeout_ms' => 5000, 'timeout_ms' => 30000], JSON_FLAGS);
    $err = $ffi->new('char *');
    $handle = $ffi->wdt_client_new($config, FFI::addr($err));
    if ($handle === null || FFI::isNull($handle)) {
        fwrite(STDERR, "ffi_raw: wdt_client_new failed\n");
        exit(1);
    }
    return [$ffi, $handle];
}

function load_binding(): void
{
    spl_autoload_register(static function (string $class): void {
        $file = __DIR__ . '/../bindings/php/src/' . substr($class, 4) . '.php';
        if (strncmp($class, 'Wdt\\', 4) === 0 && is_file($file)) {
            require $file;
        }
    });
}

function binding_client(string $url): \Wdt\Client
{
    load_binding();
    return new \Wdt\Client([
        'sid' => SID,
        'appkey' => APPKEY,
        'appsecret' => SECRET . ':' . SALT,
        'url' => $url,
        'connect_timeout_ms' => 5000,
        'timeout_ms' => 30000,
    ]);
}

function vm_hwm_kb(): int
{
    $status = @file_get_contents('/proc/self/status');
    if (is_string($status) && preg_match('/^VmHWM:\s+(\d+)\s+kB/m', $status, $m)) {
        return (int)$m[1];
    }
    return -1;
}

function cpu_us(): array
{
    $r = getrusage();
    return [
        $r['ru_utime.tv_sec'] * 1e6 + $r['ru_utime.tv_usec'],
        $r['ru_stime.tv_sec'] * 1e6 + $r['ru_stime.tv_usec'],
    ];
}

if ($argc === 3 && $argv[1] === 'query') {
    echo signed_call($argv[2])[0], "\n";
    exit(0);
}
if ($argc < 4) {
    fwrite(STDERR, "usage: php -d ffi.enable=1 php_bench.php ffi|vendor|curl URL N [WARMUP]\n");
    exit(2);
}
[$mode, $url, $n] = [$argv[1], $argv[2], (int)$argv[3]];
$warmup = isset($argv[4]) ? (int)$argv[4] : 200;

if ($mode === 'overhead') {
    $client = binding_client($url);
    [$ffi, $handle] = raw_client($url);
    $bad = '[]';
    $expect = raw_call($ffi, $handle, $bad);
    if ($client->smartRefundUploadJson($bad) !== $expect || strpos($expect, '"ok":false') === false) {
        fwrite(STDERR, "overhead: the binding and the bare FFI disagree\n");
        exit(1);
    }
    // Short blocks, alternated, each side's per-block time kept: the medians shrug off the
    // blocks a busy machine slowed down.
    $block = 200;
    $binding = $raw = [];
    for ($done = 0; $done < $n; $done += $block) {
        $t = hrtime(true);
        for ($i = 0; $i < $block; $i++) {
            $client->smartRefundUploadJson($bad);
        }
        $binding[] = (hrtime(true) - $t) / 1e3 / $block;
        $t = hrtime(true);
        for ($i = 0; $i < $block; $i++) {
            raw_call($ffi, $handle, $bad);
        }
        $raw[] = (hrtime(true) - $t) / 1e3 / $block;
    }
    sort($binding);
    sort($raw);
    $mid = intdiv(count($raw), 2);
    printf("RESULT mode=php_overhead calls=%d binding_us=%.3f raw_us=%.3f\n", $done, $binding[$mid], $raw[$mid]);
    exit(0);
}

switch ($mode) {
    case 'ffi':
        $client = binding_client($url);
        $call = static function () use ($client): bool {
            return ffi_call($client);
        };
        break;
    case 'ffi_raw':
        [$ffi, $handle] = raw_client($url);
        $call = static function () use ($ffi, $handle): bool {
            $request = json_encode([
                'refundInfo' => refund_info(),
                'detailMapList' => detail_map_list(),
                'createPreStockin' => false,
            ], JSON_FLAGS);
            $envelope = json_decode(raw_call($ffi, $handle, $request), true);
            return is_array($envelope) && ($envelope['ok'] ?? false) === true && isset($envelope['data']['stockin_id']);
        };
        break;
    case 'vendor':
        $call = static function () use ($url): bool {
            return vendor_call($url);
        };
        break;
    case 'curl':
        $handle = curl_init();
        curl_setopt_array($handle, [
            CURLOPT_POST => true,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_HTTPHEADER => ['Content-Type: application/json; charset=utf-8', 'Expect:'],
            CURLOPT_CONNECTTIMEOUT_MS => 5000,
            CURLOPT_TIMEOUT_MS => 30000,
            CURLOPT_TCP_NODELAY => true,
        ]);
        $call = static function () use ($handle, $url): bool {
            return curl_call($handle, $url);
        };
        break;
    default:
        fwrite(STDERR, "unknown mode $mode\n");
        exit(2);
}

for ($i = 0; $i < $warmup; $i++) {
    if (!$call()) {
        fwrite(STDERR, "$mode: warm-up call failed, is the server up at $url?\n");
        exit(1);
    }
}

$fails = 0;
[$u0, $s0] = cpu_us();
$t0 = hrtime(true);
for ($i = 0; $i < $n; $i++) {
    if (!$call()) {
        $fails++;
    }
}
$wall = (hrtime(true) - $t0) / 1e3;
[$u1, $s1] = cpu_us();
$user = $u1 - $u0;
$sys = $s1 - $s0;
printf(
    "RESULT mode=php_%s calls=%d wall_us=%.0f cpu_us=%.0f user_us=%.0f sys_us=%.0f hwm_kb=%d fails=%d\n",
    $mode, $n, $wall, $user + $sys, $user, $sys, vm_hwm_kb(), $fails
);
exit($fails > 0 ? 1 : 0);
