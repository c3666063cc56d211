// The public face of the binding: one client per shop/config, JSON in, envelope JSON out.
// Ownership never leaks to the caller: every string libwdt returns is copied into a .NET string
// and freed before the method returns, and the native client lives in a SafeHandle.

using System;

namespace Wdt
{
    /// <summary>
    /// A client of the 旺店通 flagship (旗舰版) open API. Create one per config and share it:
    /// every method may be called from any number of threads at once (the native client is
    /// thread-safe and keeps one connection pool). Calls block until the gateway answers or the
    /// configured timeout passes, so do not call them on the UI thread of a till.
    /// </summary>
    public sealed class WdtClient : IDisposable
    {
        private readonly WdtClientHandle _handle;

        // Our own flag rather than _handle.IsClosed: on Mono a SafeHandle disposed while another
        // thread is inside a call reports IsClosed == false (and accepts new AddRefs) until that
        // call returns, which would let calls start after Dispose.
        private volatile bool _disposed;

        /// <summary>
        /// Creates a client from a config JSON such as
        /// <c>{"sid":"…","appkey":"…","appsecret":"secret:salt","url":"http://…/openapi"}</c>.
        /// </summary>
        /// <exception cref="WdtException">The config was rejected: <see cref="WdtException.Kind"/> is
        /// <c>"config"</c> and <see cref="WdtException.Field"/> names the key.</exception>
        /// <exception cref="ArgumentNullException"><paramref name="configJson"/> is null.</exception>
        /// <exception cref="DllNotFoundException">wdt.dll / libwdt.so was not found, see the README.</exception>
        /// <exception cref="BadImageFormatException">wdt.dll is x86 and the process x64 or the reverse.</exception>
        public WdtClient(string configJson)
        {
            byte[] config = NativeMethods.ToUtf8Z(configJson, "configJson");
            NativeMethods.EnsureLoaded();
            IntPtr errorJson = IntPtr.Zero;
            WdtClientHandle handle = null;
            try
            {
                handle = NativeMethods.wdt_client_new(config, out errorJson);
                if (handle.IsInvalid)
                {
                    // Copied here, before the finally block frees it.
                    string envelope = NativeMethods.CopyUtf8Z(errorJson);
                    WdtException e = envelope == null ? null : WdtException.FromEnvelope(envelope);
                    throw e ?? new WdtException(WdtErrorKind.Internal,
                        "internal: wdt_client_new returned no client and no error", envelopeJson: envelope);
                }
                _handle = handle;
                handle = null;
            }
            finally
            {
                // The contract sets *error_json to NULL on success; freeing unconditionally keeps
                // us leak-free even if a future version reports warnings there.
                NativeMethods.wdt_free_string(errorJson);
                if (handle != null)
                    handle.Dispose(); // invalid handle: no native free, just no finalizer work
            }
        }

        /// <summary>The libwdt version, e.g. <c>"0.1.0"</c> (of the native library actually loaded).</summary>
        public static string Version
        {
            get
            {
                NativeMethods.EnsureLoaded();
                return NativeMethods.CopyUtf8Z(NativeMethods.wdt_version());
            }
        }

        /// <summary>
        /// 快速退货 (<c>wms.stockin.SmartRefund.upload</c>). Sends
        /// <c>{"refundInfo":{…},"detailMapList":[…],"createPreStockin":false}</c> and returns the
        /// response envelope: <c>{"ok":true,"status":0,"data":{…}}</c> or
        /// <c>{"ok":false,"error":{"kind":…,"message":…}}</c>. Failures of the call itself
        /// (bad request, network, gateway error) are in the envelope, not thrown.
        /// </summary>
        /// <exception cref="ObjectDisposedException">The client has been disposed.</exception>
        /// <exception cref="ArgumentNullException"><paramref name="requestJson"/> is null.</exception>
        /// <exception cref="ArgumentException"><paramref name="requestJson"/> contains U+0000 or an unpaired surrogate.</exception>
        public string SmartRefundUpload(string requestJson)
        {
            ThrowIfDisposed();
            byte[] request = NativeMethods.ToUtf8Z(requestJson, "requestJson");
            return NativeMethods.TakeEnvelope(NativeMethods.wdt_smart_refund_upload(_handle, request));
        }

        /// <summary>
        /// Like <see cref="SmartRefundUpload"/>, but returns only the JSON text of <c>data</c>
        /// (e.g. <c>{"stockin_id":1,"type":12}</c>) and throws <see cref="WdtException"/> when the
        /// envelope is not ok.
        /// </summary>
        /// <exception cref="WdtException">The call failed; see <see cref="WdtException.Kind"/>.
        /// Before sending it again check <see cref="WdtException.Delivery"/>: <c>"unknown"</c> means
        /// the return may already be booked.</exception>
        /// <exception cref="ObjectDisposedException">The client has been disposed.</exception>
        /// <exception cref="ArgumentNullException"><paramref name="requestJson"/> is null.</exception>
        public string SmartRefundUploadOrThrow(string requestJson)
        {
            string envelope = SmartRefundUpload(requestJson);
            WdtException.ThrowIfError(envelope);
            return JsonReader.MemberText(envelope, "data") ?? "null";
        }

        /// <summary>
        /// Any method of the flagship open API:
        /// <c>{"method":"…","args":[…],"pager":{"page_size":50,"page_no":0,"calc_total":true}}</c>
        /// (<c>pager</c> optional). Returns the envelope; <c>total_count</c> sits next to
        /// <c>data</c> for paged calls. Use <see cref="WdtException.ThrowIfError"/> to turn a
        /// failed envelope into an exception.
        /// </summary>
        /// <exception cref="ObjectDisposedException">The client has been disposed.</exception>
        /// <exception cref="ArgumentNullException"><paramref name="requestJson"/> is null.</exception>
        /// <exception cref="ArgumentException"><paramref name="requestJson"/> contains U+0000 or an unpaired surrogate.</exception>
        public string Call(string requestJson)
        {
            ThrowIfDisposed();
            byte[] request = NativeMethods.ToUtf8Z(requestJson, "requestJson");
            return NativeMethods.TakeEnvelope(NativeMethods.wdt_call(_handle, request));
        }

        /// <summary>
        /// Frees the native client. Safe to call more than once, and while other threads are
        /// inside a call: those calls finish normally and the client is freed after the last one;
        /// calls that start afterwards throw <see cref="ObjectDisposedException"/>.
        /// </summary>
        public void Dispose()
        {
            _disposed = true;
            _handle.Dispose();
        }

        // Memory safety does not depend on this check: if Dispose lands between it and the
        // native call, the marshaller's AddRef either throws ObjectDisposedException (handle
        // already released) or keeps the client alive until the call returns.
        private void ThrowIfDisposed()
        {
            if (_disposed)
                throw new ObjectDisposedException(typeof(WdtClient).FullName);
        }
    }
}
