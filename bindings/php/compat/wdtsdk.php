<?php

/*
 * A drop-in for the vendor's wdtsdk.php (旺店通旗舰版 PHP SDK), backed by libwdt: the same global
 * classes WdtErpClient, Pager and WdtErpException with the same constructors and calls, so a back
 * office changes one `require` line and gains timeouts, keep-alive, clock-skew correction and
 * honest delivery. Written from the SDK's documented use (the API pages' PHP samples), not from
 * its source.
 *
 *   require_once '/path/to/bindings/php/compat/wdtsdk.php';
 *   $client = new WdtErpClient('http://47.92.239.46', $sid, $appkey, 'secret:salt'); // test
 *   $client = new WdtErpClient($sid, $appkey, 'secret:salt');                        // production
 *   $data = $client->call('wms.stockin.SmartRefund.upload', $refundInfo, $details, false);
 *   $answer = $client->pageCall('aftersales.refund.Refund.search', new Pager(50, 0, true), $params);
 *
 * Where the vendor throws "invalid response" and callers resend, this throws WdtErpException with
 * getDelivery(): "unknown" means the request may have reached the ERP (query before resending a
 * quick return), "not_sent" means nothing left the machine. The library is found as the Wdt\Client
 * binding finds it (WDT_LIB first; see bindings/php/README.md).
 */

declare(strict_types=1);

if (!class_exists('Wdt\\Client')) {
    // Without Composer's autoloader: the binding's three files sit next to this folder.
    require_once __DIR__ . '/../src/WdtException.php';
    require_once __DIR__ . '/../src/Native.php';
    require_once __DIR__ . '/../src/Client.php';
}

/**
 * A failed call. getCode() is the gateway's status (e.g. 100 with the gateway's Chinese message)
 * and 0 for failures that are not the gateway's answer (network, timeout, invalid argument…).
 */
class WdtErpException extends Exception
{
    /** @var string */
    private $kind;
    /** @var string|null */
    private $delivery;
    /** @var string|null */
    private $hint;
    /** @var string|null */
    private $field;
    /** @var bool */
    private $retryable;
    /** @var array<string, mixed> */
    private $envelope;

    /**
     * @param array<string, mixed> $envelope the libwdt error envelope
     */
    public function __construct(string $message, int $code = 0, array $envelope = [], ?Throwable $previous = null)
    {
        parent::__construct($message, $code, $previous);
        $error = isset($envelope['error']) && is_array($envelope['error']) ? $envelope['error'] : [];
        $this->kind = isset($error['kind']) && is_string($error['kind']) ? $error['kind'] : 'internal';
        $this->delivery = isset($error['delivery']) && is_string($error['delivery']) ? $error['delivery'] : null;
        $this->hint = isset($error['hint']) && is_string($error['hint']) ? $error['hint'] : null;
        $this->field = isset($error['field']) && is_string($error['field']) ? $error['field'] : null;
        $this->retryable = ($error['retryable'] ?? false) === true;
        $this->envelope = $envelope;
    }

    /** @internal */
    public static function fromWdt(Wdt\WdtException $e): self
    {
        return new self($e->getMessage(), $e->getKind() === Wdt\WdtException::KIND_API ? $e->getCode() : 0, $e->getEnvelope(), $e);
    }

    /**
     * "not_sent": nothing left this machine, resend freely. "rejected": the gateway refused it,
     * nothing was created. "unknown": it may have reached the ERP — query (e.g.
     * wms.stockin.Refund.queryWithDetail) before sending a quick return again.
     */
    public function getDelivery(): ?string
    {
        return $this->delivery;
    }

    /** libwdt's error kind: api, invalid_argument, config, transport, timeout, http, bad_response, internal. */
    public function getKind(): string
    {
        return $this->kind;
    }

    /** The remedy in Chinese (the error table's for gateway statuses). */
    public function getHint(): ?string
    {
        return $this->hint;
    }

    /** For invalid_argument: the path of the offending value, e.g. "args[0].start_time". */
    public function getField(): ?string
    {
        return $this->field;
    }

    /** True when sending the very same request again is safe (rate limited, or not sent). */
    public function isRetryable(): bool
    {
        return $this->retryable;
    }

    /** @return array<string, mixed> the whole libwdt envelope */
    public function getEnvelope(): array
    {
        return $this->envelope;
    }
}

