#!/usr/bin/env python3
"""Sign and send one open-API call, as docs/protocol.md describes, with nothing but
the standard library. For poking at wdt-mock by hand, or for comparing your own
signing with a known-good one (--print-sign). It only talks to loopback.

  python3 mock/scripts/wdt_call.py --url http://127.0.0.1:PORT/openapi \
      --method wms.stockin.SmartRefund.upload --body '[{...},[{...}],false]'

  --page 50:0:1    page_size:page_no:calc_total for paged queries
  --ts-offset -200 shift the timestamp (seconds) to provoke status 7
  --timestamp N    use this protocol timestamp (e.g. 465000000 for docs/protocol.md's vectors)
  --bad-sign       send a wrong sign to see the double's diagnostic log line
  --print-sign     only print the signed string (secret masked) and the sign
"""
import argparse
import hashlib
import http.client
import json
import sys
import time
import urllib.parse

WDT_EPOCH = 1325347200


def sign(params, body, secret):
    """md5(secret + sorted(name+value incl. body) + secret), lowercase hex."""
    fields = {k: v for k, v in params.items() if k != "sign"}
    fields["body"] = body
    inner = "".join(k + fields[k] for k in sorted(fields, key=lambda s: s.encode()))
    return hashlib.md5((secret + inner + secret).encode("utf-8")).hexdigest(), inner


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("--method", required=True)
    ap.add_argument("--body", default="[]", help="the JSON array, sent byte for byte; @FILE reads a file")
    ap.add_argument("--sid", default="wdtapi3")
    ap.add_argument("--appkey", default="wdt_test")
    ap.add_argument("--appsecret", default="testsecret:testsalt")
    ap.add_argument("--page", help="page_size:page_no:calc_total")
    ap.add_argument("--ts-offset", type=int, default=0)
    ap.add_argument("--timestamp", type=int)
    ap.add_argument("--bad-sign", action="store_true")
    ap.add_argument("--print-sign", action="store_true")
    a = ap.parse_args()

    body = a.body
    if body.startswith("@"):
        with open(body[1:], encoding="utf-8") as f:
            body = f.read()
    secret, salt = a.appsecret.split(":", 1)
    params = {
        "sid": a.sid,
        "key": a.appkey,
        "salt": salt,
        "method": a.method,
        "v": "1.0",
        "timestamp": str((a.timestamp if a.timestamp is not None else int(time.time()) - WDT_EPOCH) + a.ts_offset),
    }
    if a.page:
        size, no, total = a.page.split(":")
        params.update(page_size=size, page_no=no, calc_total=total)
    digest, inner = sign(params, body, secret)
    if a.print_sign:
        print("signed: ***" + inner + "***")
        print("sign:   " + digest)
        return 0
    params["sign"] = "0" * 32 if a.bad_sign else digest

    u = urllib.parse.urlsplit(a.url)
    if u.hostname not in ("127.0.0.1", "localhost", "::1"):
        # The script is for the double; the real gateway is reached by the library.
        print("refusing a non-loopback URL", file=sys.stderr)
        return 2
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=30)
    conn.request("POST", u.path + "?" + urllib.parse.urlencode(params), body.encode("utf-8"),
                 {"Content-Type": "application/json"})
    r = conn.getresponse()
    print(r.status, r.reason)
    for k, v in r.getheaders():
        print(f"{k}: {v}")
    print()
    print(r.read().decode("utf-8", "replace"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
