#!/usr/bin/env bash
# Installs what the whole test suite needs on a fresh Debian/Ubuntu machine (as root, or with
# sudo): C/C++ compilers (g++ also builds libFuzzer), valgrind, PHP with FFI, mono, pkg-config,
# zip tools. Idempotent: packages already there are skipped by apt-get.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
APT=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=600)

PKGS=(gcc g++ make pkg-config valgrind php-cli mono-mcs mono-runtime libmono-system-core4.0-cil
      zip unzip xz-utils file binutils procps)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -q -o DPkg::Lock::Timeout=600 >/dev/null
  $SUDO "${APT[@]}" install --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: ok"
