/*
 * dist-check.c - the release-archive check of scripts/test-dist.sh. Built against an unpacked
 * archive (its include/wdt.h and library) for Linux, Windows x64 and Windows x86, and run
 * against the gateway double on 127.0.0.1:
 *
 *   dist-check URL OUTDIR
 *
 * Writes each envelope byte for byte to a file in OUTDIR (files, not the console, so no
 * console code page can change the Chinese text), for the shell to check:
 *   version.txt  wdt_version()
 *   good.json    a good quick return (the API document's example)
 *   api.json     a quick return of an unknown order: the gateway's api error 100, whose
 *                message is Chinese
 *   invalid.json an empty refundInfo.tid: invalid_argument, nothing sent
 *   null.json    a NULL request pointer: an envelope, not a crash
 *   call.json    wdt_call, a paged query
 *   config.json  *error_json of wdt_client_new with a config lacking appsecret
 *   panic.json   wdt_call of the test hook method wdt.test.panic (config "test_hooks": true):
 *                a panic inside the library, caught (kind internal) - proves that unwinding
 *                and catch_unwind work in this build (DWARF on i686, SEH on x86_64)
 * Exit status: 0 when every call returned what the ABI promises a non-NULL of, else 1.
 * C89, no dependencies beyond the C library and wdt.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdt.h"

static const char *outdir;
static int failures;

static void save(const char *name, const char *text)
{
    char path[4096];
    FILE *f;
    sprintf(path, "%.4000s/%s", outdir, name);
    f = fopen(path, "wb");
    if (f == NULL) {
        printf("FAIL cannot write %s\n", path);
        failures++;
        return;
    }
    if (text != NULL) {
        fwrite(text, 1, strlen(text), f);
    }
    fclose(f);
}

static void envelope(const char *name, char *env)
{
    if (env == NULL) {
        printf("FAIL %s: NULL envelope\n", name);
        failures++;
        save(name, "");
        return;
    }
    printf("%s: %s\n", name, env);
    save(name, env);
    wdt_free_string(env);
}

#define TID_OK "pos-6776312"
#define REQ(tid)                                                                         \
    "{\"refundInfo\": {\"tid\": \"" tid "\", \"return_warehouse_no\": \"pos\","          \
    " \"remark\": \"pos refundInfo remark\"},"                                           \
    " \"detailMapList\": [{\"spec_no\": \"RRWDMS018040S\", \"stockin_num\": 1,"          \
    " \"remark\": \"POS \xE9\x80\x80\xE8\xB4\xA7\xE6\xB5\x8B\xE8\xAF\x95\"}],"           \
    " \"createPreStockin\": false}"

int main(int argc, char **argv)
{
    char config[4096];
    char *error_json = NULL;
    WdtClient *client;

    if (argc != 3 || strlen(argv[1]) > 3000) {
        fprintf(stderr, "usage: dist-check URL OUTDIR\n");
        return 2;
    }
    outdir = argv[2];
    save("version.txt", wdt_version());
    printf("wdt_version: %s\n", wdt_version());

    /* A config without appsecret: NULL and a config error envelope. */
    client = wdt_client_new("{\"sid\": \"wdtapi3\", \"appkey\": \"wdt_test\"}", &error_json);
    if (client != NULL) {
        printf("FAIL wdt_client_new accepted a config without appsecret\n");
        failures++;
        wdt_client_free(client);
    }
    envelope("config.json", error_json);
    error_json = NULL;

    sprintf(config,
            "{\"sid\": \"wdtapi3\", \"appkey\": \"wdt_test\", \"appsecret\": \"testsecret:testsalt\","
            " \"url\": \"%s\", \"connect_timeout_ms\": 5000, \"timeout_ms\": 30000}",
            argv[1]);
    client = wdt_client_new(config, &error_json);
    if (client == NULL) {
        printf("FAIL wdt_client_new: %s\n", error_json != NULL ? error_json : "(no error_json)");
        wdt_free_string(error_json);
        return 1;
    }
    if (error_json != NULL) {
        printf("FAIL wdt_client_new succeeded but left *error_json set\n");
        failures++;
    }

    envelope("good.json", wdt_smart_refund_upload(client, REQ(TID_OK)));
    envelope("api.json", wdt_smart_refund_upload(client, REQ("no-such-order")));
    envelope("invalid.json", wdt_smart_refund_upload(client, REQ("")));
    envelope("null.json", wdt_smart_refund_upload(client, NULL));
    envelope("call.json",
             wdt_call(client, "{\"method\": \"wms.stockin.Refund.queryWithDetail\", \"args\":"
                              " [{\"start_time\": \"2024-01-01 00:00:00\","
                              " \"end_time\": \"2024-01-31 00:00:00\"}],"
                              " \"pager\": {\"page_size\": 50, \"page_no\": 0, \"calc_total\": true}}"));
    wdt_client_free(client);

    /* A deliberate panic through the test hook: caught, an internal envelope. */
    sprintf(config,
            "{\"sid\": \"wdtapi3\", \"appkey\": \"wdt_test\", \"appsecret\": \"testsecret:testsalt\","
            " \"url\": \"%s\", \"test_hooks\": true}",
            argv[1]);
    client = wdt_client_new(config, &error_json);
    if (client == NULL) {
        printf("FAIL wdt_client_new with test_hooks: %s\n", error_json != NULL ? error_json : "(no error_json)");
        wdt_free_string(error_json);
        error_json = NULL;
        failures++;
        save("panic.json", "");
    } else {
        envelope("panic.json", wdt_call(client, "{\"method\": \"wdt.test.panic\", \"args\": []}"));
        /* The client still works after a caught panic. */
        envelope("after-panic.json", wdt_smart_refund_upload(client, REQ("")));
        wdt_client_free(client);
    }
    wdt_client_free(NULL);
    wdt_free_string(NULL);
    printf("dist-check: %d failure(s)\n", failures);
    return failures == 0 ? 0 : 1;
}
