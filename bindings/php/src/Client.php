<?php

declare(strict_types=1);

namespace Wdt;

use FFI;

/**
 * A client of the 旺店通旗舰版 open API, one per shop account (sid/appkey/appsecret).
 *
 * The convention of this binding (every method follows it; see the README):
 * - the typed methods (smartRefundUpload, call, callPage, pages, records) take PHP arrays, return
 *   the gateway's data and throw WdtException on any failure — its getKind(), getDelivery(),
 *   getHint() say what happened and whether a resend is safe;
 * - the *Json methods take the request JSON and return the envelope JSON (error, delivery and
 *   hint inside), never throwing for anything the library reports.
 * No method keeps per-call state except the older lastTotalCount(); callPage() returns the total
 * with the data instead.
 *
 * The native client is freed by close() or, at the latest, when the object is destroyed. Using a
 * closed client throws \LogicException: it is a bug in the caller, not a failure to report.
 */
final class Client
{
    /**
     * Held by every client, not only by Native's cache, so the library stays loaded until the
     * last client has been freed, whatever order PHP tears things down in at shutdown.
     *
     * @var FFI
     */
    private $ffi;

    /** @var FFI\CData|null the WdtClient *; null once closed */
    private $handle;

    /** @var int|null */
    private $lastTotalCount;

    /**
     * The closure handed to the library as the log callback, kept referenced for as long as the
     * library may call it.
     *
     * @var \Closure|null
     */
    private $logTrampoline;

    /**
     * @param array<string, mixed>|string $config the config as an array, or as JSON text:
     *        sid, appkey, appsecret ("secret:salt"), and optionally url or env ("test"/"prod"),
     *        connect_timeout_ms, timeout_ms
     * @param string|null $libraryPath the libwdt library file; default: env WDT_LIB, then the
     *        package's lib/ folder, then the loader's search (see the README)
     *
     * @throws WdtException kind "config" when the library rejects the config
     * @throws \RuntimeException when the library cannot be loaded
     */
    public function __construct($config, ?string $libraryPath = null)
    {
        if (is_array($config)) {
            // [] would go out as a JSON list; as {} the library names the first missing key.
            $json = Native::encode($config === [] ? new \stdClass() : $config, WdtException::KIND_CONFIG, 'config');
        } elseif (is_string($config)) {
            $json = $config;
        } else {
            throw new \TypeError(sprintf(
                '%s(): Argument #1 ($config) must be of type array|string, %s given',
                __METHOD__,
                is_object($config) ? get_class($config) : gettype($config)
            ));
        }
        $this->ffi = Native::load($libraryPath);
        if (strpos($json, "\0") !== false) {
            // A C string ends at the first NUL: the library would read a different config.
            throw WdtException::local(WdtException::KIND_CONFIG, 'config: contains a NUL byte');
        }

        $errorOut = $this->ffi->new('char *');
        $handle = $this->ffi->wdt_client_new($json, FFI::addr($errorOut));
        $errorJson = Native::takeString($this->ffi, $errorOut);
        if ($handle === null || FFI::isNull($handle)) {
            throw WdtException::fromEnvelope(Native::decodeEnvelope(
                $errorJson ?? Native::localEnvelope(WdtException::KIND_INTERNAL, 'internal: wdt_client_new returned NULL without an error')
            ));
        }
        $this->handle = $handle;
    }

    public function __destruct()
    {
        $this->close();
    }

    /** Frees the native client now rather than at garbage collection. Safe to call twice. */
    public function close(): void
    {
        // Forget the handle before freeing it, so nothing can reach a freed pointer afterwards.
        $handle = $this->handle;
        $this->handle = null;
        if ($handle !== null) {
            $this->ffi->wdt_client_free($handle);
        }
        // Only now: the library may call the log callback until the client is gone.
        $this->logTrampoline = null;
    }

    public function isClosed(): bool
    {
        return $this->handle === null;
    }

    /**
     * 快速退货 (wms.stockin.SmartRefund.upload).
     *
     * @param array<string, mixed> $request ['refundInfo' => [...], 'detailMapList' => [[...], ...],
     *        'createPreStockin' => bool], the field names of the API document
     * @return array<string, mixed> the gateway's data, e.g. ['stockin_id' => 1, 'type' => 12]
     * @throws WdtException
     */
    public function smartRefundUpload(array $request): array
    {
        return $this->dataOf($this->smartRefundUploadJson(Native::encode(self::shapeRefundRequest($request))));
    }

