/* The C ABI of libwdt (include/wdt.h) as a C caller meets it, edge cases first.
 *
 * Each rule of docs/abi.md that a till could trip over has a check here:
 * NULL pointers, bad UTF-8, bad JSON and wrong JSON types give an envelope (never a
 * crash or NULL), the free functions accept NULL, *error_json is set on every path,
 * invalid requests never reach the gateway, one client serves several threads.
 * tests/c/run.sh builds it as C99 with -Wall -Wextra -Werror and runs it plainly and
 * under valgrind, so every string this file receives must be freed: a leak here is a
 * test failure.
 *
 * Usage: test_abi EXPECTED_VERSION
 *   env WDT_MOCK_URL  (http://127.0.0.1:PORT/openapi, the gateway double)
 *   env WDT_MOCK_BASE (http://127.0.0.1:PORT, for /__mock/stats)
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

/* Checks that `env` is an envelope (compact JSON, "ok" first) containing every
 * needle of the NULL-terminated list, then frees it: the envelope belongs to the
 * caller and is released exactly once, with wdt_free_string. */
static void check_envelope(const char *name, char *env, const char *first, ...)
{
    va_list ap;
    const char *needle;
    int ok = env != NULL && strncmp(env, "{\"ok\":", 6) == 0;
    char detail[2048];

    va_start(ap, first);
    for (needle = first; ok && needle != NULL; needle = va_arg(ap, const char *)) {
        if (strstr(env, needle) == NULL) {
            ok = 0;
            snprintf(detail, sizeof detail, "lacks %s in %s", needle, env);
        }
    }
    va_end(ap);
    if (env == NULL) {
        snprintf(detail, sizeof detail, "NULL envelope");
    } else if (strncmp(env, "{\"ok\":", 6) != 0) {
        snprintf(detail, sizeof detail, "not a compact envelope with ok first: %s", env);
    }
    check(ok, name, ok ? NULL : detail);
    wdt_free_string(env);
}

/* ------------------------------------------------------------------------- */
/* The gateway double's request counter, read over a plain socket so this test
 * needs nothing but libc. Returns -1 when it cannot be read. */

static long mock_requests(void)
{
    const char *base = getenv("WDT_MOCK_BASE");
    const char *prefix = "http://127.0.0.1:";
    const char *get = "GET /__mock/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    struct sockaddr_in addr;
    char buf[65536];
    size_t len = 0;
    ssize_t n;
    const char *p;
    int fd;

    if (base == NULL || strncmp(base, prefix, strlen(prefix)) != 0) {
        return -1;
    }
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(base + strlen(prefix)));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        write(fd, get, strlen(get)) != (ssize_t)strlen(get)) {
        close(fd);
        return -1;
    }
    while (len < sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0) {
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    p = strstr(buf, "\"requests\":");
    return p ? strtol(p + strlen("\"requests\":"), NULL, 10) : -1;
}

/* A loopback port with nothing listening: bind to port 0, note the port, close. */
static int closed_port(void)
{
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    int port = -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0) {
        return -1;
    }
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &len) == 0) {
        port = ntohs(addr.sin_port);
    }
    close(fd);
    return port;
}

/* ------------------------------------------------------------------------- */

#define GOOD_REQUEST                                                                                   \
    "{\"refundInfo\":{\"tid\":\"pos-6776312\",\"return_warehouse_no\":\"pos\",\"remark\":\"pos refundInfo " \
    "remark\"},\"detailMapList\":[{\"spec_no\":\"RRWDMS018040S\",\"stockin_num\":1,\"remark\":\"POS "      \
    "\xE9\x80\x80\xE8\xB4\xA7\xE6\xB5\x8B\xE8\xAF\x95\"}],\"createPreStockin\":false}"

/* pos-load is seeded with a huge quantity, so the threads can return it many times. */
#define LOAD_REQUEST                                                                                   \
    "{\"refundInfo\":{\"tid\":\"pos-load\",\"return_warehouse_no\":\"pos\",\"remark\":\"\"},"               \
    "\"detailMapList\":[{\"spec_no\":\"LOAD-SKU\",\"stockin_num\":1,\"remark\":\"\"}],"                      \
    "\"createPreStockin\":false}"

