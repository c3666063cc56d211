#!/usr/bin/env bash
# Builds tests/c/test_abi.c (C99, -Wall -Wextra -Werror) against include/wdt.h and
# target/release/libwdt.so, and runs it against the gateway double twice: plainly,
# then under valgrind, where any definite or indirect leak or memory error fails.
# Also checks what a C or C++ developer meets before the first call: the header
# compiles as C89 and links from C++ (extern "C"), bindings/c/wdt.def lists exactly
# the exported functions, and bindings/c/example.c builds as C89 and runs leak-free.
#
# Env: WDT_ROOT (default: the repo holding this script), WDT_LIB (default
# $WDT_ROOT/target/release/libwdt.so), WDT_MOCK (default
# $WDT_ROOT/target/release/wdt-mock), CC / CXX (default gcc / g++).
# Last line: "N passed, M failed"; exit status non-zero on any failure.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WDT_ROOT=${WDT_ROOT:-$(cd "$here/../.." && pwd)}
WDT_LIB=${WDT_LIB:-$WDT_ROOT/target/release/libwdt.so}
WDT_MOCK=${WDT_MOCK:-$WDT_ROOT/target/release/wdt-mock}
CC=${CC:-gcc}
CXX=${CXX:-g++}
export WDT_ROOT WDT_LIB WDT_MOCK

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   - $*"; }
fail() { failed=$((failed + 1)); echo "FAIL - $*"; }
# On failure the work folder stays, since failure messages point into it (valgrind logs).
summary() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ] || exit 1
  [ -z "${work:-}" ] || rm -rf "$work"
  exit 0
}

header=$WDT_ROOT/include/wdt.h
for f in "$header" "$WDT_LIB" "$WDT_MOCK"; do
  [ -e "$f" ] || { fail "missing $f (build with: cargo build --release)"; summary; }
done
# The outbox's SIGKILL crash points and stepped clock are test hooks (cargo feature
# `crash-points`, src/outbox/mod.rs): a library a till loads must not contain them, whatever
# its environment says. Their environment names are the trace they leave in the binary.
hooks=$(grep -aoF -e WDT_OUTBOX_TEST_CRASH -e WDT_OUTBOX_TEST_CLOCK_STEP_MS "$WDT_LIB" | sort -u | tr '\n' ' ')
if [ -z "$hooks" ]; then
  pass "$(basename "$WDT_LIB") contains no outbox crash hook"
else
  fail "$(basename "$WDT_LIB") contains the outbox test hooks: $hooks(built with --features crash-points?)"
fi
version=$(sed -n '/^\[package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' "$WDT_ROOT/Cargo.toml" | head -n1)

work=$(mktemp -d)
libdir=$(cd "$(dirname "$WDT_LIB")" && pwd)
# Link the way a user does (-L/-lwdt plus an rpath) when the file has the usual
# name; any other file name is linked by path.
if [ "$(basename "$WDT_LIB")" = libwdt.so ]; then
  link=(-L"$libdir" -lwdt -Wl,-rpath,"$libdir")
else
  link=("$WDT_LIB" -Wl,-rpath,"$libdir")
fi

# --- what a developer meets before the first call --------------------------------

# Old till toolchains (and MSVC before 2013) are C89: the header must not need more.
printf '#include "wdt.h"\nint main(void) { return wdt_version() == 0; }\n' >"$work/c89.c"
example_std=c89
if "$CC" -std=c89 -pedantic -Wall -Wextra -Werror -I"$WDT_ROOT/include" -c "$work/c89.c" -o "$work/c89.o" 2>"$work/c89.err"; then
  pass "include/wdt.h compiles as C89 (-std=c89 -pedantic)"
else
  # Counted once here; the example is then built as C99 so the demo still runs.
  example_std=c99
  fail "include/wdt.h compiles as C89 (-std=c89 -pedantic): $(head -c 600 "$work/c89.err")"
fi

