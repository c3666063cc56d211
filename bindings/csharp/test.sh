#!/usr/bin/env bash
# Builds the C# binding and its test with Mono's mcs, starts the gateway double and runs every
# shared fixture case plus the binding's own tests under mono. Never skips: a missing mono, mcs,
# libwdt or wdt-mock is a failure. The last line is always "N passed, M failed".
#
#   WDT_ROOT  repository root            (default: two levels above this script)
#   WDT_LIB   the native library to test (default: $WDT_ROOT/target/release/libwdt.so)
#   WDT_MOCK  the gateway double         (default: $WDT_ROOT/target/release/wdt-mock)
#   WDT_CS_ASSEMBLY  a built Wdt.Net.dll to test, e.g. the one installed from the NuGet package
#                    (default: build it from src/ with build.sh net45)
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WDT_ROOT=${WDT_ROOT:-$(cd "$here/../.." && pwd)}
WDT_LIB=${WDT_LIB:-$WDT_ROOT/target/release/libwdt.so}
WDT_MOCK=${WDT_MOCK:-$WDT_ROOT/target/release/wdt-mock}
export WDT_ROOT WDT_LIB WDT_MOCK

fail() {
  echo "csharp: $*" >&2
  echo "0 passed, 1 failed"
  exit 1
}

for tool in mcs mono; do
  command -v "$tool" >/dev/null 2>&1 ||
    fail "$tool not found (Debian: apt-get install mono-mcs mono-runtime libmono-system-core4.0-cil)"
done
[ -f "$WDT_LIB" ] || fail "no native library at $WDT_LIB (cargo build --release)"
[ -x "$WDT_MOCK" ] || fail "no gateway double at $WDT_MOCK (cargo build --release)"

# Laid out the way an application ships: the assemblies and libwdt.so in one directory, where
# Mono (like .NET on Windows with wdt.dll) looks first for [DllImport("wdt")]. A copy, not a
# link, so a concurrent cargo build cannot swap the library under a running test.
out="$here/obj/mono-test"
rm -rf "$out" && mkdir -p "$out" || fail "cannot create $out"
cp "$WDT_LIB" "$out/libwdt.so" || fail "cannot copy $WDT_LIB"

if [ -n "${WDT_CS_ASSEMBLY:-}" ]; then
  [ -f "$WDT_CS_ASSEMBLY" ] || fail "no assembly at WDT_CS_ASSEMBLY=$WDT_CS_ASSEMBLY"
  cp "$WDT_CS_ASSEMBLY" "$out/Wdt.Net.dll" || fail "cannot copy $WDT_CS_ASSEMBLY"
  echo "csharp: testing $WDT_CS_ASSEMBLY"
else
  # net45: the build the Windows archives and the package's lib/net45 carry, and what Mono runs.
  bash "$here/build.sh" net45 "$out" || fail "mcs could not build Wdt.Net.dll"
fi
# The test reads cases.json with the binding's internal JSON reader (InternalsVisibleTo).
mcs -nologo -target:exe -optimize+ -debug -warnaserror+ \
    -r:"$out/Wdt.Net.dll" -r:System.dll -r:System.Core.dll \
    -out:"$out/WdtTests.exe" "$here"/tests/*.cs ||
  fail "mcs could not build WdtTests.exe"

# The WinForms sample must compile against the same assembly (it is not run: no display here).
mcs -nologo -target:winexe -optimize+ -warnaserror+ \
    -r:"$out/Wdt.Net.dll" -r:System.dll -r:System.Drawing.dll -r:System.Windows.Forms.dll \
    -out:"$out/RefundSample.exe" "$here"/samples/WinForms/*.cs ||
  fail "mcs could not build the WinForms sample"

# The same two assemblies without the native library, for the missing-library test.
mkdir -p "$out/nolib" && cp "$out/Wdt.Net.dll" "$out/WdtTests.exe" "$out/nolib/" ||
  fail "cannot create $out/nolib"
export WDT_CS_NOLIB="$out/nolib/WdtTests.exe"

# shellcheck source=../../scripts/lib/mock.sh
source "$WDT_ROOT/scripts/lib/mock.sh"
start_mock || fail "the gateway double did not start"

log="$out/test.log"
rc=0
timeout 900 mono --debug "$out/WdtTests.exe" 2>&1 | tee "$log" || rc=$?
# A crash (a segfault in native code kills mono without a summary) must still end in a count.
if ! tail -n 1 "$log" | grep -Eq '^[0-9]+ passed, [0-9]+ failed$'; then
  passed=$(grep -c '^ok ' "$log")
  failed=$(grep -c '^FAIL ' "$log")
  echo "csharp: mono exited with status $rc before finishing" >&2
  echo "$passed passed, $((failed + 1)) failed"
  exit 1
fi
exit "$rc"
