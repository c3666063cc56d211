/*
 * example.c - one quick return (快速退货, wms.stockin.SmartRefund.upload) through
 * libwdt, end to end. Copy it into your till program and change the request.
 *
 *   Linux:   gcc example.c -I include -L target/release -lwdt \
 *                -Wl,-rpath,"$PWD/target/release" -o example
 *   Run:     ./example [GATEWAY_URL [sid appkey appsecret]]
 *            (default: the gateway double of `wdt mock` / `wdt-mock --port 9876`,
 *            http://127.0.0.1:9876/openapi, with its test account)
 *
 * Ownership - the whole memory contract of libwdt:
 *   - Every char * the library returns (a response envelope, *error_json) is
 *     yours: release it exactly once with wdt_free_string(), never with free().
 *     On Windows the library and your program may not share a C runtime heap,
 *     so free() on it can corrupt memory.
 *   - The WdtClient * from wdt_client_new() is yours: release it once with
 *     wdt_client_free(). Create one at start-up and share it (it is safe to
 *     call from several threads at once and owns the connection pool); do not
 *     create one per sale.
 *   - wdt_version() returns static text: never free it.
 *   - Strings you pass in stay yours; the library does not keep them.
 *
 * All strings are UTF-8 JSON. Written in C89 so that old till compilers build it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdt.h"

/* The API document's example request (section 3.3). Non-ASCII text is written as
 * UTF-8 escapes because a compiler reading the source in a local code page (MSVC
 * on Chinese Windows reads GBK unless given /utf-8) would otherwise send the
 * gateway different bytes. */
static const char REQUEST[] =
    "{\n"
    "  \"refundInfo\": {\n"
    "    \"tid\": \"pos-6776312\",\n"
    "    \"return_warehouse_no\": \"pos\",\n"
    "    \"remark\": \"pos refundInfo remark\"\n"
    "  },\n"
    "  \"detailMapList\": [\n"
    "    {\"spec_no\": \"RRWDMS018040S\", \"stockin_num\": 1,\n"
    "     \"remark\": \"POS \xE9\x80\x80\xE8\xB4\xA7\xE6\xB5\x8B\xE8\xAF\x95\"}\n" /* POS 退货测试 */
    "  ],\n"
    "  \"createPreStockin\": false\n"
    "}";

/* Values are pasted into JSON text below, so they must not need escaping. Real
 * code builds its JSON with a JSON library (cJSON, jansson, ...), which escapes
 * quotes in product names and remarks for you. */
static int plain_json_text(const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20) {
            return 0;
        }
    }
    return 1;
}

/* Returns a malloc'd config (free() it: it is our string, not the library's). */
static char *build_config(const char *url, const char *sid, const char *appkey, const char *appsecret)
{
    static const char format[] =
        "{\"sid\":\"%s\",\"appkey\":\"%s\",\"appsecret\":\"%s\",\"url\":\"%s\","
        "\"connect_timeout_ms\":5000,\"timeout_ms\":30000}";
    char *config = malloc(sizeof format + strlen(url) + strlen(sid) + strlen(appkey) + strlen(appsecret));

    if (config != NULL) {
        sprintf(config, format, sid, appkey, appsecret, url);
    }
    return config;
}

/* The gateway double's fixed address: every example config of the docs points here. */
#define DOUBLE_URL "http://127.0.0.1:9876/openapi"

int main(int argc, char **argv)
{
    /* The documented test credentials; appsecret is "secret:salt". */
    const char *url = argc > 1 ? argv[1] : DOUBLE_URL;
    const char *sid = argc > 2 ? argv[2] : "wdtapi3";
    const char *appkey = argc > 3 ? argv[3] : "wdt_test";
    const char *appsecret = argc > 4 ? argv[4] : "testsecret:testsalt";
    char *config;
    char *error_json = NULL;
    WdtClient *client;
    char *envelope;
    int accepted;

    if (argc > 5 || argc == 3 || argc == 4) {
        fprintf(stderr, "usage: %s [GATEWAY_URL [sid appkey appsecret]]\n"
                        "  default: %s (the gateway double: wdt mock, or wdt-mock --port 9876)\n",
                argv[0], DOUBLE_URL);
        return 2;
    }
    if (!plain_json_text(url) || !plain_json_text(sid) || !plain_json_text(appkey) ||
        !plain_json_text(appsecret)) {
        fprintf(stderr, "arguments must not contain quotes, backslashes or control characters\n");
        return 2;
    }
    config = build_config(url, sid, appkey, appsecret);
    if (config == NULL) {
        fprintf(stderr, "out of memory\n");
        return 2;
    }

    printf("libwdt %s\n", wdt_version()); /* static text: not freed */
    printf("gateway: %s\n\n", url);

    /* On failure the client is NULL and error_json holds an envelope such as
     * {"ok":false,"error":{"kind":"config","field":"sid","message":"..."}}. */
    client = wdt_client_new(config, &error_json);
    free(config); /* the library copied what it needs */
    if (client == NULL) {
        printf("config rejected:\n%s\n", error_json != NULL ? error_json : "(out of memory)");
        wdt_free_string(error_json); /* NULL is fine too */
        return 2;
    }
    /* On success error_json was set to NULL: nothing to free. */

    printf("request (wms.stockin.SmartRefund.upload):\n%s\n\n", REQUEST);
    envelope = wdt_smart_refund_upload(client, REQUEST);
    if (envelope == NULL) {
        /* Only when even the envelope could not be allocated. */
        fprintf(stderr, "out of memory\n");
        wdt_client_free(client);
        return 2;
    }
    printf("envelope:\n%s\n\n", envelope);

    /* The library writes compact JSON with "ok" first, so a prefix test is enough
     * here; real code parses the envelope and, on failure, branches on
     * error.kind (api, transport, timeout, ...). For transport and timeout,
     * error.delivery says whether the return may have reached the gateway, so
     * check before sending it again. */
    accepted = strncmp(envelope, "{\"ok\":true", 10) == 0;
    printf("result: %s\n", accepted ? "quick return accepted (data.stockin_id is the new stock-in)"
                                    : "not accepted (error.kind and error.message say why)");

    wdt_free_string(envelope); /* exactly once, with the library's function */
    wdt_client_free(client);
    return accepted ? 0 : 1;
}
