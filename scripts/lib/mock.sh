# Sourced by test scripts: start_mock [extra wdt-mock flags...]
# Starts the gateway double on 127.0.0.1 with an OS-chosen port, waits for its
# "listening on" line and exports WDT_MOCK_URL (…/openapi) and WDT_MOCK_BASE
# (http://127.0.0.1:PORT, for the /__mock/ control endpoints). The double is
# killed when the sourcing shell exits.
start_mock() {
  local bin="${WDT_MOCK:-$WDT_ROOT/target/release/wdt-mock}"
  local seed="${WDT_SEED:-$WDT_ROOT/tests/fixtures/seed.json}"
  local out
  out=$(mktemp -d)
  "$bin" --port 0 --seed "$seed" "$@" >"$out/stdout" 2>"$out/stderr" &
  MOCK_PID=$!
  trap 'kill $MOCK_PID 2>/dev/null; wait $MOCK_PID 2>/dev/null' EXIT
  local i
  for i in $(seq 1 100); do
    if grep -q 'listening on' "$out/stdout" 2>/dev/null; then break; fi
    sleep 0.05
  done
  WDT_MOCK_URL=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$out/stdout" | head -n1)
  if [ -z "$WDT_MOCK_URL" ]; then
    echo "wdt-mock did not start:" >&2; cat "$out/stderr" >&2; return 1
  fi
  WDT_MOCK_BASE=${WDT_MOCK_URL%/openapi}
  WDT_MOCK_LOG="$out/stderr"
  export WDT_MOCK_URL WDT_MOCK_BASE WDT_MOCK_LOG MOCK_PID
}