#define QUERY_REQUEST                                                                                  \
    "{\"method\":\"wms.stockin.Refund.queryWithDetail\",\"args\":[{\"start_time\":\"2024-01-01 "          \
    "00:00:00\",\"end_time\":\"2024-01-31 00:00:00\"}],\"pager\":{\"page_size\":50,\"page_no\":0,"          \
    "\"calc_total\":true}}"

static char g_config[1024];

static void make_config(char *out, size_t size, const char *url, const char *sid_member)
{
    snprintf(out, size,
             "{%s\"appkey\":\"wdt_test\",\"appsecret\":\"testsecret:testsalt\","
             "\"connect_timeout_ms\":2000,\"timeout_ms\":10000,\"url\":\"%s\"}",
             sid_member, url);
}

static void test_version(const char *expected)
{
    const char *v = wdt_version();
    char detail[256];

    snprintf(detail, sizeof detail, "wdt_version() is \"%s\", Cargo.toml says \"%s\"", v ? v : "(null)",
             expected);
    check(v != NULL && strcmp(v, expected) == 0, "wdt_version equals Cargo.toml's version", detail);
    /* Static storage: the same pointer every time, never freed by the caller. */
    check(wdt_version() == v, "wdt_version returns the same static string", NULL);

    /* The header's macros let code check at compile time what it was built against;
     * they must describe the library it runs with. */
    snprintf(detail, sizeof detail, "WDT_VERSION is \"%s\", %d.%d.%d in parts", WDT_VERSION, WDT_VERSION_MAJOR,
             WDT_VERSION_MINOR, WDT_VERSION_PATCH);
    {
        char parts[64];
        snprintf(parts, sizeof parts, "%d.%d.%d", WDT_VERSION_MAJOR, WDT_VERSION_MINOR, WDT_VERSION_PATCH);
        check(strcmp(WDT_VERSION, expected) == 0 && strcmp(parts, expected) == 0,
              "the header's WDT_VERSION macros equal Cargo.toml's version", detail);
    }
}

static void test_config(const char *url)
{
    char bad[1024];
    char sentinel = 0;
    char *err = &sentinel;
    WdtClient *client;

    client = wdt_client_new(g_config, &err);
    check(client != NULL, "wdt_client_new accepts the test config", err);
    check(err == NULL, "on success *error_json is set to NULL", NULL);
    wdt_client_free(client);

    client = wdt_client_new(g_config, NULL);
    check(client != NULL, "wdt_client_new with error_json NULL succeeds", NULL);
    wdt_client_free(client);

    make_config(bad, sizeof bad, url, "");
    err = &sentinel;
    client = wdt_client_new(bad, &err);
    check(client == NULL, "missing sid: no client", NULL);
    check_envelope("missing sid: *error_json is a config error naming sid", err, "\"ok\":false",
                   "\"kind\":\"config\"", "\"field\":\"sid\"", (const char *)NULL);

    client = wdt_client_new(bad, NULL);
    check(client == NULL, "missing sid with error_json NULL: no client, no crash", NULL);

    err = &sentinel;
    client = wdt_client_new(NULL, &err);
    check(client == NULL, "NULL config: no client", NULL);
    check_envelope("NULL config: *error_json is a config error", err, "\"ok\":false", "\"kind\":\"config\"",
                   (const char *)NULL);
    check(wdt_client_new(NULL, NULL) == NULL, "NULL config with error_json NULL: no client, no crash", NULL);

    err = &sentinel;
    client = wdt_client_new("{\"sid\":\"wdt\xff\xfe\",\"appkey\":\"wdt_test\",\"appsecret\":\"a:b\"}", &err);
    check(client == NULL, "config with invalid UTF-8: no client", NULL);
    check_envelope("config with invalid UTF-8: config error", err, "\"kind\":\"config\"", (const char *)NULL);

    {
        static const char *const not_objects[] = {"", "42", "[]", "null", "\"sid\"", "{", "{\"sid\":"};
        size_t i;
        char name[128];
        for (i = 0; i < sizeof not_objects / sizeof not_objects[0]; i++) {
            err = &sentinel;
            client = wdt_client_new(not_objects[i], &err);
            snprintf(name, sizeof name, "config '%s' is a config error", not_objects[i]);
            check(client == NULL, name, NULL);
            check_envelope(name, err, "\"ok\":false", "\"kind\":\"config\"", (const char *)NULL);
        }
    }

    /* The secret must never appear in an envelope, not even when it is rejected. */
    err = &sentinel;
    client = wdt_client_new("{\"sid\":\"wdtapi3\",\"appkey\":\"wdt_test\",\"appsecret\":\"topsecretvalue\"}", &err);
    check(client == NULL && err != NULL && err != &sentinel && strstr(err, "topsecretvalue") == NULL,
          "appsecret without salt: rejected without echoing the secret", err != &sentinel ? err : NULL);
    if (err != &sentinel) {
        wdt_free_string(err);
    }
}

