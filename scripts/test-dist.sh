#!/usr/bin/env bash
# Proves the release archives in dist/ (made by scripts/dist.sh) work where no Rust exists.
#
#   bash scripts/test-dist.sh              # the Linux archive
#   bash scripts/test-dist.sh --windows    # also both Windows archives, under Wine
#   bash scripts/test-dist.sh --windows --no-linux
#
# Each archive is unpacked into an empty temporary directory, and everything after that runs
# with a PATH that has no cargo, rustc or rustup (a directory of links to every other tool).
# The programs talk only to the gateway double (wdt-mock) on 127.0.0.1, a fresh one per run.
#
# Linux: checksums and layout; SONAME; only wdt_* exported (nm -D --defined-only); ldd shows
#   only the C runtime (no OpenSSL); the minimum glibc (objdump -T) is at most WDT_MAX_GLIBC
#   (default 2.34); bindings/c/example.c built with gcc against the archive (-I/-L, through
#   pkg-config, and statically with libwdt.a via pkg-config --static) and run; the envelope
#   check scripts/cross/dist-check.c (good quick return, api error with its Chinese message
#   byte for byte, invalid argument, NULL request, wdt_call, bad config, a panic caught through
#   the test hook); the PHP, C# and C++ binding tests from the archive with WDT_LIB set to the
#   archive's library.
# Windows x64 / x86: checksums and layout; PE machine; exports exactly the header's functions,
#   undecorated; imports only system DLLs (no libgcc_s/libwinpthread) and nothing newer than
#   Windows 7; lib/wdt.def and the import library agree; example.c and dist-check.c built with
#   mingw-w64 gcc against the archive and run under Wine (64-bit: Debian's wine64; 32-bit: the
#   private Wine of scripts/cross/setup.sh), envelopes checked from files.
#
# Env: WDT_MOCK (default target/release/wdt-mock; built with cargo first when missing),
# WDT_MAX_GLIBC, WDT_KEEP=1 keeps the temporary directory.
# Last line: "N passed, M failed"; the exit status is non-zero when anything failed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=cross/env.sh
source "$ROOT/scripts/cross/env.sh"

linux=1 windows=0
for a in "$@"; do
  case "$a" in
    --windows) windows=1 ;;
    --no-linux) linux=0 ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "test-dist: unknown option $a (see --help)" >&2; exit 2 ;;
  esac
done

passed=0 failed=0
ok() { echo "ok   - $*"; passed=$((passed + 1)); }
bad() { echo "FAIL - $*"; failed=$((failed + 1)); }
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
  exit $?
}
# check NAME CMD...: one test; its output is shown (indented) only when it fails.
check() {
  local name=$1 out rc
  shift
  out=$("$@" 2>&1)
  rc=$?
  if [ $rc -eq 0 ]; then ok "$name"; else bad "$name (exit $rc)"; printf '%s\n' "$out" | tail -n 30 | sed 's/^/      | /'; fi
  return $rc
}
# Shows a command's output indented, so no "N passed, M failed" line of it is read as ours.
indent() { sed 's/^/    /'; }

