/*
 * Loopback throughput benchmark of libwdt through its C ABI.
 *
 *   c_bench new  URL COUNT          time wdt_client_new (COUNT clients, then freed)
 *   c_bench seq  URL N [WARMUP]     N sequential quick returns on one client
 *   c_bench par  URL T N [WARMUP]   T threads sharing one client, N calls in total
 *   c_bench raw  URL N [WARMUP]     floor: no library, the same signed POST written by hand on
 *                                   one keep-alive socket (one write, blocking reads)
 *
 * Prints one line "RESULT key=value ..." that bench/run.sh collects:
 *   calls, wall_us (timed loop only), cpu_us = user_us + sys_us (getrusage of this process,
 *   all threads, over the timed loop), hwm_kb (VmHWM: peak RSS of the whole process so far),
 *   fails (calls whose envelope is not {"ok":true...}).
 * Build: gcc -O2 -pthread -I include bench/c_bench.c -L target/release -lwdt
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <time.h>

#include "wdt.h"

static const char *REQUEST =
    "{\"refundInfo\":{\"tid\":\"pos-6776312\",\"return_warehouse_no\":\"pos\","
    "\"remark\":\"pos refundInfo remark\"},"
    "\"detailMapList\":[{\"spec_no\":\"RRWDMS018040S\",\"stockin_num\":1,"
    "\"remark\":\"POS \xE9\x80\x80\xE8\xB4\xA7\xE6\xB5\x8B\xE8\xAF\x95\"}],"
    "\"createPreStockin\":false}";

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* CPU time of this process so far (all threads), user and system, in microseconds. */
struct cpu {
    double user, sys;
};

static struct cpu cpu_now(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    struct cpu c = {ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec,
                    ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec};
    return c;
}

/* Peak resident set size of this process (kB), from /proc/self/status. */
static long vm_hwm_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

static WdtClient *make_client(const char *url) {
    char config[512];
    char *err = NULL;
    snprintf(config, sizeof config,
             "{\"sid\":\"wdtapi3\",\"appkey\":\"wdt_test\",\"appsecret\":\"testsecret:testsalt\","
             "\"url\":\"%s\",\"connect_timeout_ms\":5000,\"timeout_ms\":30000}",
             url);
    WdtClient *c = wdt_client_new(config, &err);
    if (!c) {
        fprintf(stderr, "wdt_client_new failed: %s\n", err ? err : "(no envelope)");
        wdt_free_string(err);
        exit(2);
    }
    return c;
}

/* One quick return; returns 1 when the envelope is not a success. */
static int one_call(WdtClient *c, int verbose) {
    char *env = wdt_smart_refund_upload(c, REQUEST);
    int bad = env == NULL || strncmp(env, "{\"ok\":true", 10) != 0;
    if (bad && verbose) fprintf(stderr, "call failed: %s\n", env ? env : "(NULL)");
    wdt_free_string(env);
    return bad;
}

struct worker {
    WdtClient *client;
    long calls;
    long fails;
    pthread_barrier_t *start;
};

static void *run_worker(void *arg) {
    struct worker *w = arg;
    pthread_barrier_wait(w->start);
    for (long i = 0; i < w->calls; i++) w->fails += one_call(w->client, w->fails == 0);
    return NULL;
}

static void report(const char *mode, int threads, long calls, double wall, struct cpu c0,
                   long fails) {
    struct cpu c1 = cpu_now();
    double user = c1.user - c0.user, sys = c1.sys - c0.sys;
    printf("RESULT mode=%s threads=%d calls=%ld wall_us=%.0f cpu_us=%.0f user_us=%.0f "
           "sys_us=%.0f hwm_kb=%ld fails=%ld\n",
           mode, threads, calls, wall, user + sys, user, sys, vm_hwm_kb(), fails);
}

/* The floor of a synchronous client: one blocking socket, the request (as libwdt sends it,
 * with a fixed signed query) in one write, the answer read until Content-Length is complete.
 * No signing, no JSON, no pool: what the kernel and the server cost per call. */
static const char *RAW_BODY =
    "[{\"tid\":\"pos-6776312\",\"return_warehouse_no\":\"pos\",\"remark\":\"pos refundInfo "
    "remark\"},[{\"spec_no\":\"RRWDMS018040S\",\"stockin_num\":1,\"remark\":\"POS "
    "\xE9\x80\x80\xE8\xB4\xA7\xE6\xB5\x8B\xE8\xAF\x95\"}],false]";