static void test_calls(WdtClient *client)
{
    check_envelope("happy path: good quick return", wdt_smart_refund_upload(client, GOOD_REQUEST),
                   "{\"ok\":true", "\"stockin_id\":", (const char *)NULL);

    check_envelope("api error: unknown tid keeps the gateway's Chinese message",
                   wdt_smart_refund_upload(client,
                                           "{\"refundInfo\":{\"tid\":\"no-such-order\",\"return_warehouse_no\":\"pos\","
                                           "\"remark\":\"\"},\"detailMapList\":[{\"spec_no\":\"RRWDMS018040S\","
                                           "\"stockin_num\":1,\"remark\":\"\"}],\"createPreStockin\":false}"),
                   "{\"ok\":false", "\"kind\":\"api\"", "\"status\":100",
                   "\"\xE6\x9C\xAA\xE6\x89\xBE\xE5\x88\xB0\xE5\xAF\xB9\xE5\xBA\x94\xE7\x9A\x84\xE5\x8D\x95\xE6\x8D\xAE"
                   "\xE4\xBF\xA1\xE6\x81\xAF!\"", /* "未找到对应的单据信息!" exactly */
                   (const char *)NULL);

    check_envelope("paged wdt_call carries total_count", wdt_call(client, QUERY_REQUEST), "{\"ok\":true",
                   "\"total_count\":", (const char *)NULL);
}

