#!/usr/bin/env bash
# One quick return (快速退货) end to end, no credentials needed: builds libwdt and the gateway
# double, compiles the C example against include/wdt.h, starts the double on 127.0.0.1 and
# sends the API document's example request through the C ABI, printing request and envelope.
set -euo pipefail
WDT_ROOT=$(cd "$(dirname "$0")/.." && pwd)
export WDT_ROOT
cd "$WDT_ROOT"

command -v cargo >/dev/null || { echo "demo: cargo is missing: install Rust (https://rustup.rs) first" >&2; exit 1; }
command -v cc >/dev/null || { echo "demo: a C compiler is missing: apt-get install gcc" >&2; exit 1; }

echo "== building libwdt and wdt-mock (release)"
cargo build --release --quiet -p libwdt -p wdt-mock

mkdir -p target/demo
cc -std=c99 -Wall -Wextra -O2 bindings/c/example.c -I include -L target/release -lwdt \
   -Wl,-rpath,"$WDT_ROOT/target/release" -o target/demo/example

# shellcheck source=lib/mock.sh
source scripts/lib/mock.sh
start_mock --quiet
# start_mock's EXIT trap ends with `wait` on the double it killed, whose status (143, SIGTERM)
# would become the script's. Stop the double here instead, and keep the example's status:
# 0 when the quick return was accepted, the example's own code otherwise.
stop_double() {
  local rc=$?
  trap - EXIT
  kill "$MOCK_PID" 2>/dev/null || true
  wait "$MOCK_PID" 2>/dev/null || true
  if kill -0 "$MOCK_PID" 2>/dev/null; then
    echo "demo: the gateway double (pid $MOCK_PID) is still running" >&2
    rc=1
  fi
  exit "$rc"
}
trap stop_double EXIT
echo "== gateway double listening on $WDT_MOCK_URL"
echo
./target/demo/example "$WDT_MOCK_URL"
