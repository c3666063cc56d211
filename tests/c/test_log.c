/* Logging can never cost an answer, and a GUI till without a console still sees what happens:
 * - with "log": true and stderr closed, or stderr a pipe nobody reads (EPIPE, with SIGPIPE at
 *   its default action, which would kill the process), a quick return still succeeds;
 * - wdt_client_set_log_callback delivers one line per attempt, never the secret, and stops
 *   when turned off.
 * Usage: test_log GATEWAY_URL. Last line: "N passed, M failed". */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wdt.h"

static int passed, failed;
static void check(int ok, const char *what) {
  if (ok) {
    passed++;
    printf("ok   - %s\n", what);
  } else {
    failed++;
    printf("FAIL - %s\n", what);
  }
  fflush(stdout);
}

static const char *REQUEST =
    "{\"refundInfo\":{\"tid\":\"pos-6776312\",\"return_warehouse_no\":\"pos\",\"remark\":\"\"},"
    "\"detailMapList\":[{\"spec_no\":\"RRWDMS018040S\",\"stockin_num\":1,\"remark\":\"\"}],"
    "\"createPreStockin\":false}";

static WdtClient *make(const char *url, int log) {
  char config[512];
  char *err = NULL;
  WdtClient *c;
  snprintf(config, sizeof config,
           "{\"sid\":\"wdtapi3\",\"appkey\":\"wdt_test\",\"appsecret\":\"testsecret:testsalt\","
           "\"url\":\"%s\",\"log\":%s}",
           url, log ? "true" : "false");
  c = wdt_client_new(config, &err);
  if (!c) {
    printf("client: %s\n", err ? err : "(null)");
    wdt_free_string(err);
  }
  return c;
}

static int upload_ok(WdtClient *c) {
  char *env = wdt_smart_refund_upload(c, REQUEST);
  int ok = env && strncmp(env, "{\"ok\":true", 10) == 0;
  if (!ok) printf("envelope: %s\n", env ? env : "(null)");
  wdt_free_string(env);
  return ok;
}

struct lines {
  int count;
  int secret_seen;
  int attempt_seen;
};

static void on_line(const char *line, void *user_data) {
  struct lines *l = (struct lines *)user_data;
  l->count++;
  if (strstr(line, "testsecret")) l->secret_seen = 1;
  if (strstr(line, "attempt 1")) l->attempt_seen = 1;
}

int main(int argc, char **argv) {
  WdtClient *c;
  struct lines got = {0, 0, 0};
  int fds[2];
  if (argc < 2) {
    printf("usage: test_log GATEWAY_URL\n0 passed, 1 failed\n");
    return 2;
  }

  c = make(argv[1], 0);
  check(c != NULL, "client");
  if (!c) goto done;
  check(wdt_client_set_log_callback(c, on_line, &got) == 0, "set a log callback");
  check(upload_ok(c), "quick return with a log callback");
  check(got.count == 1 && got.attempt_seen, "one line per attempt reached the callback");
  check(!got.secret_seen, "the secret never reaches the callback");
  check(wdt_client_set_log_callback(c, NULL, NULL) == 0, "turn the callback off");
  check(upload_ok(c), "quick return after turning it off");
  check(got.count == 1, "no line after the callback was turned off");
  check(wdt_client_set_log_callback(NULL, on_line, &got) == -1, "NULL client gives -1");
  wdt_client_free(c);

  /* stderr a pipe whose reader is gone: every write fails with EPIPE and raises SIGPIPE,
   * whose default action ends the process. */
  signal(SIGPIPE, SIG_DFL);
  c = make(argv[1], 1);
  check(c != NULL, "client with \"log\": true");
  if (!c) goto done;
  if (pipe(fds) == 0) {
    close(fds[0]);
    dup2(fds[1], 2);
    close(fds[1]);
    check(upload_ok(c), "quick return while stderr is a broken pipe (EPIPE, SIGPIPE default)");
    check(upload_ok(c), "and again");
  } else {
    check(0, "pipe()");
  }
  close(2);
  check(upload_ok(c), "quick return with stderr closed");
  wdt_client_free(c);

done:
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
