// wdt::Outbox (bindings/cpp/wdt.hpp) against the gateway double: RAII open/close,
// submit/get/list/flush, the same id twice, bad options as wdt::Error, moves.
// Usage: outbox_test DIR   (env WDT_MOCK_URL)
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "wdt.hpp"

static int g_passed = 0;
static int g_failed = 0;

static void check(bool ok, const std::string &name, const std::string &detail = "") {
    if (ok) {
        ++g_passed;
        std::printf("ok   - %s\n", name.c_str());
    } else {
        ++g_failed;
        std::printf("FAIL - %s: %s\n", name.c_str(), detail.c_str());
    }
    std::fflush(stdout);
}

static bool has(const std::string &s, const std::string &needle) {
    return s.find(needle) != std::string::npos;
}

static std::string quick_return(const std::string &id, bool defer) {
    return "{\"id\":\"" + id + "\",\"defer\":" + (defer ? "true" : "false") +
           ",\"request\":{\"refundInfo\":{\"tid\":\"pos-load\",\"return_warehouse_no\":\"pos\","
           "\"remark\":\"C++ 退货\"},\"detailMapList\":[{\"spec_no\":\"LOAD-SKU\","
           "\"stockin_num\":1,\"remark\":\"\"}],\"createPreStockin\":false}}";
}

int main(int argc, char **argv) {
    const char *url = std::getenv("WDT_MOCK_URL");
    if (url == NULL || argc < 2) {
        std::fprintf(stderr, "usage: WDT_MOCK_URL=... outbox_test DIR\n");
        return 2;
    }
    const std::string dir = argv[1];
    const std::string config = std::string("{\"sid\":\"wdtapi3\",\"appkey\":\"wdt_test\","
                                           "\"appsecret\":\"testsecret:testsalt\",\"url\":\"") +
                               url + "\",\"timeout_ms\":2000,\"connect_timeout_ms\":1000}";
    const std::string options = "{\"path\":\"" + dir + "/cpp.db\",\"lease_ms\":3000}";

    try {
        wdt::Outbox bad(config, "{\"path\":\"" + dir + "/x.db\",\"lease_ms\":10}");
        check(false, "a bad option throws");
    } catch (const wdt::Error &e) {
        check(e.kind() == "config" && e.field() == "lease_ms", "a bad option throws wdt::Error",
              e.envelope());
    }

    {
        wdt::Outbox ob(config, options);
        check(ob.valid(), "open");
        std::string env = ob.submit(quick_return("CPP-1", false));
        check(has(env, "\"state\":\"delivered\""), "submit delivers", env);
        env = ob.submit(quick_return("CPP-1", false));
        check(has(env, "\"attempts\":1"), "the same id is the same entry", env);
        env = ob.submit(quick_return("CPP-2", true));
        check(has(env, "\"state\":\"pending\""), "defer stores only", env);
        env = ob.flush();
        check(has(env, "\"delivered\":1") && has(env, "\"pending\":0"), "flush delivers", env);
        check(has(env, "\"blocked\":null"), "flush not blocked", env);
        env = ob.get("CPP-2");
        check(has(env, "\"history\":["), "get has the history", env);
        env = ob.list("{\"limit\":1}");
        check(has(env, "\"next_after\":\"CPP-1\""), "list pages", env);
        env = ob.submit("{\"request\":{}}");
        check(has(env, "\"kind\":\"invalid_argument\""), "invalid submit is an envelope", env);

        wdt::Outbox moved(std::move(ob));
        check(!ob.valid() && moved.valid(), "move leaves the source empty");
        try {
            ob.flush();
            check(false, "a moved-from outbox throws");
        } catch (const wdt::Error &e) {
            check(e.kind() == "invalid_argument", "a moved-from outbox throws", e.envelope());
        }
    }
    {
        wdt::Outbox again(config, options);
        std::string env = again.get("CPP-1");
        check(has(env, "\"state\":\"delivered\""), "reopened file keeps its entries", env);
    }
    std::printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
