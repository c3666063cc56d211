// Tests of the binding's Windows-till features: async calls (many tasks on one
// client, cancellation that stops waiting but never takes back a sent return), the paging
// iterator, Hint, and the Log event over wdt_client_set_log_callback.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Wdt;

namespace WdtTests
{
    internal static class ExtraTests
    {
        private const string RealRequest =
            "{\"refundInfo\":{\"tid\":\"pos-load\",\"return_warehouse_no\":\"pos\",\"remark\":\"csharp async\"}," +
            "\"detailMapList\":[{\"spec_no\":\"LOAD-SKU\",\"stockin_num\":1,\"remark\":\"\"}],\"createPreStockin\":false}";
        private const string InvalidRequest =
            "{\"refundInfo\":{\"tid\":\"\",\"return_warehouse_no\":\"pos\",\"remark\":\"\"}," +
            "\"detailMapList\":[{\"spec_no\":\"LOAD-SKU\",\"stockin_num\":1,\"remark\":\"\"}],\"createPreStockin\":false}";

        internal static void Run(string cfg, string mockBase)
        {
            if (cfg == null)
            {
                Program.Test("extra tests need the fixtures", () => { throw new Exception("fixtures did not load"); });
                return;
            }
            AsyncTests(cfg);
            PagerTests(cfg);
            HintTests(cfg);
            LogTests(cfg);
        }

        // ---- async ------------------------------------------------------------------------

        private static void AsyncTests(string cfg)
        {
            Program.Test("async: 200 concurrent tasks on one client all complete correctly", () =>
            {
                using (var client = new WdtClient(cfg))
                {
                    var tasks = new List<Task<string>>();
                    for (int i = 0; i < 200; i++)
                    {
                        if (i % 4 == 0) tasks.Add(client.SmartRefundUploadOrThrowAsync(RealRequest));
                        else if (i % 4 == 1) tasks.Add(client.SmartRefundUploadAsync(RealRequest));
                        else if (i % 4 == 2) tasks.Add(client.SmartRefundUploadAsync(InvalidRequest));
                        else tasks.Add(client.CallAsync("{\"method\":\"wms.stockin.Refund.queryWithDetail\",\"args\":[" + Window() + "],\"pager\":{\"page_size\":5,\"page_no\":0,\"calc_total\":true}}"));
                    }
                    Program.Assert(Task.WaitAll(tasks.ToArray(), 120000), "tasks did not finish");
                    for (int i = 0; i < tasks.Count; i++)
                    {
                        string r = tasks[i].Result;
                        if (i % 4 == 0)
                            Program.Assert(r.Contains("\"stockin_id\"") && !r.Contains("\"ok\""), "OrThrowAsync result " + r);
                        else if (i % 4 == 2)
                            Program.AssertEqual(WdtErrorKind.InvalidArgument, Program.Throws<WdtException>(() => WdtException.ThrowIfError(r)).Kind, "kind of task " + i);
                        else
                            WdtException.ThrowIfError(r);
                    }
                }
            });
            Program.Test("async: a failed OrThrow task faults with WdtException; argument errors throw at once", () =>
            {
                using (var client = new WdtClient(cfg))
                {
                    Task<string> t = client.SmartRefundUploadOrThrowAsync(InvalidRequest);
                    var agg = Program.Throws<AggregateException>(() => t.Wait(30000));
                    Program.Assert(agg.InnerException is WdtException, "inner " + agg.InnerException);
                    Program.Throws<ArgumentNullException>(() => client.SmartRefundUploadAsync(null));
                    Program.Throws<ArgumentException>(() => client.CallAsync("{}\0"));
                }
                var disposed = new WdtClient(cfg);
                disposed.Dispose();
                Program.Throws<ObjectDisposedException>(() => disposed.SmartRefundUploadAsync(RealRequest));
            });
            Program.Test("async: an already-cancelled token sends nothing", () =>
            {
                using (var client = new WdtClient(cfg))
                using (var cts = new CancellationTokenSource())
                {
                    cts.Cancel();
                    long before = Program.MockRequests();
                    Task<string> t = client.SmartRefundUploadAsync(RealRequest, cts.Token);
                    Program.Assert(t.IsCanceled, "task not cancelled");
                    Thread.Sleep(300);
                    Program.AssertEqual(before, Program.MockRequests(), "requests the gateway saw");
                }
            });
            Program.Test("async: cancelling stops waiting; the return is still sent and its result logged", () =>
            {
                var listener = new LineListener();
                Trace.Listeners.Add(listener);
                try
                {
                    using (var client = new WdtClient(cfg))
                    using (var cts = new CancellationTokenSource())
                    {
                        long before = Program.MockRequests();
                        // The double holds the next request for 1.5 s.
                        Program.MockPost("/__mock/fault", "{\"mode\":\"slow\",\"ms\":1500,\"count\":1}");
                        Task<string> t = client.SmartRefundUploadAsync(RealRequest, cts.Token);
                        Program.WaitForRequestAfter(before);
                        cts.Cancel();
                        // Canceled at once, long before the gateway answers.
                        var agg = Program.Throws<AggregateException>(() => t.Wait(1000));
                        Program.Assert(agg.InnerException is TaskCanceledException, "inner " + agg.InnerException);
                        Program.Assert(t.IsCanceled, "task not cancelled");
                        Program.Assert(listener.WaitFor("SmartRefundUploadAsync was cancelled by the caller", 30000),
                            "no log line for the abandoned result; lines: " + string.Join(" | ", listener.Lines()));
                        string line = listener.Lines().First(l => l.Contains("was cancelled"));
                        Program.Assert(line.Contains("\"ok\":true") && line.Contains("stockin_id"), "logged: " + line);
                        Program.AssertEqual(before + 1, Program.MockRequests(), "requests the gateway saw");
                    }
                }
                finally
                {
                    Trace.Listeners.Remove(listener);
                }
            });
            Program.Test("async: the continuation of an await runs on the caller's SynchronizationContext", () =>
            {
                using (var client = new WdtClient(cfg))
                {
                    var ctx = new QueueContext();
                    int? ranOn = null;
                    ctx.Post(_ => Continue(client, ctx, () => ranOn = Thread.CurrentThread.ManagedThreadId), null);
                    Program.Assert(ctx.RunUntil(() => ranOn.HasValue, 30000), "the await never resumed");
                    Program.AssertEqual(ctx.ThreadId, ranOn.Value, "thread the continuation ran on");
                }
            });
        }