# Without extern "C" in the header, a C++ caller links against mangled names and fails.
printf '#include "wdt.h"\nint main() { wdt_free_string(0); return wdt_version() == 0; }\n' >"$work/cxx98.cpp"
if "$CXX" -std=c++98 -pedantic -Wall -Wextra -Werror -I"$WDT_ROOT/include" "$work/cxx98.cpp" -o "$work/cxx98" "${link[@]}" 2>"$work/cxx98.err" \
   && "$work/cxx98"; then
  pass "include/wdt.h compiles and links from C++98 (extern \"C\")"
else
  fail "include/wdt.h compiles and links from C++98: $(head -c 600 "$work/cxx98.err")"
fi

# The export list must match in all three places a user may take it from.
exports=$(nm -D --defined-only "$WDT_LIB" | awk '$2 == "T" && $3 ~ /^wdt_/ {print $3}' | sort -u)
# Through the preprocessor, so names mentioned in doc comments do not count.
declared=$("$CC" -E -P -I"$WDT_ROOT/include" "$header" | grep -o '\bwdt_[a-z_]*[[:space:]]*(' | tr -d '( \t' | sort -u)
deffile=$(sed -n '/^EXPORTS/,$p' "$WDT_ROOT/bindings/c/wdt.def" | sed '1d; s/;.*//; s/[[:space:]]//g; /^$/d' | sort -u)
if [ -n "$exports" ] && [ "$exports" = "$declared" ] && [ "$exports" = "$deffile" ]; then
  pass "exports = header functions = bindings/c/wdt.def ($(echo $exports))"
else
  fail "export lists differ: library [$(echo $exports)] header [$(echo $declared)] wdt.def [$(echo $deffile)]"
fi

# --- build -------------------------------------------------------------------------

if "$CC" -std=c99 -Wall -Wextra -Werror -pedantic -I"$WDT_ROOT/include" \
     "$here/test_abi.c" -o "$work/test_abi" "${link[@]}" -pthread 2>"$work/build.err"; then
  pass "tests/c/test_abi.c builds as C99 with -Wall -Wextra -Werror -pedantic"
else
  cat "$work/build.err"
  fail "tests/c/test_abi.c does not build"
  summary
fi
if "$CC" -std=$example_std -Wall -Wextra -Werror -pedantic -I"$WDT_ROOT/include" \
     "$WDT_ROOT/bindings/c/example.c" -o "$work/example" "${link[@]}" 2>"$work/example.err"; then
  pass "bindings/c/example.c builds as ${example_std^^} with -Wall -Wextra -Werror -pedantic"
else
  fail "bindings/c/example.c does not build: $(head -c 600 "$work/example.err")"
fi

# The README's pkg-config line, with the template the release archive ships as lib/pkgconfig/wdt.pc.
if command -v pkg-config >/dev/null 2>&1; then
  mkdir -p "$work/pkgconfig"
  sed -e "s|@VERSION@|$version|" -e "s|@LIBS_PRIVATE@|-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc|" \
    "$WDT_ROOT/packaging/wdt.pc.in" >"$work/pkgconfig/wdt.pc"
  pc=(env PKG_CONFIG_PATH="$work/pkgconfig" pkg-config
      --define-variable=includedir="$WDT_ROOT/include" --define-variable=libdir="$libdir")
  # shellcheck disable=SC2046 # pkg-config's output is meant to be word-split
  if [ "$("${pc[@]}" --modversion wdt)" = "$version" ] \
     && "$CC" "$WDT_ROOT/bindings/c/example.c" $("${pc[@]}" --cflags --libs wdt) -Wl,-rpath,"$libdir" \
          -o "$work/example-pc" 2>"$work/pc.err"; then
    pass "example.c builds with \$(pkg-config --cflags --libs wdt) from packaging/wdt.pc.in"
  else
    fail "pkg-config build of example.c: $(head -c 600 "$work/pc.err")"
  fi
else
  fail "pkg-config is not installed (apt-get install pkg-config): the pkg-config route is untested"
fi

# --- run -----------------------------------------------------------------------------

# shellcheck source=../../scripts/lib/mock.sh
source "$WDT_ROOT/scripts/lib/mock.sh"
if ! start_mock; then fail "the gateway double did not start"; summary; fi
echo "gateway double: $WDT_MOCK_URL"

