#!/usr/bin/env bash
# Fails when a released ELF file (libwdt.so, wdt-mock, …) would not load on the oldest Linux the
# archives promise: glibc 2.17 (CentOS 7, Alibaba Cloud Linux 2, Kylin/UOS on ARM64).
#
#   bash scripts/check-glibc.sh [--floor 2.17] FILE...
#   bash scripts/check-glibc.sh --self-test   # proves the check fails on a newer symbol and on
#                                             # a library outside the list (needs gcc, g++)
#
# For every FILE, from its dynamic section (readelf -W, any architecture):
#   - every version it needs (.gnu.version_r) whose name is GLIBC_x.y must be <= the floor, and
#     GLIBC_PRIVATE is never allowed (it changes with every glibc release);
#   - every DT_NEEDED library must be one of libc, libm, libdl, libpthread, libgcc_s or the
#     dynamic loader (ld-linux*): what every glibc system has, nothing to install.
# Prints, per file, the highest GLIBC version and the imported symbols that need it.
# Exit status 0 when every file passes, 1 otherwise.
set -uo pipefail

floor=2.17
self_test=0
files=()
while [ $# -gt 0 ]; do
  case "$1" in
    --floor) floor=$2; shift 2 ;;
    --floor=*) floor=${1#--floor=}; shift ;;
    --self-test) self_test=1; shift ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) files+=("$1"); shift ;;
  esac
done

ALLOWED_NEEDED='^(libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|libgcc_s\.so\.1|ld-linux[-a-z0-9_.]*\.so\.[0-9]+)$'

# version_le A B: A <= B as dotted versions.
version_le() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" = "$1" ]; }

check_file() {
  local f=$1 bad=0 needed versions v highest="" lib
  if [ ! -f "$f" ]; then echo "check-glibc: $f: no such file"; return 1; fi
  if ! readelf -h "$f" >/dev/null 2>&1; then echo "check-glibc: $f: not an ELF file"; return 1; fi
  needed=$(readelf -W -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\].*/\1/p')
  # .gnu.version_r: "  0x0010: Name: GLIBC_2.17  Flags: none  Version: 3"
  versions=$(readelf -W -V "$f" | sed -n 's/.*Name: \(GLIBC_[A-Z0-9_.]*\) .*/\1/p' | sort -u)
  for lib in $needed; do
    if ! [[ $lib =~ $ALLOWED_NEEDED ]]; then
      echo "check-glibc: $f: FAIL: needs $lib (only libc, libm, libdl, libpthread, libgcc_s, ld-linux are allowed)"
      bad=1
    fi
  done
  for v in $versions; do
    case "$v" in
      GLIBC_PRIVATE)
        echo "check-glibc: $f: FAIL: needs GLIBC_PRIVATE ($(symbols_at "$f" "$v"))"
        bad=1
        continue ;;
    esac
    v=${v#GLIBC_}
    if [ -z "$highest" ] || ! version_le "$v" "$highest"; then highest=$v; fi
    if ! version_le "$v" "$floor"; then
      echo "check-glibc: $f: FAIL: needs GLIBC_$v > $floor: $(symbols_at "$f" "GLIBC_$v")"
      bad=1
    fi
  done
  # On aarch64 2.17 is glibc's first version, so every import is at it: name a few.
  local syms
  syms=$(symbols_at "$f" "GLIBC_$highest" | awk '{ for (i = 1; i <= NF && i <= 8; i++) printf "%s%s", (i > 1 ? " " : ""), $i; if (NF > 8) printf " … %d more", NF - 8 }')
  echo "check-glibc: $f: highest GLIBC_${highest:-none} ($syms); needs: $(echo $needed)"
  if [ $bad = 0 ]; then echo "check-glibc: $f: ok (floor glibc $floor)"; fi
  return $bad
}

# The imported symbols bound to VERSION, space separated.
symbols_at() {
  readelf -W --dyn-syms "$1" | awk -v v="$2" '$7 == "UND" { n = split($8, a, "@"); if (a[n] == v) print a[1] }' |
    sort -u | tr '\n' ' ' | sed 's/ $//'
}

if [ $self_test = 1 ]; then
  # Tiny libraries built against this machine's glibc, which is newer than the floor: the check
  # must fail on each, for the stated reason, and pass on one that uses only old symbols.
  t=$(mktemp -d)
  trap 'rm -rf "$t"' EXIT
  rc=0
  cat >"$t/newer.c" <<'EOF'
#include <stdlib.h>
/* arc4random: GLIBC_2.36. Any symbol newer than the floor would do. */
unsigned int wdt_selftest_random(void) { return arc4random(); }
EOF
  cat >"$t/old.c" <<'EOF'
#include <string.h>
/* strlen: GLIBC_2.2.5 on x86_64 (2.17 on aarch64), below the floor everywhere. */
size_t wdt_selftest_len(const char *s) { return strlen(s); }
EOF
  cat >"$t/cxx.cc" <<'EOF'
#include <string>
extern "C" unsigned long wdt_selftest_cxx(const char *s) { return std::string(s).size(); }
EOF
  gcc -shared -fPIC -o "$t/libnewer.so" "$t/newer.c" || { echo "self-test: gcc failed"; exit 1; }
  gcc -shared -fPIC -o "$t/libold.so" "$t/old.c" || { echo "self-test: gcc failed"; exit 1; }
  g++ -shared -fPIC -o "$t/libcxx.so" "$t/cxx.cc" || { echo "self-test: g++ failed"; exit 1; }
  expect() { # expect STATUS PATTERN FILE: the check exits STATUS and prints PATTERN
    local want=$1 pat=$2 f=$3 out got
    out=$(bash "$0" --floor "$floor" "$f" 2>&1)
    got=$?
    printf '%s\n' "$out" | sed 's/^/    /'
    if { [ "$want" = 0 ] && [ $got -ne 0 ]; } || { [ "$want" = 1 ] && [ $got -eq 0 ]; } ||
      ! printf '%s\n' "$out" | grep -qE "$pat"; then
      echo "self-test: FAIL: $(basename "$f"): exit $got, wanted $( [ "$want" = 0 ] && echo 0 || echo non-zero) and /$pat/"
      rc=1
    else
      echo "self-test: ok: $(basename "$f") gave exit $got as expected"
    fi
  }
  expect 1 "FAIL: needs GLIBC_2\.36 > $floor: arc4random" "$t/libnewer.so"
  expect 1 'FAIL: needs libstdc\+\+\.so\.6' "$t/libcxx.so"
  expect 0 "ok \(floor glibc $floor\)" "$t/libold.so"
  exit $rc
fi

[ ${#files[@]} -gt 0 ] || { echo "check-glibc: no files (see --help)" >&2; exit 2; }
status=0
for f in "${files[@]}"; do check_file "$f" || status=1; done
exit $status
