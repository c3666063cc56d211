// The C# binding's test: every shared fixture case (tests/fixtures/cases.json, read at run time
// so no binding can drift from the core), then what only a .NET caller can get wrong: exception
// mapping, Dispose semantics, sharing one client across threads, and that every string libwdt
// returns is freed (the process working set stays flat over many calls). No test framework, so
// it runs on a bare Mono; the last line is "N passed, M failed" and the exit code is non-zero on
// any failure.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using Wdt;

namespace WdtTests
{
    internal static class Program
    {
        private static int _passed, _failed;
        private static string _root, _mockUrl, _mockBase;
        private static Dictionary<string, object> _fixtures;

        // Requests of our own for the repeated calls: the seed's "pos-load" order has a million
        // units, so thousands of real returns never run into "more than bought".
        private const string RealRequest =
            "{\"refundInfo\":{\"tid\":\"pos-load\",\"return_warehouse_no\":\"pos\",\"remark\":\"csharp load\"}," +
            "\"detailMapList\":[{\"spec_no\":\"LOAD-SKU\",\"stockin_num\":1,\"remark\":\"\"}],\"createPreStockin\":false}";
        private const string InvalidRequest = // empty tid: rejected before anything is sent
            "{\"refundInfo\":{\"tid\":\"\",\"return_warehouse_no\":\"pos\",\"remark\":\"\"}," +
            "\"detailMapList\":[{\"spec_no\":\"LOAD-SKU\",\"stockin_num\":1,\"remark\":\"\"}],\"createPreStockin\":false}";
        private const string UnknownTidRequest =
            "{\"refundInfo\":{\"tid\":\"no-such-order\",\"return_warehouse_no\":\"pos\",\"remark\":\"\"}," +
            "\"detailMapList\":[{\"spec_no\":\"RRWDMS018040S\",\"stockin_num\":1,\"remark\":\"\"}],\"createPreStockin\":false}";

        private static int Main(string[] args)
        {
            // A till's console may not be UTF-8; ours must be, or the Chinese in failures is noise.
            try
            {
                Console.OutputEncoding = new UTF8Encoding(false);
            }
            catch (IOException)
            {
                // Windows .NET with stdout redirected and no console to set (CI under Wine):
                // write UTF-8 to the stream itself.
                Console.SetOut(new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = true });
            }
            if (args.Length == 1 && args[0] == "--probe-load")
                return ProbeLoad();
            _root = Environment.GetEnvironmentVariable("WDT_ROOT");
            _mockUrl = Environment.GetEnvironmentVariable("WDT_MOCK_URL");
            _mockBase = Environment.GetEnvironmentVariable("WDT_MOCK_BASE");
            if (string.IsNullOrEmpty(_root) || string.IsNullOrEmpty(_mockUrl))
            {
                Console.WriteLine("WDT_ROOT and WDT_MOCK_URL must be set (run bindings/csharp/test.sh)");
                Console.WriteLine("0 passed, 1 failed");
                return 1;
            }
            if (string.IsNullOrEmpty(_mockBase))
                _mockBase = _mockUrl.Substring(0, _mockUrl.LastIndexOf("/openapi", StringComparison.Ordinal));

            Test("fixtures load", () =>
            {
                string path = Path.Combine(Path.Combine(Path.Combine(_root, "tests"), "fixtures"), "cases.json");
                _fixtures = (Dictionary<string, object>)JsonReader.Parse(File.ReadAllText(path, Encoding.UTF8));
            });

            Test("Version matches Cargo.toml", () =>
            {
                string toml = File.ReadAllText(Path.Combine(_root, "Cargo.toml"));
                Match m = Regex.Match(toml, @"^version\s*=\s*""([^""]+)""", RegexOptions.Multiline);
                Assert(m.Success, "no version in Cargo.toml");
                AssertEqual(m.Groups[1].Value, WdtClient.Version, "Version");
                // The NuGet package carries the native library, so it must carry its version too.
                string csproj = File.ReadAllText(Path.Combine(Path.Combine(Path.Combine(_root, "bindings"), "csharp"), "Wdt.Net.csproj"));
                Match v = Regex.Match(csproj, @"<Version>([^<]+)</Version>");
                Assert(v.Success, "no <Version> in Wdt.Net.csproj");
                AssertEqual(m.Groups[1].Value, v.Groups[1].Value, "Wdt.Net.csproj <Version>");
                // The assembly under test (built here or installed from the package) says so too.
                var asm = typeof(WdtClient).Assembly;
                AssertEqual("Wdt.Net", asm.GetName().Name, "assembly name");
                var info = (System.Reflection.AssemblyInformationalVersionAttribute)Attribute.GetCustomAttribute(
                    asm, typeof(System.Reflection.AssemblyInformationalVersionAttribute));
                Assert(info != null, "no AssemblyInformationalVersion");
                AssertEqual(m.Groups[1].Value, info.InformationalVersion, "AssemblyInformationalVersion");
            });

