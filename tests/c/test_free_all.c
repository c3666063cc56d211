/* A host that frees everything it made holds no memory of libwdt's: clients made from valid and
 * invalid configs, calls that succeed and fail, every client and string freed. Run under
 * valgrind by tests/c/run.sh, which accepts no definite, indirect or possibly lost block here
 * (one thread, so no per-thread runtime state), only the panic hook installed once per process.
 * Usage: test_free_all URL-of-the-double. Last line: "N passed, M failed". */
#include <stdio.h>
#include <string.h>
#include "wdt.h"

static int passed, failed;
static void check(int ok, const char *what) {
    if (ok) { passed++; printf("ok   - %s\n", what); }
    else { failed++; printf("FAIL - %s\n", what); }
}

int main(int argc, char **argv) {
    char cfg[512];
    int i;
    if (argc < 2) { fprintf(stderr, "usage: %s URL\n", argv[0]); return 2; }
    snprintf(cfg, sizeof cfg,
             "{\"sid\":\"wdtapi3\",\"appkey\":\"wdt_test\",\"appsecret\":\"testsecret:testsalt\",\"url\":\"%s\"}",
             argv[1]);
    for (i = 0; i < 3; i++) {
        char *err = NULL, *reply;
        WdtClient *c = wdt_client_new(cfg, &err);
        WdtClient *bad;
        check(c != NULL, "a client from a valid config");
        if (c == NULL) { wdt_free_string(err); break; }
        reply = wdt_smart_refund_upload(c,
            "{\"refundInfo\":{\"tid\":\"pos-6776312\",\"return_warehouse_no\":\"pos\",\"remark\":\"\"},"
            "\"detailMapList\":[{\"spec_no\":\"RRWDMS018040S\",\"stockin_num\":1,\"remark\":\"\"}],"
            "\"createPreStockin\":false}");
        check(strncmp(reply, "{\"ok\":true", 10) == 0, "a quick return");
        wdt_free_string(reply);
        reply = wdt_smart_refund_upload(c, "{not json");
        check(strstr(reply, "\"invalid_argument\"") != NULL, "invalid JSON is an envelope");
        wdt_free_string(reply);
        wdt_client_free(c);
        bad = wdt_client_new("{\"sid\":1}", &err);
        check(bad == NULL && err != NULL, "no client from an invalid config, an error instead");
        wdt_free_string(err);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
