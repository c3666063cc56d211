#!/usr/bin/env bash
# Builds the release archives of libwdt into dist/.
#
#   bash scripts/dist.sh              # dist/libwdt-<version>-linux-{x86_64,aarch64}.tar.gz
#   bash scripts/dist.sh --arch x86_64   # only the Linux x86_64 archive (aarch64 also builds
#                                        # Rust's std from source: several times longer)
#   bash scripts/dist.sh --windows    # also dist/libwdt-<version>-windows-{x64,x86}.zip
#   bash scripts/dist.sh --windows --no-linux   # only the Windows archives
#
# --arch ARCH (x86_64 or aarch64; repeatable) picks the Linux archives; the default is both, as
# CI builds them. Run `bash scripts/setup.sh` once before (cargo-zigbuild, zig, cross gcc).
#
# Version: Cargo.toml's [package] version. dist/SHA256SUMS lists every archive in dist/ of that
# version; each archive also holds its own SHA256SUMS of its files.
#
# Every archive: include/wdt.h, bin/ (the programs of WDT_DIST_BINS in scripts/cross/env.sh:
# the gateway double wdt-mock, so the demo runs without credentials), bindings/ (without the
# bindings' test suites and .gitignore files), bindings/php as a Composer package with its
# native library in bindings/php/lib/ and the release's version, README.md, LICENSE,
# INSTALL.md (packaging/INSTALL.md: platforms and how to link), SHA256SUMS. The archive's
# README.md is packaging/README.archive.md (written for someone holding the archive: no cargo,
# no scripts/), and docs/ holds the pages of the contract a user needs (ARCHIVE_DOCS); a link in
# any shipped Markdown file to a page the archive does not hold becomes plain text, so every
# relative link resolves inside the archive (scripts/test-dist.sh checks it).
# Linux archives (libwdt-<v>-linux-{x86_64,aarch64}/), the library with the cargo feature
# server-stores (the outbox on MySQL/MariaDB and PostgreSQL besides SQLite, for back offices):
#   lib/libwdt.so.<v> (SONAME libwdt.so.<major>), lib/libwdt.so.<major> and lib/libwdt.so
#   (symlinks), lib/libwdt.a (debug info and LLVM bitcode stripped), lib/pkgconfig/wdt.pc
#   (relocatable: ${pcfiledir}), bin/wdt-mock.
#   Linked by zig (cargo-zigbuild; scripts/setup.sh installs it from PyPI) against glibc 2.17's
#   symbol versions, in target/zig (WDT_DIST_TARGET_DIR overrides); scripts/check-glibc.sh
#   refuses any shipped ELF file that needs a newer glibc or a library beyond the C runtime.
#   aarch64 builds std with Debian's Rust (`bash scripts/cross/setup.sh --no-wine` once). The
#   SONAME is given to the final link only (cargo rustc -- -C link-arg=...), so Cargo.toml and
#   build.rs stay as they are.
# Windows archives (libwdt-<v>-windows-{x64,x86}/), the library without server-stores (a till's
# outbox is SQLite):
#   bin/wdt.dll, bin/Wdt.Net.dll (the C# binding, .NET Framework 4.5+), bin/wdt-mock.exe, lib/libwdt.dll.a (GNU import library), lib/wdt.def (for
#   MSVC's lib.exe).
#   Cross-built for x86_64-win7-windows-gnu / i686-win7-windows-gnu (Windows 7 SP1 and later)
#   in target/cross; needs `bash scripts/cross/setup.sh --no-wine` (or without --no-wine) once.
#   Then scripts/nuget.sh, when the tree has it, makes the NuGet package from them.
#
# Archives are reproducible for a given commit: sorted entries, owner 0, mtimes set to the
# last commit's time (SOURCE_DATE_EPOCH overrides).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

linux=1 windows=0 arches=()
while [ $# -gt 0 ]; do
  case "$1" in
    --windows) windows=1 ;;
    --no-linux) linux=0 ;;
    --arch | --arch=*)
      if [ "$1" = --arch ]; then a=${2:-}; shift; else a=${1#--arch=}; fi
      case "$a" in x86_64 | aarch64) arches+=("$a") ;; *) echo "dist: --arch takes x86_64 or aarch64, not '$a'" >&2; exit 2 ;; esac ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "dist: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
