<?php

declare(strict_types=1);

namespace Wdt;

/**
 * Every failure that an error envelope reports, as an exception.
 *
 * getCode() is the gateway's status for kind "api" (for example 100 with the gateway's own
 * Chinese message as getMessage()) and 0 for every other kind, so code written against the
 * vendor SDK's exception keeps working. getKind() is one of the KIND_* strings; those strings are
 * part of libwdt's ABI and are never renamed or reused.
 */
class WdtException extends \RuntimeException
{
    /** The request breaks the API document's rules; nothing was sent. getField() names it. */
    public const KIND_INVALID_ARGUMENT = 'invalid_argument';
    /** The config was rejected (only from new Client). getField() names the config key. */
    public const KIND_CONFIG = 'config';
    /** Network failure. getDelivery() says whether the request may have reached the gateway. */
    public const KIND_TRANSPORT = 'transport';
    /** No complete answer in time. getDelivery() as for transport. */
    public const KIND_TIMEOUT = 'timeout';
    /** A non-2xx HTTP status without a gateway JSON body; see getHttpStatus(). */
    public const KIND_HTTP = 'http';
    /** A 2xx answer that is not the gateway's JSON. */
    public const KIND_BAD_RESPONSE = 'bad_response';
    /** The gateway answered with status > 0; getCode() and getMessage() are the gateway's. */
    public const KIND_API = 'api';
    /** Only from Outbox: its file could not be written; with delivery unknown, getEntryId() names the entry. */
    public const KIND_STORAGE = 'storage';
    /** A bug in the library; the request may or may not have been sent. */
    public const KIND_INTERNAL = 'internal';

    /** The request certainly did not leave this machine. */
    public const DELIVERY_NOT_SENT = 'not_sent';
    /** The request may have reached the gateway: check the ERP before sending a quick return again. */
    public const DELIVERY_UNKNOWN = 'unknown';
    /** The gateway received the request and refused it (kind api): nothing was created. */
    public const DELIVERY_REJECTED = 'rejected';

    /** @var string */
    private $kind;
    /** @var string|null */
    private $field;
    /** @var string|null */
    private $delivery;
    /** @var int|null */
    private $httpStatus;
    /** @var bool */
    private $retryable;
    /** @var int|null */
    private $attempts;
    /** @var string|null */
    private $hint;
    /** @var array<string, mixed> */
    private $envelope;

    /**
     * @param array<string, mixed> $envelope
     */
    public function __construct(
        string $message,
        string $kind,
        int $code = 0,
        ?string $field = null,
        ?string $delivery = null,
        ?int $httpStatus = null,
        array $envelope = [],
        ?\Throwable $previous = null
    ) {
        parent::__construct($message, $code, $previous);
        $this->kind = $kind;
        $this->field = $field;
        $this->delivery = $delivery;
        $this->httpStatus = $httpStatus;
        $this->envelope = $envelope;
        $error = isset($envelope['error']) && is_array($envelope['error']) ? $envelope['error'] : [];
        // Absent means the library did not say; treat that as "do not resend blindly".
        $this->retryable = ($error['retryable'] ?? false) === true;
        $this->attempts = isset($error['attempts']) && is_int($error['attempts']) ? $error['attempts'] : null;
        $this->hint = isset($error['hint']) && is_string($error['hint']) ? $error['hint'] : null;
    }

    /**
     * Builds the exception for a failure envelope (`ok` false) as decoded from the library.
     *
     * @param array<string, mixed> $envelope
     */
    public static function fromEnvelope(array $envelope): self
    {
        $error = isset($envelope['error']) && is_array($envelope['error']) ? $envelope['error'] : [];
        $kind = isset($error['kind']) && is_string($error['kind']) ? $error['kind'] : self::KIND_INTERNAL;
        $message = isset($error['message']) && is_scalar($error['message']) ? (string) $error['message'] : '';
        // Only the gateway's status is a meaningful code; the library's own failures carry none.
        $code = $kind === self::KIND_API && isset($error['status']) && is_numeric($error['status'])
            ? (int) $error['status']
            : 0;
        return new self(
            $message !== '' ? $message : $kind,
            $kind,
            $code,
            self::optionalString($error, 'field'),
            self::optionalString($error, 'delivery'),
            isset($error['http_status']) && is_numeric($error['http_status']) ? (int) $error['http_status'] : null,
            $envelope
        );
    }

    /**
     * For the few failures detected on the PHP side (a value json_encode cannot encode, a
     * malformed envelope); getEnvelope() still returns an envelope of the usual shape.
     */
    public static function local(string $kind, string $message, ?string $field = null, ?\Throwable $previous = null): self
    {
        $error = Native::localError($kind, $message, $field);
        return new self($message, $kind, 0, $field, $error['delivery'], null, ['ok' => false, 'error' => $error], $previous);
    }

    /** One of the KIND_* constants (a later library version may add kinds, never rename one). */
    public function getKind(): string
    {
        return $this->kind;
    }

    /**
     * For invalid_argument, the JSON path of the offending value (e.g. "detailMapList[0].spec_no");
     * for config, the config key. Null otherwise.
     */
    public function getField(): ?string
    {
        return $this->field;
    }

    /**
     * Whether the request may have reached the gateway: DELIVERY_NOT_SENT, DELIVERY_UNKNOWN or
     * DELIVERY_REJECTED. This is the question to ask before resending a quick return after a
     * transport or timeout error: with DELIVERY_UNKNOWN the stock-in may already exist.
     * Null when the envelope does not say (failures detected in PHP before the library).
     */
    public function getDelivery(): ?string
    {
        return $this->delivery;
    }

    /**
     * True when sending the very same request again is safe and may succeed (the gateway
     * provably did not act on it: rate limited, or nothing left the machine). False when the
     * library does not say.
     */
    public function isRetryable(): bool
    {
        return $this->retryable;
    }

    /** How many times the library sent the request to the gateway, when it reports it. */
    public function getAttempts(): ?int
    {
        return $this->attempts;
    }

    /**
     * The remedy in Chinese for the cashier or the developer (every error envelope carries one):
     * for kind api the gateway error table's remedy for this status and message, for the
     * library's own kinds a remedy written by libwdt. English meanings: docs/hints.md. Null only
     * from a library older than the hint.
     */
    public function getHint(): ?string
    {
        return $this->hint;
    }

    /**
     * For kind storage with delivery unknown: the outbox entry whose outcome could not be
     * recorded (it may be at the ERP; do not ring the return up again). Null otherwise.
     */
    public function getEntryId(): ?string
    {
        $error = $this->envelope['error'] ?? null;
        return is_array($error) && isset($error['entry_id']) && is_string($error['entry_id'])
            ? $error['entry_id']
            : null;
    }

    /** For kind http: the HTTP status. Null otherwise. */
    public function getHttpStatus(): ?int
    {
        return $this->httpStatus;
    }

    /**
     * The whole decoded envelope, including fields this version of the package does not know.
     *
     * @return array<string, mixed>
     */
    public function getEnvelope(): array
    {
        return $this->envelope;
    }

    /**
     * @param array<string, mixed> $error
     */
    private static function optionalString(array $error, string $key): ?string
    {
        return isset($error[$key]) && is_string($error[$key]) ? $error[$key] : null;
    }
}
