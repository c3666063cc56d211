#!/usr/bin/env bash
# Installs the Windows cross toolchain and the Wine that runs its output, on Debian 12
# (bookworm), as root or with sudo. Idempotent: run it as often as you like; what is already
# there is kept.
#
#   bash scripts/cross/setup.sh            # toolchain + 64-bit Wine + private 32-bit Wine
#   bash scripts/cross/setup.sh --no-wine  # only what scripts/dist.sh --windows needs
#
# What it does (see scripts/cross/env.sh for why):
#   1. apt-get: rustc-web, cargo-web, rust-web-src (a second Rust in /usr/bin and std's source;
#      rustup's toolchain in ~/.cargo/bin stays the default), gcc-mingw-w64-{x86-64,i686}-win32,
#      zip/unzip, and wine64 (+ patchelf, libz-mingw-w64) unless --no-wine.
#   2. Builds rsbegin.o/rsend.o for each target from std's source into the cache
#      ($WDT_CROSS_CACHE, default ~/.cache/libwdt-cross): the i686 link needs them and
#      -Zbuild-std does not make them.
#   3. 32-bit Wine: Debian's wine32:i386 cannot be installed here, so its packages (and a
#      private i386 libc) are downloaded and unpacked into $WDT_CROSS_CACHE/wine32, patched to
#      use that private libc, and the i386 architecture is removed from dpkg again at once
#      (leaving it would make every later `apt-get update` fail on this mirror).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=env.sh
source "$here/env.sh"

with_wine=1
for a in "$@"; do
  case "$a" in
    --no-wine) with_wine=0 ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "setup: unknown option $a" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
