// The durable outbox (docs/outbox.md) for C# tills: quick returns stored in a local SQLite file
// before any byte is sent, delivered exactly once across lost answers, crashes and offline
// hours. Same ownership rules as WdtClient: the native handle lives in a SafeHandle, every
// returned string is copied and freed before the method returns.

using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;

namespace Wdt
{
    /// <summary>
    /// A local outbox of quick returns (one SQLite file per shop; several processes may share it).
    /// <see cref="Submit"/> stores a return durably and tries to deliver it; a return whose answer
    /// was lost is checked with the ERP before it is ever sent again. Every method may be called
    /// from several threads at once. Calls block (a submit up to the client's timeout), so do not
    /// call them on the UI thread.
    /// </summary>
    public sealed class WdtOutbox : IDisposable
    {
        private readonly WdtOutboxHandle _handle;
        private volatile bool _disposed;

        /// <summary>
        /// Opens (creating if missing) the outbox file named in <paramref name="optionsJson"/>
        /// (<c>{"path":"C:\\POS\\outbox.db"}</c> plus optional <c>marker</c>, <c>settle_ms</c>,
        /// <c>lease_ms</c>, <c>worker_interval_ms</c>) with its own client built from
        /// <paramref name="clientConfigJson"/> (the JSON of <see cref="WdtClient"/>).
        /// </summary>
        /// <exception cref="WdtException">Kind <c>config</c>: bad options, or a file that cannot be
        /// an outbox (not a database, another program's, read-only); <see cref="WdtException.Field"/>
        /// names the option.</exception>
        public WdtOutbox(string clientConfigJson, string optionsJson)
        {
            byte[] config = NativeMethods.ToUtf8Z(clientConfigJson, "clientConfigJson");
            byte[] options = NativeMethods.ToUtf8Z(optionsJson, "optionsJson");
            NativeMethods.EnsureLoaded();
            IntPtr errorJson = IntPtr.Zero;
            WdtOutboxHandle handle = null;
            try
            {
                handle = NativeMethods.wdt_outbox_open(config, options, out errorJson);
                if (handle.IsInvalid)
                {
                    string envelope = NativeMethods.CopyUtf8Z(errorJson);
                    WdtException e = envelope == null ? null : WdtException.FromEnvelope(envelope);
                    throw e ?? new WdtException(WdtErrorKind.Internal,
                        "internal: wdt_outbox_open returned no outbox and no error", envelopeJson: envelope);
                }
                _handle = handle;
                handle = null;
            }
            finally
            {
                NativeMethods.wdt_free_string(errorJson);
                if (handle != null)
                    handle.Dispose();
            }
        }

        /// <summary>
        /// Stores one quick return, then (unless <c>"defer": true</c>) tries to deliver it now.
        /// <paramref name="submitJson"/> is <c>{"id":"POS-20261130-0042","request":{…quick return…}}</c>.
        /// Returns the envelope; its <c>data</c> is the entry. Submitting an id again returns the
        /// stored entry and sends nothing.
        /// </summary>
        public string Submit(string submitJson)
        {
            return Invoke(NativeMethods.wdt_outbox_submit, submitJson, "submitJson");
        }

        /// <summary>One entry with its history, as an envelope.</summary>
        public string Get(string id)
        {
            return Invoke(NativeMethods.wdt_outbox_get, id, "id");
        }

        /// <summary>Entries (<c>{"state":…,"limit":…,"after":…}</c>, all optional), as an envelope.</summary>
        public string List(string filterJson = "{}")
        {
            return Invoke(NativeMethods.wdt_outbox_list, filterJson ?? "{}", "filterJson");
        }

        /// <summary>
        /// Works through undelivered entries now (<c>{"max_entries":…,"budget_ms":…}</c>, both
        /// optional); returns the envelope with the counts by state.
        /// </summary>
        public string Flush(string optionsJson = "{}")
        {
            return Invoke(NativeMethods.wdt_outbox_flush, optionsJson ?? "{}", "optionsJson");
        }

        /// <summary>
        /// <see cref="Submit"/> as a typed result.
        /// </summary>
        /// <exception cref="WdtException">The submit was refused (an invalid request, a full disk).</exception>
        public OutboxEntry SubmitEntry(string submitJson)
        {
            return OutboxEntry.FromEnvelope(Submit(submitJson));
        }

        /// <summary><see cref="Get"/> as a typed result.</summary>
        /// <exception cref="WdtException">No such entry, or the file could not be read.</exception>
        public OutboxEntry GetEntry(string id)
        {
            return OutboxEntry.FromEnvelope(Get(id));
        }

        /// <summary><see cref="Flush"/> as a typed result.</summary>
        /// <exception cref="WdtException">Bad options, or the file could not be used.</exception>
        public FlushResult FlushCounts(string optionsJson = "{}")
        {
            string env = Flush(optionsJson);
            WdtException.ThrowIfError(env);
            var data = Data(env);
            object blocked;
            string blockedJson = data.TryGetValue("blocked", out blocked) && blocked is Dictionary<string, object>
                ? JsonReader.MemberText(JsonReader.MemberText(env, "data"), "blocked")
                : null;
            long blockedStatus = blockedJson != null ? Int((Dictionary<string, object>)blocked, "status") : 0;
            return new FlushResult(Int(data, "delivered"), Int(data, "rejected"), Int(data, "in_doubt"),
                Int(data, "pending"), Int(data, "needs_attention"), blockedJson, blockedStatus);
        }

