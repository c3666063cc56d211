#!/usr/bin/env bash
# Writes the module-definition file of a DLL (its export table) to standard output, so MSVC
# users can make an import library for a DLL built with mingw-w64:
#   lib /def:wdt.def /machine:x86 /out:wdt.lib      (32-bit; /machine:x64 for 64-bit)
# Every export of wdt.dll is a cdecl C function with an undecorated name, which is what
# lib.exe expects of a plain name in a .def file (for x86 it adds the leading underscore).
#
#   bash packaging/gen-def.sh path/to/wdt.dll > wdt.def
set -euo pipefail
dll=${1:?usage: gen-def.sh DLL}
names=$(objdump -p "$dll" | sed -n '/^\[Ordinal\/Name Pointer\] Table/,/^$/p' |
  sed -n 's/^[[:space:]]*\[[[:space:]]*[0-9]*\][[:space:]]*//p' | LC_ALL=C sort)
[ -n "$names" ] || { echo "gen-def: $dll exports nothing" >&2; exit 1; }
case "$(objdump -f "$dll" | sed -n 's/.*file format //p')" in
  pei-i386) machine=x86 ;;
  pei-x86-64) machine=x64 ;;
  *) echo "gen-def: $dll is not a 32- or 64-bit x86 PE file" >&2; exit 1 ;;
esac
printf '; Exports of %s (%s), generated from its export table by packaging/gen-def.sh.\n' "$(basename "$dll")" "$machine"
printf '; MSVC import library: lib /def:wdt.def /machine:%s /out:wdt.lib\n' "$machine"
printf 'LIBRARY %s\n' "$(basename "$dll")"
printf 'EXPORTS\n'
printf '    %s\n' $names
