<?php

declare(strict_types=1);

/*
 * Native::CDEF is a copy of the declarations in include/wdt.h (the installed package has no
 * header to read). This proves the copy is exact: the header with its comments, preprocessor
 * lines and extern "C" braces removed has the same declarations, statement for statement; both
 * texts load through FFI::cdef against the built library (so every symbol resolves); and the
 * ffi.preload header written by bin/ffi-preload-header.php loads with FFI::load.
 */

require __DIR__ . '/bootstrap.php';

use Wdt\Native;

$lib = T::env('WDT_LIB');
$headerPath = T::root() . '/include/wdt.h';

/** The C declarations of a header, without what FFI::cdef cannot or need not read. */
function stripHeader(string $text): string
{
    $text = str_replace("\r\n", "\n", $text);
    $text = preg_replace('~/\*.*?\*/~s', '', $text);
    $text = preg_replace('~//[^\n]*~', '', $text);
    $text = preg_replace('~\\\\\n~', ' ', $text); // macro continuation lines
    $lines = [];
    foreach (explode("\n", $text) as $line) {
        $trimmed = trim($line);
        if ($trimmed === '' || $trimmed[0] === '#' || $trimmed === 'extern "C" {' || $trimmed === '}') {
            continue;
        }
        $lines[] = $line;
    }
    return implode("\n", $lines);
}

/**
 * One canonical string per declaration, so layout (line breaks, `char *s` vs `char* s`) does
 * not count as a difference but any change of type, name or parameter does.
 *
 * @return string[]
 */
function declarations(string $cdef): array
{
    $out = [];
    foreach (explode(';', $cdef) as $statement) {
        $s = trim(preg_replace('~\s+~', ' ', $statement));
        if ($s === '') {
            continue;
        }
        $s = preg_replace('~\s*\*\s*~', ' *', $s);
        $s = preg_replace('~\s*([(),])\s*~', '$1', $s);
        $s = str_replace(',', ', ', $s);
        $out[] = $s . ';';
    }
    return $out;
}

T::section('header exists', static function () use ($headerPath): void {
    T::check(is_file($headerPath), 'include/wdt.h exists', $headerPath);
});

if (is_file($headerPath)) {
    $stripped = stripHeader((string) file_get_contents($headerPath));
    $fromHeader = declarations($stripped);
    $fromCdef = declarations(Native::CDEF);

    T::section('declarations agree', static function () use ($fromHeader, $fromCdef): void {
        $missing = array_values(array_diff($fromHeader, $fromCdef));
        $extra = array_values(array_diff($fromCdef, $fromHeader));
        T::same([], $missing, 'every declaration of include/wdt.h is in Native::CDEF');
        T::same([], $extra, 'every declaration of Native::CDEF is in include/wdt.h');
        T::same(count($fromHeader), count(array_unique($fromHeader)), 'no declaration twice');
        T::same(
            ['wdt_call', 'wdt_client_free', 'wdt_client_new', 'wdt_client_set_log_callback', 'wdt_free_string',
             'wdt_outbox_close', 'wdt_outbox_flush', 'wdt_outbox_get', 'wdt_outbox_list',
             'wdt_outbox_open', 'wdt_outbox_submit', 'wdt_smart_refund_upload', 'wdt_version'],
            functionNames($fromCdef),
            'the seven functions of docs/abi.md and the six of the outbox (docs/outbox.md)'
        );
    });

    T::section('owned strings are char *', static function () use ($fromHeader): void {
        foreach ($fromHeader as $decl) {
            if (strpos($decl, 'const char *wdt_') === 0) {
                // Only wdt_version may return const char *: FFI copies it and drops the pointer.
                T::check(strpos($decl, 'const char *wdt_version(') === 0, "only wdt_version returns const char *: $decl");
            }
        }
    });

    T::section('both texts load through FFI::cdef', static function () use ($stripped, $lib): void {
        $ffi = FFI::cdef($stripped, $lib);
        T::same(Wdt\Client::libraryVersion($lib), $ffi->wdt_version(), 'the stripped header binds the library');
        $ffi = FFI::cdef(Native::CDEF, $lib);
        T::check(is_string($ffi->wdt_version()), 'Native::CDEF binds the library');
    });
}

T::section('ffi.preload header', static function () use ($lib): void {
    $file = tempnam(sys_get_temp_dir(), 'wdt') . '.h';
    $out = shell_exec(escapeshellarg(PHP_BINARY) . ' ' . escapeshellarg(dirname(__DIR__) . '/bin/ffi-preload-header.php') . ' ' . escapeshellarg($lib));
    T::check(is_string($out) && strpos($out, '#define FFI_SCOPE "WDT"') === 0, 'bin/ffi-preload-header.php prints the scope define', (string) $out);
    file_put_contents($file, (string) $out);
    try {
        $ffi = FFI::load($file);
        T::check($ffi instanceof FFI && is_string($ffi->wdt_version()), 'FFI::load accepts the preload header');
    } finally {
        unlink($file);
    }
});

/**
 * @param string[] $declarations
 * @return string[]
 */
function functionNames(array $declarations): array
{
    $names = [];
    foreach ($declarations as $decl) {
        if (preg_match('~(wdt_\w+)\(~', $decl, $m)) {
            $names[] = $m[1];
        }
    }
    sort($names);
    return $names;
}

T::finish();