version=$(sed -n '/^\[package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n1)
major=${version%%.*}
MAX_GLIBC=${WDT_MAX_GLIBC:-2.34}
echo "test-dist: libwdt $version"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/wdt-test-dist.XXXXXX")
WINEPREFIXES=()
cleanup() {
  local p
  for p in "${WINEPREFIXES[@]}"; do
    WINEPREFIX="$p" "$WDT_WINESERVER" -k >/dev/null 2>&1 || true
  done
  if [ "${WDT_KEEP:-0}" = 1 ]; then echo "test-dist: kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# The gateway double: built (with the normal PATH, before Rust is taken away) when missing.
export WDT_ROOT="$ROOT"
WDT_MOCK=${WDT_MOCK:-$ROOT/target/release/wdt-mock}
if [ ! -x "$WDT_MOCK" ]; then
  echo "test-dist: building the gateway double"
  cargo build --release -p wdt-mock 2>&1 | tail -n 3 | indent
fi
export WDT_MOCK
check "the gateway double exists ($WDT_MOCK)" test -x "$WDT_MOCK" || finish

# A PATH without Rust: links to every tool except cargo/rustc/rustup and friends.
NORUST="$WORK/bin"
mkdir -p "$NORUST"
for d in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
  [ -d "$d" ] || continue
  for f in "$d"/*; do
    b=${f##*/}
    case "$b" in cargo | cargo-* | rustc | rustc-* | rustdoc | rustup | rust-* | rustfmt | clippy-driver) continue ;; esac
    [ -x "$f" ] && [ ! -e "$NORUST/$b" ] && ln -s "$f" "$NORUST/$b"
  done
done
export PATH="$NORUST"
check "no cargo, rustc or rustup on PATH" bash -c '! command -v cargo && ! command -v rustc && ! command -v rustup' || finish

# with_mock FUNCTION ARGS...: runs FUNCTION in a subshell with a fresh double started
# ($WDT_MOCK_URL set); the double ends with the subshell.
with_mock() (
  # shellcheck source=lib/mock.sh
  source "$ROOT/scripts/lib/mock.sh"
  start_mock >/dev/null || exit 97
  "$@"
)

# The functions wdt.h declares.
header_functions() { sed -n 's/^[^#/ ].*[ *]\(wdt_[a-z0-9_]*\)(.*/\1/p' "$1" | LC_ALL=C sort -u; }

# has FILE ERE: the envelope file matches.
has() { LC_ALL=C grep -Eq -- "$2" "$1" || { echo "$1 does not match /$2/:"; cat "$1"; echo; return 1; }; }

# check_envelopes DIR LABEL: what dist-check.c wrote.
check_envelopes() {
  local d=$1 l=$2
  check "$l: wdt_version() is $version" bash -c "[ \"\$(cat '$d/version.txt')\" = '$version' ]"
  check "$l: good quick return is ok with a stockin_id" \
    bash -c "$(declare -f has); has '$d/good.json' '\"ok\" *: *true' && has '$d/good.json' '\"stockin_id\"'"
  check "$l: unknown order is api status 100" \
    bash -c "$(declare -f has); has '$d/api.json' '\"kind\" *: *\"api\"' && has '$d/api.json' '\"status\" *: *100'"
  # The gateway's Chinese message, compared as UTF-8 bytes (not through any console).
  check "$l: the api message 未找到对应的单据信息 is intact UTF-8" \
    bash -c "LC_ALL=C grep -qF '未找到对应的单据信息' '$d/api.json' || { od -c '$d/api.json' | head; exit 1; }"
  check "$l: empty tid is invalid_argument at refundInfo.tid" \
    bash -c "$(declare -f has); has '$d/invalid.json' '\"kind\" *: *\"invalid_argument\"' && has '$d/invalid.json' '\"field\" *: *\"refundInfo.tid\"'"
  check "$l: a NULL request is an invalid_argument envelope" \
    bash -c "$(declare -f has); has '$d/null.json' '\"kind\" *: *\"invalid_argument\"'"
  check "$l: wdt_call paged query is ok with total_count" \
    bash -c "$(declare -f has); has '$d/call.json' '\"ok\" *: *true' && has '$d/call.json' '\"total_count\"'"
  check "$l: a config without appsecret is a config error" \
    bash -c "$(declare -f has); has '$d/config.json' '\"kind\" *: *\"config\"'"
  check "$l: a panic inside the library is caught (kind internal, test hook)" \
    bash -c "$(declare -f has); has '$d/panic.json' '\"kind\" *: *\"internal\"' && has '$d/panic.json' 'deliberate panic'"
  check "$l: the client still works after the caught panic" \
    bash -c "$(declare -f has); has '$d/after-panic.json' '\"field\" *: *\"refundInfo.tid\"'"
}

