#!/usr/bin/env bash
# Installs what the whole test suite needs on a fresh Debian/Ubuntu machine (as root, or with
# sudo): C/C++ compilers (g++ also builds libFuzzer), valgrind, PHP with FFI and Composer (and php-fpm with cgi-fcgi from libfcgi-bin: the PHP binding's
# tests run it under a real PHP-FPM), mono
# (with xbuild, the NuGet client and WinForms for the C# package tests)
# (mono-devel: the reference assemblies scripts/nuget.sh builds against), pkg-config, zip tools;
# for the Linux release archives (scripts/dist.sh, test-dist.sh) the aarch64 cross gcc and libc
# (libc6-dev-arm64-cross) with qemu-user to run what it builds, and from PyPI cargo-zigbuild and ziglang (zig links the libraries against glibc 2.17);
# MariaDB and PostgreSQL servers and clients for the outbox's server stores
# (scripts/db-servers.sh starts them on 127.0.0.1; Debian 12: MariaDB 10.11, PostgreSQL 15).
# Idempotent: packages already there are skipped.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
APT=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=600)

PKGS=(gcc g++ make pkg-config valgrind php-cli mono-mcs mono-runtime libmono-system-core4.0-cil
      php-fpm libfcgi-bin zip unzip xz-utils file binutils procps composer qemu-user gcc-aarch64-linux-gnu
      libc6-dev-arm64-cross mono-devel mono-xbuild nuget libmono-system-windows-forms4.0-cil
      mariadb-server mariadb-client postgresql postgresql-client)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -q -o DPkg::Lock::Timeout=600 >/dev/null
  $SUDO "${APT[@]}" install --no-install-recommends "${missing[@]}" >/dev/null
fi
# Pinned: the same zig links the same archives on every machine.
ZIG_PKGS=(cargo-zigbuild==0.24.1 ziglang==0.15.2)
if ! command -v cargo-zigbuild >/dev/null || [ "$(cargo-zigbuild --version 2>/dev/null)" != "cargo-zigbuild 0.24.1" ] ||
  [ "$(python3 -m ziglang version 2>/dev/null)" != "0.15.2" ]; then
  echo "setup: pip install ${ZIG_PKGS[*]}"
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore "${ZIG_PKGS[@]}"
  hash -r
fi
command -v cargo-zigbuild >/dev/null || { echo "setup: cargo-zigbuild is not on PATH after pip install" >&2; exit 1; }
echo "setup: ok"
