# Sourced by scripts/cross/setup.sh, scripts/dist.sh and scripts/test-dist.sh: where the
# Windows cross toolchain lives and how to call it. Defines variables and functions only.
#
# The route (no rustup target can be downloaded here): Debian's rustc-web/cargo-web (a second,
# newer Rust in /usr/bin, next to rustup's default in ~/.cargo/bin) plus rust-web-src (std's
# source). With RUSTC_BOOTSTRAP=1 and -Zbuild-std, cargo builds std itself for the
# *-win7-windows-gnu targets, and Debian's mingw-w64 gcc links. Everything runs with its own
# CARGO_HOME and target dir, and only inside the functions below, so rustup's toolchain stays
# the default for everybody else.
#
# Why the win7 targets: std for the plain *-pc-windows-gnu targets imports ProcessPrng from
# bcryptprimitives.dll (Windows 8+; missing in Wine 8). The win7 targets do not, so the DLLs
# run on Windows 7 SP1 and every later Windows, which many tills still run.

WDT_CROSS_CACHE=${WDT_CROSS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/libwdt-cross}
WDT_CROSS_RUSTC=${WDT_CROSS_RUSTC:-/usr/bin/rustc}
WDT_CROSS_CARGO=${WDT_CROSS_CARGO:-/usr/bin/cargo}
WDT_CROSS_TARGETS=()
# WDT_WINDOWS_ARCHES="x64" narrows dist.sh and test-dist.sh to some Windows archives while
# iterating; CI builds and tests both.
for _a in ${WDT_WINDOWS_ARCHES:-x64 x86}; do
  case $_a in x64) WDT_CROSS_TARGETS+=(x86_64-win7-windows-gnu) ;; x86) WDT_CROSS_TARGETS+=(i686-win7-windows-gnu) ;; esac
done
unset _a
# The private 32-bit Wine (unpacked, not installed: see setup.sh).
WDT_WINE32_ROOT="$WDT_CROSS_CACHE/wine32"

# The mingw-w64 tool prefix of a Rust target.
cross_mingw() {
  case "$1" in
    x86_64-*) echo x86_64-w64-mingw32 ;;
    i686-*) echo i686-w64-mingw32 ;;
    *) echo "cross: unknown target $1" >&2; return 1 ;;
  esac
}

# The archive's architecture name of a Rust target.
cross_arch() {
  case "$1" in
    x86_64-*) echo x64 ;;
    i686-*) echo x86 ;;
    *) echo "cross: unknown target $1" >&2; return 1 ;;
  esac
}

# Where rsbegin.o/rsend.o of a target are kept (build-std does not make them; i686 links them).
cross_rtstartup_dir() { echo "$WDT_CROSS_CACHE/rtstartup/$1"; }

# cross_cargo TARGET TARGET_DIR CARGO-ARGS...: runs Debian's cargo for TARGET with build-std.
# A subshell, so nothing it exports leaks into the caller.
cross_cargo() {
  local target=$1 target_dir=$2
  shift 2
  local mingw tvar rt
  mingw=$(cross_mingw "$target") || return 1
  tvar=${target//-/_}
  rt=$(cross_rtstartup_dir "$target")
  (
    # Nothing from the caller's Rust setup may reach this build (RUSTFLAGS would replace the
    # per-target rustflags given below; RUSTUP_TOOLCHAIN would not matter but confuses).
    unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS CARGO_BUILD_TARGET \
      CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR RUSTC_WRAPPER CARGO_BUILD_RUSTC_WRAPPER \
      RUSTUP_TOOLCHAIN RUSTC_WORKSPACE_WRAPPER
    export RUSTC_BOOTSTRAP=1
    export CARGO_HOME="$WDT_CROSS_CACHE/cargo-home"
    export RUSTC="$WDT_CROSS_RUSTC" RUSTDOC="${WDT_CROSS_RUSTC%rustc}rustdoc"
    export PATH="/usr/bin:/bin:$PATH"
    # ring's build script compiles C and assembly for the target: name the compiler (cc-rs
    # does not know the win7 triples' tool prefix).
    export "CC_$tvar=$mingw-gcc" "AR_$tvar=$mingw-ar"
    # +crt-static: libgcc (and its unwinder) linked in, so the DLL needs only system DLLs.
    local flags="\"-C\",\"target-feature=+crt-static\""
    if [ -f "$rt/rsbegin.o" ]; then flags="$flags,\"-L\",\"native=$rt\""; fi
    # Global options only, before the caller's subcommand (which may end in "-- RUSTC-ARGS").
    exec "$WDT_CROSS_CARGO" -Zbuild-std=std,panic_unwind \
      --config "build.target=\"$target\"" \
      --config "build.target-dir=\"$target_dir\"" \
      --config "target.$target.linker=\"$mingw-gcc\"" \
      --config "target.$target.rustflags=[$flags]" \
      "$@"
  )
}

# Windows DLLs this library may import: all ship with Windows 7 SP1 and later.
WDT_ALLOWED_DLLS="kernel32.dll msvcrt.dll ntdll.dll ws2_32.dll bcrypt.dll advapi32.dll userenv.dll"
# Imports that would stop the DLL from loading on Windows 7 (or in Wine 8).
WDT_WIN8_IMPORTS="ProcessPrng GetSystemTimePreciseAsFileTime WaitOnAddress WakeByAddressSingle WakeByAddressAll CreateFile2 GetCurrentThreadStackLimits"

# pe_dll_names DLL: the imported DLL names, one a line, lower case.
pe_dll_names() {
  objdump -p "$1" | sed -n 's/^[[:space:]]*DLL Name: //p' | tr 'A-Z' 'a-z' | sort -u
}

# pe_exports DLL: the exported names, one a line.
pe_exports() {
  objdump -p "$1" | sed -n '/^\[Ordinal\/Name Pointer\] Table/,/^$/p' |
    sed -n 's/^[[:space:]]*\[[[:space:]]*[0-9]*\][[:space:]]*//p' | sort
}

# pe_imported_functions DLL: every imported function name.
pe_imported_functions() {
  objdump -p "$1" | awk '/DLL Name:/{f=1;next} /^$/{next} f && $1 ~ /^[0-9a-f]+$/ && NF>=3 {print $NF}' | sort -u
}

# The Wine loaders: Debian's wine64, and the private 32-bit one (run it with
# WINEARCH=win32 and WINESERVER=$WDT_WINESERVER, in a prefix of its own).
WDT_WINE64=/usr/lib/wine/wine64
WDT_WINE32="$WDT_WINE32_ROOT/usr/lib/wine/wine"
WDT_WINESERVER=/usr/lib/wine/wineserver64

# ---------------------------------------------------------------- Linux (zig)
# The Linux archives are linked by zig (cargo-zigbuild and ziglang from PyPI, installed by
# scripts/setup.sh) against glibc $WDT_GLIBC_FLOOR's symbol versions, so the library loads on
# CentOS 7 / Alibaba Cloud Linux 2 and every later glibc system, whatever glibc the build
# machine has. x86_64 uses rustup's toolchain (its std is installed); aarch64 has no rustup std
# here, so Debian's Rust (the Windows route above) builds std with -Zbuild-std and zig links.
WDT_GLIBC_FLOOR=2.17
WDT_LINUX_TARGETS=()
# WDT_LINUX_ARCHES="x86_64" narrows scripts/dist.sh and test-dist.sh to some Linux archives
# while iterating; CI builds and tests both.
for _a in ${WDT_LINUX_ARCHES:-x86_64 aarch64}; do WDT_LINUX_TARGETS+=("$_a-unknown-linux-gnu"); done
unset _a

# The programs every archive carries in bin/ next to the library, as cargo PACKAGE:BINARY.
# Adding a program to every archive (and to test-dist.sh's layout check) is one entry here.
WDT_DIST_BINS=(wdt-mock:wdt-mock)
# The `wdt` command line (cli/), in every archive once the workspace has it.
if [ -f "$(dirname "${BASH_SOURCE[0]}")/../../cli/Cargo.toml" ]; then WDT_DIST_BINS+=(wdt-cli:wdt); fi

# The archive's architecture name of a Linux target.
linux_arch() {
  case "$1" in
    x86_64-*) echo x86_64 ;;
    aarch64-*) echo aarch64 ;;
    *) echo "cross: unknown target $1" >&2; return 1 ;;
  esac
}