# ---------------------------------------------------------------- Linux
linux_tests() {
  local tgz="$ROOT/dist/libwdt-$version-linux-x86_64.tar.gz"
  local u="$WORK/linux" A
  echo "== Linux: $(basename "$tgz")"
  check "the Linux archive exists" test -f "$tgz" || return
  mkdir -p "$u"
  check "unpacks into an empty directory as libwdt-$version-linux-x86_64/" \
    bash -c "tar xzf '$tgz' -C '$u' && [ \"\$(ls '$u')\" = 'libwdt-$version-linux-x86_64' ]" || return
  A="$u/libwdt-$version-linux-x86_64"
  check "SHA256SUMS matches every file" bash -c "cd '$A' && sha256sum --quiet -c SHA256SUMS"
  local f missing=""
  for f in lib/libwdt.so "lib/libwdt.so.$major" lib/libwdt.a include/wdt.h lib/pkgconfig/wdt.pc \
    README.md LICENSE INSTALL.md bindings/c/example.c; do
    [ -e "$A/$f" ] || missing="$missing $f"
  done
  check "layout: lib/, include/, pkgconfig, bindings/, README.md, LICENSE" test -z "$missing" || echo "      missing:$missing"
  local so="$A/lib/libwdt.so"
  check "SONAME is libwdt.so.$major" bash -c "readelf -d '$so' | grep -q 'SONAME.*\[libwdt.so.$major\]'"

  echo "   nm -D --defined-only lib/libwdt.so:"
  nm -D --defined-only "$so" | indent
  check "exports only wdt_* symbols, exactly the header's functions" bash -c "
    syms=\$(nm -D --defined-only '$so' | awk '{print \$NF}' | LC_ALL=C sort -u)
    [ \"\$syms\" = \"\$($(declare -f header_functions); header_functions '$A/include/wdt.h')\" ]"

  echo "   ldd lib/libwdt.so:"
  ldd "$so" | indent
  check "ldd: only the C runtime (no OpenSSL or anything else)" bash -c "
    ldd '$so' | awk '{print \$1}' | grep -vE '^(linux-vdso\.so\.1|libc\.so\.6|libm\.so\.6|libgcc_s\.so\.1|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|libutil\.so\.1|/lib64/ld-linux-x86-64\.so\.2)$' | { ! grep .; }"
  local glibc
  glibc=$(objdump -T "$so" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n1)
  echo "   minimum glibc: $glibc (symbols: $(objdump -T "$so" | grep -F "GLIBC_$glibc" | awk '{print $NF}' | sort -u | tr '\n' ' '))"
  check "needs glibc $glibc <= $MAX_GLIBC" bash -c "[ \"\$(printf '%s\n%s\n' '$glibc' '$MAX_GLIBC' | sort -V | tail -n1)\" = '$MAX_GLIBC' ]"
  check "libwdt.a defines the header's functions" bash -c "
    [ \"\$(nm '$A/lib/libwdt.a' 2>/dev/null | awk '\$2==\"T\" && \$3 ~ /^wdt_/ {print \$3}' | LC_ALL=C sort -u)\" = \"\$($(declare -f header_functions); header_functions '$A/include/wdt.h')\" ]"

  local b="$WORK/linux-build"
  mkdir -p "$b"
  # bindings/c/example.c, the user's way: -I/-L with an rpath.
  if check "gcc builds bindings/c/example.c against the archive (-I -L -lwdt)" \
    gcc -std=c89 -Wall -Wextra -Werror -I"$A/include" "$A/bindings/c/example.c" -L"$A/lib" -lwdt \
    -Wl,-rpath,"$A/lib" -o "$b/example"; then
    check "example: links the archive's libwdt.so.$major" bash -c "ldd '$b/example' | grep -q 'libwdt.so.$major => $A/lib/libwdt.so.$major'"
    check "example runs a quick return against the double" with_mock run_example "$b/example"
  fi
  # Through pkg-config, with the .pc found by PKG_CONFIG_PATH (relocatable prefix).
  local pc="$A/lib/pkgconfig"
  check "pkg-config --modversion wdt is $version" bash -c "[ \"\$(PKG_CONFIG_PATH='$pc' pkg-config --modversion wdt)\" = '$version' ]"
  echo "   pkg-config --cflags --libs wdt: $(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs wdt)"
  if check "gcc builds example.c with \$(pkg-config --cflags --libs wdt)" bash -c "
      gcc '$A/bindings/c/example.c' \$(PKG_CONFIG_PATH='$pc' pkg-config --cflags --libs wdt) \
        -Wl,-rpath,\"\$(PKG_CONFIG_PATH='$pc' pkg-config --variable=libdir wdt)\" -o '$b/example-pc'"; then
    check "example (pkg-config) runs against the double" with_mock run_example "$b/example-pc"
  fi
  # Statically: libwdt.a plus Libs.private.
  if check "gcc links example.c statically with libwdt.a and pkg-config --static" bash -c "
      libs=\$(PKG_CONFIG_PATH='$pc' pkg-config --static --libs-only-l wdt | sed 's/-lwdt\b//')
      gcc '$A/bindings/c/example.c' \$(PKG_CONFIG_PATH='$pc' pkg-config --cflags wdt) '$A/lib/libwdt.a' \$libs -o '$b/example-static'"; then
    check "example (static) needs no libwdt.so" bash -c "! ldd '$b/example-static' | grep -q libwdt"
    check "example (static) runs against the double" with_mock run_example "$b/example-static"
  fi
  # The envelope check.
  if check "gcc builds scripts/cross/dist-check.c against the archive" \
    gcc -std=c89 -Wall -Wextra -Werror -I"$A/include" "$ROOT/scripts/cross/dist-check.c" -L"$A/lib" -lwdt \
    -Wl,-rpath,"$A/lib" -o "$b/dist-check"; then
    mkdir -p "$b/out"
    check "dist-check runs against the double" with_mock run_check "$b/dist-check" "$b/out"
    check_envelopes "$b/out" "Linux"
  fi

  # The bindings' own tests, from the archive, on the archive's library. Their WDT_ROOT is a
  # directory whose include/ is the archive's and whose tests/, scripts/ and Cargo.toml (the
  # shared fixtures, the double's starter, the version) are the repository's.
  local fake="$WORK/linux-root"
  mkdir -p "$fake"
  ln -s "$A/include" "$fake/include"
  ln -s "$A/bindings" "$fake/bindings"
  ln -s "$ROOT/tests" "$fake/tests"
  ln -s "$ROOT/scripts" "$fake/scripts"
  ln -s "$ROOT/Cargo.toml" "$fake/Cargo.toml"
  local lang
  for lang in php csharp cpp; do
    if [ ! -f "$A/bindings/$lang/test.sh" ]; then
      echo "   (no bindings/$lang/test.sh in the archive)"
      continue
    fi
    local log="$WORK/binding-$lang.log"
    WDT_ROOT="$fake" WDT_LIB="$so" WDT_MOCK="$WDT_MOCK" timeout 1200 bash "$A/bindings/$lang/test.sh" >"$log" 2>&1
    local rc=$? last
    last=$(tail -n1 "$log")
    if [ $rc -eq 0 ]; then
      ok "bindings/$lang/test.sh from the archive: $last"
    else
      bad "bindings/$lang/test.sh from the archive (exit $rc): $last"
      tail -n 30 "$log" | sed 's/^/      | /'
    fi
  done
}

run_example() {
  local out rc
  out=$(timeout 120 "$@" "$WDT_MOCK_URL" 2>&1)
  rc=$?
  printf '%s\n' "$out"
  [ $rc -eq 0 ] && printf '%s\n' "$out" | grep -q '"ok": *true'
}

run_check() { timeout 120 "$1" "$WDT_MOCK_URL" "$2"; }

# ---------------------------------------------------------------- Windows
# Runs a Windows program under the Wine for ARCH, with its own prefix.
wine_run() {
  local arch=$1
  shift
  export WINEPREFIX="$WORK/wineprefix-$arch" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
  if [ "$arch" = x64 ]; then
    timeout 300 "$WDT_WINE64" "$@"
  else
    WINEARCH=win32 WINESERVER="$WDT_WINESERVER" timeout 300 "$WDT_WINE32" "$@"
  fi
}

# Z:\ path of a unix path, for the Windows programs.
winpath() { printf 'Z:%s' "${1//\//\\}"; }

run_example_wine() {
  local arch=$1 exe=$2 out rc
  out=$(wine_run "$arch" "$exe" "$WDT_MOCK_URL" 2>&1)
  rc=$?
  printf '%s\n' "$out" | tail -n 8
  [ $rc -eq 0 ] && printf '%s\n' "$out" | grep -q '"ok": *true'
}

run_check_wine() {
  local arch=$1 exe=$2 outdir=$3 out rc
  out=$(wine_run "$arch" "$exe" "$WDT_MOCK_URL" "$(winpath "$outdir")" 2>&1)
  rc=$?
  printf '%s\n' "$out" >"$outdir/../dist-check-$arch.log"
  printf '%s\n' "$out" | tail -n 12
  return $rc
}

windows_tests() {
  local arch=$1 t=$2 mingw format
  mingw=$(cross_mingw "$t")
  case $arch in x64) format=pei-x86-64 ;; x86) format=pei-i386 ;; esac
  local zip="$ROOT/dist/libwdt-$version-windows-$arch.zip"
  local u="$WORK/win-$arch" A
  echo "== Windows $arch: $(basename "$zip")"
  check "the Windows $arch archive exists" test -f "$zip" || return
  mkdir -p "$u"
  check "$arch: unpacks into an empty directory as libwdt-$version-windows-$arch/" \
    bash -c "unzip -q '$zip' -d '$u' && [ \"\$(ls '$u')\" = 'libwdt-$version-windows-$arch' ]" || return
  A="$u/libwdt-$version-windows-$arch"
  check "$arch: SHA256SUMS matches every file" bash -c "cd '$A' && sha256sum --quiet -c SHA256SUMS"
  local f missing=""
  for f in bin/wdt.dll lib/libwdt.dll.a lib/wdt.def include/wdt.h README.md LICENSE INSTALL.md bindings/c/example.c; do
    [ -e "$A/$f" ] || missing="$missing $f"
  done
  check "$arch: layout: bin/wdt.dll, lib/libwdt.dll.a, lib/wdt.def, include/, bindings/" test -z "$missing" ||
    echo "      missing:$missing"
  local dll="$A/bin/wdt.dll"
  echo "   objdump -f: $(objdump -f "$dll" | sed -n 's/.*file format //p'), $(objdump -f "$dll" | sed -n 's/^architecture: \([^,]*\).*/\1/p')"
  check "$arch: wdt.dll is $format" bash -c "objdump -f '$dll' | grep -q 'file format $format'"
  echo "   objdump -p DLL Name:"
  objdump -p "$dll" | grep 'DLL Name' | indent
  echo "   exports: $(pe_exports "$dll" | tr '\n' ' ')"
  check "$arch: exports exactly the header's functions, undecorated" bash -c "
    [ \"\$($(declare -f pe_exports); pe_exports '$dll')\" = \"\$($(declare -f header_functions); header_functions '$A/include/wdt.h')\" ]"
  local dlls extra=""
  dlls=$(pe_dll_names "$dll")
  for f in $dlls; do
    case " $WDT_ALLOWED_DLLS " in *" $f "*) ;; *) extra="$extra $f" ;; esac
  done
  check "$arch: imports only system DLLs (no libgcc_s, libwinpthread…)" test -z "$extra" || echo "      not allowed:$extra"
  local newer=""
  for f in $WDT_WIN8_IMPORTS; do
    pe_imported_functions "$dll" | grep -qx "$f" && newer="$newer $f"
  done
  check "$arch: imports nothing newer than Windows 7 ($WDT_WIN8_IMPORTS)" test -z "$newer" || echo "      found:$newer"
  check "$arch: lib/wdt.def lists exactly the exports" bash -c "
    [ \"\$(sed -n '/^EXPORTS/,\$s/^[[:space:]]*\(wdt_[a-z0-9_]*\).*/\1/p' '$A/lib/wdt.def' | LC_ALL=C sort)\" = \"\$($(declare -f pe_exports); pe_exports '$dll')\" ]"
  # cdecl: the import library's symbols carry no @N (stdcall) suffix.
  check "$arch: libwdt.dll.a has the functions as cdecl (no @N)" bash -c "
    syms=\$($mingw-nm '$A/lib/libwdt.dll.a' | awk '\$2==\"T\" {print \$3}' | sed 's/^_//' | LC_ALL=C sort -u)
    [ \"\$syms\" = \"\$($(declare -f header_functions); header_functions '$A/include/wdt.h')\" ]"

  local b="$WORK/win-$arch-build"
  mkdir -p "$b/out"
  cp "$dll" "$b/wdt.dll"
  local built=1
  check "$arch: $mingw-gcc builds bindings/c/example.c against the archive" \
    "$mingw-gcc" -std=c89 -Wall -Wextra -Werror -I"$A/include" "$A/bindings/c/example.c" -L"$A/lib" -lwdt -o "$b/example.exe" || built=0
  check "$arch: $mingw-gcc builds scripts/cross/dist-check.c against the archive" \
    "$mingw-gcc" -std=c89 -Wall -Wextra -Werror -I"$A/include" "$ROOT/scripts/cross/dist-check.c" -L"$A/lib" -lwdt -o "$b/dist-check.exe" || built=0
  [ $built = 1 ] || return
  if [ "$arch" = x64 ]; then
    check "x64: Debian's wine64 is installed" test -x "$WDT_WINE64" || return
  else
    check "x86: the private 32-bit Wine is set up (scripts/cross/setup.sh)" test -f "$WDT_WINE32_ROOT/.complete" || return
  fi
  WINEPREFIXES+=("$WORK/wineprefix-$arch")
  local t0=$SECONDS
  check "$arch: Wine starts (a new prefix)" wine_run "$arch" cmd /c exit 0 || return
  echo "   (Wine prefix made in $((SECONDS - t0)) s)"
  check "$arch: example.exe runs a quick return under Wine against the double" with_mock run_example_wine "$arch" "$b/example.exe"
  check "$arch: dist-check.exe runs under Wine against the double" with_mock run_check_wine "$arch" "$b/dist-check.exe" "$b/out"
  echo "   Wine output tail (dist-check.exe, $arch):"
  tail -n 9 "$b/dist-check-$arch.log" 2>/dev/null | indent
  check_envelopes "$b/out" "Windows $arch"
  WINEPREFIX="$WORK/wineprefix-$arch" "$WDT_WINESERVER" -k >/dev/null 2>&1 || true
}

start=$SECONDS
if [ $linux = 1 ]; then
  linux_tests
  echo "   (Linux: $((SECONDS - start)) s)"
fi
if [ $windows = 1 ]; then
  for t in "${WDT_CROSS_TARGETS[@]}"; do
    s=$SECONDS
    windows_tests "$(cross_arch "$t")" "$t"
    echo "   (Windows $(cross_arch "$t"): $((SECONDS - s)) s)"
  done
fi
echo "test-dist: $((SECONDS - start)) s"
finish
