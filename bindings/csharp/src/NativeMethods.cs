// The only place that talks to libwdt. Every import says Cdecl because 32-bit Windows defaults
// P/Invoke to stdcall, and a mismatch there silently corrupts the stack of the till. Strings go
// in as UTF-8 byte arrays we encode ourselves (LPUTF8Str does not exist on .NET Framework 4.x);
// every owned char* comes back as IntPtr and is copied, then released with wdt_free_string,
// because a `string` return type would make the marshaller free Rust's memory with CoTaskMemFree.

using System;
using System.Runtime.InteropServices;
using System.Text;

namespace Wdt
{
    internal static class NativeMethods
    {
        // "wdt" resolves to wdt.dll on Windows and libwdt.so on Linux (both the .NET runtimes
        // and Mono add the platform prefix/suffix), so one name serves every platform.
        private const string Lib = "wdt";

        // Strict in both directions: an unpaired surrogate in a C# string would otherwise be
        // replaced by U+FFFD and a different order number would reach the ERP without warning.
        private static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern WdtClientHandle wdt_client_new(byte[] configJson, out IntPtr errorJson);

        // Takes the SafeHandle itself: the marshaller AddRefs it for the duration of the call,
        // so a Dispose on another thread cannot free the native client under a running request.
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern IntPtr wdt_smart_refund_upload(WdtClientHandle client, byte[] requestJson);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern IntPtr wdt_call(WdtClientHandle client, byte[] requestJson);

        // Raw IntPtr on purpose: only WdtClientHandle.ReleaseHandle calls it, with the pointer
        // the SafeHandle owns.
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern void wdt_client_free(IntPtr client);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern void wdt_free_string(IntPtr s);

        // Static storage inside the library: copied, never freed.
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern IntPtr wdt_version();

        // Off by default (NULL callback). Cdecl like every other import; the delegate behind
        // `callback` must outlive the client, which WdtClientHandle guarantees.
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void LogCallback(IntPtr line, IntPtr userData);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int wdt_client_set_log_callback(WdtClientHandle client, LogCallback callback, IntPtr userData);

        // The outbox (WdtOutbox). Raw IntPtr for close: only WdtOutboxHandle.ReleaseHandle calls
        // it, with the pointer the SafeHandle owns.
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern WdtOutboxHandle wdt_outbox_open(byte[] clientConfigJson, byte[] optionsJson, out IntPtr errorJson);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern IntPtr wdt_outbox_submit(WdtOutboxHandle outbox, byte[] submitJson);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern IntPtr wdt_outbox_get(WdtOutboxHandle outbox, byte[] id);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern IntPtr wdt_outbox_list(WdtOutboxHandle outbox, byte[] filterJson);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern IntPtr wdt_outbox_flush(WdtOutboxHandle outbox, byte[] optionsJson);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern void wdt_outbox_close(IntPtr outbox);

        private static volatile bool _loaded;
        private static readonly object LoadLock = new object();

        /// <summary>
        /// Loads libwdt before the first real call: on Windows first x86\wdt.dll or x64\wdt.dll
        /// by process bitness (see NativeLoader), then the runtime's normal search. Turns the
        /// runtime's terse load errors (Mono: "wdt assembly:&lt;unknown assembly&gt;") into a
        /// <see cref="WdtException"/> of kind <c>native_library</c> that names the bitness, the file
        /// and every path looked at, for a till's support person.
        /// </summary>
        internal static void EnsureLoaded()
        {
            if (_loaded)
                return;
            lock (LoadLock)
            {
                if (_loaded)
                    return;
                NativeLoader.PreloadForBitness();
                try
                {
                    wdt_version();
                }
                catch (DllNotFoundException e)
                {
                    throw NativeLoader.LoadFailure(e, NativeLoader.Last);
                }
                catch (BadImageFormatException e)
                {
                    throw NativeLoader.LoadFailure(e, NativeLoader.Last);
                }
                _loaded = true;
            }
        }

        /// <summary>NUL-terminated UTF-8 copy of <paramref name="s"/> for a <c>const char *</c>.</summary>
        internal static byte[] ToUtf8Z(string s, string paramName)
        {
            if (s == null)
                throw new ArgumentNullException(paramName);
            // C would stop reading at an embedded NUL and send a different, possibly still valid,
            // JSON document than the one the caller wrote.
            if (s.IndexOf('\0') >= 0)
                throw new ArgumentException("the JSON text contains a NUL character (U+0000)", paramName);
            byte[] bytes;
            try
            {
                bytes = new byte[StrictUtf8.GetByteCount(s) + 1];
                StrictUtf8.GetBytes(s, 0, s.Length, bytes, 0);
            }
            catch (EncoderFallbackException e)
            {
                throw new ArgumentException("the JSON text contains an unpaired UTF-16 surrogate", paramName, e);
            }
            return bytes; // the last byte is already 0
        }

        /// <summary>Copies a NUL-terminated UTF-8 string without taking ownership of it.</summary>
        internal static unsafe string CopyUtf8Z(IntPtr p)
        {
            if (p == IntPtr.Zero)
                return null;
            byte* b = (byte*)p;
            int n = 0;
            while (b[n] != 0)
                n++;
            // Lenient on the way out: the library only emits valid UTF-8, and a display string
            // is not worth crashing a till over if that ever broke.
            // Through a byte[]: Encoding.GetString(byte*, int) is .NET Framework 4.6+, and the
            // net45 build serves Windows 7 tills that stay on 4.5.x.
            var bytes = new byte[n];
            Marshal.Copy(p, bytes, 0, n);
            return Encoding.UTF8.GetString(bytes);
        }

        /// <summary>Copies an envelope returned by a call, then frees it exactly once.</summary>
        internal static string TakeEnvelope(IntPtr p)
        {
            // The calls never return NULL (docs/abi.md): no branch for it.
            try
            {
                return CopyUtf8Z(p);
            }
            finally
            {
                wdt_free_string(p);
            }
        }
    }
}