# cargo PACKAGE:BINARY pairs as `-p PACKAGE --bin BINARY` arguments.
dist_bin_args() {
  local pb
  for pb in "${WDT_DIST_BINS[@]}"; do printf '%s\n' -p "${pb%%:*}" --bin "${pb#*:}"; done
}

# zig_cargo TARGET TARGET_DIR SUBCOMMAND ARGS...: `cargo-zigbuild SUBCOMMAND` (zigbuild or rustc)
# for TARGET at the glibc floor; output in TARGET_DIR/TARGET/release. A subshell, like
# cross_cargo.
zig_cargo() {
  local target=$1 target_dir=$2 sub=$3
  shift 3
  command -v cargo-zigbuild >/dev/null || { echo "cross: cargo-zigbuild is missing: run bash scripts/setup.sh" >&2; return 1; }
  (
    unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS CARGO_BUILD_TARGET \
      CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR RUSTC_WRAPPER CARGO_BUILD_RUSTC_WRAPPER \
      RUSTC_WORKSPACE_WRAPPER RUSTC RUSTDOC
    local std=()
    if [ ! -d "$(rustc --print sysroot 2>/dev/null)/lib/rustlib/$target/lib" ]; then
      # No prebuilt std for TARGET: Debian's Rust builds it. cargo-zigbuild runs the `cargo`
      # it finds first on PATH, so a directory that holds only Debian's cargo and rustc goes
      # first (python3, which runs zig, stays the caller's).
      [ -x "$WDT_CROSS_RUSTC" ] || { echo "cross: no std for $target and no $WDT_CROSS_RUSTC: run bash scripts/cross/setup.sh --no-wine" >&2; exit 1; }
      local bin="$WDT_CROSS_CACHE/debian-rust-bin"
      mkdir -p "$bin"
      ln -sf "$WDT_CROSS_CARGO" "$bin/cargo"
      ln -sf "$WDT_CROSS_RUSTC" "$bin/rustc"
      export PATH="$bin:$PATH" RUSTC_BOOTSTRAP=1 CARGO_HOME="$WDT_CROSS_CACHE/cargo-home"
      export RUSTC="$WDT_CROSS_RUSTC"
      std=(-Zbuild-std=std,panic_unwind)
    fi
    exec cargo-zigbuild "$sub" "${std[@]}" --target "$target.$WDT_GLIBC_FLOOR" --target-dir "$target_dir" "$@"
  )
}

# Runs an aarch64 Linux program on this x86_64 machine: qemu-user with Debian's aarch64 libc
# (libc6-arm64-cross) as the root of the dynamic loader's search.
WDT_QEMU_AARCH64=qemu-aarch64
WDT_AARCH64_SYSROOT=/usr/aarch64-linux-gnu