    /**
     * Any method of the open API, paged or not.
     *
     * For a paged call pass $pager = ['page_size' => 50, 'page_no' => 0, 'calc_total' => true];
     * the total count is then lastTotalCount().
     *
     * @param array<int, mixed> $args the positional arguments, e.g. [$params] (not $params itself)
     * @param array<string, mixed>|null $pager
     * @return array<mixed> the gateway's data; a scalar data comes back as a one-element list
     *         and a missing one as []
     * @throws WdtException
     */
    public function call(string $method, array $args = [], ?array $pager = null): array
    {
        $request = ['method' => $method, 'args' => $args];
        if ($pager !== null) {
            $request['pager'] = $pager === [] ? new \stdClass() : $pager;
        }
        return $this->dataOf($this->callJson(Native::encode($request)));
    }

    /**
     * One page of a paged query, stateless: the data and the total together.
     *
     * @param array<int, mixed> $args the positional arguments, e.g. [$params]
     * @param array<string, mixed> $pager ['page_size' => 50, 'page_no' => 0, 'calc_total' => true]
     * @return array{data: array<mixed>, total_count: int|null} total_count is null when the
     *         gateway did not send one (calc_total false)
     * @throws WdtException
     */
    public function callPage(string $method, array $args, array $pager): array
    {
        $request = ['method' => $method, 'args' => $args, 'pager' => $pager === [] ? new \stdClass() : $pager];
        [$data, $total] = $this->decodeData($this->callJson(Native::encode($request)));
        return ['data' => $data, 'total_count' => $total];
    }

    /**
     * Every page of a paged query, from page 0 until total_count rows have been fetched (a page
     * shorter than $pageSize also ends it, so rows vanishing during the walk cannot loop it).
     * Yields page_no => ['data' => …, 'total_count' => …]; each page is fetched only when the
     * loop asks for it, so `break` stops the walk.
     *
     * @param array<int, mixed> $args e.g. [['start_time' => …, 'end_time' => …]]
     * @param string $listKey the data key holding the rows ('order' for the after-sales queries)
     * @return \Generator<int, array{data: array<mixed>, total_count: int|null}>
     * @throws WdtException
     */
    public function pages(string $method, array $args, int $pageSize = 50, string $listKey = 'order'): \Generator
    {
        if ($pageSize < 1) {
            throw WdtException::local(WdtException::KIND_INVALID_ARGUMENT, 'invalid argument: pager.page_size must be at least 1', 'pager.page_size');
        }
        $total = null;
        for ($pageNo = 0;; $pageNo++) {
            // The total is asked for once: counting is the expensive part of a query.
            $page = $this->callPage($method, $args, ['page_size' => $pageSize, 'page_no' => $pageNo, 'calc_total' => $pageNo === 0]);
            if ($pageNo === 0) {
                $total = $page['total_count'];
            } else {
                $page['total_count'] = $total;
            }
            yield $pageNo => $page;
            $rows = isset($page['data'][$listKey]) && is_array($page['data'][$listKey]) ? count($page['data'][$listKey]) : 0;
            if ($rows < $pageSize || ($total !== null && ($pageNo + 1) * $pageSize >= $total)) {
                return;
            }
        }
    }

    /**
     * Every row of a paged query (the items of data[$listKey] on every page), walking the pages
     * as pages() does.
     *
     * @param array<int, mixed> $args
     * @return \Generator<int, mixed>
     * @throws WdtException
     */
    public function records(string $method, array $args, int $pageSize = 50, string $listKey = 'order'): \Generator
    {
        $i = 0;
        foreach ($this->pages($method, $args, $pageSize, $listKey) as $page) {
            foreach ($page['data'][$listKey] ?? [] as $row) {
                yield $i++ => $row;
            }
        }
    }

    /**
     * Sends this client's log lines (one per attempt: method, outcome, time, clock offset; never
     * the secret) to $callback as a UTF-8 string; null turns it off. An exception thrown by the
     * callback is swallowed: it must not unwind into the library. The library calls it on the
     * thread making the call; PHP runs on one thread, so do not combine it with anything that
     * calls from a thread of its own (the outbox worker).
     *
     * @param callable(string): void|null $callback
     */
    public function setLogCallback(?callable $callback): void
    {
        $handle = $this->handle;
        if ($handle === null) {
            throw new \LogicException('Wdt\Client: the client was closed');
        }
        if ($callback === null) {
            $this->ffi->wdt_client_set_log_callback($handle, null, null);
            $this->logTrampoline = null;
            return;
        }
        $trampoline = static function ($line, $userData) use ($callback): void {
            try {
                $callback(is_string($line) ? $line : FFI::string($line));
            } catch (\Throwable $e) {
                // Unwinding through the library's frames would be undefined behaviour.
            }
        };
        $this->ffi->wdt_client_set_log_callback($handle, $trampoline, null);
        $this->logTrampoline = $trampoline;
    }

    /**
     * total_count of the last call on this client when the gateway returned one (paged calls with
     * calc_total), else null. Reset by every call, failed ones included. Prefer callPage(), which
     * returns the total with the data and keeps no state on the client.
     */
    public function lastTotalCount(): ?int
    {
        return $this->lastTotalCount;
    }

