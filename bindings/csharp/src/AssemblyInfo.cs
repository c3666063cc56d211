// Assembly identity of the managed half of the NuGet package Wangdiantong.Wdt. The file is
// Wdt.Net.dll, not Wdt.dll: Windows file names ignore case, and the native library beside it is
// wdt.dll. The namespace stays Wdt, so code written against the binding compiles unchanged.

using System.Reflection;
using System.Runtime.CompilerServices;

[assembly: AssemblyTitle("Wdt.Net")]
[assembly: AssemblyDescription("旺店通旗舰版 open API client over the native libwdt (wdt.dll / libwdt.so)")]
[assembly: AssemblyProduct("libwdt")]
// The binding's own test program reads JSON with the binding's internal reader and checks the
// native loader's decisions without a Windows machine.
[assembly: InternalsVisibleTo("WdtTests")]
