#!/usr/bin/env bash
# Every test of the project, in one command (the README's test command; .ci/run calls it).
# Installs missing system packages first (scripts/setup.sh), then runs: formatting, clippy,
# MariaDB and PostgreSQL on 127.0.0.1 (scripts/db-servers.sh), the Rust suites (unit, C ABI,
# end to end, faults, secret, properties, server stores), the C test program plain and under
# valgrind, the C++, PHP and C# bindings in their real runtimes, a short run of every fuzz
# target, and the Linux release archives (x86_64; aarch64 under qemu-user) proven without Rust.
# A missing runtime is a failure, never a skip. Set WDT_WINDOWS=1 to add the Windows DLLs
# (cross-built and run under Wine; slower, see README).
set -uo pipefail
WDT_ROOT=$(cd "$(dirname "$0")/.." && pwd)
export WDT_ROOT
cd "$WDT_ROOT"

bash scripts/setup.sh || { echo "test: setup failed" >&2; exit 1; }

# build.rs never rewrites include/wdt.h unasked, so a stale committed header fails the header
# test (scripts/update-header.sh regenerates it).
export WDT_LIB="$WDT_ROOT/target/release/libwdt.so"
export WDT_MOCK="$WDT_ROOT/target/release/wdt-mock"
LOGS="$WDT_ROOT/target/test-logs"
rm -rf "$LOGS" && mkdir -p "$LOGS"

steps=() results=()
step() {
  local name=$1; shift
  local log="$LOGS/$name.log" start=$SECONDS rc
  echo "== $name: $*"
  "$@" >"$log" 2>&1
  rc=$?
  tail -n 15 "$log" | sed 's/^/   | /'
  if [ $rc -eq 0 ]; then echo "== $name: ok ($((SECONDS - start)) s)"; else echo "== $name: FAILED (exit $rc, log $log)"; fi
  steps+=("$name") results+=("$rc")
}

step fmt cargo fmt --all -- --check
step clippy cargo clippy --workspace --all-targets -- -D warnings
# The demo builds the plain library as a newcomer's first command does; then the library as
# the Linux archives ship it (with the server stores) for every binding test after it.
step demo bash scripts/demo.sh
step build bash -c 'cargo build --release -p wdt-mock && cargo build --release -p libwdt --features server-stores'
# MariaDB and PostgreSQL on 127.0.0.1 for the outbox's server stores: their URLs reach the Rust
# suites through target/db-env.sh (a server that does not start fails this step, and the tests
# that need it fail too: never a skip).
rm -f target/db-env.sh
step db-servers bash scripts/db-servers.sh
# shellcheck source=/dev/null
[ -f target/db-env.sh ] && source target/db-env.sh
step rust cargo test --workspace
# The outbox suites every store shares, again on each server store (tests/outbox_server.rs, in
# the rust step, holds what only a server can do). Left out by name: the sqlite_only_* tests
# (about the SQLite file itself), and outbox_clock (it steps the till's clock, which a server
# store never reads: leases there go by the database's clock, shown by outbox_server's
# multi-host test).
for store in mysql postgres; do
  step "outbox-$store" env WDT_TEST_OUTBOX_STORE=$store cargo test -p libwdt --test outbox \
    --test outbox_once --test outbox_crash --test outbox_offline -- --skip sqlite_only_
done
step c-abi bash tests/c/run.sh
step cpp bash bindings/cpp/test.sh
step php bash bindings/php/test.sh
step csharp bash bindings/csharp/test.sh
step fuzz bash scripts/fuzz.sh "${WDT_FUZZ_SECONDS:-15}"
step dist-linux bash -c 'bash scripts/cross/setup.sh --no-wine && bash scripts/dist.sh && bash scripts/test-dist.sh'
if [ "${WDT_WINDOWS:-0}" = 1 ]; then
  step dist-windows bash -c 'bash scripts/cross/setup.sh && bash scripts/dist.sh --windows --no-linux && bash scripts/test-dist.sh --windows --no-linux'
  step nuget bash scripts/test-nuget.sh
  step dotnet-wine bash scripts/test-dotnet-wine.sh
fi

# Sum the per-suite counts: cargo's "test result: ok. N passed; M failed" and the bindings'
# "N passed, M failed" lines.
passed=0 failed=0
for f in "$LOGS"/*.log; do
  while read -r p q; do passed=$((passed + p)); failed=$((failed + q)); done < <(
    sed -n -E 's/.*test result: [a-zA-Z]+\. ([0-9]+) passed; ([0-9]+) failed.*/\1 \2/p; s/^([A-Za-z-]+: )?([0-9]+) passed, ([0-9]+) failed.*/\2 \3/p' "$f")
done

echo
bad=0
for i in "${!steps[@]}"; do
  if [ "${results[$i]}" -eq 0 ]; then echo "   ok      ${steps[$i]}"; else echo "   FAILED  ${steps[$i]}"; bad=1; fi
done
# A failed step's log is not in CI's output beyond its last lines: show what failed in it.
for i in "${!steps[@]}"; do
  [ "${results[$i]}" -eq 0 ] && continue
  echo "   --- ${steps[$i]}: failing lines of $LOGS/${steps[$i]}.log"
  grep -n -E 'FAIL|not ok|panicked|^error|[1-9][0-9]* failed|died|Assertion' "$LOGS/${steps[$i]}.log" |
    head -n 12 | cut -c1-300 | sed 's/^/   | /'
done
if [ $bad -ne 0 ] && [ $failed -eq 0 ]; then failed=1; fi
echo "all suites: $passed passed, $failed failed"
exit $bad
