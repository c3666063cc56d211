#!/usr/bin/env bash
# Builds bindings/cpp/tests/test.cpp as strict C++11 (the oldest standard the
# wrapper promises) and runs it against the gateway double.
#
# Env: WDT_ROOT (default: the repo holding this script), WDT_LIB (default
# $WDT_ROOT/target/release/libwdt.so), WDT_MOCK (default
# $WDT_ROOT/target/release/wdt-mock), CXX (default g++).
# Last line: "N passed, M failed"; exit status non-zero on any failure.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WDT_ROOT=${WDT_ROOT:-$(cd "$here/../.." && pwd)}
WDT_LIB=${WDT_LIB:-$WDT_ROOT/target/release/libwdt.so}
WDT_MOCK=${WDT_MOCK:-$WDT_ROOT/target/release/wdt-mock}
CXX=${CXX:-g++}
export WDT_ROOT WDT_LIB WDT_MOCK

fail_early() { echo "$*" >&2; echo "0 passed, 1 failed"; exit 1; }

for f in "$WDT_ROOT/include/wdt.h" "$WDT_LIB" "$WDT_MOCK" "$WDT_ROOT/tests/fixtures/cases.json"; do
  [ -e "$f" ] || fail_early "missing $f (build with: cargo build --release)"
done

# The version the library must report is the one in Cargo.toml's [package].
version=$(sed -n '/^\[package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' "$WDT_ROOT/Cargo.toml" | head -n1)
[ -n "$version" ] || fail_early "no [package] version in $WDT_ROOT/Cargo.toml"

work=$(mktemp -d)
libdir=$(cd "$(dirname "$WDT_LIB")" && pwd)
# Link the way a user does (-L/-lwdt plus an rpath) when the file has the usual
# name; any other file name is linked by path.
if [ "$(basename "$WDT_LIB")" = libwdt.so ]; then
  link=(-L"$libdir" -lwdt -Wl,-rpath,"$libdir")
else
  link=("$WDT_LIB" -Wl,-rpath,"$libdir")
fi

echo "building: $CXX -std=c++11 -Wall -Wextra -Werror -pedantic tests/test.cpp"
"$CXX" -std=c++11 -Wall -Wextra -Werror -pedantic \
  -I"$here" -I"$WDT_ROOT/include" \
  "$here/tests/test.cpp" -o "$work/test" "${link[@]}" -pthread \
  || fail_early "build failed"

# shellcheck source=../../scripts/lib/mock.sh
source "$WDT_ROOT/scripts/lib/mock.sh"
start_mock || fail_early "the gateway double did not start"
echo "gateway double: $WDT_MOCK_URL"

"$work/test" "$WDT_ROOT/tests/fixtures/cases.json" "$version" | tee "$work/out"
rc=${PIPESTATUS[0]}

# wdt::Outbox (tests/outbox_test.cpp); its results join the summary below.
if "$CXX" -std=c++11 -Wall -Wextra -Werror -pedantic -I"$here" -I"$WDT_ROOT/include" \
     "$here/tests/outbox_test.cpp" -o "$work/outbox_test" "${link[@]}" -pthread; then
  mkdir -p "$work/outbox"
  "$work/outbox_test" "$work/outbox" | tee "$work/outbox.out"
  orc=${PIPESTATUS[0]}
  tail -n1 "$work/outbox.out" | grep -Eq '^[0-9]+ passed, 0 failed$' && [ "$orc" -eq 0 ] || rc=1
  # Fold its counts into the main summary line.
  read -r p1 _ f1 _ < <(tail -n1 "$work/out")
  read -r p2 _ f2 _ < <(tail -n1 "$work/outbox.out")
  if [[ "$p1$f1$p2$f2" =~ ^[0-9]+$ ]]; then
    sed -i '$d' "$work/out"
    echo "$((p1 + p2)) passed, $((f1 + f2)) failed" | tee -a "$work/out"
  fi
else
  echo "FAIL - bindings/cpp/tests/outbox_test.cpp does not build" | tee -a "$work/out"
  rc=1
fi

# A crash leaves no summary line; count what ran and add the crash as a failure.
if ! tail -n1 "$work/out" | grep -Eq '^[0-9]+ passed, [0-9]+ failed$'; then
  passed=$(grep -c '^ok   - ' "$work/out")
  failed=$(grep -c '^FAIL - ' "$work/out")
  echo "FAIL - test program ended without a summary (exit status $rc)"
  echo "$passed passed, $((failed + 1)) failed"
  exit 1
fi
[ "$rc" -ne 0 ] || rm -rf "$work"
exit "$rc"
