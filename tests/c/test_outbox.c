/* The outbox ABI (wdt_outbox_*, docs/outbox.md) as a C till meets it.
 *
 * NULL handles and arguments, bad UTF-8 and bad JSON give envelopes; open reports a bad
 * file through *error_json; submit stores and delivers; the same id twice is one entry;
 * get carries the history; list pages; flush delivers deferred entries; a background
 * worker starts and stops; several threads submit through one handle; calls after close
 * and a second close are refused without touching freed memory. tests/c/run.sh
 * builds it as C99 with -Wall -Wextra -Werror and runs it plainly and under valgrind:
 * every string received here is freed, so a leak is a test failure.
 *
 * Usage: test_outbox DIR   (an empty scratch folder for the outbox files)
 *   env WDT_MOCK_URL (http://127.0.0.1:PORT/openapi, the gateway double)
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wdt.h"

static int g_passed;
static int g_failed;

static void check(int ok, const char *name, const char *detail)
{
    if (ok) {
        g_passed++;
        printf("ok   - %s\n", name);
    } else {
        g_failed++;
        printf("FAIL - %s%s%s\n", name, detail ? ": " : "", detail ? detail : "");
    }
    fflush(stdout);
}

/* Checks that env is an envelope containing both needles (needle2 may be NULL), then frees it. */
static void expect(const char *name, char *env, const char *needle1, const char *needle2)
{
    int ok = env != NULL && strncmp(env, "{\"ok\":", 6) == 0 && strstr(env, needle1) != NULL
             && (needle2 == NULL || strstr(env, needle2) != NULL);
    check(ok, name, env ? env : "(NULL)");
    wdt_free_string(env);
}

static char g_config[1024];
static char g_options[1024];

static void set_options(const char *dir, const char *file, const char *extra)
{
    snprintf(g_options, sizeof g_options,
             "{\"path\":\"%s/%s\",\"settle_ms\":300,\"lease_ms\":2500%s}", dir, file, extra);
}

#define RETURN_JSON(id, defer)                                                                   \
    "{\"id\":\"" id "\",\"defer\":" defer ",\"request\":{\"refundInfo\":{\"tid\":\"pos-load\","      \
    "\"return_warehouse_no\":\"pos\",\"remark\":\"C 退货\"},\"detailMapList\":[{\"spec_no\":"        \
    "\"LOAD-SKU\",\"stockin_num\":1,\"remark\":\"\"}],\"createPreStockin\":false}}"

struct job {
    WdtOutbox *outbox;
    int index;
    int ok;
};

