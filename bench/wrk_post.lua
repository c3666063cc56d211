-- wrk script: POST the quick-return body (the exact bytes libwdt sends) with the JSON
-- content type, to the URL given on the command line (which carries a signed query string).
-- At the end, print one line that bench/run.sh collects. (No response() callback: it would
-- make wrk hand every answer to Lua and lower the limit it measures; summary.errors.status
-- already counts answers >= 400.)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json; charset=utf-8"
wrk.body = '[{"tid":"pos-6776312","return_warehouse_no":"pos","remark":"pos refundInfo remark"},'
    .. '[{"spec_no":"RRWDMS018040S","stockin_num":1,"remark":"POS 退货测试"}],false]'


done = function(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "RESULT mode=wrk calls=%d wall_us=%d errors=%d p50_us=%d p99_us=%d\n",
        summary.requests, summary.duration,
        e.connect + e.read + e.write + e.status + e.timeout,
        latency:percentile(50), latency:percentile(99)))
end