            // Set by the Windows runner: the path tail of the wdt.dll this layout must load
            // (x64\wdt.dll from the .targets' folders via the loader's preload, or
            // runtimes\win-x64\native\wdt.dll found by the .NET Core host).
            string expectNative = Environment.GetEnvironmentVariable("WDT_CS_EXPECT_NATIVE");
            if (!string.IsNullOrEmpty(expectNative))
                Test("the process loaded " + expectNative + " (the build of its bitness, from its layout)", () =>
                {
                    Assert(WdtClient.Version.Length > 0, "no version");
                    string loaded = null;
                    using (var p = Process.GetCurrentProcess())
                        foreach (ProcessModule m in p.Modules)
                            if (string.Equals(Path.GetFileName(m.FileName), "wdt.dll", StringComparison.OrdinalIgnoreCase))
                                loaded = m.FileName;
                    Assert(loaded != null, "no wdt.dll among the process's modules");
                    Assert(loaded.EndsWith("\\" + expectNative, StringComparison.OrdinalIgnoreCase), "loaded " + loaded);
                    var last = NativeLoader.Last;
                    Assert(last != null, "the Windows preload did not run");
                    if (expectNative.StartsWith("runtimes", StringComparison.Ordinal))
                        Assert(last.LoadedPath == null, "the preload loaded " + last.LoadedPath + " in an SDK-style layout");
                    else
                        AssertEqual(loaded, last.LoadedPath, "the preload's file");
                });

            Test("a missing native library is a WdtException naming the file, the bitness and the paths", () =>
            {
                // The runner puts a copy of the two assemblies, without the native library, in
                // WDT_CS_NOLIB. The probe runs in the same kind of host as this process: mono by
                // default, or WDT_CS_PROBE_HOST (the Windows dotnet.exe of this bitness under Wine).
                string exe = Environment.GetEnvironmentVariable("WDT_CS_NOLIB");
                Assert(!string.IsNullOrEmpty(exe) && File.Exists(exe), "WDT_CS_NOLIB not set by the runner");
                string host = Environment.GetEnvironmentVariable("WDT_CS_PROBE_HOST");
                if (string.IsNullOrEmpty(host))
                    host = "mono";
                var psi = new ProcessStartInfo(host, "\"" + exe + "\" --probe-load")
                {
                    UseShellExecute = false,
                    RedirectStandardOutput = true,
                    StandardOutputEncoding = Encoding.UTF8,
                };
                psi.EnvironmentVariables.Remove("LD_LIBRARY_PATH");
                bool windows = Environment.OSVersion.Platform == PlatformID.Win32NT;
                string file = windows ? "wdt.dll" : "libwdt.so";
                string hint = windows ? "hint=把与程序位数一致的 wdt.dll" : "hint=把 libwdt.so 放到";
                using (var p = Process.Start(psi))
                {
                    string output = p.StandardOutput.ReadToEnd();
                    Assert(p.WaitForExit(60000), "probe hung");
                    string bits = IntPtr.Size == 8 ? "64-bit" : "32-bit";
                    Assert(output.StartsWith("Wdt.WdtException: libwdt could not be loaded into this " + bits + " process: no " +
                        bits + " " + file + " was found", StringComparison.Ordinal), "probe said: " + output);
                    Assert(output.Contains("kind=native_library") && output.Contains("inner=System.DllNotFoundException")
                        && output.Contains(hint), "probe said: " + output);
                    // On Windows the loader must have looked in the bitness subfolder first.
                    if (windows)
                        Assert(output.Contains("looked in ") && output.Contains((IntPtr.Size == 8 ? "\\x64\\" : "\\x86\\") + "wdt.dll"),
                            "probe said: " + output);
                }
            });

            JsonReaderTests();
            if (_fixtures != null)
            {
                FixtureCases();
                ConfigCases();
            }
            ExceptionMapping();
            ArgumentChecks();
            LoaderTests();
            DisposeTests();
            ThreadTests();
            ExtraTests.Run(_fixtures == null ? null : Config(null), _mockBase);
            MemoryTests();
            OutboxTests.Run(_mockUrl, Test);

            Console.WriteLine(_passed + " passed, " + _failed + " failed");
            return _failed == 0 ? 0 : 1;
        }

        // Child-process half of the missing-library test: prints what a till would see.
        private static int ProbeLoad()
        {
            try
            {
                Console.WriteLine("loaded " + WdtClient.Version);
                return 1;
            }
            catch (WdtException e)
            {
                Console.WriteLine(e.GetType().FullName + ": " + e.Message);
                Console.WriteLine("kind=" + e.Kind + " inner=" + (e.InnerException == null ? "" : e.InnerException.GetType().FullName));
                Console.WriteLine("hint=" + e.Hint);
                return 0;
            }
            catch (Exception e)
            {
                Console.WriteLine(e.GetType().FullName + ": " + e.Message);
                return 1;
            }
        }

        // ---- shared fixtures ------------------------------------------------------------------

        private static void FixtureCases()
        {
            var cases = (List<object>)_fixtures["cases"];
            WdtClient client = null;
            Test("client from base_config + mock url", () => client = new WdtClient(Config(null)));
            if (client == null)
                return;
            using (client)
            {
                foreach (Dictionary<string, object> c in cases)
                {
                    var local = c;
                    Test("case: " + (string)c["name"], () =>
                    {
                        string env = Invoke(client, (string)local["fn"], RequestText(local));
                        CheckExpect((Dictionary<string, object>)local["expect"], env);
                    });
                }
            }
        }

