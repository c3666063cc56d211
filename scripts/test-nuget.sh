#!/usr/bin/env bash
# Proves the NuGet package made by scripts/nuget.sh installs and runs, the way a C# till gets it.
#
#   bash scripts/test-nuget.sh
#
# 1. Layout: every file path of the package (nothing missing, nothing extra); nuspec fields
#    (id, version = Cargo.toml's, authors, description, the two framework groups); the copy rules
#    of build/Wangdiantong.Wdt.targets (win-x86 -> x86\wdt.dll, win-x64 -> x64\wdt.dll, only for
#    .NET Framework) and buildTransitive/ importing them; PE machine of each wdt.dll.
# 2. The natives are byte-identical (sha256) to those of the release archives in dist/.
# 3. No folder of the package or of any archive holds two names that differ only by case
#    (Windows cannot unpack them), and a self-test shows that check failing on a colliding layout.
# 4. Installs the package from a local folder source with Debian's NuGet client (nuget, under
#    Mono); the installed files equal the package's.
# 5. Compiles a small program with mcs against the INSTALLED lib/net45 (and lib/netstandard2.0)
#    Wdt.Net.dll and runs it under Mono against the gateway double, with the package's linux-x64
#    libwdt.so.
# 6. Builds an old-style .NET Framework 4.5 project (AnyCPU, Prefer 32-bit, packages.config style:
#    a HintPath reference and the <Import> NuGet adds) with Mono's xbuild: the targets file must put
#    x86\wdt.dll and x64\wdt.dll (identical to the package's) into bin\, and the built program runs.
# 7. Compiles the WinForms sample against the installed assembly (mcs + Mono's WinForms).
# 8. Runs the C# binding's whole test suite against the installed assembly and native library.
#
# Steps 5 to 8 run the assemblies on Mono/Linux; scripts/test-dotnet-wine.sh (the next CI step)
# runs the suite from this package on Windows .NET under Wine, x64 and x86, in both layouts, and
# checks cdecl and UTF-8 in the metadata. Neither runs the .NET Framework CLR itself.
# Env: WDT_MOCK (default target/release/wdt-mock), WDT_DIST (default dist), WDT_KEEP=1 keeps the
# temporary directory. Last line: "N passed, M failed"; non-zero exit when anything failed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
ID=Wangdiantong.Wdt
DIST=${WDT_DIST:-$ROOT/dist}
export WDT_ROOT=$ROOT
WDT_MOCK=${WDT_MOCK:-$ROOT/target/release/wdt-mock}
export WDT_MOCK

passed=0 failed=0
ok() { echo "ok   - $*"; passed=$((passed + 1)); }
bad() { echo "FAIL - $*"; failed=$((failed + 1)); }
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
  exit $?
}
check() {
  local name=$1 out rc
  shift
  out=$("$@" 2>&1)
  rc=$?
  if [ $rc -eq 0 ]; then ok "$name"; else bad "$name (exit $rc)"; printf '%s\n' "$out" | tail -n 40 | sed 's/^/      | /'; fi
}

