<?php

declare(strict_types=1);

/*
 * Target for opcache.preload under PHP-FPM with the default ffi.enable=preload: FFI's API may
 * then be called only from preloaded code, so the package's classes are compiled here, once, in
 * the master process. See the README for the php.ini lines.
 */

require __DIR__ . '/src/WdtException.php';
require __DIR__ . '/src/Native.php';
require __DIR__ . '/src/Client.php';
