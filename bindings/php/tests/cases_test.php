<?php

declare(strict_types=1);

/*
 * Every case of tests/fixtures/cases.json, twice: through the raw *Json methods (the request
 * JSON-encoded from the fixture as written, or `raw` as the exact string) and through the array
 * API, with the fixture decoded into the PHP arrays a PHP developer would write ({} and [] both
 * become array()), which also proves the binding's list/object shaping.
 */

require __DIR__ . '/bootstrap.php';

use Wdt\Client;
use Wdt\Native;
use Wdt\WdtException;

$lib = T::env('WDT_LIB');
T::env('WDT_MOCK_URL');
$raw = T::fixtures(false);
$arr = T::fixtures(true);

/** Checks a decoded envelope against a fixture's `expect`. */
function checkEnvelope(array $env, array $expect, string $name): void
{
    T::same($expect['ok'], $env['ok'] ?? null, "$name: ok");
    if ($expect['ok']) {
        $data = $env['data'] ?? null;
        foreach ($expect['data_keys'] ?? [] as $key) {
            T::check(is_array($data) && array_key_exists($key, $data), "$name: data has $key", json_encode($env, JSON_UNESCAPED_UNICODE));
        }
        if (!empty($expect['has_total_count'])) {
            T::check(array_key_exists('total_count', $env), "$name: envelope has total_count", json_encode($env, JSON_UNESCAPED_UNICODE));
        }
        return;
    }
    $error = $env['error'] ?? [];
    foreach (['kind', 'status', 'field'] as $key) {
        if (array_key_exists($key, $expect)) {
            T::same($expect[$key], $error[$key] ?? null, "$name: error.$key");
        }
    }
    if (isset($expect['message_contains'])) {
        T::check(
            strpos((string) ($error['message'] ?? ''), $expect['message_contains']) !== false,
            "$name: message contains {$expect['message_contains']}",
            (string) ($error['message'] ?? '')
        );
    }
}

/**
 * Runs $fn (an array API call) and checks its result or WdtException against `expect`.
 *
 * @param callable(): array $fn
 */
function checkArrayApi(Client $client, callable $fn, array $expect, string $name): void
{
    try {
        $data = $fn();
    } catch (WdtException $e) {
        if (!T::check(!$expect['ok'], "$name: succeeds", $e->getKind() . ': ' . $e->getMessage())) {
            return;
        }
        if (isset($expect['kind'])) {
            T::same($expect['kind'], $e->getKind(), "$name: getKind()");
        }
        // getCode() is the gateway's status for api errors and 0 for everything else.
        T::same($expect['kind'] === 'api' ? ($expect['status'] ?? $e->getCode()) : 0, $e->getCode(), "$name: getCode()");
        if (array_key_exists('field', $expect)) {
            T::same($expect['field'], $e->getField(), "$name: getField()");
        }
        if (isset($expect['message_contains'])) {
            T::check(strpos($e->getMessage(), $expect['message_contains']) !== false, "$name: getMessage()", $e->getMessage());
        }
        T::same(false, $e->getEnvelope()['ok'] ?? null, "$name: getEnvelope() is the failure envelope");
        return;
    }
    if (!T::check($expect['ok'], "$name: fails", json_encode($data, JSON_UNESCAPED_UNICODE))) {
        return;
    }
    foreach ($expect['data_keys'] ?? [] as $key) {
        T::check(array_key_exists($key, $data), "$name: data has $key", json_encode($data, JSON_UNESCAPED_UNICODE));
    }
    if (!empty($expect['has_total_count'])) {
        T::check(is_int($client->lastTotalCount()), "$name: lastTotalCount() is an int", var_export($client->lastTotalCount(), true));
    }
}

/** base_config + url + overrides, where a null override removes the key. */
function configWith(array $overrides): array
{
    $config = T::config();
    foreach ($overrides as $key => $value) {
        if ($value === null) {
            unset($config[$key]);
        } else {
            $config[$key] = $value;
        }
    }
    return $config;
}

