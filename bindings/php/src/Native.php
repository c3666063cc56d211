<?php

declare(strict_types=1);

namespace Wdt;

use FFI;

/**
 * The only class that knows the C ABI: where the library is, the declarations handed to
 * FFI::cdef, and the ownership rule (every returned char * is copied, then freed exactly once).
 * Client is the public face; everything here is an implementation detail and may change.
 *
 * @internal
 */
final class Native
{
    /**
     * The declarations of include/wdt.h without its comments and preprocessor lines. A copy rather
     * than the header itself, because an installed package has the .so/.dll but not the header;
     * tests/header_test.php fails when this copy and include/wdt.h disagree.
     *
     * Owned strings are `char *`, not `const char *`: PHP FFI turns a `const char *` return into a
     * PHP string and drops the pointer, which could then never be freed.
     */
    public const CDEF = <<<'CDEF'
typedef struct WdtClient WdtClient;
WdtClient *wdt_client_new(const char *config_json, char **error_json);
char *wdt_smart_refund_upload(WdtClient *client, const char *request_json);
char *wdt_call(WdtClient *client, const char *request_json);
void wdt_client_free(WdtClient *client);
void wdt_free_string(char *s);
const char *wdt_version(void);
typedef void (*WdtLogCallback)(const char *line, void *user_data);
int wdt_client_set_log_callback(WdtClient *client, WdtLogCallback callback, void *user_data);
typedef struct WdtOutbox WdtOutbox;
WdtOutbox *wdt_outbox_open(const char *client_config_json, const char *options_json, char **error_json);
char *wdt_outbox_submit(WdtOutbox *outbox, const char *submit_json);
char *wdt_outbox_get(WdtOutbox *outbox, const char *id);
char *wdt_outbox_list(WdtOutbox *outbox, const char *filter_json);
char *wdt_outbox_flush(WdtOutbox *outbox, const char *options_json);
void wdt_outbox_close(WdtOutbox *outbox);
CDEF;

    /** Scope name used with ffi.preload (see bin/ffi-preload-header.php and the README). */
    public const FFI_SCOPE = 'WDT';

    /**
     * Encoding rules for everything we send: Chinese stays readable in logs and on the wire,
     * `/` is not escaped, and 1.0 stays a float (the API distinguishes 1 and 1.0 only in type,
     * but a quantity of 1.0 sent as 1 would surprise whoever reads a captured request).
     */
    public const JSON_ENCODE_FLAGS = JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES
        | JSON_PRESERVE_ZERO_FRACTION | JSON_THROW_ON_ERROR;

    /**
     * One parsed cdef (and one dlopen) per library path, shared by every Client of the request
     * or CLI process, so creating 10,000 clients does not re-parse the declarations.
     *
     * @var array<string, FFI>
     */
    private static $ffiByPath = [];

    /** @var FFI|null|false the preloaded scope; false once looked for and not found */
    private static $scope = null;

    /**
     * The single place that decides which library a Client talks to:
     *   1. the explicit $libraryPath argument,
     *   2. the WDT_LIB environment variable,
     *   3. a scope "WDT" preloaded through ffi.preload (PHP-FPM),
     *   4. lib/<name> inside this package, when it is there,
     *   5. the platform's file name alone (libwdt.so / wdt.dll / libwdt.dylib), which leaves the
     *      search to the dynamic loader (LD_LIBRARY_PATH, ldconfig, PATH on Windows).
     */
    public static function load(?string $libraryPath): FFI
    {
        if ($libraryPath !== null && $libraryPath !== '') {
            return self::ffiForPath($libraryPath);
        }
        $env = getenv('WDT_LIB');
        if (is_string($env) && $env !== '') {
            return self::ffiForPath($env);
        }
        return self::preloadedScope() ?? self::ffiForPath(self::defaultLibraryPath());
    }

    /** lib/<platform name> inside the package when present, else the bare platform name. */
    public static function defaultLibraryPath(): string
    {
        $name = self::platformLibraryName(PHP_OS_FAMILY);
        $bundled = dirname(__DIR__) . DIRECTORY_SEPARATOR . 'lib' . DIRECTORY_SEPARATOR . $name;
        return is_file($bundled) ? $bundled : $name;
    }