# Adds a test program's own "N passed, M failed" to ours; a run that ended
# without one (a crash) is one more failure.
tally() { # label, output file, exit status
  local last p f
  last=$(tail -n1 "$2")
  if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    p=${BASH_REMATCH[1]}; f=${BASH_REMATCH[2]}
    passed=$((passed + p)); failed=$((failed + f))
    [ "$3" -eq 0 ] || [ "$f" -gt 0 ] || fail "$1 exited with status $3"
  else
    fail "$1 ended without a summary (exit status $3)"
  fi
}

echo "--- test_abi"
"$work/test_abi" "$version" | tee "$work/plain.out"
tally "test_abi" "$work/plain.out" "${PIPESTATUS[0]}"

if ! command -v valgrind >/dev/null 2>&1; then
  apt-get install -y -o DPkg::Lock::Timeout=600 valgrind >/dev/null 2>&1 \
    || { apt-get update >/dev/null 2>&1 && apt-get install -y -o DPkg::Lock::Timeout=600 valgrind >/dev/null 2>&1; }
fi
if ! command -v valgrind >/dev/null 2>&1; then
  fail "valgrind is not installed and could not be installed"
  summary
fi

vg=(valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect
    --show-leak-kinds=definite,indirect,possible --num-callers=30)

# Prints valgrind's verdict from its log (the exit status also carries the
# program's own). Definite/indirect leaks count as errors there
# (--errors-for-leak-kinds), so "0 errors" means no memory error and no real leak.
#
# What remains is process-wide state, attributed with an unstripped build:
#   still reachable (10 bytes, 1 block): ureq's lazily built User-Agent string.
#   possibly lost (48 bytes, 1 block, in some runs only): the Rust standard
#     library's handle for the calling thread, made when ureq's resolver blocks
#     on a channel; at most one per thread that called the library.
# Neither grows with the number of calls, so they are reported, not failed, as
# long as they stay within a few blocks; more would mean a per-call leak.
max_possibly_lost_blocks=8
valgrind_report() { # label, log
  local leak blocks
  echo "valgrind ($1): $(grep -m1 'ERROR SUMMARY' "$2" | sed 's/^==[0-9]*== //')"
  leak=$(sed -n 's/^==[0-9]*== *\(definitely lost\|indirectly lost\|possibly lost\|still reachable\):/\1:/p' "$2")
  if [ -n "$leak" ]; then echo "$leak" | sed 's/^/  /'; else echo "  no leaks are possible (all heap blocks were freed)"; fi
  blocks=$(sed -n 's/.*possibly lost: [0-9,]* bytes in \([0-9,]*\) blocks.*/\1/p' "$2" | tr -d ,)
  if grep -q 'ERROR SUMMARY: 0 errors' "$2"; then
    pass "valgrind ($1): no memory errors, no definite or indirect leaks"
  else
    fail "valgrind ($1): errors or leaks, see $2"
    grep -A12 -E 'definitely lost in|indirectly lost in|Invalid (read|write)|uninitialised' "$2" | head -80
  fi
  if [ "${blocks:-0}" -le "$max_possibly_lost_blocks" ]; then
    pass "valgrind ($1): possibly-lost blocks (${blocks:-0}) within the per-thread bound of $max_possibly_lost_blocks"
  else
    fail "valgrind ($1): $blocks possibly-lost blocks, more than per-thread state explains; see $2"
  fi
}

echo "--- test_abi under valgrind"
"${vg[@]}" --log-file="$work/valgrind.log" "$work/test_abi" "$version" >"$work/vg.out" 2>&1
rc=$?
# The run's own checks count too (slow timing under valgrind must not change results).
grep '^FAIL' "$work/vg.out"
# Its exit status also reflects valgrind errors, which valgrind_report counts.
tally "test_abi under valgrind" "$work/vg.out" 0
valgrind_report "test_abi" "$work/valgrind.log"