        private static void ConfigCases()
        {
            foreach (Dictionary<string, object> c in (List<object>)_fixtures["config_cases"])
            {
                var cc = c;
                Test("config case: " + (string)cc["name"], () =>
                {
                    object raw;
                    string config = cc.TryGetValue("raw_config", out raw)
                        ? (string)raw
                        : Config((Dictionary<string, object>)cc["config_overrides"]);
                    var expect = (Dictionary<string, object>)cc["expect"];
                    if ((bool)cc["creates"])
                    {
                        using (var client = new WdtClient(config))
                        {
                            var then = (Dictionary<string, object>)cc["then"];
                            string env = Invoke(client, (string)then["fn"], RequestText(FindCase((string)then["request_from"])));
                            CheckExpect(expect, env);
                        }
                        return;
                    }
                    WdtException e = Throws<WdtException>(() => new WdtClient(config).Dispose());
                    Assert(e.EnvelopeJson != null, "EnvelopeJson is null");
                    CheckExpect(expect, e.EnvelopeJson);
                });
            }
        }

        private static string Config(Dictionary<string, object> overrides)
        {
            var cfg = new Dictionary<string, object>((Dictionary<string, object>)_fixtures["base_config"]);
            cfg["url"] = _mockUrl;
            if (overrides != null)
                foreach (var kv in overrides)
                {
                    if (kv.Value == null) cfg.Remove(kv.Key);
                    else cfg[kv.Key] = kv.Value;
                }
            return JsonWriter.Write(cfg);
        }

        private static Dictionary<string, object> FindCase(string name)
        {
            foreach (Dictionary<string, object> c in (List<object>)_fixtures["cases"])
                if ((string)c["name"] == name)
                    return c;
            throw new Exception("no fixture case named " + name);
        }

        private static string RequestText(Dictionary<string, object> c)
        {
            object raw;
            return c.TryGetValue("raw", out raw) ? (string)raw : JsonWriter.Write(c["request"]);
        }

        private static string Invoke(WdtClient client, string fn, string request)
        {
            if (fn == "smart_refund_upload") return client.SmartRefundUpload(request);
            if (fn == "call") return client.Call(request);
            throw new Exception("unknown fn " + fn);
        }

        // Checks an envelope against a fixture's expect block twice: as raw JSON, and through
        // the binding's own mapping (WdtException.ThrowIfError), which must agree with it.
        private static void CheckExpect(Dictionary<string, object> expect, string env)
        {
            var e = (Dictionary<string, object>)JsonReader.Parse(env);
            string ctx = " in " + env;
            bool wantOk = (bool)expect["ok"];
            AssertEqual(wantOk, e["ok"], "ok" + ctx);
            object v;
            if (wantOk)
            {
                Assert(!e.ContainsKey("error"), "ok envelope has error" + ctx);
                WdtException.ThrowIfError(env);
                var data = e["data"] as Dictionary<string, object>;
                if (expect.TryGetValue("data_keys", out v))
                    foreach (string k in (List<object>)v)
                        Assert(data != null && data.ContainsKey(k), "data lacks " + k + ctx);
                if (expect.TryGetValue("has_total_count", out v) && (bool)v)
                    Assert(e.ContainsKey("total_count"), "no total_count" + ctx);
                return;
            }
            var err = (Dictionary<string, object>)e["error"];
            var ex = Throws<WdtException>(() => WdtException.ThrowIfError(env));
            AssertEqual(env, ex.EnvelopeJson, "EnvelopeJson");
            AssertEqual(Get(err, "kind"), ex.Kind, "Kind vs error.kind");
            AssertEqual(Get(err, "field"), ex.Field, "Field vs error.field");
            AssertEqual(Get(err, "delivery"), ex.Delivery, "Delivery vs error.delivery");
            AssertEqual(Get(err, "message") ?? ex.Kind, ex.Message, "Message vs error.message");
            AssertEqual(err.ContainsKey("status") ? int.Parse(((JsonNumber)err["status"]).Text) : (int?)null, ex.Status, "Status vs error.status");
            AssertEqual(err.ContainsKey("http_status") ? int.Parse(((JsonNumber)err["http_status"]).Text) : (int?)null, ex.HttpStatus, "HttpStatus vs error.http_status");
            AssertEqual(err.ContainsKey("attempts") ? int.Parse(((JsonNumber)err["attempts"]).Text) : (int?)null, ex.Attempts, "Attempts vs error.attempts");
            AssertEqual(err.ContainsKey("retryable") ? (bool?)(bool)err["retryable"] : null, ex.Retryable, "Retryable vs error.retryable");
            AssertEqual(Get(err, "hint"), ex.Hint, "Hint vs error.hint");
            if (expect.TryGetValue("kind", out v)) AssertEqual(v, ex.Kind, "kind" + ctx);
            if (expect.TryGetValue("field", out v)) AssertEqual(v, ex.Field, "field" + ctx);
            if (expect.TryGetValue("status", out v)) AssertEqual(int.Parse(((JsonNumber)v).Text), ex.Status, "status" + ctx);
            if (expect.TryGetValue("message_contains", out v))
                Assert(ex.Message.Contains((string)v), "message lacks \"" + v + "\"" + ctx);
        }

        private static string Get(Dictionary<string, object> o, string k)
        {
            object v;
            return o.TryGetValue(k, out v) ? (string)v : null;
        }

        // ---- the binding's own behaviour ------------------------------------------------------

