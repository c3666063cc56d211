// C# client of the loopback benchmark (bench/run.sh): N quick returns through the C# binding
// (bindings/csharp/src, compiled in with mcs) under Mono, on one WdtClient after a warm-up.
//
//   mono cs_bench.exe URL N [WARMUP]
//
// Prints "RESULT mode=csharp calls=N wall_us=… cpu_us=… user_us=… sys_us=… hwm_kb=… fails=…"
// where the CPU is this process's user+sys time over the timed loop (the runtime's own threads
// included) and hwm_kb is VmHWM. The request JSON is a constant string, as a till that builds
// its JSON once per return would pass it; the envelope is checked for "ok":true.
using System;
using System.Diagnostics;
using System.IO;
using Wdt;

static class CsBench
{
    const string Request =
        "{\"refundInfo\":{\"tid\":\"pos-6776312\",\"return_warehouse_no\":\"pos\"," +
        "\"remark\":\"pos refundInfo remark\"}," +
        "\"detailMapList\":[{\"spec_no\":\"RRWDMS018040S\",\"stockin_num\":1," +
        "\"remark\":\"POS 退货测试\"}],\"createPreStockin\":false}";

    static long HwmKb()
    {
        foreach (string line in File.ReadAllLines("/proc/self/status"))
            if (line.StartsWith("VmHWM:"))
                return long.Parse(line.Substring(6).Trim().Split(' ')[0]);
        return -1;
    }

    static int Main(string[] args)
    {
        if (args.Length < 2)
        {
            Console.Error.WriteLine("usage: mono cs_bench.exe URL N [WARMUP]");
            return 2;
        }
        string url = args[0];
        int n = int.Parse(args[1]);
        int warmup = args.Length > 2 ? int.Parse(args[2]) : 200;
        string config = "{\"sid\":\"wdtapi3\",\"appkey\":\"wdt_test\",\"appsecret\":\"testsecret:testsalt\"," +
            "\"url\":\"" + url + "\",\"connect_timeout_ms\":5000,\"timeout_ms\":30000}";
        using (var client = new WdtClient(config))
        {
            for (int i = 0; i < warmup; i++)
            {
                string env = client.SmartRefundUpload(Request);
                if (!env.StartsWith("{\"ok\":true", StringComparison.Ordinal))
                {
                    Console.Error.WriteLine("csharp: warm-up call failed: " + env);
                    return 1;
                }
            }
            Process self = Process.GetCurrentProcess();
            self.Refresh();
            TimeSpan u0 = self.UserProcessorTime, s0 = self.PrivilegedProcessorTime;
            long fails = 0;
            Stopwatch sw = Stopwatch.StartNew();
            for (int i = 0; i < n; i++)
            {
                string env = client.SmartRefundUpload(Request);
                if (!env.StartsWith("{\"ok\":true", StringComparison.Ordinal))
                    fails++;
            }
            sw.Stop();
            self.Refresh();
            double user = (self.UserProcessorTime - u0).TotalMilliseconds * 1000;
            double sys = (self.PrivilegedProcessorTime - s0).TotalMilliseconds * 1000;
            double wall = sw.Elapsed.TotalMilliseconds * 1000;
            Console.WriteLine(string.Format(System.Globalization.CultureInfo.InvariantCulture,
                "RESULT mode=csharp calls={0} wall_us={1:F0} cpu_us={2:F0} user_us={3:F0} sys_us={4:F0} hwm_kb={5} fails={6}",
                n, wall, user + sys, user, sys, HwmKb(), fails));
            return fails > 0 ? 1 : 0;
        }
    }
}