/* Everything here is refused before sending, so the gateway must see none of it. */
static void test_invalid_requests(WdtClient *client)
{
    static const char *const not_objects[] = {"", "42", "[]", "[1,2,3]", "null", "true", "\"refund\"", "{\"refundInfo\": "};
    const char *const ia = "\"kind\":\"invalid_argument\"";
    char name[160];
    size_t i;
    char *deep;
    const size_t depth = 100000;

    check_envelope("invalid_argument names its field",
                   wdt_smart_refund_upload(client, "{\"refundInfo\":{\"tid\":\"\",\"return_warehouse_no\":\"pos\","
                                                   "\"remark\":\"\"},\"detailMapList\":[{\"spec_no\":\"X\","
                                                   "\"stockin_num\":1,\"remark\":\"\"}],\"createPreStockin\":false}"),
                   "{\"ok\":false", ia, "\"field\":\"refundInfo.tid\"", (const char *)NULL);

    check_envelope("NULL client: smart_refund_upload gives an envelope", wdt_smart_refund_upload(NULL, GOOD_REQUEST),
                   "{\"ok\":false", ia, (const char *)NULL);
    check_envelope("NULL client: call gives an envelope", wdt_call(NULL, QUERY_REQUEST), "{\"ok\":false", ia,
                   (const char *)NULL);
    check_envelope("NULL client and NULL request give an envelope", wdt_call(NULL, NULL), "{\"ok\":false", ia,
                   (const char *)NULL);
    check_envelope("NULL request: smart_refund_upload gives an envelope", wdt_smart_refund_upload(client, NULL),
                   "{\"ok\":false", ia, (const char *)NULL);
    check_envelope("NULL request: call gives an envelope", wdt_call(client, NULL), "{\"ok\":false", ia,
                   (const char *)NULL);

    check_envelope("invalid UTF-8 in a request string", wdt_smart_refund_upload(client,
                   "{\"refundInfo\":{\"tid\":\"pos-\xC3\x28\xFF\",\"return_warehouse_no\":\"pos\",\"remark\":\"\"},"
                   "\"detailMapList\":[{\"spec_no\":\"X\",\"stockin_num\":1,\"remark\":\"\"}],"
                   "\"createPreStockin\":false}"),
                   "{\"ok\":false", ia, (const char *)NULL);
    check_envelope("invalid UTF-8 in a call", wdt_call(client, "{\"method\":\"\xFF\xFE\",\"args\":[]}"),
                   "{\"ok\":false", ia, (const char *)NULL);
    check_envelope("truncated UTF-8 at the end of a request", wdt_call(client, "{\"method\":\"x\",\"args\":[]}\xE6\x9C"),
                   "{\"ok\":false", ia, (const char *)NULL);

    for (i = 0; i < sizeof not_objects / sizeof not_objects[0]; i++) {
        snprintf(name, sizeof name, "smart_refund_upload('%s') is invalid_argument", not_objects[i]);
        check_envelope(name, wdt_smart_refund_upload(client, not_objects[i]), "{\"ok\":false", ia, (const char *)NULL);
        snprintf(name, sizeof name, "call('%s') is invalid_argument", not_objects[i]);
        check_envelope(name, wdt_call(client, not_objects[i]), "{\"ok\":false", ia, (const char *)NULL);
    }

    check_envelope("a number where refundInfo's object belongs",
                   wdt_smart_refund_upload(client, "{\"refundInfo\":42,\"detailMapList\":[{\"spec_no\":\"X\","
                                                   "\"stockin_num\":1,\"remark\":\"\"}],\"createPreStockin\":false}"),
                   "{\"ok\":false", ia, "\"field\":\"refundInfo\"", (const char *)NULL);
    check_envelope("an array where refundInfo's object belongs",
                   wdt_smart_refund_upload(client, "{\"refundInfo\":[],\"detailMapList\":[{\"spec_no\":\"X\","
                                                   "\"stockin_num\":1,\"remark\":\"\"}],\"createPreStockin\":false}"),
                   "{\"ok\":false", ia, "\"field\":\"refundInfo\"", (const char *)NULL);
    check_envelope("a number where a detail line's object belongs",
                   wdt_smart_refund_upload(client, "{\"refundInfo\":{\"tid\":\"t\",\"return_warehouse_no\":\"pos\","
                                                   "\"remark\":\"\"},\"detailMapList\":[42],\"createPreStockin\":false}"),
                   "{\"ok\":false", ia, "\"field\":\"detailMapList[0]\"", (const char *)NULL);
    check_envelope("an array where the pager's object belongs",
                   wdt_call(client, "{\"method\":\"wms.stockin.Refund.queryWithDetail\",\"args\":[{}],\"pager\":[]}"),
                   "{\"ok\":false", ia, "\"field\":\"pager\"", (const char *)NULL);

    /* A recursive parser without a depth limit would overflow the stack on this and
     * take the till down with it. */
    deep = malloc(depth + 1);
    if (deep != NULL) {
        memset(deep, '[', depth);
        deep[depth] = '\0';
        check_envelope("100000 nested arrays give an envelope, not a stack overflow",
                       wdt_call(client, deep), "{\"ok\":false", ia, (const char *)NULL);
        free(deep);
    }
}

struct worker {
    WdtClient *client;
    int failures;
    char first_failure[512];
};

