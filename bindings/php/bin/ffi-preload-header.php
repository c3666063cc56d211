<?php

declare(strict_types=1);

/*
 * Prints the header for PHP's ffi.preload: the scope define, the library path and the package's
 * declarations. FFI::load reads FFI_LIB literally, so the path is baked in when this runs.
 *
 *   php vendor/libwdt/wdt/bin/ffi-preload-header.php /usr/local/lib/libwdt.so > /etc/php/wdt.h
 *
 * Without an argument the path comes from WDT_LIB, else the package's default.
 */

require dirname(__DIR__) . '/src/WdtException.php';
require dirname(__DIR__) . '/src/Native.php';

$path = $argv[1] ?? (getenv('WDT_LIB') ?: Wdt\Native::defaultLibraryPath());
if (is_file($path)) {
    // FFI::load resolves FFI_LIB against the working directory of the PHP-FPM master otherwise.
    $path = (string) realpath($path);
}
echo Wdt\Native::preloadHeader($path);
