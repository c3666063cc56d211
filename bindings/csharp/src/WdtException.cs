// The error half of a libwdt envelope as a .NET exception. The fields mirror the envelope's
// `error` object one to one, so what a till logs is what the C, C++ and PHP bindings see.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Wdt
{
    /// <summary>
    /// The stable <c>error.kind</c> strings of the libwdt ABI. A kind is never renamed or
    /// reused, but new ones may be added, so compare against these and keep a default branch.
    /// </summary>
    public static class WdtErrorKind
    {
        /// <summary>The request JSON is malformed or breaks the API's rules; nothing was sent. See <see cref="WdtException.Field"/>.</summary>
        public const string InvalidArgument = "invalid_argument";
        /// <summary>The config JSON was rejected (only from the <see cref="WdtClient"/> constructor). See <see cref="WdtException.Field"/>.</summary>
        public const string Config = "config";
        /// <summary>Network failure. See <see cref="WdtException.Delivery"/>.</summary>
        public const string Transport = "transport";
        /// <summary>No complete answer in time. See <see cref="WdtException.Delivery"/>.</summary>
        public const string Timeout = "timeout";
        /// <summary>A non-2xx HTTP status without a gateway JSON body. See <see cref="WdtException.HttpStatus"/>.</summary>
        public const string Http = "http";
        /// <summary>A 2xx answer that is not the gateway's JSON.</summary>
        public const string BadResponse = "bad_response";
        /// <summary>The gateway answered with status &gt; 0; <see cref="WdtException.Status"/> and the message are the gateway's.</summary>
        public const string Api = "api";
        /// <summary>
        /// Only from <see cref="WdtOutbox"/>: its file could not be written. <see cref="WdtException.Delivery"/>
        /// is <c>not_sent</c> when nothing was sent, or <c>unknown</c> with <see cref="WdtException.EntryId"/>
        /// when the return may be at the ERP (do not ring it up again; the outbox reconciles it).
        /// </summary>
        public const string Storage = "storage";
        /// <summary>A bug in libwdt (a caught panic); the request may or may not have been sent.</summary>
        public const string Internal = "internal";
        /// <summary>
        /// Raised by this binding only, never found in an envelope: no native library of this
        /// process's bitness could be loaded. The message names the file, the bitness and every
        /// path looked at; <see cref="WdtException.Hint"/> says what to do.
        /// </summary>
        public const string NativeLibrary = "native_library";
    }

    /// <summary>
    /// The <c>error.delivery</c> strings: what happened to the request before it failed. Decide
    /// whether to resend a quick return on this, not on the kind: resending one whose delivery is
    /// <see cref="Unknown"/> can book the same return twice.
    /// </summary>
    public static class WdtDelivery
    {
        /// <summary>No byte of the request can have reached the gateway: safe to send again.</summary>
        public const string NotSent = "not_sent";
        /// <summary>It may have reached the gateway and the ERP may have acted on it: look it up in the ERP before sending again.</summary>
        public const string Unknown = "unknown";
        /// <summary>The gateway received it and refused it (<c>api</c> errors): nothing was created.</summary>
        public const string Rejected = "rejected";
    }

    /// <summary>
    /// A failed libwdt call: <c>{"ok": false, "error": {...}}</c>. <see cref="Exception.Message"/>
    /// is <c>error.message</c> unchanged (for <c>api</c> errors, the gateway's Chinese text).
    /// </summary>
    public class WdtException : Exception
    {
        /// <summary>
        /// Builds the exception from the envelope's <c>error</c> members; public so that code
        /// which wraps or fakes a <see cref="WdtClient"/> in its own tests can raise the same errors.
        /// </summary>
        public WdtException(string kind, string message, string field = null, int? status = null,
            string delivery = null, int? httpStatus = null, string envelopeJson = null,
            bool? retryable = null, int? attempts = null)
            : this(kind, message, null, field, status, delivery, httpStatus, envelopeJson, retryable, attempts, null)
        {
        }

        /// <summary>
        /// Like the other constructor, with the envelope's <c>error.hint</c> (the Chinese remedy)
        /// and an inner exception. Every parameter is required here so that calls written for the
        /// shorter constructor still pick that one.
        /// </summary>
        public WdtException(string kind, string message, string hint, string field, int? status,
            string delivery, int? httpStatus, string envelopeJson, bool? retryable, int? attempts,
            Exception innerException)
            : base(message ?? kind, innerException)
        {
            Kind = kind;
            Hint = hint;
            Field = field;
            Status = status;
            Delivery = delivery;
            HttpStatus = httpStatus;
            EnvelopeJson = envelopeJson;
            Retryable = retryable;
            Attempts = attempts;
        }

        /// <summary><c>error.kind</c>: one of <see cref="WdtErrorKind"/> (or a newer kind).</summary>
        public string Kind { get; private set; }

        /// <summary>
        /// <c>error.hint</c>: what to do about it, in Chinese, for the cashier or the till's
        /// support person (e.g. which environment the URL belongs to). Null if the envelope has none.
        /// </summary>
        public string Hint { get; private set; }

        /// <summary><c>error.field</c>: the JSON path (<c>invalid_argument</c>) or config key (<c>config</c>); otherwise null.</summary>
        public string Field { get; private set; }

        /// <summary><c>error.status</c>: the gateway's status for <c>api</c> errors; otherwise null.</summary>
        public int? Status { get; private set; }

        /// <summary>
        /// <c>error.delivery</c>, one of <see cref="WdtDelivery"/>: <c>"not_sent"</c> (safe to send
        /// again), <c>"unknown"</c> (the return may already be booked: look it up before sending
        /// again) or <c>"rejected"</c> (the gateway refused it). Null if the envelope has none.
        /// </summary>
        public string Delivery { get; private set; }

        /// <summary>
        /// <c>error.retryable</c>: true when sending the very same request again is safe and may
        /// succeed (nothing left the machine, or the gateway rate-limited it). Null if absent.
        /// </summary>
        public bool? Retryable { get; private set; }

        /// <summary><c>error.attempts</c>: how many times libwdt sent the request to the gateway. Null if absent.</summary>
        public int? Attempts { get; private set; }

        /// <summary>
        /// <c>error.entry_id</c>: for a <c>storage</c> error with delivery <c>unknown</c>, the outbox
        /// entry whose outcome could not be recorded; otherwise null.
        /// </summary>
        public string EntryId
        {
            get
            {
                if (EnvelopeJson == null)
                    return null;
                try
                {
                    var env = JsonReader.Parse(EnvelopeJson) as Dictionary<string, object>;
                    object err;
                    return env != null && env.TryGetValue("error", out err) && err is Dictionary<string, object>
                        ? GetString((Dictionary<string, object>)err, "entry_id")
                        : null;
                }
                catch (FormatException)
                {
                    return null;
                }
            }
        }

        /// <summary><c>error.http_status</c> for <c>http</c> errors; otherwise null.</summary>
        public int? HttpStatus { get; private set; }

        /// <summary>The whole envelope as libwdt returned it, for logs and for fields added later.</summary>
        public string EnvelopeJson { get; private set; }

        /// <summary>
        /// Throws a <see cref="WdtException"/> when <paramref name="envelopeJson"/> (as returned by
        /// <see cref="WdtClient.Call"/> or <see cref="WdtClient.SmartRefundUpload"/>) is not ok;
        /// returns normally otherwise.
        /// </summary>
        public static void ThrowIfError(string envelopeJson)
        {
            WdtException e = FromEnvelope(envelopeJson);
            if (e != null)
                throw e;
        }

        /// <summary>Null for an ok envelope, else the exception describing it.</summary>
        internal static WdtException FromEnvelope(string envelopeJson)
        {
            if (envelopeJson == null)
                throw new ArgumentNullException("envelopeJson");
            Dictionary<string, object> env;
            try
            {
                env = JsonReader.Parse(envelopeJson) as Dictionary<string, object>;
            }
            catch (FormatException e)
            {
                return Unreadable(envelopeJson, e.Message);
            }
            if (env == null)
                return Unreadable(envelopeJson, "not a JSON object");
            object ok;
            if (env.TryGetValue("ok", out ok) && ok is bool && (bool)ok)
                return null;

            object errObj;
            var err = env.TryGetValue("error", out errObj) ? errObj as Dictionary<string, object> : null;
            if (err == null)
                return Unreadable(envelopeJson, "no error object");
            string kind = GetString(err, "kind");
            if (kind == null)
                return Unreadable(envelopeJson, "no error.kind");
            return new WdtException(kind, GetString(err, "message"), GetString(err, "hint"), GetString(err, "field"),
                GetInt(err, "status"), GetString(err, "delivery"), GetInt(err, "http_status"),
                envelopeJson, GetBool(err, "retryable"), GetInt(err, "attempts"), null);
        }

        // The ABI promises the envelope shape, so breaking it is a library bug: report it as one
        // rather than inventing a kind the other bindings do not have.
        private static WdtException Unreadable(string envelopeJson, string why)
        {
            return new WdtException(WdtErrorKind.Internal,
                "internal: unreadable envelope from libwdt (" + why + ")", envelopeJson: envelopeJson);
        }

        private static string GetString(Dictionary<string, object> o, string key)
        {
            object v;
            return o.TryGetValue(key, out v) ? v as string : null;
        }

        private static bool? GetBool(Dictionary<string, object> o, string key)
        {
            object v;
            return o.TryGetValue(key, out v) && v is bool ? (bool)v : (bool?)null;
        }

        private static int? GetInt(Dictionary<string, object> o, string key)
        {
            object v;
            int i;
            var n = o.TryGetValue(key, out v) ? v as JsonNumber : null;
            return n != null && n.TryGetInt32(out i) ? i : (int?)null;
        }

        /// <summary>Kind, status, field and delivery in front of the message, for log lines.</summary>
        public override string ToString()
        {
            var sb = new StringBuilder();
            sb.Append(GetType().FullName).Append(": [").Append(Kind);
            if (Status.HasValue) sb.Append(" status=").Append(Status.Value.ToString(CultureInfo.InvariantCulture));
            if (HttpStatus.HasValue) sb.Append(" http_status=").Append(HttpStatus.Value.ToString(CultureInfo.InvariantCulture));
            if (Field != null) sb.Append(" field=").Append(Field);
            if (Delivery != null) sb.Append(" delivery=").Append(Delivery);
            if (Retryable.HasValue) sb.Append(" retryable=").Append(Retryable.Value ? "true" : "false");
            if (Attempts.HasValue) sb.Append(" attempts=").Append(Attempts.Value.ToString(CultureInfo.InvariantCulture));
            sb.Append("] ").Append(Message);
            if (Hint != null) sb.Append(" (").Append(Hint).Append(')');
            if (InnerException != null) sb.Append(" ---> ").Append(InnerException.GetType().FullName).Append(": ").Append(InnerException.Message);
            if (StackTrace != null) sb.Append(Environment.NewLine).Append(StackTrace);
            return sb.ToString();
        }
    }
}