# scripts/cross/env.sh turns WDT_LINUX_ARCHES into WDT_LINUX_TARGETS.
[ ${#arches[@]} -eq 0 ] || export WDT_LINUX_ARCHES="${arches[*]}"
# shellcheck source=cross/env.sh
source "$ROOT/scripts/cross/env.sh"

log() { echo "dist: $*"; }
die() { echo "dist: ERROR: $*" >&2; exit 1; }
t0=$SECONDS
phase_start=$SECONDS
phase() { log "$1 done in $((SECONDS - phase_start)) s"; phase_start=$SECONDS; }

version=$(sed -n '/^\[package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n1)
[ -n "$version" ] || die "no [package] version in Cargo.toml"
major=${version%%.*}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
DIST="$ROOT/dist"
mkdir -p "$DIST" "$ROOT/target"
# One run at a time per tree: two runs writing dist/ at once leave archives of mixed builds.
# scripts/nuget.sh, run from here, sees WDT_DIST_LOCK_HELD and does not take the lock again.
exec 9>"$ROOT/target/dist.lock"
flock -n 9 || die "another scripts/dist.sh (or scripts/nuget.sh) is writing dist/ in this tree (lock: target/dist.lock); wait for it to finish"
export WDT_DIST_LOCK_HELD=1
# A staging directory of this run only (two runs at once must not share one); kept, with the
# build logs, when the run fails.
STAGE=$(mktemp -d "$ROOT/target/dist-stage.XXXXXX")
trap 'rc=$?; if [ $rc -eq 0 ]; then rm -rf "$STAGE"; else echo "dist: logs kept in $STAGE" >&2; fi' EXIT

# The functions the header declares, sorted: what every library must export, nothing more.
header_functions() {
  sed -n 's/^[^#/ ].*[ *]\(wdt_[a-z0-9_]*\)(.*/\1/p' "$1" | LC_ALL=C sort -u
}

# The newest header that build.rs wrote for this build (always fresh, unlike include/wdt.h,
# which build.rs leaves alone under CI). Its OUT_DIR is under <target-dir>/release/build or,
# when cross-building, <target-dir>/<triple>/release/build: pass every candidate.
find_header() {
  local h d dirs=()
  for d in "$@"; do dirs+=("$d"/build/libwdt-*/out/wdt.h); done
  h=$(ls -t "${dirs[@]}" 2>/dev/null | head -n1 || true)
  [ -n "$h" ] || die "build.rs wrote no wdt.h under $*"
  if ! cmp -s "$h" include/wdt.h; then
    log "WARNING: include/wdt.h differs from the header generated for this build; shipping the generated one" >&2
  fi
  echo "$h"
}

# The pages of docs/ every archive carries: the contract and what its programs need. The code
# map, the build and the benchmarks are about the repository, not about using the archive.
ARCHIVE_DOCS=(abi.md outbox.md protocol.md hints.md cli.md bindings.md)

# What every archive holds besides the libraries.
copy_common() {
  local dir=$1 header=$2 f
  mkdir -p "$dir/include" "$dir/docs"
  cp "$header" "$dir/include/wdt.h"
  cp packaging/README.archive.md "$dir/README.md"
  cp LICENSE "$dir/"
  cp packaging/INSTALL.md "$dir/INSTALL.md"
  for f in "${ARCHIVE_DOCS[@]}"; do cp "docs/$f" "$dir/docs/$f"; done
  # bindings/: the files git knows or would add (tracked or untracked, not ignored), so build
  # output of the bindings' own tests (obj/, lib copies) stays out.
  if git rev-parse --git-dir >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard -- bindings
  else
    find bindings -type f -print0
  fi | while IFS= read -r -d '' f; do
    [ -f "$f" ] || continue
    # Nothing of the development tree: the bindings' own test suites need the repository
    # (its fixtures and the double's starter), and .gitignore files mean nothing to a user.
    case "/$f" in */.gitignore | */test.sh | */tests/*) continue ;; esac
    mkdir -p "$dir/$(dirname "$f")"
    cp -p "$f" "$dir/$f"
  done
  [ -d "$dir/bindings" ] || die "no bindings/ to ship"
  unlink_outside "$dir"
}

# unlink_outside DIR: in every Markdown file under DIR, a relative link whose file is not in DIR
# (docs/map.md, mock/README.md, BENCHMARKS.md…: pages about the repository) keeps its text and
# loses its target, so a reader of the unpacked archive never follows a dead link.
unlink_outside() {
  python3 - "$1" <<'PY' || die "cannot rewrite the archive's links"
import os, re, sys
root = os.path.realpath(sys.argv[1])
link = re.compile(r"\[([^\]\n]*)\]\(([^()\s]+)\)")
for d, _, files in os.walk(root):
    for name in files:
        if not name.endswith(".md"):
            continue
        path = os.path.join(d, name)
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        fenced, changed = False, []
        for i, line in enumerate(lines):
            if line.lstrip().startswith("```"):
                fenced = not fenced
                continue
            if fenced:
                continue
            def keep_or_drop(m):
                target = m.group(2)
                if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                    return m.group(0)
                file = target.split("#", 1)[0]
                full = os.path.realpath(os.path.join(os.path.dirname(path), file))
                if (full == root or full.startswith(root + os.sep)) and os.path.exists(full):
                    return m.group(0)
                changed.append(target)
                return m.group(1)
            lines[i] = link.sub(keep_or_drop, line)
        if changed:
            with open(path, "w", encoding="utf-8") as f:
                f.write("\n".join(lines))
            print("dist:   %s: unlinked %s" % (os.path.relpath(path, root), ", ".join(sorted(set(changed)))))
PY
}

# php_package DIR LIBRARY NAME: the PHP binding in DIR/bindings/php becomes a Composer package
# that carries its native library (lib/NAME, where Native::defaultLibraryPath() looks first
# after WDT_LIB), with the release's version, so that a project can install it through a path
# repository with no library to place by hand (see packaging/INSTALL.md).
php_package() {
  local dir=$1 lib=$2 libname=$3 p="$1/bindings/php"
  [ -f "$p/composer.json" ] || die "no bindings/php/composer.json to ship"
  mkdir -p "$p/lib"
  cp "$lib" "$p/lib/$libname"
  # A path repository takes the version from composer.json; the development tree's test
  # script is not shipped, so its "scripts" entry goes too.
  python3 - "$p/composer.json" "$version" <<'PY' || die "cannot rewrite bindings/php/composer.json"
import json, sys
path, version = sys.argv[1], sys.argv[2]
with open(path, encoding="utf-8") as f:
    pkg = json.load(f)
out = {}
for k, v in pkg.items():
    if k == "scripts":
        continue
    out[k] = v
    if k == "name":
        out["version"] = version
out.setdefault("version", version)
with open(path, "w", encoding="utf-8") as f:
    f.write(json.dumps(out, ensure_ascii=False, indent=4) + "\n")
PY
}

# SHA256SUMS of every regular file of the archive directory (relative paths, sorted).
write_sums() {
  (cd "$1" && find . -type f ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort |
    tr '\n' '\0' | xargs -0 sha256sum -- >SHA256SUMS)
}

normalize_tree() {
  chmod -R u+rwX,go+rX,go-w "$1"
  find "$1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

# ---------------------------------------------------------------- Linux
if [ $linux = 1 ]; then
  command -v cargo-zigbuild >/dev/null || die "cargo-zigbuild is missing: run bash scripts/setup.sh"
  # Its own target dir by default (target/zig), so the release build never replaces
  # target/release/libwdt.so under tests running at the same time.
  tdir=${WDT_DIST_TARGET_DIR:-$ROOT/target/zig}
  for t in "${WDT_LINUX_TARGETS[@]}"; do
    arch=$(linux_arch "$t")
    log "building the Linux $arch library and programs (cargo-zigbuild, glibc $WDT_GLIBC_FLOOR, target dir $tdir)"
    blog="$STAGE/linux-$arch-build.log"
    # The SONAME and --print native-static-libs go to the final crate only.
    # With the server stores (MySQL/MariaDB, PostgreSQL): Linux archives serve back offices.
    if ! zig_cargo "$t" "$tdir" rustc --release --locked -p libwdt --lib --features server-stores -- \
      -C "link-arg=-Wl,-soname,libwdt.so.$major" --print native-static-libs >"$blog" 2>&1; then
      tail -n 40 "$blog" >&2
      die "the Linux $arch build failed (log: $blog)"
    fi
    mapfile -t binargs < <(dist_bin_args)
    if ! zig_cargo "$t" "$tdir" zigbuild --release --locked "${binargs[@]}" >>"$blog" 2>&1; then
      tail -n 40 "$blog" >&2
      die "the Linux $arch programs failed to build (log: $blog)"
    fi
    rel="$tdir/$t/release"
    so="$rel/libwdt.so"
    [ -f "$so" ] && [ -f "$rel/libwdt.a" ] || die "no libwdt.so/libwdt.a in $rel"
    soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
    [ "$soname" = "libwdt.so.$major" ] || die "libwdt.so has SONAME '$soname', not libwdt.so.$major"
    # -lgcc_s -lutil … : what a static link with libwdt.a needs besides libwdt.a.
    static_libs=$(sed -n 's/.*native-static-libs: //p' "$blog" | tail -n1)
    if [ -z "$static_libs" ]; then
      static_libs="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"
      log "rustc printed no native-static-libs (cargo did not replay it for an up-to-date build); using: $static_libs"
    fi
    header=$(find_header "$rel")
    [ "$(header_functions "$header")" = "$(readelf -W --dyn-syms "$so" | awk '$7 != "UND" && $8 ~ /^wdt_/ {print $8}' | LC_ALL=C sort -u)" ] ||
      die "libwdt.so's wdt_* exports differ from the functions in wdt.h"

    name="libwdt-$version-linux-$arch"
    d="$STAGE/$name"
    mkdir -p "$d/lib/pkgconfig" "$d/bin"
    cp "$so" "$d/lib/libwdt.so.$version"
    ln -s "libwdt.so.$version" "$d/lib/libwdt.so.$major"
    ln -s "libwdt.so.$major" "$d/lib/libwdt.so"
    # Without the embedded LLVM bitcode (only for cross-language LTO; it is 40 % of the file and
    # makes binutils' nm report "no symbols" where an older LLVM bfd plugin is installed) and
    # without debug info, as the .so is stripped too. objcopy of any architecture: host strip
    # knows only x86_64.
    strip_tool=strip
    [ "$arch" = x86_64 ] || strip_tool=$arch-linux-gnu-strip
    command -v "$strip_tool" >/dev/null || die "$strip_tool is missing: run bash scripts/setup.sh"
    "$strip_tool" --strip-debug -R .llvmbc -R .llvmcmd -o "$d/lib/libwdt.a" "$rel/libwdt.a"
    sed -e "s|@VERSION@|$version|g" -e "s|@LIBS_PRIVATE@|$static_libs|g" packaging/wdt.pc.in \
      >"$d/lib/pkgconfig/wdt.pc"
    for pb in "${WDT_DIST_BINS[@]}"; do
      [ -f "$rel/${pb#*:}" ] || die "no ${pb#*:} in $rel"
      cp "$rel/${pb#*:}" "$d/bin/"
    done
    # Every ELF file the archive ships loads on the glibc floor and needs only the C runtime.
    bash scripts/check-glibc.sh --floor "$WDT_GLIBC_FLOOR" "$d/lib/libwdt.so.$version" "$d"/bin/* |
      sed 's/^/  /' || die "a Linux $arch file needs more than glibc $WDT_GLIBC_FLOOR (above)"
    copy_common "$d" "$header"
    php_package "$d" "$d/lib/libwdt.so.$version" libwdt.so
    normalize_tree "$d"
    write_sums "$d"
    touch -h -d "@$SOURCE_DATE_EPOCH" "$d/SHA256SUMS" "$d"
    rm -f "$DIST/$name.tar.gz"
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
      --format=gnu -C "$STAGE" -cf - "$name" | gzip -9n >"$DIST/$name.tar.gz"
    log "wrote dist/$name.tar.gz ($(stat -c %s "$DIST/$name.tar.gz") bytes)"
    phase "Linux $arch"
  done
fi

# ---------------------------------------------------------------- Windows
if [ $windows = 1 ]; then
  command -v "$WDT_CROSS_CARGO" >/dev/null && [ -x "$WDT_CROSS_RUSTC" ] ||
    die "no cross toolchain: run bash scripts/cross/setup.sh first"
  command -v zip >/dev/null || die "zip is missing: run bash scripts/cross/setup.sh first"
  tdir="$ROOT/target/cross"
  # The managed C# assembly, built once for .NET Framework 4.5+: a user without NuGet copies it
  # next to the .exe with wdt.dll (their names differ, so they coexist on a case-blind disk).
  bash bindings/csharp/build.sh net45 "$STAGE/csharp-net45" >"$STAGE/csharp-build.log" 2>&1 ||
    { cat "$STAGE/csharp-build.log" >&2; die "could not build Wdt.Net.dll (mono-mcs, mono-devel)"; }
  for t in "${WDT_CROSS_TARGETS[@]}"; do
    [ "$t" != "${t#i686}" ] && [ ! -f "$(cross_rtstartup_dir "$t")/rsbegin.o" ] &&
      die "no rsbegin.o for $t: run bash scripts/cross/setup.sh first"
    arch=$(cross_arch "$t")
    mingw=$(cross_mingw "$t")
    log "cross-building wdt.dll for $t (Windows $arch)"
    blog="$STAGE/windows-$arch-build.log"
    # Only the cdylib: the Windows archives ship no static library, and each crate type
    # costs a full LTO pass.
    # No PE timestamp, so the same commit gives the same DLL (final link only: std and the
    # dependencies stay cached).
    if ! cross_cargo "$t" "$tdir" rustc --release --locked -p libwdt --lib --crate-type cdylib \
      -- -C link-arg=-Wl,--no-insert-timestamp >"$blog" 2>&1; then
      tail -n 40 "$blog" >&2
      die "the $t build failed (log: $blog)"
    fi
    # The programs: one cargo rustc each, for the same timestamp-free link.
    for pb in "${WDT_DIST_BINS[@]}"; do
      if ! cross_cargo "$t" "$tdir" rustc --release --locked -p "${pb%%:*}" --bin "${pb#*:}" \
        -- -C link-arg=-Wl,--no-insert-timestamp >>"$blog" 2>&1; then
        tail -n 40 "$blog" >&2
        die "the $t build of ${pb#*:} failed (log: $blog)"
      fi
    done
    rel="$tdir/$t/release"
    [ -f "$rel/wdt.dll" ] && [ -f "$rel/libwdt.dll.a" ] || die "no wdt.dll/libwdt.dll.a in $rel"
    header=$(find_header "$rel" "$tdir/release")
    [ "$(header_functions "$header")" = "$(pe_exports "$rel/wdt.dll")" ] ||
      die "wdt.dll ($arch) exports [$(pe_exports "$rel/wdt.dll" | tr '\n' ' ')], not the header's functions"

    name="libwdt-$version-windows-$arch"
    d="$STAGE/$name"
    mkdir -p "$d/bin" "$d/lib"
    cp "$rel/wdt.dll" "$d/bin/wdt.dll"
    cp "$rel/libwdt.dll.a" "$d/lib/libwdt.dll.a"
    cp "$STAGE/csharp-net45/Wdt.Net.dll" "$STAGE/csharp-net45/Wdt.Net.xml" "$d/bin/"
    bash packaging/gen-def.sh "$rel/wdt.dll" >"$d/lib/wdt.def"
    for pb in "${WDT_DIST_BINS[@]}"; do
      [ -f "$rel/${pb#*:}.exe" ] || die "no ${pb#*:}.exe in $rel"
      cp "$rel/${pb#*:}.exe" "$d/bin/"
    done
    # bindings/c/wdt.def is the hand-kept list: it must name the same functions.
    if [ -f bindings/c/wdt.def ]; then
      [ "$(sed -n '/^EXPORTS/,$s/^[[:space:]]*\(wdt_[a-z0-9_]*\).*/\1/p' bindings/c/wdt.def | LC_ALL=C sort)" = "$(pe_exports "$rel/wdt.dll")" ] ||
        die "bindings/c/wdt.def does not list the DLL's exports"
    fi
    copy_common "$d" "$header"
    php_package "$d" "$rel/wdt.dll" wdt.dll
    normalize_tree "$d"
    write_sums "$d"
    touch -h -d "@$SOURCE_DATE_EPOCH" "$d/SHA256SUMS" "$d"
    rm -f "$DIST/$name.zip"
    (cd "$STAGE" && find "$name" -print | LC_ALL=C sort | zip -X -q -9 "$DIST/$name.zip" -@)
    log "wrote dist/$name.zip ($(stat -c %s "$DIST/$name.zip") bytes; $("$mingw-objdump" -f "$rel/wdt.dll" | sed -n 's/.*file format //p'))"
    phase "Windows $arch"
  done
  # The NuGet package is made from the Windows archives (and the Linux x86_64 one) by the C#
  # packaging script, when the tree has it.
  if [ -f scripts/nuget.sh ] && [ $linux = 0 ] && [ ! -f "$DIST/libwdt-$version-linux-x86_64.tar.gz" ]; then
    # The package also carries runtimes/linux-x64 (Mono on Linux), taken from that archive.
    log "NuGet package NOT made: it needs dist/libwdt-$version-linux-x86_64.tar.gz, which --no-linux does not build;"
    log "  make it with: WDT_LINUX_ARCHES=x86_64 bash scripts/dist.sh && bash scripts/nuget.sh"
  elif [ -f scripts/nuget.sh ]; then
    log "scripts/nuget.sh (NuGet package from the release archives)"
    WDT_DIST="$DIST" bash scripts/nuget.sh || die "scripts/nuget.sh failed"
    phase "NuGet"
  fi
fi

(cd "$DIST" && find . -maxdepth 1 -type f \( -name "libwdt-$version-*.tar.gz" -o -name "libwdt-$version-*.zip" \) \
  -printf '%P\n' | LC_ALL=C sort | tr '\n' '\0' | xargs -0 -r sha256sum -- >SHA256SUMS)
log "dist/SHA256SUMS:"
sed 's/^/  /' "$DIST/SHA256SUMS"
log "done in $((SECONDS - t0)) s"
