<?php

declare(strict_types=1);

/*
 * Wdt\Outbox: submit, the same id twice, invalid input as an envelope, defer and flush, get
 * with history, list paging, close; and two PHP processes sharing one outbox file — flushing it
 * at once, and submitting the same id at once — with the double's request log proving that no
 * entry was sent twice.
 */

require __DIR__ . '/bootstrap.php';
require __DIR__ . '/outbox_helpers.php';

use Wdt\Outbox;
use Wdt\WdtException;

$dir = sys_get_temp_dir() . '/wdt-php-outbox-' . getmypid() . '-' . bin2hex(random_bytes(4));
mkdir($dir);
$run = 'PHP' . getmypid();
$config = array_merge(T::config(), ['connect_timeout_ms' => 1000, 'timeout_ms' => 2000]);
$options = ['path' => "$dir/outbox.db", 'settle_ms' => 300, 'lease_ms' => 3000];

T::section('options are checked', static function () use ($config, $dir): void {
    $e = T::throws(static function () use ($config, $dir): void {
        new Outbox($config, ['path' => "$dir/x.db", 'lease_ms' => 10]);
    }, WdtException::class, 'a lease shorter than timeout_ms throws');
    if ($e instanceof WdtException) {
        T::same('config', $e->getKind(), 'kind config');
        T::same('lease_ms', $e->getField(), 'field lease_ms');
    }
    T::throws(static function () use ($config): void {
        new Outbox($config, ['path' => '/proc/wdt-outbox.db']);
    }, WdtException::class, 'an unusable path throws');
});

T::section('submit, same id, invalid, defer, flush, get, list', static function () use ($config, $options, $run): void {
    $outbox = new Outbox($config, $options);
    $r = $outbox->submit(T::loadRequest(1), "$run-A");
    T::same(true, $r['ok'], 'submit ok');
    T::same('delivered', $r['data']['state'], 'delivered now');
    T::check(is_string($r['data']['hint'] ?? null) && $r['data']['hint'] !== ''
        && array_key_exists('next_check_ms', $r['data']) && $r['data']['next_check_ms'] === null,
        'a delivered entry carries its hint and no next check', json_encode($r));
    T::check(is_int($r['data']['result']['stockin_id']), 'result has the stock-in id');
    $again = $outbox->submit(T::loadRequest(1), "$run-A");
    T::same($r['data'], $again['data'], 'the same id returns the same entry');
    $other = $outbox->submit(T::loadRequest(2), "$run-A");
    T::same(false, $other['ok'], 'a different return under a used id is refused');
    T::same('invalid_argument', $other['error']['kind'], 'kind invalid_argument');
    T::same('id', $other['error']['field'], 'field id');
    T::same(1, sendsOf("$run-A"), 'sent once');

    $bad = T::loadRequest(1);
    $bad['refundInfo']['tid'] = '';
    $r = $outbox->submit($bad, "$run-BAD");
    T::same(false, $r['ok'], 'an invalid request is an error envelope, not an exception');
    T::same('request.refundInfo.tid', $r['error']['field'], 'the field is under request.');
    T::same('invalid_argument', $outbox->get("$run-BAD")['error']['kind'], 'and nothing was stored');

    $r = $outbox->submit(T::loadRequest(2), "$run-D", true);
    T::same('pending', $r['data']['state'], 'defer stores only');
    $f = $outbox->flush();
    T::check($f['data']['delivered'] >= 1 && $f['data']['pending'] === 0, 'flush delivers', json_encode($f));
    T::check(array_key_exists('blocked', $f['data']) && $f['data']['blocked'] === null, 'flush not blocked', json_encode($f));
    $s = WdtException::fromEnvelope(['ok' => false, 'error' => ['kind' => 'storage', 'delivery' => 'unknown',
        'entry_id' => 'E-1', 'message' => 'storage: disk full']]);
    T::same(WdtException::KIND_STORAGE, $s->getKind(), 'storage kind');
    T::same('E-1', $s->getEntryId(), 'storage error names its entry');
    $g = $outbox->get("$run-D");
    T::same('delivered', $g['data']['state'], 'get after flush');
    T::check(count($g['data']['history']) >= 3, 'history has stored, attempt, answer');
    $page = $outbox->list(['limit' => 1]);
    T::same("$run-A", $page['data']['next_after'], 'list pages');
    $outbox->close();
    T::check($outbox->isClosed(), 'closed');
    T::throws(static function () use ($outbox): void {
        $outbox->flush();
    }, \LogicException::class, 'a closed outbox throws LogicException');
});

T::section('two PHP processes flush one file at once', static function () use ($config, $dir, $run): void {
    $options = ['path' => "$dir/shared.db", 'settle_ms' => 300, 'lease_ms' => 3000];
    $outbox = new Outbox($config, $options);
    $n = 40;
    for ($i = 0; $i < $n; $i++) {
        $outbox->submit(T::loadRequest(1), sprintf('%s-F%02d', $run, $i), true);
    }
    $start = (int) round(microtime(true) * 1000) + 1500;
    $a = worker($config, $options, $start, 'flush');
    $b = worker($config, $options, $start, 'flush');
    $ra = finish($a);
    $rb = finish($b);
    T::check(is_array($ra) && is_array($rb), 'both workers answered');
    T::same($n, ($ra['data']['delivered'] ?? 0) + ($rb['data']['delivered'] ?? 0), 'together they delivered every entry');
    $twice = 0;
    for ($i = 0; $i < $n; $i++) {
        if (sendsOf(sprintf('%s-F%02d', $run, $i)) !== 1) {
            $twice++;
        }
    }
    T::same(0, $twice, 'no entry sent twice or not at all (the double\'s request log)');
    T::same(0, $outbox->flush()['data']['pending'], 'nothing pending');
});

T::section('two PHP processes submit the same id at once', static function () use ($config, $dir, $run): void {
    $options = ['path' => "$dir/same.db", 'settle_ms' => 300, 'lease_ms' => 3000];
    $outbox = new Outbox($config, $options);
    $start = (int) round(microtime(true) * 1000) + 1500;
    $a = worker($config, $options, $start, 'submit', "$run-SAME");
    $b = worker($config, $options, $start, 'submit', "$run-SAME");
    $ra = finish($a);
    $rb = finish($b);
    T::same("$run-SAME", $ra['data']['id'] ?? null, 'worker A got the entry');
    T::same("$run-SAME", $rb['data']['id'] ?? null, 'worker B got the entry');
    $outbox->flush();
    T::same('delivered', $outbox->get("$run-SAME")['data']['state'], 'delivered');
    T::same(1, count($outbox->list()['data']['entries']), 'one entry');
    T::same(1, sendsOf("$run-SAME"), 'one send');
});

T::finish();