        private static void JsonReaderTests()
        {
            Test("json: escapes, \\uXXXX and surrogate pairs", () =>
            {
                var o = (Dictionary<string, object>)JsonReader.Parse(
                    "{\"a\":\"q\\\"b\\\\s\\/n\\nt\\tr\\rb\\bf\\f\",\"u\":\"\\u672a\\u627E\",\"p\":\"\\ud83d\\ude00x\",\"lit\":\"退货😀\"}");
                AssertEqual("q\"b\\s/n\nt\tr\rb\bf\f", o["a"], "simple escapes");
                AssertEqual("未找", o["u"], "\\u escapes");
                AssertEqual("\U0001F600x", o["p"], "surrogate pair");
                AssertEqual("退货\U0001F600", o["lit"], "literal UTF-16");
            });
            Test("json: numbers keep their text, literals, nesting", () =>
            {
                var a = (List<object>)JsonReader.Parse(" [ -0.5e+3 , 12345678901234567890, true, false, null, {}, [] ] ");
                AssertEqual("-0.5e+3", ((JsonNumber)a[0]).Text, "number text");
                AssertEqual("12345678901234567890", ((JsonNumber)a[1]).Text, "big number text");
                AssertEqual(true, a[2], "true");
                AssertEqual(false, a[3], "false");
                Assert(a[4] == null, "null");
                AssertEqual(0, ((Dictionary<string, object>)a[5]).Count, "{}");
                AssertEqual(0, ((List<object>)a[6]).Count, "[]");
            });
            Test("json: malformed input is FormatException, deep nesting too", () =>
            {
                foreach (string bad in new[] { "", "{", "{\"a\":}", "[1,]", "01", "1.", "\"\\x\"", "\"\\u12\"", "\"a\nb\"", "tru", "{} x", "{'a':1}" })
                    Throws<FormatException>(() => JsonReader.Parse(bad));
                Throws<FormatException>(() => JsonReader.Parse(new string('[', 100000)));
            });
            Test("json: MemberText returns the exact source text", () =>
            {
                const string env = "{\"ok\":true,\"status\":0,\"data\": {\"stockin_id\": 1, \"s\":\"a\\\"}\" } ,\"total_count\":3}";
                AssertEqual("{\"stockin_id\": 1, \"s\":\"a\\\"}\" }", JsonReader.MemberText(env, "data"), "data");
                AssertEqual("3", JsonReader.MemberText(env, "total_count"), "total_count");
                Assert(JsonReader.MemberText(env, "nope") == null, "absent member");
            });
        }

        private static void ExceptionMapping()
        {
            string cfg = _fixtures == null ? null : Config(null);
            Test("good quick return: OrThrow gives the data object", () =>
            {
                using (var client = new WdtClient(cfg))
                {
                    string data = client.SmartRefundUploadOrThrow(RealRequest);
                    var d = (Dictionary<string, object>)JsonReader.Parse(data);
                    Assert(d.ContainsKey("stockin_id"), "no stockin_id in " + data);
                }
            });
            Test("api error keeps the gateway's Chinese message intact", () =>
            {
                using (var client = new WdtClient(cfg))
                {
                    var e = Throws<WdtException>(() => client.SmartRefundUploadOrThrow(UnknownTidRequest));
                    AssertEqual(WdtErrorKind.Api, e.Kind, "Kind");
                    AssertEqual(100, e.Status, "Status");
                    AssertEqual("未找到对应的单据信息!", e.Message, "Message");
                    Assert(e.Field == null && e.HttpStatus == null, "field/http_status on an api error");
                    // docs/abi.md: a 2xx status-100 answer proves nothing was created.
                    Assert(e.Delivery == WdtDelivery.Rejected, "Delivery " + e.Delivery);
                    Assert(e.Retryable != true, "an api 100 must not be retryable");
                }
            });
            Test("invalid_argument carries its field", () =>
            {
                using (var client = new WdtClient(cfg))
                {
                    var e = Throws<WdtException>(() => client.SmartRefundUploadOrThrow(InvalidRequest));
                    AssertEqual(WdtErrorKind.InvalidArgument, e.Kind, "Kind");
                    AssertEqual("refundInfo.tid", e.Field, "Field");
                    Assert(!string.IsNullOrEmpty(e.Message), "empty Message");
                    Assert(e.Status == null, "Status should be null");
                    e = Throws<WdtException>(() => WdtException.ThrowIfError(client.Call("{\"args\":[]}")));
                    AssertEqual("method", e.Field, "Field of call without method");
                }
            });
            Test("rejected config throws WdtException kind config with Field", () =>
            {
                var e = Throws<WdtException>(() => new WdtClient("{\"sid\":\"wdtapi3\",\"appkey\":\"wdt_test\",\"appsecret\":\"s:t\",\"url\":\"ftp://127.0.0.1/openapi\"}"));
                AssertEqual(WdtErrorKind.Config, e.Kind, "Kind");
                AssertEqual("url", e.Field, "Field");
                e = Throws<WdtException>(() => new WdtClient("{\"appkey\":\"wdt_test\",\"appsecret\":\"s:t\"}"));
                AssertEqual(WdtErrorKind.Config, e.Kind, "Kind");
                AssertEqual("sid", e.Field, "Field");
                // The secret must never surface, not even in a config error.
                e = Throws<WdtException>(() => new WdtClient("{\"sid\":\"x\",\"appkey\":\"y\",\"appsecret\":\"topsecret:pepper\",\"bogus\":1}"));
                Assert(!e.EnvelopeJson.Contains("topsecret") && !e.ToString().Contains("topsecret"), "secret leaked: " + e.EnvelopeJson);
            });
            Test("a panic inside libwdt is an internal WdtException and the till lives on", () =>
            {
                // The config's test_hooks switch enables a method that panics on purpose.
                string hooked = cfg.Substring(0, cfg.Length - 1) + ",\"test_hooks\":true}";
                using (var client = new WdtClient(hooked))
                {
                    var e = Throws<WdtException>(() => WdtException.ThrowIfError(client.Call("{\"method\":\"wdt.test.panic\",\"args\":[]}")));
                    AssertEqual(WdtErrorKind.Internal, e.Kind, "Kind");
                    client.SmartRefundUploadOrThrow(RealRequest); // the same client still works
                }
            });
            Test("ThrowIfError passes ok envelopes and reads unknown kinds", () =>
            {
                WdtException.ThrowIfError("{\"ok\":true,\"status\":0,\"data\":null}");
                var e = Throws<WdtException>(() => WdtException.ThrowIfError(
                    "{\"ok\":false,\"error\":{\"kind\":\"transport\",\"delivery\":\"unknown\",\"message\":\"m\",\"new_field\":[1]}}"));
                AssertEqual("transport", e.Kind, "Kind");
                AssertEqual("unknown", e.Delivery, "Delivery");
                e = Throws<WdtException>(() => WdtException.ThrowIfError("{\"ok\":false,\"error\":{\"kind\":\"http\",\"http_status\":502,\"message\":\"m\"}}"));
                AssertEqual(502, e.HttpStatus, "HttpStatus");
                e = Throws<WdtException>(() => WdtException.ThrowIfError("not json"));
                AssertEqual(WdtErrorKind.Internal, e.Kind, "Kind of an unreadable envelope");
            });
        }