/** The paging of a query: page size, page number from 0, and whether to count the total. */
class Pager
{
    /** @var int */
    private $pageSize;
    /** @var int */
    private $pageNo;
    /** @var bool */
    private $calcTotal;

    public function __construct(int $pageSize, int $pageNo = 0, bool $calcTotal = false)
    {
        $this->pageSize = $pageSize;
        $this->pageNo = $pageNo;
        $this->calcTotal = $calcTotal;
    }

    public function getPageSize(): int
    {
        return $this->pageSize;
    }

    public function getPageNo(): int
    {
        return $this->pageNo;
    }

    public function getCalcTotal(): bool
    {
        return $this->calcTotal;
    }
}

/** The vendor client's shape over libwdt. */
class WdtErpClient
{
    /** The production gateway, for the three-argument constructor. */
    public const PRODUCTION_URL = 'http://wdt.wangdian.cn';

    /** @var Wdt\Client */
    private $client;

    /**
     * new WdtErpClient($sid, $appkey, $appsecret) for production, or
     * new WdtErpClient($url, $sid, $appkey, $appsecret) where "/openapi" is appended to $url
     * (as the vendor does; a $url that already ends in /openapi is used as is).
     *
     * @throws WdtErpException on a config the library refuses (e.g. appsecret without ":salt")
     */
    public function __construct(string ...$parts)
    {
        if (count($parts) === 3) {
            array_unshift($parts, self::PRODUCTION_URL);
        }
        if (count($parts) !== 4) {
            throw new ArgumentCountError('WdtErpClient takes (sid, appkey, appsecret) or (url, sid, appkey, appsecret)');
        }
        [$url, $sid, $appkey, $appsecret] = $parts;
        $url = rtrim($url, '/');
        if (substr($url, -8) !== '/openapi') {
            $url .= '/openapi';
        }
        try {
            $this->client = new Wdt\Client(['sid' => $sid, 'appkey' => $appkey, 'appsecret' => $appsecret, 'url' => $url]);
        } catch (Wdt\WdtException $e) {
            throw WdtErpException::fromWdt($e);
        }
    }

    /**
     * Calls $method with positional arguments and returns the gateway's `data` as json_decode
     * gives it (objects as stdClass).
     *
     * @param mixed ...$args
     * @return mixed
     * @throws WdtErpException
     */
    public function call(string $method, ...$args)
    {
        return $this->send($method, $args, null)->data ?? null;
    }

    /**
     * A paged call: the `data`, or — when the pager asks for the total — the whole answer
     * ({status: 0, data: {…, total_count: N}}), as the vendor's pageCall returns.
     *
     * @param mixed ...$args
     * @return mixed
     * @throws WdtErpException
     */
    public function pageCall(string $method, Pager $pager, ...$args)
    {
        $answer = $this->send($method, $args, $pager);
        return $pager->getCalcTotal() ? $answer : ($answer->data ?? null);
    }

    /**
     * @param array<int, mixed> $args
     * @throws WdtErpException
     */
    private function send(string $method, array $args, ?Pager $pager): stdClass
    {
        $request = ['method' => $method, 'args' => $args];
        if ($pager !== null) {
            $request['pager'] = [
                'page_size' => $pager->getPageSize(),
                'page_no' => $pager->getPageNo(),
                'calc_total' => $pager->getCalcTotal(),
            ];
        }
        try {
            $envelopeJson = $this->client->callJson(Wdt\Native::encode($request));
        } catch (Wdt\WdtException $e) {
            throw WdtErpException::fromWdt($e);
        }
        $envelope = json_decode($envelopeJson, true);
        if (!is_array($envelope) || ($envelope['ok'] ?? null) !== true) {
            $envelope = is_array($envelope) ? $envelope : [];
            $error = $envelope['error'] ?? [];
            $status = ($error['kind'] ?? '') === 'api' && isset($error['status']) ? (int) $error['status'] : 0;
            throw new WdtErpException((string) ($error['message'] ?? 'invalid response'), $status, $envelope);
        }
        // The gateway's own shape, with data decoded to objects as the vendor's json_decode does.
        $object = json_decode($envelopeJson);
        $answer = new stdClass();
        $answer->status = 0;
        $answer->data = $object->data ?? null;
        if (isset($object->total_count) && !(is_object($answer->data) && isset($answer->data->total_count))) {
            $answer->total_count = $object->total_count;
        }
        return $answer;
    }
}
