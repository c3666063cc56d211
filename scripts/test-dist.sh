#!/usr/bin/env bash
# Proves the release archives in dist/ (made by scripts/dist.sh) work where no Rust exists.
#
#   bash scripts/test-dist.sh              # the Linux archives (x86_64, and aarch64 under qemu-user)
#   bash scripts/test-dist.sh --arch x86_64   # only the Linux x86_64 archive (--arch repeatable)
#   bash scripts/test-dist.sh --windows    # also both Windows archives, under Wine
#   bash scripts/test-dist.sh --windows --no-linux
#
# Each archive is unpacked into an empty temporary directory, and everything after that runs
# with a PATH that has no cargo, rustc or rustup (a directory of links to every other tool).
# The programs talk only to the archive's own gateway double (bin/wdt-mock, under qemu or Wine
# like the programs) on 127.0.0.1, a fresh one per run.
#
# First, scripts/check-glibc.sh --self-test: the floor check must fail on a tiny library built
# against this machine's newer glibc (arc4random, GLIBC_2.36) and on one needing libstdc++.
# Linux x86_64 / aarch64: checksums, layout and hygiene (no .gitignore, test.sh, tests/); ELF
#   machine; no outbox crash hook (WDT_OUTBOX_TEST_CRASH…) in libwdt.so or libwdt.a; SONAME;
#   only wdt_* exported; scripts/check-glibc.sh: libwdt.so and bin/* need
#   glibc <= 2.17 and only libc/libm/libdl/libpthread/libgcc_s/ld-linux; bindings/c/example.c
#   built with gcc (aarch64-linux-gnu-gcc for aarch64) against the archive (-I/-L, through
#   pkg-config, and statically with libwdt.a via pkg-config --static) and run (aarch64: under
#   qemu-aarch64 with Debian's arm64 libc); the envelope check scripts/cross/dist-check.c (good
#   quick return, api error with its Chinese message byte for byte, invalid argument, NULL
#   request, wdt_call, bad config, a panic caught through the test hook).
#   Every archive: every relative link of every Markdown file resolves inside the unpacked
#   archive. x86_64 also: the quick-start code blocks of the archive's README.md,
#   bindings/c/README.md and bindings/php/README.md (those marked `<!-- test-dist: file NAME -->`
#   or `<!-- test-dist: run [expect=TEXT] -->`), extracted from the Markdown and run in order
#   against the archive's own double on its documented port 9876 (in a private network
#   namespace when `unshare -rn` works, so nothing else holding 9876 matters).
#   x86_64 also: ldd; the PHP package installed with Composer from the archive (path
#   repository, no Packagist) into an empty project and a script run through its autoloader
#   with the package's own library; the archive's PHP, C# and C++ bindings with the
#   repository's tests, on the archive's library.
# Windows x64 / x86: checksums, layout and hygiene; PE machine; no outbox crash hook in the
#   DLLs; exports exactly the header's
#   functions, undecorated; wdt.dll and bin/wdt-mock.exe import only system DLLs (no
#   libgcc_s/libwinpthread) and the DLL nothing newer than Windows 7; lib/wdt.def and the
#   import library agree; the PHP package installs with Composer and carries wdt.dll;
#   example.c and dist-check.c built with mingw-w64 gcc against the archive and run under Wine
#   (64-bit: Debian's wine64; 32-bit: the private Wine of scripts/cross/setup.sh) against the
#   archive's bin/wdt-mock.exe started under the same Wine, envelopes checked from files.
#
# Env: WDT_KEEP=1 keeps the temporary directory.
# Last line: "N passed, M failed"; the exit status is non-zero when anything failed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

linux=1 windows=0 arches=()
while [ $# -gt 0 ]; do
  case "$1" in
    --windows) windows=1 ;;
    --no-linux) linux=0 ;;
    --arch | --arch=*)
      if [ "$1" = --arch ]; then a=${2:-}; shift; else a=${1#--arch=}; fi
      case "$a" in x86_64 | aarch64) arches+=("$a") ;; *) echo "test-dist: --arch takes x86_64 or aarch64, not '$a'" >&2; exit 2 ;; esac ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "test-dist: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ ${#arches[@]} -eq 0 ] || export WDT_LINUX_ARCHES="${arches[*]}"
