// The public face of the binding: one client per shop/config, JSON in, envelope JSON out.
// Ownership never leaks to the caller: every string libwdt returns is copied into a .NET string
// and freed before the method returns, and the native client lives in a SafeHandle.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;

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

        private readonly object _logLock = new object();
        private EventHandler<WdtLogEventArgs> _log;

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

        // ---- asynchronous calls ------------------------------------------------------------

        /// <summary>
        /// <see cref="SmartRefundUpload"/> on the thread pool, for a UI thread: <c>await</c> it in a
        /// WinForms handler and the code after the <c>await</c> runs on the UI thread again.
        /// <para>Cancelling stops <i>waiting</i>; it never takes back a return that may already be
        /// sent. Once this method has returned a task the request is sent (unless
        /// <paramref name="cancellationToken"/> was already cancelled, then nothing is sent, or the
        /// client is disposed before the pool thread starts, then the task faults with
        /// <see cref="ObjectDisposedException"/> and nothing is sent); if the
        /// token fires later the task becomes Canceled at once, the call goes on in the
        /// background, and its envelope, when it arrives, is written to <see cref="Log"/> and to
        /// <see cref="Trace"/>. Treat a cancelled quick return as <c>delivery: unknown</c>: look it
        /// up in the ERP before sending it again.</para>
        /// </summary>
        /// <exception cref="ObjectDisposedException">The client has been disposed (thrown at once).</exception>
        /// <exception cref="ArgumentNullException"><paramref name="requestJson"/> is null (thrown at once).</exception>
        /// <exception cref="ArgumentException"><paramref name="requestJson"/> contains U+0000 or an unpaired surrogate (thrown at once).</exception>
        public Task<string> SmartRefundUploadAsync(string requestJson, CancellationToken cancellationToken = default(CancellationToken))
        {
            ThrowIfDisposed();
            byte[] request = NativeMethods.ToUtf8Z(requestJson, "requestJson");
            return RunAsync("SmartRefundUploadAsync",
                () => NativeMethods.TakeEnvelope(NativeMethods.wdt_smart_refund_upload(_handle, request)),
                null, cancellationToken);
        }

        /// <summary>
        /// <see cref="SmartRefundUploadOrThrow"/> on the thread pool: the task's result is the JSON
        /// text of <c>data</c>, a failed call faults it with a <see cref="WdtException"/>.
        /// Cancellation as in <see cref="SmartRefundUploadAsync"/>.
        /// </summary>
        public Task<string> SmartRefundUploadOrThrowAsync(string requestJson, CancellationToken cancellationToken = default(CancellationToken))
        {
            ThrowIfDisposed();
            byte[] request = NativeMethods.ToUtf8Z(requestJson, "requestJson");
            return RunAsync("SmartRefundUploadOrThrowAsync",
                () => NativeMethods.TakeEnvelope(NativeMethods.wdt_smart_refund_upload(_handle, request)),
                DataOrThrow, cancellationToken);
        }

        /// <summary><see cref="Call"/> on the thread pool. Cancellation as in <see cref="SmartRefundUploadAsync"/>.</summary>
        public Task<string> CallAsync(string requestJson, CancellationToken cancellationToken = default(CancellationToken))
        {
            ThrowIfDisposed();
            byte[] request = NativeMethods.ToUtf8Z(requestJson, "requestJson");
            return RunAsync("CallAsync",
                () => NativeMethods.TakeEnvelope(NativeMethods.wdt_call(_handle, request)),
                null, cancellationToken);
        }

        private static string DataOrThrow(string envelope)
        {
            WdtException.ThrowIfError(envelope);
            return JsonReader.MemberText(envelope, "data") ?? "null";
        }

        // A TaskCompletionSource rather than Task.Run's own task, so that the caller's task can
        // be cancelled while the native call, which cannot be interrupted without losing track of
        // what reached the gateway, runs to its end.
        private Task<string> RunAsync(string what, Func<string> call, Func<string, string> map, CancellationToken ct)
        {
            var tcs = new TaskCompletionSource<string>();
            if (ct.IsCancellationRequested)
            {
                tcs.SetCanceled(); // nothing was sent
                return tcs.Task;
            }
            CancellationTokenRegistration reg = ct.Register(() => tcs.TrySetCanceled());
            Task.Run(() =>
            {
                string envelope = null;
                Exception error = null;
                try
                {
                    envelope = call();
                }
                catch (Exception e)
                {
                    error = e;
                }
                reg.Dispose();
                bool delivered;
                if (error != null)
                {
                    delivered = tcs.TrySetException(error);
                }
                else
                {
                    string result = null;
                    Exception mapError = null;
                    try { result = map == null ? envelope : map(envelope); }
                    catch (Exception e) { mapError = e; }
                    delivered = mapError != null ? tcs.TrySetException(mapError) : tcs.TrySetResult(result);
                }
                if (!delivered)
                    EmitManagedLog("wdt: " + what + " was cancelled by the caller; the result arrived afterwards: " +
                        (error != null ? error.GetType().FullName + ": " + error.Message : envelope));
            });
            return tcs.Task;
        }

        // ---- paging -------------------------------------------------------------------------

        /// <summary>
        /// Every page of a paged method, e.g. <c>wms.stockin.Refund.queryWithDetail</c>, from
        /// page 0 until the items seen reach the <c>total_count</c> the gateway gave for page 0
        /// (or a page comes back empty). Lazy: each page is requested when the loop asks for it.
        /// A failed page throws <see cref="WdtException"/> from the loop.
        /// </summary>
        /// <param name="method">The API method name.</param>
        /// <param name="argsJson">The positional argument list as a JSON array, e.g. <c>[{"start_time":"…","end_time":"…"}]</c>.</param>
        /// <param name="pageSize">Items per page (the gateway's limit applies).</param>
        /// <param name="itemsKey">The array member of <c>data</c> holding the items (e.g. <c>"order"</c>);
        /// null: the only array member.</param>
        /// <exception cref="ArgumentNullException"><paramref name="method"/> or <paramref name="argsJson"/> is null (thrown at once).</exception>
        /// <exception cref="ArgumentOutOfRangeException"><paramref name="pageSize"/> is below 1 (thrown at once).</exception>
        public IEnumerable<WdtPage> Pages(string method, string argsJson, int pageSize = 50, string itemsKey = null)
        {
            if (method == null)
                throw new ArgumentNullException("method");
            if (argsJson == null)
                throw new ArgumentNullException("argsJson");
            if (pageSize < 1)
                throw new ArgumentOutOfRangeException("pageSize", pageSize, "page_size must be at least 1");
            ThrowIfDisposed();
            return PagesIterator(method, argsJson, pageSize, itemsKey);
        }

        /// <summary>
        /// The items of every page of <see cref="Pages"/>, one JSON object text each, in order.
        /// </summary>
        public IEnumerable<string> Items(string method, string argsJson, int pageSize = 50, string itemsKey = null)
        {
            IEnumerable<WdtPage> pages = Pages(method, argsJson, pageSize, itemsKey);
            return ItemsIterator(pages);
        }

        private static IEnumerable<string> ItemsIterator(IEnumerable<WdtPage> pages)
        {
            foreach (WdtPage page in pages)
                foreach (string item in page.Items)
                    yield return item;
        }

        private IEnumerable<WdtPage> PagesIterator(string method, string argsJson, int pageSize, string itemsKey)
        {
            long total = -1, seen = 0;
            for (int pageNo = 0; ; pageNo++)
            {
                // calc_total on page 0 only: counting is work for the ERP, and walking up to the
                // first count keeps the walk finite even while new stock-ins arrive.
                string request = "{\"method\":" + JsonReader.Quote(method) + ",\"args\":" + argsJson +
                    ",\"pager\":{\"page_size\":" + pageSize.ToString(CultureInfo.InvariantCulture) +
                    ",\"page_no\":" + pageNo.ToString(CultureInfo.InvariantCulture) +
                    ",\"calc_total\":" + (pageNo == 0 ? "true" : "false") + "}}";
                string envelope = Call(request);
                WdtException.ThrowIfError(envelope);
                WdtPage page = WdtPage.FromEnvelope(pageNo, envelope, itemsKey);
                if (pageNo == 0)
                {
                    if (page.TotalCount == null)
                        throw new WdtException(WdtErrorKind.BadResponse,
                            "paged call of " + method + " returned no total_count on page 0",
                            envelopeJson: envelope, delivery: WdtDelivery.Rejected, retryable: false);
                    total = page.TotalCount.Value;
                }
                else
                {
                    page.TotalCount = total;
                }
                yield return page;
                seen += page.Items.Count;
                if (seen >= total || page.Items.Count == 0)
                    yield break;
            }
        }

        // ---- log ----------------------------------------------------------------------------

        /// <summary>
        /// libwdt's log lines for this client (request sent, attempts, answers; never the secret),
        /// plus the binding's own line when a cancelled async call's result arrives. Raised on
        /// the thread making the call (or the outbox worker thread), so a WinForms handler must
        /// not touch controls directly (use <c>BeginInvoke</c>). An exception thrown by a handler
        /// is swallowed: it must not unwind through native code. Handlers must not dispose this
        /// client. Subscribing the first handler turns native logging on
        /// (<c>wdt_client_set_log_callback</c>), removing the last turns it off.
        /// </summary>
        /// <exception cref="NotSupportedException">The loaded libwdt is older and has no log callback.</exception>
        public event EventHandler<WdtLogEventArgs> Log
        {
            add
            {
                lock (_logLock)
                {
                    bool wasOff = _log == null;
                    _log += value;
                    if (wasOff && _log != null)
                    {
                        try { SetNativeLog(true); }
                        catch { _log -= value; throw; }
                    }
                }
            }
            remove
            {
                lock (_logLock)
                {
                    bool wasOn = _log != null;
                    _log -= value;
                    if (wasOn && _log == null && !_disposed)
                        SetNativeLog(false);
                }
            }
        }

        private void SetNativeLog(bool on)
        {
            ThrowIfDisposed();
            NativeMethods.LogCallback thunk = null;
            if (on)
            {
                if (_handle.LogThunk == null)
                    _handle.LogThunk = OnNativeLog;
                thunk = _handle.LogThunk;
            }
            int rc;
            try
            {
                rc = NativeMethods.wdt_client_set_log_callback(_handle, thunk, IntPtr.Zero);
            }
            catch (EntryPointNotFoundException e)
            {
                throw new NotSupportedException(
                    "the loaded libwdt " + Version + " has no wdt_client_set_log_callback; use a newer wdt.dll / libwdt.so", e);
            }
            if (rc != 0)
                throw new InvalidOperationException("wdt_client_set_log_callback returned " + rc.ToString(CultureInfo.InvariantCulture));
        }

        private void OnNativeLog(IntPtr line, IntPtr userData)
        {
            // Nothing may escape into libwdt's frames: an exception there takes the till down.
            try
            {
                Raise(NativeMethods.CopyUtf8Z(line) ?? "");
            }
            catch (Exception)
            {
            }
        }

        private void EmitManagedLog(string line)
        {
            try
            {
                Trace.WriteLine(line);
                Raise(line);
            }
            catch (Exception)
            {
            }
        }

        private void Raise(string line)
        {
            EventHandler<WdtLogEventArgs> h = _log;
            if (h == null)
                return;
            var args = new WdtLogEventArgs(line);
            foreach (EventHandler<WdtLogEventArgs> one in h.GetInvocationList())
            {
                try { one(this, args); }
                catch (Exception) { }
            }
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