static void *submit_thread(void *arg)
{
    struct job *j = arg;
    char submit[1024];
    char *env;
    snprintf(submit, sizeof submit,
             "{\"id\":\"THREAD-%d\",\"request\":{\"refundInfo\":{\"tid\":\"pos-load\","
             "\"return_warehouse_no\":\"pos\",\"remark\":\"\"},\"detailMapList\":[{\"spec_no\":"
             "\"LOAD-SKU\",\"stockin_num\":1,\"remark\":\"\"}],\"createPreStockin\":false}}",
             j->index);
    env = wdt_outbox_submit(j->outbox, submit);
    j->ok = env != NULL && strstr(env, "\"state\":\"delivered\"") != NULL;
    wdt_free_string(env);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *url = getenv("WDT_MOCK_URL");
    const char *dir = argc > 1 ? argv[1] : NULL;
    char *err = (char *)"sentinel";
    WdtOutbox *ob;
    char *env;
    int i;

    if (url == NULL || dir == NULL) {
        fprintf(stderr, "usage: WDT_MOCK_URL=... test_outbox DIR\n");
        return 2;
    }
    snprintf(g_config, sizeof g_config,
             "{\"sid\":\"wdtapi3\",\"appkey\":\"wdt_test\",\"appsecret\":\"testsecret:testsalt\","
             "\"url\":\"%s\",\"connect_timeout_ms\":1000,\"timeout_ms\":2000}",
             url);

    /* --- open: NULLs, bad JSON, bad files ---------------------------------------------- */
    ob = wdt_outbox_open(NULL, NULL, &err);
    check(ob == NULL && err != NULL && strstr(err, "\"kind\":\"config\"") != NULL,
          "open(NULL, NULL) is a config error in *error_json", err);
    wdt_free_string(err);
    check(wdt_outbox_open(g_config, "{\"path\":", NULL) == NULL, "open with bad JSON and no error_json", NULL);
    ob = wdt_outbox_open(g_config, "{\"path\":\"/proc/wdt.db\"}", &err);
    check(ob == NULL && err != NULL && strstr(err, "\"field\":\"path\"") != NULL,
          "an unusable path is a config error naming path", err);
    wdt_free_string(err);
    ob = wdt_outbox_open(g_config, "{\"path\":\"x.db\",\"lease_ms\":500}", &err);
    check(ob == NULL && err != NULL && strstr(err, "\"field\":\"lease_ms\"") != NULL,
          "a lease shorter than timeout_ms is refused", err);
    wdt_free_string(err);

    /* --- NULL handle ------------------------------------------------------------------------ */
    expect("submit(NULL outbox)", wdt_outbox_submit(NULL, "{}"), "\"kind\":\"invalid_argument\"", NULL);
    expect("get(NULL outbox)", wdt_outbox_get(NULL, "x"), "\"kind\":\"invalid_argument\"", NULL);
    expect("list(NULL outbox)", wdt_outbox_list(NULL, NULL), "\"kind\":\"invalid_argument\"", NULL);
    expect("flush(NULL outbox)", wdt_outbox_flush(NULL, NULL), "\"kind\":\"invalid_argument\"", NULL);
    wdt_outbox_close(NULL);
    check(1, "close(NULL) is a no-op", NULL);

    set_options(dir, "main.db", "");
    ob = wdt_outbox_open(g_config, g_options, &err);
    check(ob != NULL && err == NULL, "open creates the file; *error_json is NULL", err);
    if (ob == NULL) {
        wdt_free_string(err);
        printf("%d passed, %d failed\n", g_passed, g_failed);
        return 1;
    }

    /* --- bad input ------------------------------------------------------------------------------ */
    expect("submit(NULL json)", wdt_outbox_submit(ob, NULL), "\"kind\":\"invalid_argument\"", NULL);
    expect("submit(bad UTF-8)", wdt_outbox_submit(ob, "{\"id\":\"\xff\"}"), "\"kind\":\"invalid_argument\"", "UTF-8");
    expect("submit(not JSON)", wdt_outbox_submit(ob, "{"), "\"kind\":\"invalid_argument\"", NULL);
    expect("submit([])", wdt_outbox_submit(ob, "[]"), "\"kind\":\"invalid_argument\"", NULL);
    expect("submit with an invalid request names the field under request.",
           wdt_outbox_submit(ob, "{\"request\":{\"refundInfo\":{\"tid\":\"\",\"return_warehouse_no\":"
                                 "\"pos\",\"remark\":\"\"},\"detailMapList\":[{\"spec_no\":\"A\","
                                 "\"stockin_num\":1,\"remark\":\"\"}],\"createPreStockin\":false}}"),
           "\"field\":\"request.refundInfo.tid\"", NULL);
    expect("get(NULL id)", wdt_outbox_get(ob, NULL), "\"kind\":\"invalid_argument\"", NULL);
    expect("get(unknown id)", wdt_outbox_get(ob, "nope"), "\"field\":\"id\"", NULL);
    expect("list(bad filter)", wdt_outbox_list(ob, "{\"state\":\"lost\"}"), "\"field\":\"state\"", NULL);
    expect("flush(bad options)", wdt_outbox_flush(ob, "{\"max_entries\":-1}"), "\"field\":\"max_entries\"", NULL);

    /* --- submit, the same id again, get, list, flush ------------------------------------------ */
    expect("submit delivers now", wdt_outbox_submit(ob, RETURN_JSON("C-1", "false")),
           "\"state\":\"delivered\"", "\"stockin_id\":");
    expect("the same id returns the entry, attempts still 1",
           wdt_outbox_submit(ob, RETURN_JSON("C-1", "false")), "\"id\":\"C-1\"", "\"attempts\":1");
    expect("get has the history", wdt_outbox_get(ob, "C-1"), "\"history\":[", "\"event\":\"answer\"");
    expect("defer stores without sending", wdt_outbox_submit(ob, RETURN_JSON("C-2", "true")),
           "\"state\":\"pending\"", "\"attempts\":0");
    expect("list pages", wdt_outbox_list(ob, "{\"limit\":1}"), "\"id\":\"C-1\"", "\"next_after\":\"C-1\"");
    expect("list(NULL) lists all", wdt_outbox_list(ob, NULL), "\"id\":\"C-2\"", "\"next_after\":null");
    expect("flush delivers the deferred entry", wdt_outbox_flush(ob, NULL), "\"delivered\":1", "\"pending\":0");
    expect("flush with nothing to do", wdt_outbox_flush(ob, "{\"budget_ms\":1000}"), "\"delivered\":0",
           "\"blocked\":null");

    /* --- threads -------------------------------------------------------------------------------- */
    {
        struct job jobs[4];
        pthread_t t[4];
        int all = 1;
        for (i = 0; i < 4; i++) {
            jobs[i].outbox = ob;
            jobs[i].index = i;
            jobs[i].ok = 0;
            pthread_create(&t[i], NULL, submit_thread, &jobs[i]);
        }
        for (i = 0; i < 4; i++) {
            pthread_join(t[i], NULL);
            all = all && jobs[i].ok;
        }
        check(all, "four threads submit through one handle, each delivered", NULL);
    }
    wdt_outbox_close(ob);
    check(1, "close", NULL);

    /* --- mistakes the library catches: calls after close, a second close ---------------------
     * Not for a till to rely on (a closed handle's address may be reused by a new outbox), but
     * they must give an envelope or a stderr line, never touch freed memory: valgrind checks. */
    expect("submit after close is invalid_argument",
           wdt_outbox_submit(ob, RETURN_JSON("C-9", "true")), "\"kind\":\"invalid_argument\"",
           "not a live outbox");
    expect("get after close", wdt_outbox_get(ob, "C-1"), "\"kind\":\"invalid_argument\"", "not a live outbox");
    expect("list after close", wdt_outbox_list(ob, NULL), "\"kind\":\"invalid_argument\"", "not a live outbox");
    expect("flush after close", wdt_outbox_flush(ob, NULL), "\"kind\":\"invalid_argument\"", "not a live outbox");
    wdt_outbox_close(ob);
    check(1, "a second close is ignored", NULL);

    /* --- a second handle on the same file sees the entries ---------------------------------- */
    ob = wdt_outbox_open(g_config, g_options, &err);
    expect("reopened file keeps its entries", wdt_outbox_get(ob, "C-2"), "\"state\":\"delivered\"", NULL);
    expect("the submit after close stored nothing", wdt_outbox_get(ob, "C-9"), "\"field\":\"id\"", NULL);
    wdt_outbox_close(ob);

    /* --- the background worker ---------------------------------------------------------------- */
    set_options(dir, "worker.db", ",\"worker_interval_ms\":100");
    ob = wdt_outbox_open(g_config, g_options, &err);
    check(ob != NULL, "open with a worker", err);
    if (ob != NULL) {
        int delivered = 0;
        wdt_free_string(wdt_outbox_submit(ob, RETURN_JSON("W-1", "true")));
        for (i = 0; i < 100 && !delivered; i++) {
            env = wdt_outbox_get(ob, "W-1");
            delivered = env != NULL && strstr(env, "\"state\":\"delivered\"") != NULL;
            wdt_free_string(env);
            if (!delivered) {
                struct timespec pause = {0, 100 * 1000 * 1000};
                nanosleep(&pause, NULL);
            }
        }
        check(delivered, "the worker delivers a deferred entry", NULL);
        wdt_outbox_close(ob);
        check(1, "close stops the worker", NULL);
    }

    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