APT_OPTS=(-y -q -o DPkg::Lock::Timeout=600)
log() { echo "cross/setup: $*"; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

pkgs=(rustc-web cargo-web rust-web-src gcc-mingw-w64-x86-64-win32 gcc-mingw-w64-i686-win32
      binutils-mingw-w64-x86-64 binutils-mingw-w64-i686 zip unzip file)
if [ $with_wine = 1 ]; then pkgs+=(wine64 libz-mingw-w64 patchelf); fi
missing=()
for p in "${pkgs[@]}"; do installed "$p" || missing+=("$p"); done
updated=0
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  $SUDO apt-get update -q -o DPkg::Lock::Timeout=600 >/dev/null
  updated=1
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" install \
    --no-install-recommends "${missing[@]}" >/dev/null
fi

# The binaries this route relies on (rustc-web installs them as /usr/bin/rustc and cargo).
for t in "$WDT_CROSS_RUSTC" "$WDT_CROSS_CARGO" x86_64-w64-mingw32-gcc i686-w64-mingw32-gcc; do
  command -v "$t" >/dev/null || { log "missing $t after install"; exit 1; }
done
sysroot=$("$WDT_CROSS_RUSTC" --print sysroot)
stdsrc="$sysroot/lib/rustlib/src/rust/library"
[ -f "$stdsrc/Cargo.lock" ] || { log "no std source at $stdsrc (rust-web-src)"; exit 1; }
for t in "${WDT_CROSS_TARGETS[@]}"; do
  "$WDT_CROSS_RUSTC" --print target-list | grep -qx "$t" ||
    { log "$WDT_CROSS_RUSTC does not know the target $t"; exit 1; }
done

# 2. rsbegin.o / rsend.o, the way Rust's bootstrap makes them (rustc --emit=obj).
mkdir -p "$WDT_CROSS_CACHE"
rv=$("$WDT_CROSS_RUSTC" -V)
for t in "${WDT_CROSS_TARGETS[@]}"; do
  d=$(cross_rtstartup_dir "$t")
  if [ -f "$d/rsbegin.o" ] && [ -f "$d/rsend.o" ] && [ "$(cat "$d/rustc-version" 2>/dev/null)" = "$rv" ]; then
    continue
  fi
  log "building rsbegin.o/rsend.o for $t"
  mkdir -p "$d"
  for f in rsbegin rsend; do
    RUSTC_BOOTSTRAP=1 "$WDT_CROSS_RUSTC" --target "$t" --emit=obj -o "$d/$f.o" "$stdsrc/rtstartup/$f.rs"
  done
  echo "$rv" >"$d/rustc-version"
done

if [ $with_wine = 0 ]; then log "ok (no Wine)"; exit 0; fi

# 3. The private 32-bit Wine.
w=$WDT_WINE32_ROOT
if [ -x "$w/usr/lib/wine/wine" ] && [ -f "$w/.complete" ]; then
  log "ok (32-bit Wine already in $w)"
  exit 0
fi
debs="$WDT_CROSS_CACHE/wine32-debs"
rm -rf "$debs" "$w"
mkdir -p "$debs" "$w"
added_i386=0
if ! dpkg --print-foreign-architectures | grep -qx i386; then
  $SUDO dpkg --add-architecture i386
  added_i386=1
fi
remove_i386() {
  if [ $added_i386 = 1 ]; then
    # Nothing of i386 was installed (only downloaded), so dpkg lets the architecture go.
    $SUDO dpkg --remove-architecture i386 || log "WARNING: could not remove the i386 architecture"
    $SUDO apt-get update -q -o DPkg::Lock::Timeout=600 >/dev/null ||
      log "WARNING: apt-get update failed after removing i386"
    added_i386=0
  fi
}
trap remove_i386 EXIT
log "downloading wine32:i386, libwine:i386, libc6:i386, libgcc-s1:i386"
# The i386 index of the security suite may be broken on this mirror: a partial update is fine,
# the packages below come from the main suite.
$SUDO apt-get update -q -o DPkg::Lock::Timeout=600 >/dev/null 2>&1 || true
ver=$(dpkg-query -W -f='${Version}' wine64)
# apt-get download writes as the _apt user when it can; the folder is root's, so fall back
# quietly to root (the warning about it is harmless).
(cd "$debs" && apt-get download -q "wine32:i386=$ver" "libwine:i386=$ver" libc6:i386 libgcc-s1:i386 2>&1 |
  grep -vE 'unsandboxed|^Get:' || true)
remove_i386
trap - EXIT
for d in "$debs"/*.deb; do dpkg-deb -x "$d" "$w"; done
[ -x "$w/usr/lib/wine/wine" ] || { log "wine32 did not unpack into $w"; exit 1; }
rm -rf "$debs"

# Use the private libc: absolute interpreter, and DT_RPATH (not RUNPATH) so that Wine's
# dlopen()ed unix libraries (win32u.so needs libm) find it too.
patchelf --set-interpreter "$w/lib/ld-linux.so.2" --force-rpath --set-rpath "$w/lib/i386-linux-gnu" \
  "$w/usr/lib/wine/wine"
# What libwine's postinst would do: zlib1.dll from libz-mingw-w64, marked as a Wine builtin.
in=/usr/i686-w64-mingw32/lib/zlib1.dll
out="$w/usr/lib/i386-linux-gnu/wine/i386-windows/zlib1.dll"
{ head -c 64 "$in"; printf 'Wine builtin DLL'; printf '\0%.0s' $(seq 16); tail -c +97 "$in"; } >"$out"
# The data files (wine.inf, fonts, nls) are architecture-independent: Debian's 64-bit ones.
for f in /usr/share/wine/*; do
  [ -e "$w/usr/share/wine/$(basename "$f")" ] || ln -s "$f" "$w/usr/share/wine/"
done

# Prove it starts: a throwaway prefix, a builtin program.
tp=$(mktemp -d)
WINEPREFIX="$tp" WINEDEBUG=-all WINEARCH=win32 WINESERVER="$WDT_WINESERVER" WINEDLLOVERRIDES="mscoree,mshtml=" \
  timeout 300 "$WDT_WINE32" cmd /c exit 7 >/dev/null 2>&1 && rc=0 || rc=$?
WINEPREFIX="$tp" "$WDT_WINESERVER" -k >/dev/null 2>&1 || true
rm -rf "$tp"
if [ "$rc" != 7 ]; then log "the private 32-bit Wine does not run (cmd /c exit 7 gave $rc)"; exit 1; fi
touch "$w/.complete"
log "ok (32-bit Wine in $w)"