    /**
     * 快速退货 with the request as JSON text; returns the envelope JSON as the library made it.
     */
    public function smartRefundUploadJson(string $requestJson): string
    {
        // The hot path, kept flat (no helper calls, no try/finally): bench/run.sh measures what
        // it adds over a bare FFI call.
        $handle = $this->handle;
        if ($handle === null) {
            throw new \LogicException('Wdt\Client: the client was closed');
        }
        if (strpos($requestJson, "\0") !== false) {
            // A C string ends at the first NUL: the library would see only part of the request.
            return Native::localEnvelope(WdtException::KIND_INVALID_ARGUMENT, 'request: contains a NUL byte');
        }
        $ffi = $this->ffi;
        // Never NULL (docs/abi.md).
        $ptr = $ffi->wdt_smart_refund_upload($handle, $requestJson);
        // FFI::string copies; the library's string is freed exactly once, right after.
        $envelope = FFI::string($ptr);
        $ffi->wdt_free_string($ptr);
        return $envelope;
    }

    /**
     * Any method with the request as JSON text ({"method", "args", "pager"}); returns the envelope.
     */
    public function callJson(string $requestJson): string
    {
        // Same flat shape as smartRefundUploadJson.
        $handle = $this->handle;
        if ($handle === null) {
            throw new \LogicException('Wdt\Client: the client was closed');
        }
        if (strpos($requestJson, "\0") !== false) {
            return Native::localEnvelope(WdtException::KIND_INVALID_ARGUMENT, 'request: contains a NUL byte');
        }
        $ffi = $this->ffi;
        // Never NULL (docs/abi.md).
        $ptr = $ffi->wdt_call($handle, $requestJson);
        $envelope = FFI::string($ptr);
        $ffi->wdt_free_string($ptr);
        return $envelope;
    }

    /** The version of the loaded library, e.g. "0.1.0". */
    public static function libraryVersion(?string $libraryPath = null): string
    {
        $ffi = Native::load($libraryPath);
        // wdt_version returns a static const char *: FFI copies it into a PHP string and it must
        // never be passed to wdt_free_string.
        return $ffi->wdt_version();
    }

    /** Cloning would give two objects that free the same native client. */
    private function __clone()
    {
    }

    /** A native handle cannot outlive its process; refuse rather than serialize a dangling one. */
    public function __sleep()
    {
        throw new \LogicException('Wdt\Client cannot be serialized');
    }

    public function __wakeup()
    {
        throw new \LogicException('Wdt\Client cannot be unserialized');
    }

    /**
     * @return array<mixed>
     */
    private function dataOf(string $envelopeJson): array
    {
        $this->lastTotalCount = null;
        [$data, $total] = $this->decodeData($envelopeJson);
        $this->lastTotalCount = $total;
        return $data;
    }

    /**
     * @return array{0: array<mixed>, 1: int|null} the data and the total_count
     * @throws WdtException
     */
    private function decodeData(string $envelopeJson): array
    {
        $envelope = Native::decodeEnvelope($envelopeJson);
        if ($envelope['ok'] !== true) {
            throw WdtException::fromEnvelope($envelope);
        }
        $total = isset($envelope['total_count']) && is_numeric($envelope['total_count'])
            ? (int) $envelope['total_count']
            : null;
        $data = $envelope['data'] ?? null;
        if (!is_array($data)) {
            $data = $data === null ? [] : [$data];
        }
        return [$data, $total];
    }

    /**
     * PHP has one array type for JSON's list and object; shape the parts whose type the API
     * fixes so the usual PHP ways of building them encode as intended:
     * - refundInfo is an object, so an empty [] becomes {};
     * - detailMapList is a list, so integer keys with holes (left by unset() or array_filter())
     *   are renumbered instead of turning it into a JSON object; an empty line [] becomes {}.
     * Anything else is sent as given and judged by the library.
     *
     * @param array<mixed> $request
     * @return array<mixed>|\stdClass
     */
    private static function shapeRefundRequest(array $request)
    {
        if ($request === []) {
            return new \stdClass();
        }
        if (array_key_exists('refundInfo', $request) && $request['refundInfo'] === []) {
            $request['refundInfo'] = new \stdClass();
        }
        if (isset($request['detailMapList']) && is_array($request['detailMapList'])) {
            $lines = $request['detailMapList'];
            if (self::hasOnlyIntKeys($lines)) {
                $lines = array_values($lines);
            }
            foreach ($lines as $i => $line) {
                if ($line === []) {
                    $lines[$i] = new \stdClass();
                }
            }
            $request['detailMapList'] = $lines;
        }
        return $request;
    }

    /**
     * @param array<mixed> $array
     */
    private static function hasOnlyIntKeys(array $array): bool
    {
        foreach ($array as $key => $unused) {
            if (!is_int($key)) {
                return false;
            }
        }
        return true;
    }
}
