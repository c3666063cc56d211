<?php

declare(strict_types=1);

namespace Wdt;

use FFI;

/**
 * The durable outbox (docs/outbox.md): quick returns stored in a local SQLite file before any
 * byte is sent, delivered exactly once across lost answers, crashes and offline hours. One file
 * per shop; several PHP-FPM workers may open the same file.
 *
 * Every method returns the library's envelope as an array: ['ok' => true, 'status' => 0,
 * 'data' => …] or ['ok' => false, 'error' => […]]. A failed delivery is not an error: the entry's
 * 'state' says what happened (pending, in_doubt, delivered, rejected, needs_attention).
 * Exceptions are only for programming errors: a rejected config or options (WdtException, kind
 * config), or using a closed outbox (\LogicException).
 */
final class Outbox
{
    /** @var FFI */
    private $ffi;

    /** @var FFI\CData|null the WdtOutbox *; null once closed */
    private $handle;

    /**
     * @param array<string, mixed>|string $clientConfig the Client config (array or JSON)
     * @param array<string, mixed>|string $options ['path' => '/var/lib/pos/outbox.db'], or for
     *        several servers sharing one outbox ['store' => 'mysql://wdt@db:3306/pos',
     *        'store_password_env' => 'WDT_DB_PASSWORD'] (or postgres://); plus optional marker,
     *        settle_ms, lease_ms, worker_interval_ms
     * @throws WdtException kind "config" for bad options or a file or database that cannot be an
     *         outbox; kind "storage" for a database that is unreachable, too old or read-only
     */
    public function __construct($clientConfig, $options, ?string $libraryPath = null)
    {
        $configJson = is_string($clientConfig) ? $clientConfig
            : Native::encode($clientConfig === [] ? new \stdClass() : $clientConfig, WdtException::KIND_CONFIG, 'config');
        $optionsJson = is_string($options) ? $options
            : Native::encode($options === [] ? new \stdClass() : $options, WdtException::KIND_CONFIG, 'options');
        if (strpos($configJson . $optionsJson, "\0") !== false) {
            throw WdtException::local(WdtException::KIND_CONFIG, 'config: contains a NUL byte');
        }
        $this->ffi = Native::load($libraryPath);
        $errorOut = $this->ffi->new('char *');
        $handle = $this->ffi->wdt_outbox_open($configJson, $optionsJson, FFI::addr($errorOut));
        $errorJson = Native::takeString($this->ffi, $errorOut);
        if ($handle === null || FFI::isNull($handle)) {
            throw WdtException::fromEnvelope(Native::decodeEnvelope(
                $errorJson ?? Native::localEnvelope(WdtException::KIND_INTERNAL, 'internal: wdt_outbox_open returned NULL without an error')
            ));
        }
        $this->handle = $handle;
    }

    public function __destruct()
    {
        $this->close();
    }

    /** Stops the background worker, if any, and releases the handle. Safe to call twice. */
    public function close(): void
    {
        $handle = $this->handle;
        $this->handle = null;
        if ($handle !== null) {
            $this->ffi->wdt_outbox_close($handle);
        }
    }

    public function isClosed(): bool
    {
        return $this->handle === null;
    }

    /**
     * Stores one quick return, then (unless $defer) tries to deliver it now. Give $id (the till's
     * return number): submitting it again returns the stored entry and sends nothing.
     *
     * @param array<string, mixed> $request ['refundInfo' => …, 'detailMapList' => …, 'createPreStockin' => false]
     * @return array<string, mixed> the envelope; its data is the entry
     */
    public function submit(array $request, ?string $id = null, bool $defer = false): array
    {
        $submit = ['request' => $request, 'defer' => $defer];
        if ($id !== null) {
            $submit['id'] = $id;
        }
        return $this->invoke('wdt_outbox_submit', Native::encode($submit));
    }

    /** @return array<string, mixed> the envelope; its data is the entry with its history */
    public function get(string $id): array
    {
        return $this->invoke('wdt_outbox_get', $id);
    }

    /**
     * @param array<string, mixed> $filter ['state' => 'in_doubt', 'limit' => 100, 'after' => $id]
     * @return array<string, mixed> the envelope; data is ['entries' => […], 'next_after' => ?string]
     */
    public function list(array $filter = []): array
    {
        return $this->invoke('wdt_outbox_list', Native::encode($filter === [] ? new \stdClass() : $filter));
    }

    /**
     * Works through undelivered entries now. Blocks while it works.
     *
     * @param array<string, mixed> $options ['max_entries' => N, 'budget_ms' => M]
     * @return array<string, mixed> the envelope; data counts delivered, rejected, in_doubt,
     *         pending, needs_attention, and has blocked: null, or ['kind', 'status', 'message']
     *         when the gateway refused the account's configuration (the flush stopped there)
     */
    public function flush(array $options = []): array
    {
        return $this->invoke('wdt_outbox_flush', Native::encode($options === [] ? new \stdClass() : $options));
    }

    /** Cloning would give two objects that close the same native handle. */
    private function __clone()
    {
    }

    /** @return array<string, mixed> */
    private function invoke(string $function, string $json): array
    {
        $handle = $this->handle;
        if ($handle === null) {
            throw new \LogicException('Wdt\Outbox: the outbox was closed');
        }
        if (strpos($json, "\0") !== false) {
            return Native::decodeEnvelope(Native::localEnvelope(WdtException::KIND_INVALID_ARGUMENT, 'invalid argument: contains a NUL byte'));
        }
        // The outbox calls never return NULL (docs/abi.md).
        $text = (string) Native::takeString($this->ffi, $this->ffi->$function($handle, $json));
        return Native::decodeEnvelope($text);
    }
}