function requestOf(array $cases, string $name): ?array
{
    foreach ($cases as $case) {
        if ($case['name'] === $name) {
            return $case['request'];
        }
    }
    return null;
}

$client = new Client(T::config(), $lib);

// --- cases through the raw JSON methods -------------------------------------------------------
foreach ($raw->cases as $i => $case) {
    $name = "json #$i {$case->name}";
    T::section($name, static function () use ($client, $case, $name): void {
        $json = isset($case->raw) ? $case->raw : json_encode($case->request, Native::JSON_ENCODE_FLAGS);
        $out = $case->fn === 'call' ? $client->callJson($json) : $client->smartRefundUploadJson($json);
        $env = json_decode($out, true, 512, JSON_THROW_ON_ERROR);
        checkEnvelope($env, json_decode(json_encode($case->expect), true), $name);
    });
}

// --- the same cases through the array API -----------------------------------------------------
foreach ($arr['cases'] as $i => $case) {
    $name = "array #$i {$case['name']}";
    if (!isset($case['request'])) {
        // `raw` cases are strings that no PHP array encodes to; the JSON path covered them.
        continue;
    }
    $request = $case['request'];
    if ($case['fn'] === 'call' && !isset($request['method'])) {
        // call(string $method) cannot leave the method out; the nearest PHP mistake is an empty
        // string (an unset variable cast to string), which must fail on the same field.
        $request['method'] = '';
    }
    T::section($name, static function () use ($client, $case, $request, $name): void {
        $fn = $case['fn'] === 'call'
            ? static function () use ($client, $request): array {
                return $client->call($request['method'], $request['args'] ?? [], $request['pager'] ?? null);
            }
            : static function () use ($client, $request): array {
                return $client->smartRefundUpload($request);
            };
        checkArrayApi($client, $fn, $case['expect'], $name);
    });
}

// --- config cases: the config as JSON text and as an array ------------------------------------
foreach ($arr['config_cases'] as $i => $case) {
    foreach (['json', 'array'] as $style) {
        $name = "config $style #$i {$case['name']}";
        T::section($name, static function () use ($case, $style, $name, $lib, $arr): void {
            if (isset($case['raw_config'])) {
                $config = $case['raw_config'];
            } else {
                $config = configWith($case['config_overrides']);
                if ($style === 'json') {
                    $config = json_encode($config, Native::JSON_ENCODE_FLAGS);
                }
            }
            if (!$case['creates']) {
                $e = T::throws(static function () use ($config, $lib): void {
                    new Client($config, $lib);
                }, WdtException::class, "$name: rejected");
                if ($e instanceof WdtException) {
                    checkEnvelope($e->getEnvelope(), $case['expect'], "$name: *error_json");
                    T::same($case['expect']['kind'], $e->getKind(), "$name: getKind()");
                    T::same(0, $e->getCode(), "$name: getCode()");
                    if (array_key_exists('field', $case['expect'])) {
                        T::same($case['expect']['field'], $e->getField(), "$name: getField()");
                    }
                }
                return;
            }
            $client = new Client($config, $lib);
            $request = requestOf($arr['cases'], $case['then']['request_from']);
            T::check($request !== null, "$name: request_from names a case");
            if ($case['then']['fn'] === 'call') {
                $env = json_decode($client->callJson(json_encode($request, Native::JSON_ENCODE_FLAGS)), true);
                checkEnvelope($env, $case['expect'], "$name: envelope");
                checkArrayApi($client, static function () use ($client, $request): array {
                    return $client->call($request['method'], $request['args'] ?? [], $request['pager'] ?? null);
                }, $case['expect'], "$name: array API");
            } else {
                $env = json_decode($client->smartRefundUploadJson(json_encode($request, Native::JSON_ENCODE_FLAGS)), true);
                checkEnvelope($env, $case['expect'], "$name: envelope");
                checkArrayApi($client, static function () use ($client, $request): array {
                    return $client->smartRefundUpload($request);
                }, $case['expect'], "$name: array API");
            }
        });
    }
}

$client->close();
T::finish();
