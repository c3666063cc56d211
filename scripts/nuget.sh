#!/usr/bin/env bash
# Builds the NuGet package of the C# binding from the release archives in dist/:
#
#   bash scripts/nuget.sh        # dist/Wangdiantong.Wdt.<version>.nupkg
#
# Needs (made by scripts/dist.sh --windows, with the Linux archive of the same version):
#   dist/libwdt-<v>-windows-x86.zip, dist/libwdt-<v>-windows-x64.zip  (dist.sh --windows --no-linux)
#   dist/libwdt-<v>-linux-x86_64.tar.gz  (dist.sh, or WDT_LINUX_ARCHES=x86_64 dist.sh for just it)
# and mono-mcs + mono-devel (reference assemblies) for the managed builds.
#
# Package layout (every path is checked by scripts/test-nuget.sh):
#   Wangdiantong.Wdt.nuspec                        generated here; version from Cargo.toml
#   lib/net45/Wdt.Net.dll, lib/net45/Wdt.Net.xml   .NET Framework 4.5+ (taken from the Windows
#                                                  archives' bin/ when they carry it, else built)
#   lib/netstandard2.0/Wdt.Net.dll, .xml           .NET Core 2.0+, .NET 5+, Mono
#   runtimes/win-x86/native/wdt.dll                the x86 archive's bin/wdt.dll, byte for byte
#   runtimes/win-x64/native/wdt.dll                the x64 archive's bin/wdt.dll, byte for byte
#   runtimes/linux-x64/native/libwdt.so            the Linux archive's lib/libwdt.so.<v>
#   build/Wangdiantong.Wdt.targets                 copies the natives to x86\ and x64\ (.NET Framework)
#   buildTransitive/Wangdiantong.Wdt.targets       the same for transitive PackageReference
#   README.md, LICENSE.txt
#   [Content_Types].xml, _rels/.rels, package/services/metadata/core-properties/*.psmdcp
#                                                  (the OPC parts NuGet 2.x clients require)
# Reproducible for a commit: sorted entries, mtimes from SOURCE_DATE_EPOCH (default: the last
# commit's time), except the managed assemblies when they are built here (mcs stamps an MVID).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
ID=Wangdiantong.Wdt
DIST=${WDT_DIST:-$ROOT/dist}
die() { echo "nuget: ERROR: $*" >&2; exit 1; }
log() { echo "nuget: $*"; }

