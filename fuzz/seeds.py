#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/<target>/ from tests/fixtures/cases.json.

The fixtures are the cases every binding is tested against, so they are the best starting
points: real configs, real quick returns, and the near misses the library must refuse. A few
hand-made answers of the gateway (and of things that are not the gateway) seed the answer
target, whose input is framed as answer.rs describes. File names are stable, so re-running
the script after a fixture change only touches the seeds that changed.

Usage: python3 fuzz/seeds.py   (from anywhere; paths are relative to this file)
"""

import json
import re
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "tests" / "fixtures" / "cases.json"
CORPUS = HERE / "corpus"

# The fuzz client's gateway: a closed port on 127.0.0.1 (request.rs); seeds never name a real host.
LOCAL_URL = "http://127.0.0.1:9/openapi"


def slug(name):
    s = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return s[:60] or "case"


def compact(value):
    # The library's own wire form: compact, UTF-8 unescaped, key order kept.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    (d / name).write_bytes(data)


def request_seeds(fixtures):
    for case in fixtures["cases"]:
        name = slug(case["name"])
        if "raw" in case:
            write("request", name, case["raw"])
            continue
        req = case["request"]
        write("request", name, compact(req))
        # The same quick return through wdt_call, so the generic path sees it too.
        if case["fn"] == "smart_refund_upload" and isinstance(req, dict):
            args = [req.get("refundInfo"), req.get("detailMapList"), req.get("createPreStockin")]
            call = {"method": "wms.stockin.SmartRefund.upload", "args": args}
            write("request", name + "-via-call", compact(call))
    # The UTF-16 length limits: 20 emoji are 40 units (accepted), 21 are 42 (refused).
    good = fixtures["cases"][0]["request"]
    for n in (20, 21):
        req = json.loads(json.dumps(good))
        req["refundInfo"]["tid"] = "\U0001F600" * n
        write("request", f"emoji-tid-{n}", compact(req))
    write("request", "invalid-utf8", b'{"refundInfo":"\xff\xfe"}')
    write("request", "nul-inside", b'{"method":"m","args":[]}\x00{"x":1}')


def config_seeds(fixtures):
    base = dict(fixtures["base_config"])
    base["url"] = LOCAL_URL
    write("config", "base", compact(base))
    for case in fixtures["config_cases"]:
        name = slug(case["name"])
        if "raw_config" in case:
            write("config", name, case["raw_config"])
            continue
        cfg = dict(base)
        for k, v in case.get("config_overrides", {}).items():
            if v is None:
                cfg.pop(k, None)
            else:
                cfg[k] = v
        write("config", name, compact(cfg))
    full = dict(base)
    full.pop("url")
    full.update({"env": "test", "idle_timeout_ms": 4000, "max_response_bytes": 1048576,
                 "max_retries": 0, "log": False, "test_hooks": False})
    write("config", "every-key", compact(full))
    write("config", "invalid-utf8", b'{"sid":"\xc3\x28","appkey":"k","appsecret":"s:t"}')


def answer(status, body, date="Sun, 06 Nov 1994 08:49:37 GMT"):
    """The answer target's framing: u16 status, date length (255: none), date, body."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    if date is None:
        return struct.pack(">HB", status, 255) + body
    d = date.encode("utf-8")
    return struct.pack(">HB", status, len(d)) + d + body


def answer_seeds():
    seeds = {
        "ok": answer(200, '{"status":0,"data":{"stockin_id":1,"type":12}}'),
        "ok-total-count": answer(200, '{"status":0,"data":{"order":[],"total_count":3}}'),
        "ok-bom": answer(200, b'\xef\xbb\xbf{"status":0,"data":null}', None),
        "api-100": answer(200, '{"status":100,"message":"未找到对应的单据信息!"}'),
        "api-rate-limit": answer(200, '{"status":100,"message":"超过每分钟最大调用频率限制，请稍后重试"}'),
        "api-7-clock": answer(200, '{"status":7,"message":"时间戳错误"}', "Sat, 31 Dec 2011 16:00:00 GMT"),
        "api-on-502": answer(502, '{"status":99,"message":"其他错误"}'),
        "portal-200": answer(200, "<html>portal</html>"),
        "no-status-200": answer(200, '{"data":1}'),
        "http-500": answer(500, "<html>oops</html>"),
        "leap-day": answer(200, '{"status":"0"}', "Sat, 29 Feb 2020 12:00:00 GMT"),
        # answer.rs also reads the body as a Date header: a date there mutates freely, without
        # the length byte that frames the header.
        "date-in-body": answer(404, "Sun, 06 Nov 1994 08:49:37 GMT", None),
    }
    for name, data in seeds.items():
        write("answer", name, data)


def main():
    fixtures = json.loads(FIXTURES.read_text(encoding="utf-8"))
    request_seeds(fixtures)
    config_seeds(fixtures)
    answer_seeds()
    for target in sorted(p.name for p in CORPUS.iterdir()):
        print(f"{target}: {len(list((CORPUS / target).iterdir()))} seeds", file=sys.stderr)


if __name__ == "__main__":
    main()