    /** The file name Cargo gives the `wdt` cdylib on each platform. */
    public static function platformLibraryName(string $osFamily): string
    {
        switch ($osFamily) {
            case 'Windows':
                return 'wdt.dll';
            case 'Darwin':
                return 'libwdt.dylib';
            default:
                return 'libwdt.so';
        }
    }

    private static function ffiForPath(string $path): FFI
    {
        // A relative path would be resolved by dlopen against whatever the working directory is
        // at first use; pinning it keeps the cache key and the loaded file the same thing.
        $real = is_file($path) ? realpath($path) : false;
        $key = $real !== false ? $real : $path;
        if (isset(self::$ffiByPath[$key])) {
            return self::$ffiByPath[$key];
        }
        self::requireFfi();
        try {
            $ffi = FFI::cdef(self::CDEF, $key);
        } catch (\FFI\Exception $e) {
            // The two causes need different fixes: a wrong path, or FFI refused by php.ini.
            $hint = strpos($e->getMessage(), 'ffi.enable') !== false
                ? 'outside the CLI, FFI needs opcache.preload of this package or ffi.enable=1, see the README'
                : 'pass $libraryPath or set WDT_LIB to the library file';
            throw new \RuntimeException(
                sprintf('wdt: cannot load the library "%s": %s (%s)', $key, $e->getMessage(), $hint),
                0,
                $e
            );
        }
        return self::$ffiByPath[$key] = $ffi;
    }

    private static function preloadedScope(): ?FFI
    {
        if (self::$scope === null) {
            self::$scope = false;
            // FFI::scope throws when nothing was preloaded; ask only when ffi.preload is set so
            // the common path costs no exception.
            $preload = ini_get('ffi.preload');
            if (extension_loaded('ffi') && is_string($preload) && $preload !== '') {
                try {
                    self::$scope = FFI::scope(self::FFI_SCOPE);
                } catch (\FFI\Exception $e) {
                    self::$scope = false;
                }
            }
        }
        return self::$scope === false ? null : self::$scope;
    }

    private static function requireFfi(): void
    {
        if (!extension_loaded('ffi') || !class_exists(FFI::class, false)) {
            throw new \RuntimeException('wdt: the PHP FFI extension (ext-ffi) is not loaded');
        }
    }

    /**
     * Copies an owned `char *` into a PHP string and releases it with wdt_free_string exactly
     * once, even when the copy throws. Returns null for a NULL pointer.
     *
     * @param FFI\CData|null $ptr
     */
    public static function takeString(FFI $ffi, $ptr): ?string
    {
        // FFI hands back a NULL pointer return as PHP null; an out-parameter stays a CData.
        if ($ptr === null || FFI::isNull($ptr)) {
            return null;
        }
        try {
            return FFI::string($ptr);
        } finally {
            $ffi->wdt_free_string($ptr);
        }
    }

    /**
     * json_encode with the package's flags. An unencodable value (most often a GBK string from an
     * old database) throws before anything reaches the library: kind invalid_argument for a
     * request, config for a config.
     *
     * @param mixed $value
     */
    public static function encode($value, string $kind = WdtException::KIND_INVALID_ARGUMENT, string $what = 'request'): string
    {
        // A php.ini carried over from PHP < 7.1 may set serialize_precision=17, which would send
        // a quantity of 0.1 as 0.10000000000000001; -1 is the shortest exact form.
        $old = ini_get('serialize_precision');
        $changed = $old !== '-1' && ini_set('serialize_precision', '-1') !== false;
        try {
            return json_encode($value, self::JSON_ENCODE_FLAGS);
        } catch (\JsonException $e) {
            $hint = $e->getCode() === JSON_ERROR_UTF8
                ? ' (strings must be UTF-8; convert GBK text with mb_convert_encoding($s, "UTF-8", "GBK"))'
                : '';
            throw WdtException::local(
                $kind,
                $what . ': cannot be encoded as JSON: ' . $e->getMessage() . $hint,
                null,
                $e
            );
        } finally {
            if ($changed) {
                ini_set('serialize_precision', (string) $old);
            }
        }
    }