        // The native loader's decisions, checked without Windows: which subfolder for which
        // bitness, the fallback order, and the message when nothing fits.
        private static void LoaderTests()
        {
            string a = Path.Combine("app", "dir"), b = Path.Combine("lib", "dir");
            Func<string, string> x86 = d => Path.Combine(Path.Combine(d, "x86"), "wdt.dll");
            Func<string, string> x64 = d => Path.Combine(Path.Combine(d, "x64"), "wdt.dll");
            Test("loader: a 64-bit process loads x64\\wdt.dll, a 32-bit one x86\\wdt.dll", () =>
            {
                var files = new HashSet<string> { x86(a), x64(a) };
                var loaded = new List<string>();
                var o = NativeLoader.Plan(new[] { a, b }, true, files.Contains, p => { loaded.Add(p); return null; });
                AssertEqual(x64(a), o.LoadedPath, "64-bit LoadedPath");
                o = NativeLoader.Plan(new[] { a, b }, false, files.Contains, p => { loaded.Add(p); return null; });
                AssertEqual(x86(a), o.LoadedPath, "32-bit LoadedPath");
                AssertEqual(2, loaded.Count, "loads attempted");
            });
            Test("loader: falls back to the assembly's folder, then to the normal search", () =>
            {
                var files = new HashSet<string> { x64(b) };
                var o = NativeLoader.Plan(new[] { a, b }, true, files.Contains, p => null);
                AssertEqual(x64(b), o.LoadedPath, "LoadedPath from the second folder");
                o = NativeLoader.Plan(new[] { a, a, null, b }, false, files.Contains, p => { throw new Exception("nothing to load"); });
                Assert(o.LoadedPath == null, "loaded something that does not exist");
                AssertEqual(string.Join("|", new[] { x86(a), x86(b) }), string.Join("|", o.Tried.ToArray()), "Tried (deduplicated)");
            });
            Test("loader: a file that fails to load is reported with its path and reason", () =>
            {
                var files = new HashSet<string> { x64(a), x64(b) };
                var o = NativeLoader.Plan(new[] { a, b }, true, files.Contains,
                    p => p == x64(a) ? "wrong bitness for this 64-bit process (Windows error 193)" : null);
                AssertEqual(x64(b), o.LoadedPath, "LoadedPath after a failure");
                AssertEqual(1, o.Failures.Count, "Failures");
                Assert(o.Failures[0].StartsWith(x64(a) + ": wrong bitness", StringComparison.Ordinal), o.Failures[0]);
                o = NativeLoader.Plan(new[] { a }, true, files.Contains, p => "wrong bitness for this 64-bit process (Windows error 193)");
                WdtException e = NativeLoader.LoadFailure(new BadImageFormatException("bad image"), o);
                AssertEqual(WdtErrorKind.NativeLibrary, e.Kind, "Kind");
                AssertEqual(WdtDelivery.NotSent, e.Delivery, "Delivery");
                string bits = IntPtr.Size == 8 ? "64-bit" : "32-bit";
                Assert(e.Message.Contains("this " + bits + " process") && e.Message.Contains("wrong bitness")
                    && e.Message.Contains(x64(a)) && e.Message.Contains("bad image"), e.Message);
                Assert(!string.IsNullOrEmpty(e.Hint), "no Hint");
                Assert(e.InnerException is BadImageFormatException, "InnerException");
            });
        }