static int raw_connect(const char *url, char *host, size_t host_len, char *path, size_t path_len) {
    unsigned a, b, c, d, port;
    char rest[256] = "/";
    if (sscanf(url, "http://%u.%u.%u.%u:%u%255s", &a, &b, &c, &d, &port, rest) < 5) {
        fprintf(stderr, "raw mode needs http://A.B.C.D:PORT/path, got %s\n", url);
        exit(2);
    }
    snprintf(host, host_len, "%u.%u.%u.%u:%u", a, b, c, d, port);
    snprintf(path, path_len, "%s", rest);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    sa.sin_addr.s_addr = htonl(a << 24 | b << 16 | c << 8 | d);
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("connect");
        exit(1);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int raw_call(int fd, const char *request, size_t len) {
    static char buf[16384];
    size_t got = 0;
    if (write(fd, request, len) != (ssize_t)len) return 1;
    for (;;) {
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n <= 0) return 1;
        got += (size_t)n;
        buf[got] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        char *cl = strcasestr(buf, "\r\ncontent-length:");
        if (end && cl && cl < end) {
            size_t want = (size_t)(end + 4 - buf) + strtoul(cl + 17, NULL, 10);
            if (got >= want) return strstr(end, "\"status\":0") == NULL;
        }
        if (got >= sizeof buf - 1) return 1;
    }
}

static int run_raw(const char *url, long n, long warmup) {
    char host[64], path[256], request[2048];
    int fd = raw_connect(url, host, sizeof host, path, sizeof path);
    int len = snprintf(request, sizeof request,
                       "POST %s?sid=wdtapi3&key=wdt_test&salt=testsalt&method=wms.stockin."
                       "SmartRefund.upload&v=1.0&timestamp=470000000&sign="
                       "0123456789abcdef0123456789abcdef HTTP/1.1\r\nHost: %s\r\n"
                       "User-Agent: c_bench-raw\r\nAccept: */*\r\n"
                       "Content-Type: application/json; charset=utf-8\r\n"
                       "Content-Length: %zu\r\n\r\n%s",
                       path, host, strlen(RAW_BODY), RAW_BODY);
    long fails = 0;
    for (long i = 0; i < warmup; i++) fails += raw_call(fd, request, (size_t)len);
    if (fails) {
        fprintf(stderr, "raw warm-up failed against %s\n", url);
        return 1;
    }
    struct cpu c0 = cpu_now();
    double t0 = now_us();
    for (long i = 0; i < n; i++) fails += raw_call(fd, request, (size_t)len);
    report("raw", 1, n, now_us() - t0, c0, fails);
    close(fd);
    return fails ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr,
                "usage: %s new URL COUNT | seq URL N [WARMUP] | par URL THREADS N [WARMUP] | "
                "raw URL N [WARMUP]\n",
                argv[0]);
        return 2;
    }
    const char *mode = argv[1];
    const char *url = argv[2];

    if (strcmp(mode, "new") == 0) {
        long count = atol(argv[3]);
        WdtClient **clients = calloc((size_t)count, sizeof *clients);
        wdt_client_free(make_client(url)); /* first use: loader, lazy statics */
        struct cpu c0 = cpu_now();
        double t0 = now_us();
        for (long i = 0; i < count; i++) clients[i] = make_client(url);
        double wall = now_us() - t0;
        report("new", 1, count, wall, c0, 0);
        for (long i = 0; i < count; i++) wdt_client_free(clients[i]);
        free(clients);
        return 0;
    }

    if (strcmp(mode, "raw") == 0)
        return run_raw(url, atol(argv[3]), argc > 4 ? atol(argv[4]) : 200);

    int threads = 1;
    int argi = 3;
    if (strcmp(mode, "par") == 0) {
        threads = atoi(argv[argi++]);
        if (threads < 1 || argc <= argi) return 2;
    } else if (strcmp(mode, "seq") != 0) {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    long n = atol(argv[argi++]);
    long warmup = argc > argi ? atol(argv[argi]) : 200;

    WdtClient *client = make_client(url);
    long fails = 0;
    for (long i = 0; i < warmup; i++) fails += one_call(client, 1);
    if (fails) {
        fprintf(stderr, "warm-up calls failed, is the server up at %s?\n", url);
        return 1;
    }

    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    struct worker *ws = calloc((size_t)threads, sizeof *ws);
    pthread_t *ids = calloc((size_t)threads, sizeof *ids);
    for (int t = 0; t < threads; t++) {
        ws[t].client = client;
        ws[t].calls = n / threads + (t < n % threads ? 1 : 0);
        ws[t].start = &start;
        if (threads > 1) pthread_create(&ids[t], NULL, run_worker, &ws[t]);
    }
    struct cpu c0;
    double t0;
    if (threads > 1) {
        c0 = cpu_now();
        t0 = now_us();
        pthread_barrier_wait(&start);
        for (int t = 0; t < threads; t++) pthread_join(ids[t], NULL);
    } else {
        c0 = cpu_now();
        t0 = now_us();
        for (long i = 0; i < n; i++) ws[0].fails += one_call(client, ws[0].fails == 0);
    }
    double wall = now_us() - t0;
    for (int t = 0; t < threads; t++) fails += ws[t].fails;
    report(mode, threads, n, wall, c0, fails);
    wdt_client_free(client);
    free(ws);
    free(ids);
    pthread_barrier_destroy(&start);
    return fails ? 1 : 0;
}
