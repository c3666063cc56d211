#!/usr/bin/env bash
# Tests of the PHP binding against the built library and the gateway double.
#
#   WDT_ROOT  repository root (default: two levels above this script)
#   WDT_LIB   the library   (default: $WDT_ROOT/target/release/libwdt.so)
#   WDT_MOCK  the double    (default: $WDT_ROOT/target/release/wdt-mock)
#   PHP       php binary    (default: php)
#   PHP_FPM   php-fpm       (default: the newest /usr/sbin/php-fpm*; tests/fpm_test.php)
#   CGI_FCGI  cgi-fcgi      (default: on PATH; Debian's libfcgi-bin)
#   WDT_TEST_MYSQL_URL, WDT_TEST_PG_URL  the test databases (scripts/db-servers.sh), for
#             tests/outbox_server_test.php; WDT_LIB must then be built with server-stores
#
# Never skips: a missing php, FFI, php-fpm, cgi-fcgi, library or double is a failure. The last line is
# "N passed, M failed", the sum over every test script; a script that dies without printing its
# own count (a fatal error, a segfault) counts as one failure.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WDT_ROOT=${WDT_ROOT:-$(cd "$here/../.." && pwd)}
WDT_LIB=${WDT_LIB:-$WDT_ROOT/target/release/libwdt.so}
WDT_MOCK=${WDT_MOCK:-$WDT_ROOT/target/release/wdt-mock}
PHP=${PHP:-php}
export WDT_ROOT WDT_LIB WDT_MOCK

fail_setup() {
  echo "php binding: $*" >&2
  echo "0 passed, 1 failed"
  exit 1
}

command -v "$PHP" >/dev/null 2>&1 || fail_setup "php not found (apt-get install -y php-cli)"
"$PHP" -d ffi.enable=1 -r 'exit(extension_loaded("ffi") && class_exists("FFI") ? 0 : 1);' ||
  fail_setup "the PHP FFI extension is missing (Debian's php-cli has it; elsewhere build PHP with --with-ffi)"
[ -f "$WDT_LIB" ] || fail_setup "library not found: $WDT_LIB (cargo build --release)"
[ -x "$WDT_MOCK" ] || fail_setup "gateway double not found: $WDT_MOCK (cargo build --release)"

# shellcheck source=../../scripts/lib/mock.sh
source "$WDT_ROOT/scripts/lib/mock.sh"
start_mock || fail_setup "the gateway double did not start"

"$PHP" --version | head -n1
passed=0
failed=0
# The shared fixtures first, against a double that nothing else has touched yet.
for name in cases client header sapi fpm concurrency memory convention compat outbox outbox_server; do
  script="$here/tests/${name}_test.php"
  echo "== $name"
  out=$("$PHP" -d ffi.enable=1 -d zend.assertions=1 "$script" 2>&1)
  code=$?
  printf '%s\n' "$out" | sed 's/^/   /'
  last=$(printf '%s\n' "$out" | tail -n1)
  if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    passed=$((passed + BASH_REMATCH[1]))
    failed=$((failed + BASH_REMATCH[2]))
    if [ "$code" -ne 0 ] && [ "${BASH_REMATCH[2]}" -eq 0 ]; then
      echo "   exit code $code with no failed check" >&2
      failed=$((failed + 1))
    fi
  else
    echo "   died with exit code $code before printing its count" >&2
    failed=$((failed + 1))
  fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