        private static void ArgumentChecks()
        {
            string cfg = _fixtures == null ? null : Config(null);
            Test("null, NUL and unpaired surrogates are rejected before the native call", () =>
            {
                Throws<ArgumentNullException>(() => new WdtClient(null));
                using (var client = new WdtClient(cfg))
                {
                    Throws<ArgumentNullException>(() => client.SmartRefundUpload(null));
                    Throws<ArgumentNullException>(() => client.Call(null));
                    Throws<ArgumentException>(() => client.SmartRefundUpload(RealRequest + "\0garbage"));
                    Throws<ArgumentException>(() => client.SmartRefundUpload(RealRequest.Replace("csharp load", "\uD800")));
                }
            });
            Test("non-ASCII request text survives the trip (Chinese tid, emoji in remark)", () =>
            {
                using (var client = new WdtClient(cfg))
                {
                    string req = RealRequest.Replace("csharp load", "退货 \U0001F600 原因");
                    string env = client.SmartRefundUpload(req);
                    WdtException.ThrowIfError(env);
                }
            });
        }

        private static void DisposeTests()
        {
            string cfg = _fixtures == null ? null : Config(null);
            Test("use after Dispose is ObjectDisposedException; double Dispose is fine", () =>
            {
                var client = new WdtClient(cfg);
                client.Dispose();
                Throws<ObjectDisposedException>(() => client.SmartRefundUpload(RealRequest));
                Throws<ObjectDisposedException>(() => client.SmartRefundUploadOrThrow(RealRequest));
                Throws<ObjectDisposedException>(() => client.Call("{\"method\":\"x\",\"args\":[]}"));
                client.Dispose();
                client.Dispose();
            });
            Test("Dispose during an in-flight call: the call completes, the next one is refused", () =>
            {
                // The double holds the next request for 1 s and Dispose comes once the double
                // has it, so it lands mid-call; a client freed under the call would crash mono
                // or return garbage here.
                MockPost("/__mock/fault", "{\"mode\":\"slow\",\"ms\":1000,\"count\":1}");
                var client = new WdtClient(cfg);
                string env = null;
                Exception error = null;
                var t = new Thread(() =>
                {
                    try { env = client.SmartRefundUpload(RealRequest); }
                    catch (Exception e) { error = e; }
                });
                long before = MockRequests();
                var sw = Stopwatch.StartNew();
                t.Start();
                WaitForRequestAfter(before);
                client.Dispose();
                Throws<ObjectDisposedException>(() => client.SmartRefundUpload(RealRequest));
                Assert(t.Join(30000), "the in-flight call hung");
                Assert(error == null, "in-flight call threw " + error);
                Assert(sw.ElapsedMilliseconds >= 900, "the double did not hold the request (" + sw.ElapsedMilliseconds + " ms)");
                WdtException.ThrowIfError(env);
            });
            Test("Dispose racing calls on 4 threads: calls finish or throw ObjectDisposedException", () =>
            {
                var client = new WdtClient(cfg);
                int calls = 0, disposedSeen = 0;
                Exception other = null;
                var threads = new Thread[4];
                for (int t = 0; t < threads.Length; t++)
                {
                    threads[t] = new Thread(() =>
                    {
                        try
                        {
                            for (int i = 0; ; i++)
                            {
                                // Every 8th call goes to the gateway, so some are mid-request
                                // while Dispose runs.
                                string env = client.SmartRefundUpload(i % 8 == 0 ? RealRequest : InvalidRequest);
                                var e = (Dictionary<string, object>)JsonReader.Parse(env);
                                if (!(bool)e["ok"] && Get((Dictionary<string, object>)e["error"], "kind") != "invalid_argument")
                                    throw new Exception("unexpected envelope " + env);
                                Interlocked.Increment(ref calls);
                            }
                        }
                        catch (ObjectDisposedException)
                        {
                            Interlocked.Increment(ref disposedSeen);
                        }
                        catch (Exception e)
                        {
                            other = e;
                        }
                    });
                    threads[t].Start();
                }
                var sw = Stopwatch.StartNew();
                while (Volatile.Read(ref calls) < 400 && sw.ElapsedMilliseconds < 10000 && other == null)
                    Thread.Sleep(1);
                client.Dispose();
                foreach (var th in threads)
                    Assert(th.Join(30000), "a thread did not stop after Dispose");
                Assert(other == null, "unexpected exception: " + other);
                AssertEqual(4, disposedSeen, "threads that saw ObjectDisposedException");
                Console.WriteLine("     ({0} calls completed before Dispose won)", calls);
            });
        }

        private static void ThreadTests()
        {
            string cfg = _fixtures == null ? null : Config(null);
            Test("4 threads share one client; every call succeeds", () =>
            {
                const int perThread = 25;
                int ok = 0;
                var errors = new List<string>();
                using (var client = new WdtClient(cfg))
                using (var go = new ManualResetEvent(false))
                {
                    var threads = new Thread[4];
                    for (int t = 0; t < threads.Length; t++)
                    {
                        threads[t] = new Thread(() =>
                        {
                            go.WaitOne();
                            for (int i = 0; i < perThread; i++)
                            {
                                try
                                {
                                    string data = client.SmartRefundUploadOrThrow(RealRequest);
                                    if (!((Dictionary<string, object>)JsonReader.Parse(data)).ContainsKey("stockin_id"))
                                        throw new Exception("no stockin_id: " + data);
                                    WdtException.ThrowIfError(client.Call(RequestText(FindCase("paged query of return stock-ins"))));
                                    Interlocked.Increment(ref ok);
                                }
                                catch (Exception e)
                                {
                                    lock (errors) errors.Add(e.ToString());
                                }
                            }
                        });
                        threads[t].Start();
                    }
                    go.Set();
                    foreach (var th in threads)
                        Assert(th.Join(60000), "a thread hung");
                }
                Assert(errors.Count == 0, errors.Count + " failures, first: " + (errors.Count > 0 ? errors[0] : ""));
                AssertEqual(4 * perThread, ok, "successful rounds");
            });
        }

