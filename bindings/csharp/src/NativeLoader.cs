// Finds wdt.dll for the bitness of this process before the first P/Invoke. The NuGet package's
// build/Wangdiantong.Wdt.targets copies both Windows builds into x86\ and x64\ under the output
// directory of a .NET Framework project, because an AnyCPU (or Prefer-32-bit) till only learns its
// bitness when it starts. Loading the right one by full path puts a module named wdt.dll into the
// process; Windows then hands that already-loaded module to [DllImport("wdt")] instead of searching
// again. When neither subfolder has a file, the runtime's normal search (the .exe's folder, PATH;
// runtimes/<rid>/native on .NET Core) decides, as before.

using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.IO;
using System.Reflection;
using System.Runtime.InteropServices;

namespace Wdt
{
    internal static class NativeLoader
    {
        /// <summary>What <see cref="Plan"/> decided: the file that was loaded, or why none was.</summary>
        internal sealed class Outcome
        {
            internal string LoadedPath;
            // Files that exist but did not load, with the reason ("wrong bitness", an OS error).
            internal readonly List<string> Failures = new List<string>();
            // Every path looked at, for the error message when nothing fits.
            internal readonly List<string> Tried = new List<string>();
        }

        internal static string SubfolderFor(bool is64BitProcess)
        {
            return is64BitProcess ? "x64" : "x86";
        }

        /// <summary>
        /// The pure part of the loader, so that it can be tested on any OS: for each candidate
        /// directory, <c>dir\x86\wdt.dll</c> or <c>dir\x64\wdt.dll</c> by process bitness;
        /// <paramref name="tryLoad"/> returns null on success or the reason it failed.
        /// </summary>
        internal static Outcome Plan(IEnumerable<string> dirs, bool is64BitProcess,
            Func<string, bool> exists, Func<string, string> tryLoad)
        {
            var o = new Outcome();
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (string dir in dirs)
            {
                if (string.IsNullOrEmpty(dir))
                    continue;
                string path = Path.Combine(Path.Combine(dir, SubfolderFor(is64BitProcess)), "wdt.dll");
                if (!seen.Add(path))
                    continue;
                o.Tried.Add(path);
                if (!exists(path))
                    continue;
                string why = tryLoad(path);
                if (why == null)
                {
                    o.LoadedPath = path;
                    return o;
                }
                o.Failures.Add(path + ": " + why);
            }
            return o;
        }

        private static volatile Outcome _last;

        /// <summary>What the loader did in this process (null before the first call or off Windows).</summary>
        internal static Outcome Last
        {
            get { return _last; }
        }

        internal static bool IsWindows
        {
            get
            {
                switch (Environment.OSVersion.Platform)
                {
                    case PlatformID.Win32NT:
                    case PlatformID.Win32Windows:
                        return true;
                    default:
                        return false;
                }
            }
        }

        /// <summary>
        /// Windows only: loads <c>x86\wdt.dll</c> or <c>x64\wdt.dll</c> from the application's base
        /// directory or from the directory of Wdt.Net.dll. Never throws; the caller turns a failed
        /// load into a <see cref="WdtException"/> using <see cref="Last"/>.
        /// </summary>
        internal static void PreloadForBitness()
        {
            if (!IsWindows)
                return;
            var dirs = new List<string>();
            try { dirs.Add(AppDomain.CurrentDomain.BaseDirectory); } catch (Exception) { }
            try { dirs.Add(Path.GetDirectoryName(typeof(NativeLoader).Assembly.Location)); } catch (Exception) { }
            _last = Plan(dirs, IntPtr.Size == 8, File.Exists, LoadWindows);
        }

        // LOAD_WITH_ALTERED_SEARCH_PATH: the DLLs wdt.dll itself imports are looked up next to it
        // first, the way they would be if it sat next to the .exe (all of them are system DLLs
        // today, but a MinGW build can gain one).
        private const uint LoadWithAlteredSearchPath = 0x00000008;

        [DllImport("kernel32", CharSet = CharSet.Unicode, SetLastError = true, ExactSpelling = true)]
        private static extern IntPtr LoadLibraryExW(string path, IntPtr file, uint flags);

        private static string LoadWindows(string path)
        {
            IntPtr h = LoadLibraryExW(path, IntPtr.Zero, LoadWithAlteredSearchPath);
            if (h != IntPtr.Zero)
                return null; // never freed: the process keeps using it through [DllImport]
            int err = Marshal.GetLastWin32Error();
            // ERROR_BAD_EXE_FORMAT: a 32-bit DLL in a 64-bit process or the reverse.
            if (err == 193)
                return "wrong bitness for this " + Bitness() + " process (Windows error 193)";
            return new Win32Exception(err).Message + " (Windows error " + err + ")";
        }

        internal static string Bitness()
        {
            return IntPtr.Size == 8 ? "64-bit" : "32-bit";
        }

        internal static string NativeFileName()
        {
            switch (Environment.OSVersion.Platform)
            {
                case PlatformID.Unix: return "libwdt.so";
                case PlatformID.MacOSX: return "libwdt.dylib";
                default: return "wdt.dll";
            }
        }

        /// <summary>
        /// The exception for "no native library fits": names the process bitness, the file it
        /// needs, every path looked at and what the runtime said.
        /// </summary>
        internal static WdtException LoadFailure(Exception inner, Outcome o)
        {
            string bitness = Bitness();
            string file = NativeFileName();
            string build = IntPtr.Size == 8 ? "win-x64" : "win-x86";
            var msg = new System.Text.StringBuilder();
            msg.Append("libwdt could not be loaded into this ").Append(bitness).Append(" process: ");
            if (inner is BadImageFormatException)
                msg.Append(file).Append(" was found but has the wrong bitness; it must be the ").Append(bitness).Append(" build");
            else
                msg.Append("no ").Append(bitness).Append(' ').Append(file).Append(" was found");
            if (IsWindows)
                msg.Append(" (").Append(build).Append(')');
            if (o != null && o.Tried.Count > 0)
                msg.Append("; looked in ").Append(string.Join(", ", o.Tried.ToArray()));
            if (o != null && o.Failures.Count > 0)
                msg.Append("; failed: ").Append(string.Join("; ", o.Failures.ToArray()));
            msg.Append("; then the normal search path for ").Append(file).Append(": ").Append(inner.Message);

            string hint = IsWindows
                ? "把与程序位数一致的 wdt.dll（" + bitness.Replace("-bit", " 位") + "，" + build + "）放到程序目录的 " +
                  SubfolderFor(IntPtr.Size == 8) + "\\ 子目录或 .exe 旁边；用 NuGet 包 Wangdiantong.Wdt 时构建会自动复制"
                : "把 libwdt.so 放到 Wdt.Net.dll 同一目录，或设置 LD_LIBRARY_PATH";
            return new WdtException("native_library", msg.ToString(), hint, null, null, WdtDelivery.NotSent, null,
                null, false, null, inner);
        }
    }
}