# shellcheck source=cross/env.sh
source "$ROOT/scripts/cross/env.sh"

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

export WDT_ROOT="$ROOT"
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

# no_crash_hooks LABEL FILE...: the outbox's SIGKILL crash points and stepped clock are test
# hooks (cargo feature `crash-points`) that no shipped library may contain, whatever its
# environment says; their environment names are the trace they leave in an ELF or PE file
# (tests/c/run.sh checks the development build the same way).
no_crash_hooks() {
  local label=$1 f found=""
  shift
  for f in "$@"; do
    found="$found$(grep -aoF -e WDT_OUTBOX_TEST_CRASH -e WDT_OUTBOX_TEST_CLOCK_STEP_MS "$f" | sort -u | sed "s|^|${f##*/}: |" | tr '\n' ' ')"
  done
  check "$label: no outbox crash hook in $(for f in "$@"; do printf '%s ' "${f##*/}"; done)" test -z "$found" || echo "      found: $found"
}

# ---------------------------------------------------------------- Linux
# Layout and hygiene common to every archive: FILES must exist; nothing of the development
# tree may be there.
check_layout() {
  local label=$1 A=$2 f missing=""
  shift 2
  for f in "$@"; do [ -e "$A/$f" ] || missing="$missing $f"; done
  check "$label: layout: $*" test -z "$missing" || echo "      missing:$missing"
  check "$label: nothing of the development tree (.gitignore, test.sh, tests/, target/)" bash -c "
    cd '$A' && ! find . \( -name .gitignore -o -name test.sh -o -name tests -o -name target -o -name '*.rs' -o -name Cargo.toml \) | grep ."
  check "$label: every relative link of every Markdown file resolves inside the archive" check_links "$A"
  check "$label: README.md and INSTALL.md never tell the archive's reader to run cargo or scripts/" bash -c "
    cd '$A' && ! grep -nE 'cargo (build|run|install)|scripts/' README.md INSTALL.md"
}

# check_links DIR: every [text](relative target) outside code blocks, in every .md file under
# DIR, names a file inside DIR. At least one link must be found, or the parser is broken.
check_links() {
  python3 - "$1" <<'PY'
import os, re, sys
root = os.path.realpath(sys.argv[1])
link = re.compile(r"\[([^\]\n]*)\]\(([^()\s]+)\)")
found, broken = 0, []
for d, _, files in os.walk(root):
    for name in sorted(files):
        if not name.endswith(".md"):
            continue
        path = os.path.join(d, name)
        fenced = False
        for n, line in enumerate(open(path, encoding="utf-8").read().split("\n"), 1):
            if line.lstrip().startswith("```"):
                fenced = not fenced
                continue
            if fenced:
                continue
            for m in link.finditer(line):
                target = m.group(2)
                if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                    continue
                found += 1
                full = os.path.realpath(os.path.join(d, target.split("#", 1)[0]))
                if not (full.startswith(root + os.sep) and os.path.exists(full)):
                    broken.append("%s:%d: %s" % (os.path.relpath(path, root), n, target))
print("%d relative links checked" % found)
for b in broken:
    print("broken: " + b)
sys.exit(1 if broken or found == 0 else 0)
PY
}

# serve_mock FUNCTION ARGS...: runs FUNCTION in a subshell with $WDT_MOCK_URL set, while the
# double started by the command in the array MOCK_CMD (the archive's own wdt-mock: natively,
# under qemu-user or under Wine) listens on an OS-chosen port of 127.0.0.1. Waits up to two
# minutes for its "listening on" line: an emulator starts slowly on a busy machine.
serve_mock() (
  local out i pid
  out=$(mktemp -d "$WORK/mock.XXXXXX")
  timeout 1800 "${MOCK_CMD[@]}" --port 0 >"$out/stdout" 2>"$out/stderr" &
  pid=$!
  trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
  for i in $(seq 1 1200); do
    grep -q 'listening on' "$out/stdout" 2>/dev/null && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
  done
  WDT_MOCK_URL=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$out/stdout" | head -n1 | tr -d '\r')
  if [ -z "$WDT_MOCK_URL" ]; then
    echo "the double did not start: ${MOCK_CMD[*]}"
    cat "$out/stdout" "$out/stderr"
    exit 97
  fi
  echo "double: ${MOCK_CMD[*]##*/} at $WDT_MOCK_URL"
  export WDT_MOCK_URL
  "$@"
)

# linux_tests ARCH TRIPLE: one Linux archive. aarch64 programs run under qemu-user.
linux_tests() {
  local arch=$1 triple=$2
  local tgz="$ROOT/dist/libwdt-$version-linux-$arch.tar.gz"
  local u="$WORK/linux-$arch" A cc run=() L="Linux $arch"
  echo "== $L: $(basename "$tgz")"
  check "$L: the archive exists" test -f "$tgz" || return
  mkdir -p "$u"
  check "$L: unpacks into an empty directory as libwdt-$version-linux-$arch/" \
    bash -c "tar xzf '$tgz' -C '$u' && [ \"\$(ls '$u')\" = 'libwdt-$version-linux-$arch' ]" || return
  A="$u/libwdt-$version-linux-$arch"
  check "$L: SHA256SUMS matches every file" bash -c "cd '$A' && sha256sum --quiet -c SHA256SUMS"
  local bins=() pb
  for pb in "${WDT_DIST_BINS[@]}"; do bins+=("bin/${pb#*:}"); done
  check_layout "$L" "$A" lib/libwdt.so "lib/libwdt.so.$major" lib/libwdt.a include/wdt.h lib/pkgconfig/wdt.pc \
    README.md LICENSE INSTALL.md bindings/c/example.c "${bins[@]}" bindings/php/composer.json bindings/php/lib/libwdt.so
  local so="$A/lib/libwdt.so" machine
  case $arch in x86_64) machine='Advanced Micro Devices X86-64' cc=gcc ;; aarch64) machine=AArch64 cc=aarch64-linux-gnu-gcc
    run=("$WDT_QEMU_AARCH64" -L "$WDT_AARCH64_SYSROOT") ;; esac
  check "$L: libwdt.so, the programs and the PHP package's library are $machine ELF" bash -c "
    for f in '$so' '$A/bindings/php/lib/libwdt.so' $(printf "'$A/%s' " "${bins[@]}"); do
      readelf -h \"\$f\" | grep -q 'Machine:.*$machine' || { echo \"\$f:\"; readelf -h \"\$f\" | grep Machine; exit 1; }
    done"
  no_crash_hooks "$L" "$so" "$A/lib/libwdt.a"
  # The server stores' claim (src/outbox/server/stores.rs) is the trace the drivers leave.
  check "$L: carries the server stores (MySQL/MariaDB, PostgreSQL)" grep -aqF "FOR UPDATE SKIP LOCKED" "$so"
  check "$L: SONAME is libwdt.so.$major" bash -c "readelf -d '$so' | grep -q 'SONAME.*\[libwdt.so.$major\]'"
  check "$L: exports only wdt_* symbols, exactly the header's functions" bash -c "
    syms=\$(readelf -W --dyn-syms '$so' | awk '\$7 != \"UND\" && \$5 == \"GLOBAL\" {print \$8}' | sed 's/@.*//' | LC_ALL=C sort -u)
    [ \"\$syms\" = \"\$($(declare -f header_functions); header_functions '$A/include/wdt.h')\" ] || { echo \"\$syms\"; exit 1; }"
  # The floor: every versioned symbol every shipped ELF file imports, and every library it needs.
  echo "   scripts/check-glibc.sh --floor $WDT_GLIBC_FLOOR:"
  bash "$ROOT/scripts/check-glibc.sh" --floor "$WDT_GLIBC_FLOOR" "$A/lib/libwdt.so.$version" "${bins[@]/#/$A/}" 2>&1 | indent
  check "$L: libwdt.so and bin/ need glibc <= $WDT_GLIBC_FLOOR and only libc/libm/libdl/libpthread/libgcc_s/ld-linux" \
    bash "$ROOT/scripts/check-glibc.sh" --floor "$WDT_GLIBC_FLOOR" "$A/lib/libwdt.so.$version" "${bins[@]/#/$A/}"
  if [ "$arch" = x86_64 ]; then
    echo "   ldd lib/libwdt.so:"
    ldd "$so" | indent
    check "$L: ldd: only the C runtime (no OpenSSL or anything else)" bash -c "
      ldd '$so' | awk '{print \$1}' | grep -vE '^(linux-vdso\.so\.1|libc\.so\.6|libm\.so\.6|libgcc_s\.so\.1|libdl\.so\.2|libpthread\.so\.0|/lib64/ld-linux-x86-64\.so\.2|ld-linux-x86-64\.so\.2)$' | { ! grep .; }"
  fi
  local nm=nm
  [ "$arch" = x86_64 ] || nm=$arch-linux-gnu-nm
  check "$L: libwdt.a defines the header's functions" bash -c "
    [ \"\$($nm '$A/lib/libwdt.a' 2>/dev/null | awk '\$2==\"T\" && \$3 ~ /^wdt_/ {print \$3}' | LC_ALL=C sort -u)\" = \"\$($(declare -f header_functions); header_functions '$A/include/wdt.h')\" ]"

  # The archive's own double: on aarch64 it runs under qemu too, so nothing of the host's
  # build is used.
  local MOCK_CMD=("${run[@]}" "$A/bin/wdt-mock")
  local b="$WORK/linux-$arch-build"
  mkdir -p "$b"
  # bindings/c/example.c, the user's way: -I/-L with an rpath.
  if check "$L: $cc builds bindings/c/example.c against the archive (-I -L -lwdt)" \
    "$cc" -std=c89 -Wall -Wextra -Werror -I"$A/include" "$A/bindings/c/example.c" -L"$A/lib" -lwdt \
    -Wl,-rpath,"$A/lib" -o "$b/example"; then
    if [ "$arch" = x86_64 ]; then
      check "$L: example links the archive's libwdt.so.$major" bash -c "ldd '$b/example' | grep -q 'libwdt.so.$major => $A/lib/libwdt.so.$major'"
    else
      check "$L: example needs libwdt.so.$major, found through its rpath" bash -c "
        readelf -d '$b/example' | grep -q 'NEEDED.*\[libwdt.so.$major\]' && readelf -d '$b/example' | grep -q 'R.*PATH.*\[$A/lib\]'"
    fi
    check "$L: example runs a quick return against the archive's double" \
      serve_mock run_example "${run[@]}" "$b/example"
  fi
  # Through pkg-config, with the .pc found by PKG_CONFIG_PATH (relocatable prefix).
  local pc="$A/lib/pkgconfig"
  check "$L: pkg-config --modversion wdt is $version" bash -c "[ \"\$(PKG_CONFIG_PATH='$pc' pkg-config --modversion wdt)\" = '$version' ]"
  if check "$L: $cc builds example.c with \$(pkg-config --cflags --libs wdt)" bash -c "
      $cc '$A/bindings/c/example.c' \$(PKG_CONFIG_PATH='$pc' pkg-config --cflags --libs wdt) \
        -Wl,-rpath,\"\$(PKG_CONFIG_PATH='$pc' pkg-config --variable=libdir wdt)\" -o '$b/example-pc'"; then
    check "$L: example (pkg-config) runs against the archive's double" \
      serve_mock run_example "${run[@]}" "$b/example-pc"
  fi
  # Statically: libwdt.a plus Libs.private.
  if check "$L: $cc links example.c statically with libwdt.a and pkg-config --static" bash -c "
      libs=\$(PKG_CONFIG_PATH='$pc' pkg-config --static --libs-only-l wdt | sed 's/-lwdt\b//')
      $cc '$A/bindings/c/example.c' \$(PKG_CONFIG_PATH='$pc' pkg-config --cflags wdt) '$A/lib/libwdt.a' \$libs -o '$b/example-static'"; then
    check "$L: example (static) needs no libwdt.so" bash -c "! readelf -d '$b/example-static' | grep -q 'NEEDED.*libwdt'"
    check "$L: example (static) runs against the archive's double" \
      serve_mock run_example "${run[@]}" "$b/example-static"
  fi
  # The envelope check.
  if check "$L: $cc builds scripts/cross/dist-check.c against the archive" \
    "$cc" -std=c89 -Wall -Wextra -Werror -I"$A/include" "$ROOT/scripts/cross/dist-check.c" -L"$A/lib" -lwdt \
    -Wl,-rpath,"$A/lib" -o "$b/dist-check"; then
    mkdir -p "$b/out"
    check "$L: dist-check runs against the archive's double" \
      serve_mock run_check "${run[@]}" "$b/dist-check" "$b/out"
    check_envelopes "$b/out" "$L"
  fi

  [ "$arch" = x86_64 ] || return 0
  composer_test "$L" "$A"
  local doc
  for doc in README.md bindings/c/README.md bindings/php/README.md; do
    check "$L: the quick start of $doc runs as written against the archive's double" docs_run "$A" "$doc"
  done
  # The bindings' own tests, on the archive's bindings and library. The archive ships no test
  # suites, so WDT_ROOT is a directory whose include/ is the archive's, whose bindings/ are the
  # archive's with the repository's test.sh and tests/ laid over them, and whose tests/,
  # scripts/ and Cargo.toml (the shared fixtures, the double's starter, the version) are the
  # repository's.
  local fake="$WORK/linux-root"
  mkdir -p "$fake"
  ln -s "$A/include" "$fake/include"
  cp -a "$A/bindings" "$fake/bindings"
  rm -rf "$fake/bindings/php/lib"
  ln -s "$ROOT/tests" "$fake/tests"
  ln -s "$ROOT/scripts" "$fake/scripts"
  ln -s "$ROOT/Cargo.toml" "$fake/Cargo.toml"
  local lang
  for lang in php csharp cpp; do
    if [ ! -f "$ROOT/bindings/$lang/test.sh" ]; then
      bad "$L: bindings/$lang/test.sh is missing from the repository"
      continue
    fi
    cp "$ROOT/bindings/$lang/test.sh" "$fake/bindings/$lang/"
    [ -d "$ROOT/bindings/$lang/tests" ] && cp -a "$ROOT/bindings/$lang/tests" "$fake/bindings/$lang/"
    local log="$WORK/binding-$lang.log"
    WDT_ROOT="$fake" WDT_LIB="$so" WDT_MOCK="$A/bin/wdt-mock" timeout 1200 bash "$fake/bindings/$lang/test.sh" >"$log" 2>&1
    local rc=$? last
    last=$(tail -n1 "$log")
    if [ $rc -eq 0 ]; then
      ok "$L: the archive's bindings/$lang with the repository's tests: $last"
    else
      bad "$L: the archive's bindings/$lang with the repository's tests (exit $rc): $last"
      tail -n 30 "$log" | sed 's/^/      | /'
    fi
  done
}

# composer_install_only LABEL ARCHIVE LIBNAME: a Windows archive's PHP package installs with
# Composer and carries its DLL (PHP for Windows cannot run here; the Linux archive's test runs
# a script through the same package).
composer_install_only() {
  local L=$1 A=$2 lib=$3 p="$WORK/composer-$(basename "$2")"
  mkdir -p "$p"
  printf '{"repositories":[{"packagist.org":false},{"type":"path","url":"%s","options":{"symlink":false}}],"require":{"libwdt/wdt":"%s"},"config":{"platform-check":false}}\n' \
    "$A/bindings/php" "$version" >"$p/composer.json"
  check "$L: composer install libwdt/wdt $version from the archive; vendor/libwdt/wdt/lib/$lib is the archive's" bash -c "
    cd '$p' && COMPOSER_HOME='$WORK/composer-home' COMPOSER_NO_AUDIT=1 composer install --no-interaction --no-progress 2>&1 &&
      cmp '$p/vendor/libwdt/wdt/lib/$lib' '$A/bin/$lib'"
}

run_php() { (unset WDT_LIB; timeout 300 php -d ffi.enable=1 "$1" "$WDT_MOCK_URL"); }

# composer_test LABEL ARCHIVE: the archive's bindings/php installed with Composer through a
# path repository into an empty project (no Packagist, nothing downloaded), then a script that
# uses only vendor/autoload.php runs a quick return against the double — the library comes from
# inside the installed package (WDT_LIB unset).
composer_test() {
  local L=$1 A=$2 p="$WORK/composer-$(basename "$2")"
  mkdir -p "$p"
  cat >"$p/composer.json" <<JSON
{
    "name": "example/till-backoffice",
    "repositories": [
        {"packagist.org": false},
        {"type": "path", "url": "$A/bindings/php", "options": {"symlink": false}}
    ],
    "require": {"libwdt/wdt": "$version"}
}
JSON
  check "$L: composer validate: the archive's bindings/php/composer.json" \
    env COMPOSER_HOME="$WORK/composer-home" composer validate --no-interaction --no-check-publish "$A/bindings/php/composer.json"
  check "$L: composer install libwdt/wdt $version from the archive into an empty project" bash -c "
    cd '$p' && COMPOSER_HOME='$WORK/composer-home' COMPOSER_NO_AUDIT=1 composer install --no-interaction --no-progress 2>&1" || return
  check "$L: the installed package carries its library (vendor/libwdt/wdt/lib/libwdt.so, a copy)" \
    bash -c "[ -f '$p/vendor/libwdt/wdt/lib/libwdt.so' ] && [ ! -L '$p/vendor/libwdt/wdt' ] && cmp -s '$p/vendor/libwdt/wdt/lib/libwdt.so' '$A/lib/libwdt.so'"
  cat >"$p/refund.php" <<'PHP'
<?php
// A back office's script: Composer's autoloader, nothing else.
require __DIR__ . '/vendor/autoload.php';

$lib = Wdt\Native::defaultLibraryPath();
if (strpos($lib, __DIR__ . '/vendor/libwdt/wdt/lib/') !== 0) {
    fwrite(STDERR, "library not from the package: $lib\n");
    exit(1);
}
echo 'library: ', $lib, ' (', Wdt\Client::libraryVersion(), ")\n";
$client = new Wdt\Client([
    'url' => $argv[1],
    'sid' => 'wdtapi3',
    'appkey' => 'wdt_test',
    'appsecret' => 'testsecret:testsalt',
]);
$out = $client->smartRefundUpload([
    'refundInfo' => ['tid' => 'pos-6776312', 'return_warehouse_no' => 'pos', 'remark' => 'composer'],
    'detailMapList' => [['spec_no' => 'RRWDMS018040S', 'stockin_num' => 1, 'remark' => 'POS 退货测试']],
    'createPreStockin' => false,
]);
echo json_encode($out, JSON_UNESCAPED_UNICODE), "\n";
exit(isset($out['stockin_id']) ? 0 : 1);
PHP
  check "$L: a script through Composer's autoloader runs a quick return against the archive's double" \
    serve_mock run_php "$p/refund.php"
}

# docs_run ARCHIVE DOC: the code blocks of DOC marked for test-dist, extracted from the Markdown
# (never a copy kept here) and run in order by bash in a fresh copy of the unpacked archive (the
# PHP README: in an empty project directory; its example path /opt/libwdt is the copy).
# A "file NAME" block is written to NAME; a "run" block is run with bash -e and must exit 0 (and
# print TEXT for "run expect=TEXT"); after a block that starts something with "&", the next
# waits for 127.0.0.1:9876. Everything it started is killed at the end (its own process group).
docs_run() {
  local A=$1 doc=$2 w
  w=$(mktemp -d "$WORK/docs-run.XXXXXX")
  cp -a "$A" "$w/archive" || return 1
  local cwd="$w/archive"
  # A PHP quick start works in the application's own directory; the others in the archive's.
  case "$doc" in bindings/php/*) cwd="$w/project"; mkdir -p "$cwd" ;; esac
  python3 - "$w/archive/$doc" "$w/archive" "$cwd" "$w/main.sh" <<'PY' || return 1
import re, shlex, sys
doc, archive, cwd, out = sys.argv[1:5]
text = open(doc, encoding="utf-8").read()
marker = re.compile(r"^<!-- test-dist: (file (\S+)|run(?: expect=(.*?))?) -->\n```[a-z]*\n(.*?)^```", re.M | re.S)
lines = ["set -e", "cd %s" % shlex.quote(cwd)]
n = 0
for m in marker.finditer(text):
    n += 1
    code = m.group(4).replace("/opt/libwdt", archive)
    block = "%s/block-%d" % (cwd, n)
    lines.append("cat > %s <<'WDT_DOC_BLOCK'\n%sWDT_DOC_BLOCK" % (shlex.quote(block), code))
    if m.group(2):
        lines.append("cp %s %s" % (shlex.quote(block), shlex.quote(m.group(2))))
        lines.append("echo '--- block %d: file %s'" % (n, m.group(2)))
        continue
    lines.append("echo '--- block %d: run'; cat %s" % (n, shlex.quote(block)))
    lines.append("if ! bash -e %s >%s.out 2>&1; then cat %s.out; echo 'block %d failed'; exit 1; fi; cat %s.out"
                 % ((shlex.quote(block),) * 3 + (n, shlex.quote(block))))
    if m.group(3):
        lines.append("grep -qF %s %s.out || { echo 'block %d did not print %s'; exit 1; }"
                     % (shlex.quote(m.group(3)), shlex.quote(block), n, m.group(3).replace("'", "")))
    if re.search(r"&\s*(#.*)?$", code, re.M):
        lines.append("for i in $(seq 1 600); do (exec 3<>/dev/tcp/127.0.0.1/9876) 2>/dev/null && break; sleep 0.1; done")
if n == 0:
    sys.exit("%s has no <!-- test-dist: --> blocks" % doc)
lines.append("echo '%d blocks of %s ran'" % (n, doc.split(archive + "/", 1)[-1]))
open(out, "w").write("\n".join(lines) + "\n")
PY
  local netns=()
  # A private loopback: the documented port 9876 is ours whatever else runs on this machine.
  if unshare -rn true 2>/dev/null; then netns=(unshare -rn); fi
  # The archive alone: no library from the caller's environment.
  env -u WDT_LIB "${netns[@]}" bash -c '
    command -v ip >/dev/null && ip link set lo up 2>/dev/null
    setsid bash "$1" & pid=$!
    wait $pid; rc=$?
    kill -- -$pid 2>/dev/null
    exit $rc' _ "$w/main.sh"
}

run_example() {
  local out rc
  out=$(timeout 300 "$@" "$WDT_MOCK_URL" 2>&1)
  rc=$?
  printf '%s\n' "$out"
  [ $rc -eq 0 ] && printf '%s\n' "$out" | grep -q '"ok": *true'
}

# run_check [RUNNER...] PROGRAM OUTDIR
run_check() { local out=${*: -1} n=$(($# - 1)); timeout 300 "${@:1:$n}" "$WDT_MOCK_URL" "$out"; }

# ---------------------------------------------------------------- Windows
# wine_env ARCH: exports the environment of the Wine for ARCH (its own prefix) and sets WINE to
# its loader.
wine_env() {
  export WINEPREFIX="$WORK/wineprefix-$1" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
  if [ "$1" = x64 ]; then
    WINE=$WDT_WINE64
  else
    export WINEARCH=win32 WINESERVER="$WDT_WINESERVER"
    WINE=$WDT_WINE32
  fi
}

# Runs a Windows program under the Wine for ARCH.
wine_run() {
  local arch=$1
  shift
  ( wine_env "$arch"; timeout 300 "$WINE" "$@" )
}

# with_wine_mock ARCH EXE FUNCTION ARGS...: serve_mock with the archive's own double
# (bin/wdt-mock.exe) started under the same Wine as the programs, so the demo is proven from
# the archive alone.
with_wine_mock() (
  local arch=$1 exe=$2
  shift 2
  wine_env "$arch"
  MOCK_CMD=("$WINE" "$exe")
  serve_mock "$@"
)

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
  local f bins=() pb
  for pb in "${WDT_DIST_BINS[@]}"; do bins+=("bin/${pb#*:}.exe"); done
  check_layout "$arch" "$A" bin/wdt.dll bin/Wdt.Net.dll lib/libwdt.dll.a lib/wdt.def include/wdt.h README.md LICENSE INSTALL.md \
    bindings/c/example.c "${bins[@]}" bindings/php/composer.json bindings/php/lib/wdt.dll
  check "$arch: bindings/php/lib/wdt.dll is bin/wdt.dll" cmp "$A/bin/wdt.dll" "$A/bindings/php/lib/wdt.dll"
  for f in "${bins[@]}"; do
    local extra="" g
    check "$arch: $f is $format" bash -c "objdump -f '$A/$f' | grep -q 'file format $format'"
    for g in $(pe_dll_names "$A/$f"); do
      case " $WDT_ALLOWED_DLLS " in *" $g "*) ;; *) extra="$extra $g" ;; esac
    done
    check "$arch: $f imports only system DLLs" test -z "$extra" || echo "      not allowed:$extra"
  done
  composer_install_only "$arch" "$A" wdt.dll
  local dll="$A/bin/wdt.dll"
  echo "   objdump -f: $(objdump -f "$dll" | sed -n 's/.*file format //p'), $(objdump -f "$dll" | sed -n 's/^architecture: \([^,]*\).*/\1/p')"
  no_crash_hooks "$arch" "$dll" "$A/bindings/php/lib/wdt.dll"
  check "$arch: a till's DLL, without the server stores' drivers" bash -c "! grep -aqF 'FOR UPDATE SKIP LOCKED' '$dll'"
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
  check "$arch: example.exe runs a quick return under Wine against the archive's wdt-mock.exe" \
    with_wine_mock "$arch" "$A/bin/wdt-mock.exe" run_example_wine "$arch" "$b/example.exe"
  check "$arch: dist-check.exe runs under Wine against the archive's wdt-mock.exe" \
    with_wine_mock "$arch" "$A/bin/wdt-mock.exe" run_check_wine "$arch" "$b/dist-check.exe" "$b/out"
  echo "   Wine output tail (dist-check.exe, $arch):"
  tail -n 9 "$b/dist-check-$arch.log" 2>/dev/null | indent
  check_envelopes "$b/out" "Windows $arch"
  WINEPREFIX="$WORK/wineprefix-$arch" "$WDT_WINESERVER" -k >/dev/null 2>&1 || true
}

start=$SECONDS
echo "== scripts/check-glibc.sh --self-test (the floor check fails on a newer symbol and a foreign library)"
bash "$ROOT/scripts/check-glibc.sh" --floor "$WDT_GLIBC_FLOOR" --self-test 2>&1 | indent
check "check-glibc.sh fails on arc4random (GLIBC_2.36) and on libstdc++, passes an old-symbol library" \
  bash "$ROOT/scripts/check-glibc.sh" --floor "$WDT_GLIBC_FLOOR" --self-test
if [ $linux = 1 ]; then
  for t in "${WDT_LINUX_TARGETS[@]}"; do
    s=$SECONDS
    linux_tests "$(linux_arch "$t")" "$t"
    echo "   (Linux $(linux_arch "$t"): $((SECONDS - s)) s)"
  done
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