version=$(sed -n '/^\[package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n1)
[ -n "$version" ] || die "no [package] version in Cargo.toml"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
for t in zip unzip tar mcs; do command -v "$t" >/dev/null || die "$t is missing (scripts/setup.sh installs it)"; done

x86_zip="$DIST/libwdt-$version-windows-x86.zip"
x64_zip="$DIST/libwdt-$version-windows-x64.zip"
linux_tgz="$DIST/libwdt-$version-linux-x86_64.tar.gz"
for f in "$x86_zip" "$x64_zip"; do
  [ -f "$f" ] || die "missing ${f#"$ROOT"/} (bash scripts/cross/setup.sh --no-wine && bash scripts/dist.sh --windows --no-linux builds it)"
done
[ -f "$linux_tgz" ] || die "missing ${linux_tgz#"$ROOT"/}, whose libwdt.so the package carries as runtimes/linux-x64 (WDT_LINUX_ARCHES=x86_64 bash scripts/dist.sh builds it; bash scripts/dist.sh --windows builds it and every other archive)"
# Not while scripts/dist.sh rewrites dist/ (it runs this script itself, holding the lock).
if [ -z "${WDT_DIST_LOCK_HELD:-}" ]; then
  mkdir -p "$ROOT/target"
  exec 9>"$ROOT/target/dist.lock"
  flock -n 9 || die "scripts/dist.sh is writing dist/ in this tree (lock: target/dist.lock); wait for it to finish"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/wdt-nuget.XXXXXX")
trap 'rm -rf "$work"' EXIT
pkg="$work/pkg"
mkdir -p "$pkg"/lib/net45 "$pkg"/lib/netstandard2.0 "$pkg"/runtimes/win-x86/native \
  "$pkg"/runtimes/win-x64/native "$pkg"/runtimes/linux-x64/native "$pkg"/build "$pkg"/buildTransitive \
  "$pkg"/_rels "$pkg"/package/services/metadata/core-properties

# ---- the natives: the very files of the release archives
unzip -q "$x86_zip" -d "$work/x86"
unzip -q "$x64_zip" -d "$work/x64"
tar -xzf "$linux_tgz" -C "$work"
cp "$work/x86/libwdt-$version-windows-x86/bin/wdt.dll" "$pkg/runtimes/win-x86/native/wdt.dll"
cp "$work/x64/libwdt-$version-windows-x64/bin/wdt.dll" "$pkg/runtimes/win-x64/native/wdt.dll"
cp -L "$work/libwdt-$version-linux-x86_64/lib/libwdt.so.$version" "$pkg/runtimes/linux-x64/native/libwdt.so"

# ---- the managed assembly
net45_from_zip=0
for arch in x86 x64; do
  b="$work/$arch/libwdt-$version-windows-$arch/bin"
  [ -f "$b/Wdt.Net.dll" ] && net45_from_zip=$((net45_from_zip + 1))
done
if [ $net45_from_zip = 2 ]; then
  b86="$work/x86/libwdt-$version-windows-x86/bin" b64="$work/x64/libwdt-$version-windows-x64/bin"
  cmp -s "$b86/Wdt.Net.dll" "$b64/Wdt.Net.dll" || die "the x86 and x64 archives carry different Wdt.Net.dll"
  cp "$b86/Wdt.Net.dll" "$pkg/lib/net45/"
  if [ -f "$b86/Wdt.Net.xml" ]; then cp "$b86/Wdt.Net.xml" "$pkg/lib/net45/"; fi
  log "lib/net45/Wdt.Net.dll from the Windows archives"
elif [ $net45_from_zip = 0 ]; then
  bash bindings/csharp/build.sh net45 "$pkg/lib/net45" || die "could not build Wdt.Net.dll for net45"
  log "lib/net45/Wdt.Net.dll built here (the Windows archives carry none)"
else
  die "only one Windows archive carries bin/Wdt.Net.dll"
fi
if [ ! -f "$pkg/lib/net45/Wdt.Net.xml" ]; then # IntelliSense text only; same source
  bash bindings/csharp/build.sh net45 "$work/xmldoc" && cp "$work/xmldoc/Wdt.Net.xml" "$pkg/lib/net45/"
fi
bash bindings/csharp/build.sh netstandard2.0 "$pkg/lib/netstandard2.0" ||
  die "could not build Wdt.Net.dll for netstandard2.0"

# ---- MSBuild rules, docs
cp bindings/csharp/build/$ID.targets "$pkg/build/$ID.targets"
cp bindings/csharp/buildTransitive/$ID.targets "$pkg/buildTransitive/$ID.targets"
cp bindings/csharp/README.md "$pkg/README.md"
cp LICENSE "$pkg/LICENSE.txt"

# ---- nuspec (schema 2012/06: what NuGet 2.8 clients read; newer clients read it too)
cat >"$pkg/$ID.nuspec" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2012/06/nuspec.xsd">
  <metadata>
    <id>$ID</id>
    <version>$version</version>
    <title>libwdt for .NET: 旺店通旗舰版开放接口 (快速退货 and every other method)</title>
    <authors>libwdt</authors>
    <owners>libwdt</owners>
    <requireLicenseAcceptance>false</requireLicenseAcceptance>
    <description>旺店通旗舰版 open API client for point-of-sale software: 快速退货 wms.stockin.SmartRefund.upload and any other method, over the native libwdt $version (wdt.dll for Windows x86 and x64, libwdt.so for Linux x64, all inside). Namespace Wdt, assembly Wdt.Net.dll; .NET Framework 4.5+ (x86, x64, AnyCPU, Prefer 32-bit) and .NET Standard 2.0. MIT licensed (LICENSE.txt).</description>
    <summary>旺店通旗舰版 open API for C# tills: one package, x86 and x64 wdt.dll inside.</summary>
    <tags>wdt wangdiantong 旺店通 erp pos refund</tags>
    <dependencies>
      <group targetFramework=".NETFramework4.5" />
      <group targetFramework=".NETStandard2.0" />
    </dependencies>
  </metadata>
</package>
EOF

# ---- OPC parts
psmdcp="package/services/metadata/core-properties/0a1b2c3d4e5f4a5b8c9d0e1f2a3b4c5d.psmdcp"
cat >"$pkg/[Content_Types].xml" <<'EOF'
<?xml version="1.0" encoding="utf-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml" /><Default Extension="psmdcp" ContentType="application/vnd.openxmlformats-package.core-properties+xml" /><Default Extension="nuspec" ContentType="application/octet" /><Default Extension="dll" ContentType="application/octet" /><Default Extension="xml" ContentType="application/octet" /><Default Extension="so" ContentType="application/octet" /><Default Extension="targets" ContentType="application/octet" /><Default Extension="md" ContentType="application/octet" /><Default Extension="txt" ContentType="application/octet" /></Types>
EOF
cat >"$pkg/_rels/.rels" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Type="http://schemas.microsoft.com/packaging/2010/07/manifest" Target="/$ID.nuspec" Id="R0" /><Relationship Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="/$psmdcp" Id="R1" /></Relationships>
EOF
cat >"$pkg/$psmdcp" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<coreProperties xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"><dc:creator>libwdt</dc:creator><dc:description>旺店通旗舰版 open API client over the native libwdt</dc:description><dc:identifier>$ID</dc:identifier><version>$version</version><keywords>wdt wangdiantong erp pos</keywords><lastModifiedBy>scripts/nuget.sh</lastModifiedBy></coreProperties>
EOF

chmod -R u+rwX,go+rX,go-w "$pkg"
find "$pkg" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
out="$DIST/$ID.$version.nupkg"
rm -f "$out"
(cd "$pkg" && find . -type f -printf '%P\n' | LC_ALL=C sort | zip -X -q -9 "$out" -@)
log "wrote ${out#"$ROOT"/} ($(stat -c %s "$out") bytes)"
(cd "$pkg" && find . -type f -printf '%P\n' | LC_ALL=C sort | while read -r f; do
  printf '  %-58s %s\n' "$f" "$(sha256sum "$f" | cut -c1-16)"
done)