    /**
     * Decodes an envelope. Big integers stay strings rather than turning into floats (32-bit
     * Windows PHP has 32-bit ints; ids from the gateway must not be rounded).
     *
     * @return array<string, mixed>
     */
    public static function decodeEnvelope(string $json): array
    {
        try {
            $envelope = json_decode($json, true, 512, JSON_BIGINT_AS_STRING | JSON_THROW_ON_ERROR);
        } catch (\JsonException $e) {
            throw WdtException::local(
                WdtException::KIND_INTERNAL,
                'internal: the library returned an envelope that is not JSON: ' . $e->getMessage(),
                null,
                $e
            );
        }
        if (!is_array($envelope) || !array_key_exists('ok', $envelope)) {
            throw WdtException::local(
                WdtException::KIND_INTERNAL,
                'internal: the library returned JSON that is not an envelope'
            );
        }
        return $envelope;
    }

    /**
     * An error envelope for the few failures that happen on the PHP side of the boundary, so the
     * *Json methods keep their promise of always returning an envelope.
     */
    public static function localEnvelope(string $kind, string $message, ?string $field = null): string
    {
        return json_encode(['ok' => false, 'error' => self::localError($kind, $message, $field)], self::JSON_ENCODE_FLAGS);
    }

    /**
     * The `error` object of an envelope made on the PHP side, with the library's fields in the
     * library's order (kind, field, message, delivery, retryable, hint), so a caller reads it like
     * any other. Nothing made here has reached the library, let alone the gateway: invalid_argument
     * and config are not_sent, as the library says for them; internal (the library broke its own
     * contract) is unknown, as the library says for it. None is retryable: the same input fails
     * the same way.
     *
     * @return array<string, mixed>
     */
    public static function localError(string $kind, string $message, ?string $field = null): array
    {
        $error = ['kind' => $kind];
        if ($field !== null && $field !== '') {
            $error['field'] = $field;
        }
        $error['message'] = $message;
        $error['delivery'] = $kind === WdtException::KIND_INVALID_ARGUMENT || $kind === WdtException::KIND_CONFIG
            ? WdtException::DELIVERY_NOT_SENT
            : WdtException::DELIVERY_UNKNOWN;
        $error['retryable'] = false;
        $error['hint'] = self::localHint($kind);
        return $error;
    }

    /**
     * The hint of an envelope made on the PHP side: the library's general hint for the kind
     * (src/hint.rs). The one copy of those texts in the binding: the C ABI has no call that
     * returns a kind's hint (adding one would change the header and every binding), and several
     * of these failures have no handle to call with. tests/docs.rs fails when a text here differs
     * from the library's (docs/hints.md, generated from src/hint.rs).
     */
    public static function localHint(string $kind): string
    {
        switch ($kind) {
            case WdtException::KIND_INVALID_ARGUMENT:
                return '请求不符合接口文档：请按 field 指出的位置修改请求。请求没有发出，修改后可以放心再发。';
            case WdtException::KIND_CONFIG:
                return '配置有误：请按 field 指出的配置项检查 sid、appkey、appsecret（格式 secret:salt）、url 或 env。';
            default:
                return 'libwdt 内部错误（程序缺陷）：请把完整的错误信息发给开发者；请求是否发出未知，先查询 ERP 再重发。';
        }
    }

    /**
     * The text for an ffi.preload header: FFI_SCOPE and FFI_LIB are the two defines FFI::load
     * reads; the rest is CDEF. Written out by bin/ffi-preload-header.php.
     */
    public static function preloadHeader(string $libraryPath): string
    {
        return '#define FFI_SCOPE "' . self::FFI_SCOPE . "\"\n"
            . '#define FFI_LIB "' . addcslashes($libraryPath, "\"\\") . "\"\n"
            . self::CDEF . "\n";
    }
}
