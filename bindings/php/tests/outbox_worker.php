<?php

declare(strict_types=1);

/*
 * A second PHP process for outbox_test.php: opens the outbox file named in argv and either
 * flushes it ("flush") or submits one return under a given id ("submit ID"), after waiting for
 * a shared start time so two workers really run at once. Prints the envelope as JSON.
 *
 * Usage: php outbox_worker.php CONFIG_JSON OPTIONS_JSON START_MS flush|submit [ID]
 */

require __DIR__ . '/bootstrap.php';

[$self, $config, $options, $startMs, $action] = array_slice($argv, 0, 5);
$outbox = new Wdt\Outbox($config, $options);
$wait = (int) $startMs - (int) round(microtime(true) * 1000);
if ($wait > 0) {
    usleep($wait * 1000);
}
if ($action === 'flush') {
    $result = $outbox->flush();
} else {
    $result = $outbox->submit(T::loadRequest(1), $argv[5]);
}
echo json_encode($result, JSON_UNESCAPED_UNICODE), "\n";
