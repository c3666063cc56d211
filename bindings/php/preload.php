<?php

declare(strict_types=1);

/*
 * Target for opcache.preload under PHP-FPM with the default ffi.enable=preload: FFI's API may
 * then be called only from preloaded code, so every class of the package that touches FFI is
 * compiled here, once, in the master process. See the README for the php.ini lines;
 * tests/fpm_test.php runs each of them under a real php-fpm. The vendor-SDK drop-in
 * (compat/wdtsdk.php) calls FFI only through these classes, so it needs no preloading.
 */

require __DIR__ . '/src/WdtException.php';
require __DIR__ . '/src/Native.php';
require __DIR__ . '/src/Client.php';
require __DIR__ . '/src/Outbox.php';