        // ---- memory: every returned string is freed -------------------------------------------

        private static void MemoryTests()
        {
            string cfg = _fixtures == null ? null : Config(null);
            // A leaked envelope costs ~250 bytes of RSS (see the control), so 10,000 leaks show as
            // ~2.4 MiB; a flat run moves by a few KiB once warm.
            const long MonoLimit = 1L << 20; // 1 MiB
            // Windows .NET (CoreCLR under Wine in CI) moves the working set in ~1 MiB steps either
            // way around these loops (measured for the Dispose window: +1.04, +0.98, -0.85 MiB over
            // three x64 runs; -0.95 MiB for the 100,000 calls), so a 1 MiB window fails on noise
            // there. Off Mono the window is the finalizer's 4 MiB: still an eighth of what a leaked
            // envelope per call (~30 MiB over the 100,000 calls) or a client never freed (~31 MiB
            // per 20,000) adds, as the controls below show on that runtime too. Small per-call
            // leaks (~20 bytes) are left to the Mono run, which keeps 1 MiB.
            bool onMono = Type.GetType("Mono.Runtime") != null;
            long limit = onMono ? MonoLimit : 4 * MonoLimit;

            Test("10,000 calls: working set flat, invalid_argument never reaches the gateway", () =>
            {
                using (var client = new WdtClient(cfg))
                {
                    // Warm-up: JIT, connection pool, malloc arenas, and enough allocation for
                    // Mono's 4 MiB nursery to be touched end to end once (~20,000 calls here);
                    // a shorter warm-up reads the nursery filling up as ~6 MiB of "growth".
                    Loop(client, 30000, 50);
                    // The stats request itself (WebClient) allocates; keep it outside the window.
                    long sentBefore = MockRequests();
                    long before = WorkingSet();
                    int real = Loop(client, 10000, 50);
                    long after = WorkingSet();
                    long sentAfter = MockRequests();
                    Report("10,000 calls (" + real + " real, " + (10000 - real) + " invalid_argument)", before, after, 10000);
                    Assert(after - before < limit, "working set grew by " + Mib(after - before));
                    if (sentBefore >= 0 && sentAfter >= 0)
                        AssertEqual((long)real, sentAfter - sentBefore, "requests the gateway saw during the loop");
                }
            });

            Test("100,000 invalid_argument calls: working set flat", () =>
            {
                // Ten times more calls makes a leak of even ~20 bytes per call show above noise.
                using (var client = new WdtClient(cfg))
                {
                    Loop(client, 1000, 0);
                    long before = WorkingSet();
                    Loop(client, 100000, 0);
                    long after = WorkingSet();
                    Report("100,000 invalid_argument calls", before, after, 100000);
                    Assert(after - before < limit, "working set grew by " + Mib(after - before));
                }
            });

            Test("control: the same calls without wdt_free_string do grow the working set", () =>
            {
                // Proves the measurement can see the leak the two tests above rule out.
                IntPtr err;
                IntPtr raw = Leaky.wdt_client_new(Encoding.UTF8.GetBytes(cfg + "\0"), out err);
                Assert(raw != IntPtr.Zero, "raw client");
                byte[] req = Encoding.UTF8.GetBytes(InvalidRequest + "\0");
                long envelopeBytes = 0;
                long before = WorkingSet();
                for (int i = 0; i < 100000; i++)
                {
                    IntPtr s = Leaky.wdt_smart_refund_upload(raw, req);
                    if (i == 0)
                        while (Marshal.ReadByte(s, (int)envelopeBytes++) != 0) { }
                }
                long after = WorkingSet();
                Leaky.wdt_client_free(raw);
                Report("control: 100,000 leaked envelopes of " + envelopeBytes + " bytes", before, after, 100000);
                Assert(after - before > 100000 * envelopeBytes / 2, "the leak was not visible: " + Mib(after - before));
            });

            Test("control: clients never freed do grow the working set", () =>
            {
                byte[] config = Encoding.UTF8.GetBytes(cfg + "\0");
                long before = WorkingSet();
                for (int i = 0; i < 20000; i++)
                {
                    IntPtr err;
                    Assert(Leaky.wdt_client_new(config, out err) != IntPtr.Zero, "raw client");
                }
                long after = WorkingSet();
                Report("control: 20,000 leaked clients", before, after, 20000);
                Assert(after - before > 4 * MonoLimit, "the leak was not visible: " + Mib(after - before));
            });

            Test("clients released by Dispose and by the finalizer: working set flat", () =>
            {
                // A native client is ~1.6 KB of RSS (see the control above), so a SafeHandle that
                // never reached wdt_client_free would show as ~31 MiB per 20,000. Runs after the
                // controls: memory freed here stays in malloc's free lists, and a control run
                // later would reuse it and hide its own leak.
                for (int i = 0; i < 10000; i++)
                    new WdtClient(cfg).Dispose();
                long before = WorkingSet();
                for (int i = 0; i < 20000; i++)
                    new WdtClient(cfg).Dispose();
                long after = WorkingSet();
                Report("20,000 clients released by Dispose", before, after, 20000);
                Assert(after - before < limit, "Dispose: working set grew by " + Mib(after - before));

                // Forgotten clients are freed only when the GC finalizes them, so all clients of a
                // round are alive at once; rounds with a collection between them keep the peak
                // to one round, which the warm-up rounds reach. With 2,000 managed objects and
                // native clients coming and going per round, the working set steps by up to
                // ~1.4 MiB either way (Mono's heap sections, malloc trimming: measured -1.36 to
                // +1.14 MiB over six runs), so this window allows 4 MiB, an eighth of the ~31 MiB
                // that clients never freed would add.
                const long FinalizerLimit = 4 * MonoLimit;
                for (int r = 0; r < 3; r++)
                    DropClients(cfg, 2000);
                before = WorkingSet();
                for (int r = 0; r < 10; r++)
                    DropClients(cfg, 2000);
                after = WorkingSet();
                Report("20,000 clients released by the finalizer", before, after, 20000);
                Assert(after - before < FinalizerLimit, "finalizer: working set grew by " + Mib(after - before));
            });
        }

