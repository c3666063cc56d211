// Owns one native WdtClient*. SafeHandle gives us three things a hand-rolled IntPtr cannot:
// the handle is stored by the marshaller before any async exception can lose it, the finalizer
// frees a client nobody disposed, and its reference count keeps the pointer alive while a call
// that holds it is still inside libwdt, even if Dispose runs on another thread meanwhile.

using System;
using System.Runtime.InteropServices;

namespace Wdt
{
    internal sealed class WdtClientHandle : SafeHandle
    {
        // The P/Invoke marshaller creates the instance through this constructor when
        // wdt_client_new returns.
        private WdtClientHandle()
            : base(IntPtr.Zero, ownsHandle: true)
        {
        }

        // The log thunk handed to wdt_client_set_log_callback. Held here, not by WdtClient,
        // because libwdt may call it until wdt_client_free returns (the outbox worker thread
        // included), and this object lives until ReleaseHandle has run even when the WdtClient
        // was finalized first.
        internal NativeMethods.LogCallback LogThunk;

        public override bool IsInvalid
        {
            get { return handle == IntPtr.Zero; }
        }

        // Runs once, after the last in-flight call has released its reference.
        protected override bool ReleaseHandle()
        {
            NativeMethods.wdt_client_free(handle);
            return true;
        }
    }
}
