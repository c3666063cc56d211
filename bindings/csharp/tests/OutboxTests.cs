// WdtOutbox against the gateway double: open errors, submit and the same id, typed results,
// defer and flush, list, Dispose, several threads on one outbox.

using System;
using System.IO;
using System.Threading;
using Wdt;

namespace WdtTests
{
    internal static class OutboxTests
    {
        private static string Return(string id, bool defer)
        {
            return "{\"id\":\"" + id + "\",\"defer\":" + (defer ? "true" : "false") +
                   ",\"request\":{\"refundInfo\":{\"tid\":\"pos-load\",\"return_warehouse_no\":\"pos\"," +
                   "\"remark\":\"C# 退货\"},\"detailMapList\":[{\"spec_no\":\"LOAD-SKU\",\"stockin_num\":1," +
                   "\"remark\":\"\"}],\"createPreStockin\":false}}";
        }

        private static void Check(bool cond, string what)
        {
            if (!cond)
                throw new Exception("assertion failed: " + what);
        }

        internal static void Run(string mockUrl, Action<string, Action> test)
        {
            string dir = Path.Combine(Path.GetTempPath(), "wdt-cs-outbox-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            string run = "CS" + Guid.NewGuid().ToString("N").Substring(0, 8);
            string config = "{\"sid\":\"wdtapi3\",\"appkey\":\"wdt_test\",\"appsecret\":\"testsecret:testsalt\"," +
                            "\"url\":\"" + mockUrl + "\",\"timeout_ms\":2000,\"connect_timeout_ms\":1000}";
            string options = "{\"path\":\"" + Path.Combine(dir, "outbox.db").Replace("\\", "\\\\") +
                             "\",\"settle_ms\":300,\"lease_ms\":3000}";

            test("outbox: bad options throw WdtException (config, field)", () =>
            {
                WdtException e = null;
                try
                {
                    new WdtOutbox(config, "{\"path\":\"x.db\",\"lease_ms\":1}").Dispose();
                }
                catch (WdtException x)
                {
                    e = x;
                }
                Check(e != null && e.Kind == WdtErrorKind.Config && e.Field == "lease_ms", "config error on lease_ms");
            });

            test("outbox: submit delivers; the same id is the same entry", () =>
            {
                using (var ob = new WdtOutbox(config, options))
                {
                    OutboxEntry e = ob.SubmitEntry(Return(run + "-1", false));
                    Check(e.State == "delivered" && e.Attempts == 1 && e.Id == run + "-1", "delivered: " + e.Json);
                    Check(!string.IsNullOrEmpty(e.Hint) && e.NextCheckMs == null, "a delivered entry: a hint, no next check: " + e.Json);
                    OutboxEntry again = ob.SubmitEntry(Return(run + "-1", false));
                    Check(again.Json == e.Json, "same entry: " + again.Json);
                    string env = ob.Get(run + "-1");
                    Check(env.Contains("\"history\":["), env);
                }
            });

            test("outbox: an invalid request throws from SubmitEntry, is an envelope from Submit", () =>
            {
                using (var ob = new WdtOutbox(config, options))
                {
                    string env = ob.Submit("{\"request\":{}}");
                    Check(env.Contains("\"field\":\"request.refundInfo\""), env);
                    WdtException e = null;
                    try
                    {
                        ob.SubmitEntry("{\"request\":{}}");
                    }
                    catch (WdtException x)
                    {
                        e = x;
                    }
                    Check(e != null && e.Kind == WdtErrorKind.InvalidArgument, "invalid_argument");
                }
            });

            test("outbox: defer, flush counts, list", () =>
            {
                using (var ob = new WdtOutbox(config, options))
                {
                    Check(ob.SubmitEntry(Return(run + "-2", true)).State == "pending", "deferred");
                    FlushResult f = ob.FlushCounts();
                    Check(f.Delivered == 1 && f.Pending == 0 && f.InDoubt == 0, "flush delivered 1");
                    Check(!f.Blocked && f.BlockedJson == null && f.BlockedStatus == 0, "not blocked");
                    Check(ob.GetEntry(run + "-2").State == "delivered", "delivered after flush");
                    string page = ob.List("{\"limit\":1}");
                    Check(page.Contains("\"next_after\":\"" + run + "-1\""), page);
                }
            });

            test("outbox: a storage error after the send names its entry", () =>
            {
                WdtException e = null;
                try
                {
                    WdtException.ThrowIfError("{\"ok\":false,\"error\":{\"kind\":\"storage\",\"message\":\"storage: disk full\"," +
                                              "\"delivery\":\"unknown\",\"retryable\":false,\"entry_id\":\"E-1\"}}");
                }
                catch (WdtException x)
                {
                    e = x;
                }
                Check(e != null && e.Kind == WdtErrorKind.Storage && e.Delivery == WdtDelivery.Unknown
                      && e.EntryId == "E-1", "kind storage, delivery unknown, entry_id");
            });

            test("outbox: a wrong secret blocks the flush and leaves the entry pending", () =>
            {
                string wrong = config.Replace("testsecret:testsalt", "testsecret:wrongsalt");
                string path = Path.Combine(dir, "blocked.db").Replace("\\", "\\\\");
                using (var ob = new WdtOutbox(wrong, "{\"path\":\"" + path + "\",\"lease_ms\":3000}"))
                {
                    Check(ob.SubmitEntry(Return(run + "-B", true)).State == "pending", "deferred");
                    FlushResult f = ob.FlushCounts();
                    Check(f.Blocked && f.BlockedStatus == 1 && f.Rejected == 0 && f.Pending == 1,
                          "blocked, nothing rejected: " + f.BlockedJson);
                    Check(f.BlockedJson.Contains("\"status\":1"), f.BlockedJson);
                    Check(ob.GetEntry(run + "-B").State == "pending", "still pending");
                }
            });

            test("outbox: four threads submit through one outbox", () =>
            {
                using (var ob = new WdtOutbox(config, options))
                {
                    int ok = 0;
                    var threads = new Thread[4];
                    for (int i = 0; i < threads.Length; i++)
                    {
                        int n = i;
                        threads[i] = new Thread(() =>
                        {
                            if (ob.SubmitEntry(Return(run + "-T" + n, false)).State == "delivered")
                                Interlocked.Increment(ref ok);
                        });
                        threads[i].Start();
                    }
                    foreach (var t in threads)
                        t.Join();
                    Check(ok == 4, "all delivered: " + ok);
                }
            });

            test("outbox: use after Dispose throws ObjectDisposedException", () =>
            {
                var ob = new WdtOutbox(config, options);
                ob.Dispose();
                bool threw = false;
                try
                {
                    ob.Flush();
                }
                catch (ObjectDisposedException)
                {
                    threw = true;
                }
                Check(threw, "ObjectDisposedException");
                using (var again = new WdtOutbox(config, options))
                    Check(again.GetEntry(run + "-1").State == "delivered", "entries stay in the file");
            });
        }
    }
}