        private static void DropClients(string cfg, int n)
        {
            for (int i = 0; i < n; i++)
                new WdtClient(cfg);
            WorkingSet(); // collects and runs the finalizers
        }

        private static int Loop(WdtClient client, int n, int realEvery)
        {
            int real = 0;
            for (int i = 0; i < n; i++)
            {
                bool isReal = realEvery > 0 && i % realEvery == 0;
                string env = client.SmartRefundUpload(isReal ? RealRequest : InvalidRequest);
                if (isReal)
                {
                    WdtException.ThrowIfError(env);
                    real++;
                }
                else if (env.IndexOf("\"invalid_argument\"", StringComparison.Ordinal) < 0)
                {
                    throw new Exception("expected invalid_argument, got " + env);
                }
            }
            return real;
        }

        private static long WorkingSet()
        {
            // Collect first so that .NET strings awaiting GC do not hide or fake a native trend.
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            using (var p = Process.GetCurrentProcess())
            {
                p.Refresh();
                return p.WorkingSet64;
            }
        }

        // -1 when the double has no stats endpoint; the count check is then skipped, not faked.
        internal static long MockRequests()
        {
            try
            {
                using (var wc = new WebClient())
                {
                    wc.Encoding = Encoding.UTF8;
                    var stats = (Dictionary<string, object>)JsonReader.Parse(wc.DownloadString(_mockBase + "/__mock/stats"));
                    return long.Parse(((JsonNumber)stats["requests"]).Text);
                }
            }
            catch (WebException e)
            {
                Console.WriteLine("     (no /__mock/stats: " + e.Message + ")");
                return -1;
            }
        }

        // Waits until the double has seen a request line beyond `before` (it counts them on
        // arrival, answered or not): "the call is in flight" as a fact, not as a sleep that a
        // slow machine can outlast. Fails the test after 30 s.
        internal static void WaitForRequestAfter(long before)
        {
            var sw = Stopwatch.StartNew();
            while (MockRequests() <= before)
            {
                Assert(sw.ElapsedMilliseconds < 30000, "the double never saw the request");
                Thread.Sleep(5);
            }
        }

        internal static void MockPost(string path, string json)
        {
            using (var wc = new WebClient())
            {
                wc.Encoding = Encoding.UTF8;
                wc.Headers[HttpRequestHeader.ContentType] = "application/json";
                wc.UploadString(_mockBase + path, json);
            }
        }

        private static void Report(string what, long before, long after, int calls)
        {
            Console.WriteLine("     {0}: working set {1} -> {2} (growth {3}, {4:F1} bytes each)",
                what, Mib(before), Mib(after), Mib(after - before), (after - before) / (double)calls);
        }

        private static string Mib(long bytes)
        {
            return (bytes / 1048576.0).ToString("F2", System.Globalization.CultureInfo.InvariantCulture) + " MiB";
        }

        // ---- a tiny harness -------------------------------------------------------------------

        internal static void Test(string name, Action body)
        {
            try
            {
                body();
                _passed++;
                Console.WriteLine("ok   " + name);
            }
            catch (Exception e)
            {
                _failed++;
                Console.WriteLine("FAIL " + name + ": " + e);
            }
        }

        internal static T Throws<T>(Action a) where T : Exception
        {
            try
            {
                a();
            }
            catch (T e)
            {
                return e;
            }
            catch (Exception e)
            {
                throw new Exception("expected " + typeof(T).Name + ", got " + e.GetType().Name + ": " + e.Message, e);
            }
            throw new Exception("expected " + typeof(T).Name + ", nothing was thrown");
        }

        internal static void Assert(bool cond, string what)
        {
            if (!cond)
                throw new Exception("assertion failed: " + what);
        }

        internal static void AssertEqual(object expected, object actual, string what)
        {
            if (!Equals(expected, actual))
                throw new Exception(what + ": expected <" + (expected ?? "null") + "> got <" + (actual ?? "null") + ">");
        }
    }

    // The raw ABI without the binding, used only by the leak control above.
    internal static class Leaky
    {
        [DllImport("wdt", CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr wdt_client_new(byte[] configJson, out IntPtr errorJson);

        [DllImport("wdt", CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr wdt_smart_refund_upload(IntPtr client, byte[] requestJson);

        [DllImport("wdt", CallingConvention = CallingConvention.Cdecl)]
        internal static extern void wdt_client_free(IntPtr client);
    }
}