#define THREADS 4
#define CALLS_PER_THREAD 5

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    int i;

    for (i = 0; i < CALLS_PER_THREAD; i++) {
        char *env = wdt_smart_refund_upload(w->client, LOAD_REQUEST);
        if (env == NULL || strncmp(env, "{\"ok\":true", 10) != 0) {
            if (w->failures++ == 0) {
                snprintf(w->first_failure, sizeof w->first_failure, "%s", env ? env : "(NULL)");
            }
        }
        wdt_free_string(env);
        /* wdt_version is static data, readable from any thread at any time. */
        if (wdt_version() == NULL) {
            w->failures++;
        }
    }
    return NULL;
}

static void test_threads(WdtClient *client)
{
    pthread_t threads[THREADS];
    struct worker workers[THREADS];
    int started[THREADS];
    int i;
    int failures = 0;
    const char *first = NULL;

    for (i = 0; i < THREADS; i++) {
        memset(&workers[i], 0, sizeof workers[i]);
        workers[i].client = client;
        started[i] = pthread_create(&threads[i], NULL, worker_main, &workers[i]) == 0;
    }
    for (i = 0; i < THREADS; i++) {
        if (!started[i]) {
            failures++;
            first = "pthread_create failed";
            continue;
        }
        pthread_join(threads[i], NULL);
        failures += workers[i].failures;
        if (workers[i].failures && first == NULL) {
            first = workers[i].first_failure;
        }
    }
    check(failures == 0, "4 threads x 5 quick returns on one shared client", first);
}

static void test_transport(void)
{
    char config[1024];
    char url[128];
    int port = closed_port();
    WdtClient *client;

    snprintf(url, sizeof url, "http://127.0.0.1:%d/openapi", port);
    make_config(config, sizeof config, url, "\"sid\":\"wdtapi3\",");
    client = wdt_client_new(config, NULL);
    check(port > 0 && client != NULL, "client for a closed loopback port", NULL);
    if (client != NULL) {
        check_envelope("closed port: transport error, not sent", wdt_smart_refund_upload(client, GOOD_REQUEST),
                       "{\"ok\":false", "\"kind\":\"transport\"", "\"delivery\":\"not_sent\"", (const char *)NULL);
        wdt_client_free(client);
    }
}

int main(int argc, char **argv)
{
    const char *url = getenv("WDT_MOCK_URL");
    WdtClient *client;
    long before;
    long after;
    char detail[128];

    if (argc != 2 || url == NULL) {
        fprintf(stderr, "usage: WDT_MOCK_URL=... WDT_MOCK_BASE=... %s EXPECTED_VERSION\n", argv[0]);
        return 2;
    }
    make_config(g_config, sizeof g_config, url, "\"sid\":\"wdtapi3\",");

    /* The free functions must accept NULL, as free() does. */
    wdt_client_free(NULL);
    wdt_free_string(NULL);
    check(1, "wdt_client_free(NULL) and wdt_free_string(NULL) are no-ops", NULL);

    test_version(argv[1]);
    test_config(url);

    client = wdt_client_new(g_config, NULL);
    check(client != NULL, "client for the gateway double", NULL);
    if (client != NULL) {
        before = mock_requests();
        test_calls(client);
        after = mock_requests();
        snprintf(detail, sizeof detail, "requests went from %ld to %ld", before, after);
        check(before >= 0 && after == before + 3, "the three valid calls each reached the gateway once", detail);

        before = after;
        test_invalid_requests(client);
        after = mock_requests();
        snprintf(detail, sizeof detail, "requests went from %ld to %ld", before, after);
        check(before >= 0 && after == before, "no invalid request reached the gateway", detail);

        before = after;
        test_threads(client);
        after = mock_requests();
        snprintf(detail, sizeof detail, "requests went from %ld to %ld", before, after);
        check(before >= 0 && after == before + THREADS * CALLS_PER_THREAD,
              "every threaded call reached the gateway exactly once", detail);

        wdt_client_free(client);
    }
    test_transport();

    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