        // Like a WinForms click handler: await on the "UI" context, then touch "UI" state.
        private static async void Continue(WdtClient client, QueueContext ctx, Action after)
        {
            string data = await client.SmartRefundUploadOrThrowAsync(RealRequest);
            if (SynchronizationContext.Current == ctx && data.Contains("stockin_id"))
                after();
        }

        // ---- paging -----------------------------------------------------------------------

        // A two-day window around now in Beijing time (the gateway's clock), inside any 30-day rule.
        private static string Window()
        {
            DateTime cst = DateTime.UtcNow.AddHours(8);
            return "{\"start_time\":\"" + cst.AddDays(-1).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) +
                "\",\"end_time\":\"" + cst.AddDays(1).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) + "\"}";
        }

        private static void PagerTests(string cfg)
        {
            Program.Test("pages: walks every page until total_count, items match a single big page", () =>
            {
                using (var client = new WdtClient(cfg))
                {
                    for (int i = 0; i < 7; i++)
                        client.SmartRefundUploadOrThrow(RealRequest);
                    string args = "[" + Window() + "]";
                    var pages = client.Pages("wms.stockin.Refund.queryWithDetail", args, 3).ToList();
                    long total = pages[0].TotalCount.Value;
                    Program.Assert(total >= 7, "total_count " + total);
                    Program.AssertEqual((int)((total + 2) / 3), pages.Count, "pages for total " + total);
                    for (int i = 0; i < pages.Count; i++)
                    {
                        Program.AssertEqual(i, pages[i].PageNo, "PageNo");
                        Program.AssertEqual(total, pages[i].TotalCount, "TotalCount of page " + i);
                        Program.AssertEqual(i < pages.Count - 1 ? 3 : (int)(total - 3 * (pages.Count - 1)), pages[i].Items.Count, "items on page " + i);
                    }
                    var items = client.Items("wms.stockin.Refund.queryWithDetail", args, 3, "order").ToList();
                    Program.AssertEqual(total, (long)items.Count, "Items count");
                    var numbers = new HashSet<string>();
                    foreach (string item in items)
                    {
                        var o = (Dictionary<string, object>)JsonReader.Parse(item);
                        Program.Assert(numbers.Add(o["stockin_id"].ToString()), "stockin_id seen twice: " + o["stockin_id"]);
                    }
                    // The same rows as one page of 100 (when they fit), in the same order.
                    if (total <= 100)
                    {
                        string env = client.Call("{\"method\":\"wms.stockin.Refund.queryWithDetail\",\"args\":" + args +
                            ",\"pager\":{\"page_size\":100,\"page_no\":0,\"calc_total\":true}}");
                        WdtException.ThrowIfError(env);
                        var big = JsonReader.ElementTexts(JsonReader.MemberText(JsonReader.MemberText(env, "data"), "order"));
                        Program.AssertEqual(string.Join("\n", big.ToArray()), string.Join("\n", items.ToArray()), "items vs one big page");
                    }
                }
            });
            Program.Test("pages: lazy, argument errors at once, a failed page throws WdtException", () =>
            {
                using (var client = new WdtClient(cfg))
                {
                    Program.Throws<ArgumentNullException>(() => client.Pages(null, "[]"));
                    Program.Throws<ArgumentOutOfRangeException>(() => client.Pages("m", "[]", 0));
                    long before = Program.MockRequests();
                    IEnumerable<WdtPage> lazy = client.Pages("wms.stockin.Refund.queryWithDetail", "[" + Window() + "]");
                    Program.AssertEqual(before, Program.MockRequests(), "requests before enumerating");
                    var e = Program.Throws<WdtException>(() => client.Pages("wms.stockin.Refund.queryWithDetail", "{\"a\":1}").ToList());
                    Program.AssertEqual(WdtErrorKind.InvalidArgument, e.Kind, "Kind");
                    Program.Assert(lazy.First().TotalCount.HasValue, "first page");
                }
            });
        }

        // ---- hint (new ABI) ---------------------------------------------------------------

        private static void HintTests(string cfg)
        {
            Program.Test("hint: WdtException.Hint reads error.hint; absent is null", () =>
            {
                var e = Program.Throws<WdtException>(() => WdtException.ThrowIfError(
                    "{\"ok\":false,\"error\":{\"kind\":\"api\",\"status\":1,\"message\":\"sid is not exists\",\"hint\":\"正式/测试环境的地址用错了\"}}"));
                Program.AssertEqual("正式/测试环境的地址用错了", e.Hint, "Hint");
                Program.Assert(e.ToString().Contains("正式/测试环境的地址用错了"), "ToString lacks the hint");
                e = Program.Throws<WdtException>(() => WdtException.ThrowIfError("{\"ok\":false,\"error\":{\"kind\":\"api\",\"message\":\"m\"}}"));
                Program.Assert(e.Hint == null, "Hint not null");
            });
            // Fails (does not skip) against a libwdt whose envelopes carry no hint.
            Program.Test("hint: every error envelope from libwdt has a Chinese hint", () =>
            {
                using (var client = new WdtClient(cfg))
                {
                    var errors = new[]
                    {
                        Program.Throws<WdtException>(() => client.SmartRefundUploadOrThrow(InvalidRequest)),
                        Program.Throws<WdtException>(() => client.SmartRefundUploadOrThrow(RealRequest.Replace("pos-load", "no-such-order"))),
                        Program.Throws<WdtException>(() => WdtException.ThrowIfError(client.Call("{\"args\":[]}"))),
                        Program.Throws<WdtException>(() => new WdtClient("{\"sid\":\"x\"}")),
                    };
                    foreach (var e in errors)
                        Program.Assert(!string.IsNullOrEmpty(e.Hint) && e.Hint.Any(c => c >= 0x4e00 && c <= 0x9fff),
                            "no Chinese hint in " + e.EnvelopeJson);
                }
            });
        }

        // ---- log (new ABI) ----------------------------------------------------------------

        private static void LogTests(string cfg)
        {
            // Fails (does not skip) against a libwdt without wdt_client_set_log_callback.
            Program.Test("log (libwdt with wdt_client_set_log_callback): lines arrive, never the secret, off when unsubscribed", () =>
            {
                using (var client = new WdtClient(cfg))
                {
                    var lines = new List<string>();
                    EventHandler<WdtLogEventArgs> h = (s, a) => { lock (lines) lines.Add(a.Line); };
                    EventHandler<WdtLogEventArgs> bad = (s, a) => { throw new InvalidOperationException("handler bug"); };
                    client.Log += bad; // an exception in a handler must not reach libwdt
                    client.Log += h;
                    // Collected garbage must not take the native callback with it.
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                    var tasks = Enumerable.Range(0, 8).Select(_ => client.SmartRefundUploadOrThrowAsync(RealRequest)).ToArray();
                    Task.WaitAll(tasks);
                    client.SmartRefundUpload(RealRequest.Replace("pos-load", "no-such-order"));
                    int n;
                    lock (lines) n = lines.Count;
                    Program.Assert(n > 0, "no log line");
                    lock (lines)
                        foreach (string l in lines)
                            Program.Assert(!l.Contains("testsecret"), "secret in a log line: " + l);
                    client.Log -= h;
                    client.Log -= bad;
                    client.SmartRefundUpload(RealRequest);
                    lock (lines) Program.AssertEqual(n, lines.Count, "lines after unsubscribing");
                    client.Log += h; // on again
                    client.SmartRefundUpload(RealRequest);
                    lock (lines) Program.Assert(lines.Count > n, "no line after subscribing again");
                }
            });
        }

        // ---- helpers ----------------------------------------------------------------------

        private sealed class LineListener : TraceListener
        {
            private readonly List<string> _lines = new List<string>();
            public override void Write(string message) { WriteLine(message); }
            public override void WriteLine(string message)
            {
                lock (_lines) { _lines.Add(message); Monitor.PulseAll(_lines); }
            }
            public string[] Lines() { lock (_lines) return _lines.ToArray(); }
            public bool WaitFor(string part, int ms)
            {
                var sw = Stopwatch.StartNew();
                lock (_lines)
                {
                    while (!_lines.Any(l => l.Contains(part)))
                    {
                        long left = ms - sw.ElapsedMilliseconds;
                        if (left <= 0) return false;
                        Monitor.Wait(_lines, (int)left);
                    }
                    return true;
                }
            }
        }

        // A single-threaded context standing in for the WinForms UI thread.
        private sealed class QueueContext : SynchronizationContext
        {
            private readonly Queue<KeyValuePair<SendOrPostCallback, object>> _q = new Queue<KeyValuePair<SendOrPostCallback, object>>();
            internal int ThreadId = Thread.CurrentThread.ManagedThreadId;
            public override void Post(SendOrPostCallback d, object state)
            {
                lock (_q) { _q.Enqueue(new KeyValuePair<SendOrPostCallback, object>(d, state)); Monitor.PulseAll(_q); }
            }
            internal bool RunUntil(Func<bool> done, int ms)
            {
                var old = Current;
                SetSynchronizationContext(this);
                try
                {
                    var sw = Stopwatch.StartNew();
                    while (!done())
                    {
                        KeyValuePair<SendOrPostCallback, object> item;
                        lock (_q)
                        {
                            while (_q.Count == 0)
                            {
                                long left = ms - sw.ElapsedMilliseconds;
                                if (left <= 0) return false;
                                Monitor.Wait(_q, (int)Math.Min(left, 100));
                                if (done()) return true;
                            }
                            item = _q.Dequeue();
                        }
                        item.Key(item.Value);
                    }
                    return true;
                }
                finally
                {
                    SetSynchronizationContext(old);
                }
            }
        }
    }
}