echo "--- test_free_all under valgrind (a host that frees everything holds nothing of ours)"
if "$CC" -std=c99 -Wall -Wextra -Werror -pedantic -I"$WDT_ROOT/include" \
     "$here/test_free_all.c" -o "$work/test_free_all" "${link[@]}" 2>"$work/free-all-build.err"; then
  "${vg[@]}" --log-file="$work/valgrind-free-all.log" "$work/test_free_all" "$WDT_MOCK_URL" >"$work/vg-free-all.out" 2>&1
  rc=$?
  grep '^FAIL' "$work/vg-free-all.out"
  tally "test_free_all under valgrind" "$work/vg-free-all.out" "$rc"
  valgrind_report "test_free_all" "$work/valgrind-free-all.log"
  # Stricter than the per-thread bound above: one thread made and freed everything, so not one
  # block may be possibly lost (the client registry's table was, until it went with the last
  # handle).
  if grep -qE 'possibly lost: [1-9]' "$work/valgrind-free-all.log"; then
    fail "test_free_all: possibly lost blocks after freeing everything, see $work/valgrind-free-all.log"
    grep -A20 'possibly lost in' "$work/valgrind-free-all.log" | head -40
  else
    pass "test_free_all: nothing possibly lost after every client and string was freed"
  fi
else
  fail "tests/c/test_free_all.c does not build: $(head -c 600 "$work/free-all-build.err")"
fi

echo "--- test_log (log lines never cost an answer; the log callback)"
if "$CC" -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -pedantic -I"$WDT_ROOT/include" \
     "$here/test_log.c" -o "$work/test_log" "${link[@]}" 2>"$work/log-build.err"; then
  "$work/test_log" "$WDT_MOCK_URL" >"$work/log.out" 2>/dev/null
  rc=$?
  cat "$work/log.out"
  tally "test_log" "$work/log.out" "$rc"
  "${vg[@]}" --log-file="$work/valgrind-log.log" "$work/test_log" "$WDT_MOCK_URL" >"$work/vg-log.out" 2>/dev/null
  grep '^FAIL' "$work/vg-log.out"
  tally "test_log under valgrind" "$work/vg-log.out" 0
  valgrind_report "test_log" "$work/valgrind-log.log"
else
  fail "tests/c/test_log.c does not build: $(head -c 600 "$work/log-build.err")"
fi

# The outbox (tests/c/test_outbox.c): plainly, then under valgrind, each run with its own files.
if "$CC" -std=c99 -Wall -Wextra -Werror -pedantic -I"$WDT_ROOT/include" \
     "$here/test_outbox.c" -o "$work/test_outbox" "${link[@]}" -pthread 2>"$work/build-outbox.err"; then
  pass "tests/c/test_outbox.c builds as C99 with -Wall -Wextra -Werror -pedantic"
  echo "--- test_outbox"
  mkdir -p "$work/outbox-plain" "$work/outbox-vg"
  "$work/test_outbox" "$work/outbox-plain" | tee "$work/outbox.out"
  tally "test_outbox" "$work/outbox.out" "${PIPESTATUS[0]}"
  echo "--- test_outbox under valgrind"
  "${vg[@]}" --log-file="$work/valgrind-outbox.log" "$work/test_outbox" "$work/outbox-vg" >"$work/vg-outbox.out" 2>&1
  grep '^FAIL' "$work/vg-outbox.out"
  tally "test_outbox under valgrind" "$work/vg-outbox.out" 0
  valgrind_report "test_outbox" "$work/valgrind-outbox.log"
else
  cat "$work/build-outbox.err"
  fail "tests/c/test_outbox.c does not build"
fi

if [ -x "$work/example" ]; then
  echo "--- bindings/c/example.c under valgrind"
  "${vg[@]}" --log-file="$work/valgrind-example.log" "$work/example" "$WDT_MOCK_URL" >"$work/example.out" 2>&1
  rc=$?
  cat "$work/example.out"
  if grep -q '^{"ok":true' "$work/example.out" && grep -q '^result: quick return accepted' "$work/example.out"; then
    pass "example.c performs a quick return end to end"
  else
    fail "example.c did not perform a quick return (exit status $rc)"
  fi
  valgrind_report "example" "$work/valgrind-example.log"
fi

summary