        /// <summary>Stops the background worker (if any) and closes the file; entries stay in it.</summary>
        public void Dispose()
        {
            _disposed = true;
            _handle.Dispose();
        }

        private delegate IntPtr Entry(WdtOutboxHandle outbox, byte[] json);

        private string Invoke(Entry entry, string json, string paramName)
        {
            if (_disposed)
                throw new ObjectDisposedException("WdtOutbox");
            byte[] bytes = NativeMethods.ToUtf8Z(json, paramName);
            return NativeMethods.TakeEnvelope(entry(_handle, bytes));
        }

        internal static Dictionary<string, object> Data(string envelope)
        {
            var env = (Dictionary<string, object>)JsonReader.Parse(envelope);
            return (Dictionary<string, object>)env["data"];
        }

        internal static long Int(Dictionary<string, object> o, string key)
        {
            object v;
            long n;
            return o.TryGetValue(key, out v) && v is JsonNumber
                   && long.TryParse(((JsonNumber)v).Text, out n) ? n : 0;
        }
    }

    /// <summary>The state of one outbox entry, for branching; <see cref="Json"/> has all of it.</summary>
    public sealed class OutboxEntry
    {
        /// <summary>The entry id (the caller's, or one the library generated).</summary>
        public string Id { get; private set; }

        /// <summary>
        /// <c>pending</c> (will be sent), <c>in_doubt</c> (the ERP is asked before any resend),
        /// <c>delivered</c>, <c>rejected</c> (final, a person must look) or
        /// <c>needs_attention</c> (never sent again automatically, a person must look).
        /// </summary>
        public string State { get; private set; }

        /// <summary>How many times the return was sent.</summary>
        public long Attempts { get; private set; }

        /// <summary>What the cashier does in this state (中文), to show as it is.</summary>
        public string Hint { get; private set; }

        /// <summary>
        /// For an <c>in_doubt</c> entry, the earliest time (Unix ms) the outbox asks the ERP about
        /// it (the first flush from then on does); null in every other state.
        /// </summary>
        public long? NextCheckMs { get; private set; }

        /// <summary>The entry as JSON (the envelope's <c>data</c>), including result, error, history.</summary>
        public string Json { get; private set; }

        internal static OutboxEntry FromEnvelope(string envelope)
        {
            WdtException.ThrowIfError(envelope);
            var data = WdtOutbox.Data(envelope);
            return new OutboxEntry
            {
                Id = data["id"] as string,
                State = data["state"] as string,
                Attempts = WdtOutbox.Int(data, "attempts"),
                Hint = data.ContainsKey("hint") ? data["hint"] as string : null,
                NextCheckMs = data.ContainsKey("next_check_ms") && data["next_check_ms"] is JsonNumber
                    ? (long?)WdtOutbox.Int(data, "next_check_ms") : null,
                Json = JsonReader.MemberText(envelope, "data"),
            };
        }
    }

    /// <summary>What a flush did (delivered, rejected) and what it left (the open states).</summary>
    public sealed class FlushResult
    {
        internal FlushResult(long delivered, long rejected, long inDoubt, long pending, long needsAttention,
            string blockedJson, long blockedStatus)
        {
            BlockedJson = blockedJson;
            BlockedStatus = blockedStatus;
            Delivered = delivered;
            Rejected = rejected;
            InDoubt = inDoubt;
            Pending = pending;
            NeedsAttention = needsAttention;
        }

        /// <summary>Entries this flush delivered.</summary>
        public long Delivered { get; private set; }

        /// <summary>Entries this flush saw rejected.</summary>
        public long Rejected { get; private set; }

        /// <summary>Entries left in doubt (waiting for the settle delay or the ERP).</summary>
        public long InDoubt { get; private set; }

        /// <summary>Entries left pending (the gateway was not reachable).</summary>
        public long Pending { get; private set; }

        /// <summary>Entries that need a person.</summary>
        public long NeedsAttention { get; private set; }

        /// <summary>
        /// Null, or why the flush stopped early because the gateway refused the account rather
        /// than a return (wrong secret, disabled appkey, IP whitelist, a clock off by more than the
        /// gateway allows): <c>{"kind":"api","status":1,"message":"…"}</c>. The entries stay
        /// pending; fix the configuration and flush again.
        /// </summary>
        public string BlockedJson { get; private set; }

        /// <summary>The gateway status that blocked the flush (see <see cref="BlockedJson"/>), or 0.</summary>
        public long BlockedStatus { get; private set; }

        /// <summary>True when the flush stopped because the gateway refused the account.</summary>
        public bool Blocked { get { return BlockedJson != null; } }
    }

    internal sealed class WdtOutboxHandle : SafeHandle
    {
        private WdtOutboxHandle()
            : base(IntPtr.Zero, ownsHandle: true)
        {
        }

        public override bool IsInvalid
        {
            get { return handle == IntPtr.Zero; }
        }

        // Runs once, after the last in-flight call released its reference; joins the worker.
        protected override bool ReleaseHandle()
        {
            NativeMethods.wdt_outbox_close(handle);
            return true;
        }
    }
}