version=$(sed -n '/^\[package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n1)
nupkg="$DIST/$ID.$version.nupkg"
x86_zip="$DIST/libwdt-$version-windows-x86.zip"
x64_zip="$DIST/libwdt-$version-windows-x64.zip"
linux_tgz="$DIST/libwdt-$version-linux-x86_64.tar.gz"

for tool in mono mcs nuget xbuild unzip sha256sum file; do
  command -v "$tool" >/dev/null 2>&1 || bad "$tool not found (scripts/setup.sh installs it)"
done
for f in "$nupkg" "$x86_zip" "$x64_zip" "$linux_tgz"; do
  [ -f "$f" ] || bad "missing $f (bash scripts/dist.sh --windows && bash scripts/nuget.sh)"
done
[ -x "$WDT_MOCK" ] || bad "no gateway double at $WDT_MOCK (cargo build --release)"
[ "$failed" -eq 0 ] || finish

T=$(mktemp -d "${TMPDIR:-/tmp}/wdt-test-nuget.XXXXXX")
if [ "${WDT_KEEP:-0}" = 1 ]; then echo "keeping $T"; else trap 'rm -rf "$T"' EXIT; fi
mkdir -p "$T/pkg" "$T/x86" "$T/x64" "$T/linux"
unzip -q "$nupkg" -d "$T/pkg" || bad "cannot unzip $nupkg"
unzip -q "$x86_zip" -d "$T/x86"
unzip -q "$x64_zip" -d "$T/x64"
tar -xzf "$linux_tgz" -C "$T/linux"

# ---------------------------------------------------------------- 1. layout
expected_layout() {
  cat <<EOF
$ID.nuspec
LICENSE.txt
README.md
[Content_Types].xml
_rels/.rels
build/$ID.targets
buildTransitive/$ID.targets
lib/net45/Wdt.Net.dll
lib/net45/Wdt.Net.xml
lib/netstandard2.0/Wdt.Net.dll
lib/netstandard2.0/Wdt.Net.xml
package/services/metadata/core-properties/*.psmdcp
runtimes/linux-x64/native/libwdt.so
runtimes/win-x64/native/wdt.dll
runtimes/win-x86/native/wdt.dll
EOF
}
layout_check() {
  local actual
  actual=$(unzip -Z1 "$nupkg" | sed 's|package/services/metadata/core-properties/[^/]*\.psmdcp$|package/services/metadata/core-properties/*.psmdcp|' | LC_ALL=C sort)
  diff <(expected_layout | LC_ALL=C sort) <(printf '%s\n' "$actual") && echo "$(printf '%s\n' "$actual" | wc -l) paths as expected"
}
check "package layout: every file path, nothing missing or extra" layout_check

nuspec_check() {
  local n="$T/pkg/$ID.nuspec" e=0
  field() { sed -n "s|.*<$1>\(.*\)</$1>.*|\1|p" "$n" | head -n1; }
  [ "$(field id)" = "$ID" ] || { echo "id: $(field id)"; e=1; }
  [ "$(field version)" = "$version" ] || { echo "version: $(field version), Cargo.toml: $version"; e=1; }
  [ -n "$(field authors)" ] || { echo "no authors"; e=1; }
  [ "$(field requireLicenseAcceptance)" = false ] || { echo "requireLicenseAcceptance"; e=1; }
  field description | grep -q 'wdt.dll' || { echo "description does not name wdt.dll"; e=1; }
  grep -q '<group targetFramework=".NETFramework4.5" />' "$n" || { echo "no .NETFramework4.5 group"; e=1; }
  grep -q '<group targetFramework=".NETStandard2.0" />' "$n" || { echo "no .NETStandard2.0 group"; e=1; }
  grep -q '<dependency ' "$n" && { echo "the package must have no dependencies"; e=1; }
  grep -q "Target=\"/$ID.nuspec\"" "$T/pkg/_rels/.rels" || { echo "_rels/.rels does not point at the nuspec"; e=1; }
  return $e
}
check "nuspec: id, version $version (Cargo.toml), authors, description, framework groups" nuspec_check

# The copy rules, read as MSBuild reads them: each <None Include=...> with its Link and
# CopyToOutputDirectory, inside an ItemGroup whose condition selects .NET Framework.
targets_check() {
  local t="$T/pkg/build/$ID.targets" e=0 flat
  flat=$(tr -d '\n' <"$t" | sed 's/>[[:space:]]*</></g')
  printf '%s' "$flat" | grep -q "<ItemGroup Condition=\"'\$(TargetFrameworkIdentifier)' == '.NETFramework'" ||
    { echo "the copy rules are not limited to .NET Framework"; e=1; }
  for pair in "win-x86:x86" "win-x64:x64"; do
    rid=${pair%%:*} sub=${pair##*:}
    printf '%s' "$flat" | grep -q "<None Include=\"\$(WangdiantongWdtNativeRoot)$rid\\\\native\\\\wdt.dll\"><Link>$sub\\\\wdt.dll</Link><CopyToOutputDirectory>PreserveNewest</CopyToOutputDirectory>" ||
      { echo "no rule copying $rid/native/wdt.dll to $sub\\wdt.dll"; e=1; }
  done
  printf '%s' "$flat" | grep -q "<WangdiantongWdtNativeRoot>\$(MSBuildThisFileDirectory)..\\\\runtimes\\\\</WangdiantongWdtNativeRoot>" ||
    { echo "the native root is not the package's runtimes/"; e=1; }
  grep -q "<Import Project=\"\$(MSBuildThisFileDirectory)..\\\\build\\\\$ID.targets\" />" "$T/pkg/buildTransitive/$ID.targets" ||
    { echo "buildTransitive does not import build/$ID.targets"; e=1; }
  return $e
}
check "targets: win-x86 -> x86\\wdt.dll, win-x64 -> x64\\wdt.dll for .NET Framework; buildTransitive imports them" targets_check

machine_check() {
  file -b "$T/pkg/runtimes/win-x86/native/wdt.dll" | grep -q 'PE32 executable (DLL).*Intel 80386' || { file "$T/pkg/runtimes/win-x86/native/wdt.dll"; return 1; }
  file -b "$T/pkg/runtimes/win-x64/native/wdt.dll" | grep -q 'PE32+ executable (DLL).*x86-64' || { file "$T/pkg/runtimes/win-x64/native/wdt.dll"; return 1; }
  file -b "$T/pkg/runtimes/linux-x64/native/libwdt.so" | grep -q 'ELF 64-bit LSB shared object, x86-64' || return 1
  file -b "$T/pkg/lib/net45/Wdt.Net.dll" | grep -q 'Mono/.Net assembly' || { file "$T/pkg/lib/net45/Wdt.Net.dll"; return 1; }
}
check "natives: x86 is PE32 i386, x64 is PE32+ x86-64, linux-x64 is ELF x86-64" machine_check

# ---------------------------------------------------------------- 2. the very files of the archives
same_file() { # label a b
  local a b
  a=$(sha256sum "$2" | cut -d' ' -f1) b=$(sha256sum "$3" | cut -d' ' -f1)
  echo "$1: $a (package) $b (archive)"
  [ "$a" = "$b" ]
}
check "runtimes/win-x86/native/wdt.dll is the x86 zip's bin/wdt.dll (sha256)" \
  same_file x86 "$T/pkg/runtimes/win-x86/native/wdt.dll" "$T/x86/libwdt-$version-windows-x86/bin/wdt.dll"
check "runtimes/win-x64/native/wdt.dll is the x64 zip's bin/wdt.dll (sha256)" \
  same_file x64 "$T/pkg/runtimes/win-x64/native/wdt.dll" "$T/x64/libwdt-$version-windows-x64/bin/wdt.dll"
check "runtimes/linux-x64/native/libwdt.so is the Linux archive's libwdt.so.$version (sha256)" \
  same_file linux "$T/pkg/runtimes/linux-x64/native/libwdt.so" "$T/linux/libwdt-$version-linux-x86_64/lib/libwdt.so.$version"
for arch in x86 x64; do
  zb="$T/$arch/libwdt-$version-windows-$arch/bin/Wdt.Net.dll"
  check "lib/net45/Wdt.Net.dll is the $arch zip's bin/Wdt.Net.dll (sha256)" same_file "Wdt.Net $arch" "$T/pkg/lib/net45/Wdt.Net.dll" "$zb"
done
for arch in x86 x64; do
  sha256sum "$T/pkg/runtimes/win-$arch/native/wdt.dll" | sed "s|$T/pkg/|     |"
done

# ---------------------------------------------------------------- 3. case collisions
# Reads paths (one a line, folders end in / or not) and prints every group of names that one
# folder would hold twice on a case-insensitive file system. Exit 1 when there is one.
case_collisions() {
  awk '
    { n = split($0, p, "/"); path = ""
      for (i = 1; i <= n; i++) { if (p[i] == "") continue; path = (path == "" ? p[i] : path "/" p[i]); seen[path] = 1 } }
    END {
      for (s in seen) { k = tolower(s); if (k in first && first[k] != s) { print "collision: " first[k] " and " s; bad = 1 } else first[k] = s }
      exit bad
    }'
}
case_check() { # label, then the listing on stdin
  local out
  if out=$(case_collisions); then echo "$1: no two names differ only by case"; else echo "$out"; return 1; fi
}
check "no case-colliding names in the package" bash -c "$(declare -f case_collisions case_check); unzip -Z1 '$nupkg' | case_check package"
check "no case-colliding names in the x86 zip" bash -c "$(declare -f case_collisions case_check); unzip -Z1 '$x86_zip' | case_check x86"
check "no case-colliding names in the x64 zip" bash -c "$(declare -f case_collisions case_check); unzip -Z1 '$x64_zip' | case_check x64"
check "no case-colliding names in the Linux archive" bash -c "$(declare -f case_collisions case_check); tar -tzf '$linux_tgz' | case_check linux"
# Self-test: the layout of issue 11 (managed Wdt.dll beside native wdt.dll) must be caught, and
# a folder differing by case too.
selftest() {
  local out
  if out=$(printf '%s\n' libwdt/bin/wdt.dll libwdt/bin/Wdt.dll libwdt/Lib/a libwdt/lib/b libwdt/bin/Wdt.Net.dll | case_collisions); then
    echo "the check passed a colliding layout"; return 1
  fi
  echo "$out"
  echo "$out" | grep -q 'bin/[wW]dt.dll and libwdt/bin/[wW]dt.dll' && echo "$out" | grep -q 'libwdt/[lL]ib and libwdt/[lL]ib'
}
check "self-test: the case check fails on bin/wdt.dll + bin/Wdt.dll and Lib/ + lib/" selftest
echo "     self-test output: $(printf '%s\n' libwdt/bin/wdt.dll libwdt/bin/Wdt.dll libwdt/Lib/a libwdt/lib/b | case_collisions | tr '\n' ';')"

# ---------------------------------------------------------------- 4. install with NuGet
feed="$T/feed" pkgs="$T/packages"
mkdir -p "$feed" "$pkgs" "$T/home"
cp "$nupkg" "$feed/"
cat >"$T/NuGet.Config" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources><clear /><add key="local" value="$feed" /></packageSources>
</configuration>
EOF
nuget_install() {
  # A HOME of our own: no machine-wide NuGet config or cache takes part.
  HOME="$T/home" XDG_CONFIG_HOME="$T/home/.config" nuget install "$ID" -Version "$version" -Source "$feed" \
    -ConfigFile "$T/NuGet.Config" -OutputDirectory "$pkgs" -NonInteractive
}
check "nuget install $ID $version from a local folder source" nuget_install
inst="$pkgs/$ID.$version"
installed_check() {
  local e=0 f
  [ -f "$inst/$ID.$version.nupkg" ] || { echo "no $ID.$version.nupkg in $inst"; e=1; }
  while read -r f; do
    # NuGet 2.x keeps the nuspec and the OPC parts inside the .nupkg it copies next to them.
    case "$f" in "[Content_Types].xml" | _rels/* | package/* | "$ID.nuspec") continue ;; esac
    cmp -s "$T/pkg/$f" "$inst/$f" || { echo "installed $f differs or is missing"; e=1; }
  done < <(unzip -Z1 "$nupkg")
  (cd "$inst" && find . -type f | LC_ALL=C sort)
  return $e
}
check "installed files equal the package's (lib/, runtimes/, build/, buildTransitive/)" installed_check

# ---------------------------------------------------------------- 5. a program against the installed assembly
# shellcheck source=lib/mock.sh
source "$ROOT/scripts/lib/mock.sh"
start_mock || { bad "the gateway double did not start"; finish; }
# start_mock's EXIT trap replaced ours: do both.
trap 'kill $MOCK_PID 2>/dev/null; wait $MOCK_PID 2>/dev/null; [ "${WDT_KEEP:-0}" = 1 ] || rm -rf "$T"' EXIT
mkdir -p "$T/app"
cat >"$T/app/Program.cs" <<'EOF'
// What a till does first, compiled against the Wdt.Net.dll NuGet installed.
using System;
using System.Linq;
using Wdt;

static class Program
{
    static int Main()
    {
        string url = Environment.GetEnvironmentVariable("WDT_MOCK_URL");
        using (var client = new WdtClient("{\"sid\":\"wdtapi3\",\"appkey\":\"wdt_test\",\"appsecret\":\"testsecret:testsalt\",\"url\":\"" + url + "\"}"))
        {
            const string req = "{\"refundInfo\":{\"tid\":\"pos-load\",\"return_warehouse_no\":\"pos\",\"remark\":\"nuget\"}," +
                "\"detailMapList\":[{\"spec_no\":\"LOAD-SKU\",\"stockin_num\":1,\"remark\":\"\"}],\"createPreStockin\":false}";
            Console.WriteLine("version " + WdtClient.Version);
            Console.WriteLine("sync  " + client.SmartRefundUploadOrThrow(req));
            Console.WriteLine("async " + client.SmartRefundUploadAsync(req).Result);
            try
            {
                client.SmartRefundUploadOrThrow(req.Replace("pos-load", "no-such-order"));
                Console.WriteLine("no error for an unknown order");
                return 1;
            }
            catch (WdtException e)
            {
                Console.WriteLine("api   " + e.Kind + " " + e.Status + " " + e.Message + " delivery=" + e.Delivery);
            }
            DateTime cst = DateTime.UtcNow.AddHours(8);
            string args = "[{\"start_time\":\"" + cst.AddDays(-1).ToString("yyyy-MM-dd HH:mm:ss") + "\",\"end_time\":\"" + cst.AddDays(1).ToString("yyyy-MM-dd HH:mm:ss") + "\"}]";
            var pages = client.Pages("wms.stockin.Refund.queryWithDetail", args, 1).ToList();
            Console.WriteLine("pages " + pages.Count + " total_count " + pages[0].TotalCount);
            return pages.Count == pages[0].TotalCount && pages.Count >= 2 ? 0 : 1;
        }
    }
}
EOF
run_app() { # framework
  local d="$T/app/$1"
  mkdir -p "$d"
  cp "$inst/lib/$1/Wdt.Net.dll" "$d/" && cp "$inst/runtimes/linux-x64/native/libwdt.so" "$d/" || return 1
  mcs -nologo -warnaserror+ -r:"$d/Wdt.Net.dll" -r:System.Core.dll -out:"$d/App.exe" "$T/app/Program.cs" || return 1
  (cd / && env -u LD_LIBRARY_PATH mono "$d/App.exe") | tee "$d/out.txt" || return 1
  grep -q '^sync  {"stockin_id":' "$d/out.txt" && grep -q '^async {"ok":true' "$d/out.txt" &&
    grep -q '^api   api 100 未找到对应的单据信息! delivery=rejected' "$d/out.txt" && grep -q "^version $version\$" "$d/out.txt"
}
check "a program built with mcs against the installed lib/net45 runs under Mono (package's libwdt.so)" run_app net45
check "the same program against the installed lib/netstandard2.0 runs under Mono" run_app netstandard2.0

# ---------------------------------------------------------------- 6. a packages.config-style project (xbuild)
mkdir -p "$T/till/Till" "$T/till/packages"
cp -r "$inst" "$T/till/packages/"
cp "$T/app/Program.cs" "$T/till/Till/Program.cs"
cat >"$T/till/Till/packages.config" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<packages>
  <package id="$ID" version="$version" targetFramework="net45" />
</packages>
EOF
# What Visual Studio writes for a .NET Framework 4.5 WinForms/console till, AnyCPU with Prefer
# 32-bit, plus the two things NuGet adds for packages.config: the HintPath and the <Import>.
cat >"$T/till/Till/Till.csproj" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<Project ToolsVersion="4.0" DefaultTargets="Build" xmlns="http://schemas.microsoft.com/developer/msbuild/2003">
  <PropertyGroup>
    <Configuration Condition=" '\$(Configuration)' == '' ">Release</Configuration>
    <Platform Condition=" '\$(Platform)' == '' ">AnyCPU</Platform>
    <OutputType>Exe</OutputType>
    <RootNamespace>Till</RootNamespace>
    <AssemblyName>Till</AssemblyName>
    <TargetFrameworkVersion>v4.5</TargetFrameworkVersion>
    <PlatformTarget>AnyCPU</PlatformTarget>
    <Prefer32Bit>true</Prefer32Bit>
    <OutputPath>bin\Release\</OutputPath>
  </PropertyGroup>
  <ItemGroup>
    <Reference Include="System" />
    <Reference Include="System.Core" />
    <Reference Include="Wdt.Net">
      <HintPath>..\packages\\$ID.$version\lib\net45\Wdt.Net.dll</HintPath>
      <Private>True</Private>
    </Reference>
  </ItemGroup>
  <ItemGroup>
    <Compile Include="Program.cs" />
    <None Include="packages.config" />
  </ItemGroup>
  <Import Project="\$(MSBuildToolsPath)\Microsoft.CSharp.targets" />
  <Import Project="..\packages\\$ID.$version\build\\$ID.targets" Condition="Exists('..\packages\\$ID.$version\build\\$ID.targets')" />
</Project>
EOF
xbuild_till() {
  (cd "$T/till/Till" && xbuild /nologo /verbosity:minimal Till.csproj) || return 1
  local bin="$T/till/Till/bin/Release" e=0
  (cd "$bin" && find . -type f | LC_ALL=C sort)
  for sub in x86 x64; do
    cmp "$bin/$sub/wdt.dll" "$inst/runtimes/win-$sub/native/wdt.dll" || { echo "bin/Release/$sub/wdt.dll is not the package's win-$sub"; e=1; }
  done
  cmp "$bin/Wdt.Net.dll" "$inst/lib/net45/Wdt.Net.dll" || e=1
  return $e
}
check "xbuild of a packages.config .NET 4.5 AnyCPU/Prefer-32-bit project: bin\\x86\\wdt.dll and bin\\x64\\wdt.dll from the package" xbuild_till
run_till() {
  local bin="$T/till/Till/bin/Release"
  # Mono on Linux: the targets file also puts libwdt.so next to Till.exe.
  [ -f "$bin/libwdt.so" ] || { echo "no libwdt.so in the output"; return 1; }
  (cd / && env -u LD_LIBRARY_PATH mono "$bin/Till.exe")
}
check "the xbuild-built till runs under Mono against the gateway double" run_till

# ---------------------------------------------------------------- 7. the WinForms sample
sample() {
  mkdir -p "$T/sample"
  mcs -nologo -target:winexe -warnaserror+ -r:"$inst/lib/net45/Wdt.Net.dll" -r:System.dll -r:System.Drawing.dll \
    -r:System.Windows.Forms.dll -out:"$T/sample/RefundSample.exe" "$ROOT"/bindings/csharp/samples/WinForms/*.cs
}
check "the WinForms sample compiles against the installed assembly (mcs, Mono's WinForms)" sample

# ---------------------------------------------------------------- 8. the binding's suite from the package
suite() {
  WDT_CS_ASSEMBLY="$inst/lib/net45/Wdt.Net.dll" WDT_LIB="$inst/runtimes/linux-x64/native/libwdt.so" \
    bash "$ROOT/bindings/csharp/test.sh" >"$T/suite.log" 2>&1
  local rc=$?
  grep -E '^FAIL' "$T/suite.log"
  echo "suite: $(tail -n 1 "$T/suite.log")"
  return $rc
}
kill "$MOCK_PID" 2>/dev/null; wait "$MOCK_PID" 2>/dev/null # the suite starts its own double
check "the C# suite against the installed Wdt.Net.dll and libwdt.so" suite
echo "     C# suite from the package: $(tail -n 1 "$T/suite.log")"

finish
