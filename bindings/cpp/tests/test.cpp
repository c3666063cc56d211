// Test of the C++ wrapper (bindings/cpp/wdt.hpp) against the gateway double.
//
// Runs every case of tests/fixtures/cases.json (read at run time, so this binding
// cannot drift from the core), then the wrapper's own rules: exceptions, moves,
// threads, version. Built as C++11 with -Wall -Wextra -Werror -pedantic by
// bindings/cpp/test.sh, which also starts the double.
//
// Usage: test CASES_JSON EXPECTED_VERSION   (env WDT_MOCK_URL = the double's /openapi URL)

#include "wdt.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <ctime>
#include <functional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

// ---------------------------------------------------------------------------
// Reporting

int g_passed = 0;
int g_failed = 0;

void check(bool ok, const std::string &name, const std::string &detail = std::string()) {
    if (ok) {
        ++g_passed;
        std::printf("ok   - %s\n", name.c_str());
    } else {
        ++g_failed;
        std::printf("FAIL - %s%s%s\n", name.c_str(), detail.empty() ? "" : ": ", detail.c_str());
    }
    std::fflush(stdout);
}

// ---------------------------------------------------------------------------
// A small JSON reader for the fixtures and the envelopes. Each node keeps its exact
// source text (raw), so a fixture's request is passed on byte for byte as the
// fixture wrote it, and configs are rebuilt from raw member values.

struct Json {
    enum Type { Null, Bool, Number, String, Array, Object };
    Type type;
    std::string raw;
    std::string str;  // decoded text of a String
    bool boolean;
    std::vector<std::shared_ptr<Json> > items;  // Array elements
    std::vector<std::string> keys;               // Object member names, in order
    std::vector<std::shared_ptr<Json> > values;  // Object member values

    Json() : type(Null), boolean(false) {}

    const Json *get(const std::string &key) const {
        if (type != Object) return NULL;
        for (std::size_t i = 0; i < keys.size(); ++i) {
            if (keys[i] == key) return values[i].get();
        }
        return NULL;
    }
};

class JsonParser {
public:
    explicit JsonParser(const std::string &text) : s_(text), i_(0) {}

    Json parse() {
        Json v = value(0);
        ws();
        if (i_ != s_.size()) fail("trailing characters");
        return v;
    }

private:
    void fail(const char *what) const {
        std::ostringstream m;
        m << "json: " << what << " at byte " << i_;
        throw std::runtime_error(m.str());
    }

    void ws() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
    }

    bool literal(const char *word) {
        const std::string w(word);
        if (s_.compare(i_, w.size(), w) == 0) {
            i_ += w.size();
            return true;
        }
        return false;
    }

    unsigned long hex4() {
        if (s_.size() - i_ < 4) fail("short \\u escape");
        unsigned long v = 0;
        for (int k = 0; k < 4; ++k) {
            const char c = s_[i_++];
            v <<= 4;
            if (c >= '0' && c <= '9') v |= static_cast<unsigned long>(c - '0');
            else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned long>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned long>(c - 'A' + 10);
            else fail("bad \\u escape");
        }
        return v;
    }

    static void utf8(std::string &out, unsigned long cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    std::string string() {
        ++i_;  // opening quote
        std::string out;
        for (;;) {
            if (i_ >= s_.size()) fail("unterminated string");
            const char c = s_[i_++];
            if (c == '"') return out;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i_ >= s_.size()) fail("unterminated escape");
            const char e = s_[i_++];
            switch (e) {
            case '"': out += '"'; break;
            case '\\': out += '\\'; break;
            case '/': out += '/'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'u': {
                unsigned long cp = hex4();
                if (cp >= 0xD800 && cp <= 0xDBFF && s_.compare(i_, 2, "\\u") == 0) {
                    i_ += 2;
                    const unsigned long lo = hex4();
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                utf8(out, cp);
                break;
            }
            default: fail("bad escape");
            }
        }
    }

    Json value(int depth) {
        if (depth > 100) fail("too deep");
        ws();
        if (i_ >= s_.size()) fail("unexpected end");
        Json v;
        const std::size_t start = i_;
        const char c = s_[i_];
        if (c == '{') {
            v.type = Json::Object;
            ++i_;
            ws();
            if (i_ < s_.size() && s_[i_] == '}') {
                ++i_;
            } else {
                for (;;) {
                    ws();
                    if (i_ >= s_.size() || s_[i_] != '"') fail("expected a key");
                    v.keys.push_back(string());
                    ws();
                    if (i_ >= s_.size() || s_[i_] != ':') fail("expected ':'");
                    ++i_;
                    v.values.push_back(std::make_shared<Json>(value(depth + 1)));
                    ws();
                    if (i_ < s_.size() && s_[i_] == ',') { ++i_; continue; }
                    if (i_ < s_.size() && s_[i_] == '}') { ++i_; break; }
                    fail("expected ',' or '}'");
                }
            }
        } else if (c == '[') {
            v.type = Json::Array;
            ++i_;
            ws();
            if (i_ < s_.size() && s_[i_] == ']') {
                ++i_;
            } else {
                for (;;) {
                    v.items.push_back(std::make_shared<Json>(value(depth + 1)));
                    ws();
                    if (i_ < s_.size() && s_[i_] == ',') { ++i_; continue; }
                    if (i_ < s_.size() && s_[i_] == ']') { ++i_; break; }
                    fail("expected ',' or ']'");
                }
            }
        } else if (c == '"') {
            v.type = Json::String;
            v.str = string();
        } else if (literal("true")) {
            v.type = Json::Bool;
            v.boolean = true;
        } else if (literal("false")) {
            v.type = Json::Bool;
        } else if (literal("null")) {
            v.type = Json::Null;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            v.type = Json::Number;
            while (i_ < s_.size() && std::string("+-0123456789.eE").find(s_[i_]) != std::string::npos) ++i_;
        } else {
            fail("unexpected character");
        }
        v.raw = s_.substr(start, i_ - start);
        return v;
    }

    const std::string &s_;
    std::size_t i_;
};

Json parse_json(const std::string &text) { return JsonParser(text).parse(); }

std::string quote(const std::string &s) {
    std::string out = "\"";
    for (std::size_t i = 0; i < s.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

std::string read_file(const std::string &path) {
    std::ifstream in(path.c_str(), std::ios::in | std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// ---------------------------------------------------------------------------
// Fixture helpers

// An object as ordered (key, raw value) pairs, so overrides keep the base order.
struct RawObject {
    std::vector<std::pair<std::string, std::string> > members;

    void set(const std::string &key, const std::string &raw) {
        for (std::size_t i = 0; i < members.size(); ++i) {
            if (members[i].first == key) {
                members[i].second = raw;
                return;
            }
        }
        members.push_back(std::make_pair(key, raw));
    }
    void remove(const std::string &key) {
        for (std::size_t i = 0; i < members.size(); ++i) {
            if (members[i].first == key) {
                members.erase(members.begin() + static_cast<std::ptrdiff_t>(i));
                return;
            }
        }
    }
    std::string str() const {
        std::string out = "{";
        for (std::size_t i = 0; i < members.size(); ++i) {
            if (i) out += ",";
            out += quote(members[i].first) + ":" + members[i].second;
        }
        return out + "}";
    }
};

RawObject base_config(const Json &fixtures, const std::string &url) {
    RawObject cfg;
    const Json *base = fixtures.get("base_config");
    for (std::size_t i = 0; base && i < base->keys.size(); ++i) {
        cfg.set(base->keys[i], base->values[i]->raw);
    }
    cfg.set("url", quote(url));
    return cfg;
}

// The request string a case sends: `request` JSON-encoded, or `raw` exactly.
std::string request_text(const Json &c) {
    const Json *raw = c.get("raw");
    if (raw) return raw->str;
    const Json *req = c.get("request");
    return req ? req->raw : std::string();
}

const Json *find_case(const Json &fixtures, const std::string &name) {
    const Json *cases = fixtures.get("cases");
    for (std::size_t i = 0; cases && i < cases->items.size(); ++i) {
        const Json *n = cases->items[i]->get("name");
        if (n && n->str == name) return cases->items[i].get();
    }
    return NULL;
}

std::string run_fn(const wdt::Client &client, const std::string &fn, const std::string &request) {
    if (fn == "smart_refund_upload") return client.smart_refund_upload(request);
    if (fn == "call") return client.call(request);
    throw std::runtime_error("fixture names an unknown fn: " + fn);
}

// Compares an envelope with a fixture's `expect`; returns "" when it matches,
// else what differs (with the envelope, so a failure explains itself).
std::string mismatch(const Json &expect, const std::string &envelope) {
    Json env;
    try {
        env = parse_json(envelope);
    } catch (const std::exception &e) {
        return std::string("envelope is not JSON (") + e.what() + "): " + envelope;
    }
    std::vector<std::string> problems;
    const Json *ok = env.get("ok");
    const Json *want_ok = expect.get("ok");
    if (!ok || ok->type != Json::Bool) problems.push_back("no boolean ok");
    else if (want_ok && ok->boolean != want_ok->boolean) problems.push_back("ok is " + ok->raw);
    if (!env.keys.empty() && env.keys[0] != "ok") problems.push_back("ok is not the first key");

    const Json *err = env.get("error");
    const Json *kind = expect.get("kind");
    if (kind) {
        const Json *got = err ? err->get("kind") : NULL;
        if (!got || got->str != kind->str) problems.push_back("kind is not " + kind->str);
    }
    const Json *status = expect.get("status");
    if (status) {
        const Json *got = (want_ok && !want_ok->boolean) ? (err ? err->get("status") : NULL) : env.get("status");
        if (!got || got->type != Json::Number || std::strtod(got->raw.c_str(), NULL) != std::strtod(status->raw.c_str(), NULL))
            problems.push_back("status is not " + status->raw);
    }
    const Json *field = expect.get("field");
    if (field) {
        const Json *got = err ? err->get("field") : NULL;
        if (!got || got->str != field->str) problems.push_back("field is not " + field->str);
    }
    const Json *contains = expect.get("message_contains");
    if (contains) {
        const Json *got = err ? err->get("message") : NULL;
        if (!got || got->str.find(contains->str) == std::string::npos)
            problems.push_back("message lacks " + contains->str);
    }
    const Json *data_keys = expect.get("data_keys");
    if (data_keys) {
        const Json *data = env.get("data");
        for (std::size_t i = 0; i < data_keys->items.size(); ++i) {
            const std::string &k = data_keys->items[i]->str;
            if (!data || !data->get(k)) problems.push_back("data lacks " + k);
        }
    }
    const Json *total = expect.get("has_total_count");
    if (total && total->boolean && !env.get("total_count")) problems.push_back("no total_count");

    if (problems.empty()) return std::string();
    std::string out;
    for (std::size_t i = 0; i < problems.size(); ++i) out += problems[i] + "; ";
    return out + "envelope " + envelope;
}

const Json *error_member(const Json &env, const char *key) {
    const Json *err = env.get("error");
    return err ? err->get(key) : NULL;
}

// ---------------------------------------------------------------------------
// The tests

void test_fixture_cases(const Json &fixtures, const std::string &url) {
    const wdt::Client client(base_config(fixtures, url).str());
    const Json *cases = fixtures.get("cases");
    check(cases && !cases->items.empty(), "fixtures have cases");
    for (std::size_t i = 0; cases && i < cases->items.size(); ++i) {
        const Json &c = *cases->items[i];
        const std::string name = "case: " + c.get("name")->str;
        try {
            const std::string env = run_fn(client, c.get("fn")->str, request_text(c));
            const std::string diff = mismatch(*c.get("expect"), env);
            check(diff.empty(), name, diff);
        } catch (const std::exception &e) {
            check(false, name, std::string("threw ") + e.what());
        }
    }
}

void test_fixture_config_cases(const Json &fixtures, const std::string &url) {
    const Json *cases = fixtures.get("config_cases");
    check(cases && !cases->items.empty(), "fixtures have config_cases");
    for (std::size_t i = 0; cases && i < cases->items.size(); ++i) {
        const Json &c = *cases->items[i];
        const std::string name = "config case: " + c.get("name")->str;
        std::string config;
        if (const Json *raw = c.get("raw_config")) {
            config = raw->str;
        } else {
            RawObject cfg = base_config(fixtures, url);
            const Json *ov = c.get("config_overrides");
            for (std::size_t k = 0; ov && k < ov->keys.size(); ++k) {
                if (ov->values[k]->type == Json::Null) cfg.remove(ov->keys[k]);
                else cfg.set(ov->keys[k], ov->values[k]->raw);
            }
            config = cfg.str();
        }
        const bool creates = c.get("creates")->boolean;
        try {
            const wdt::Client client(config);
            if (!creates) {
                check(false, name, "client was created from " + config);
                continue;
            }
            const Json *then = c.get("then");
            const Json *from = find_case(fixtures, then->get("request_from")->str);
            if (!from) {
                check(false, name, "request_from names no case");
                continue;
            }
            const std::string env = run_fn(client, then->get("fn")->str, request_text(*from));
            const std::string diff = mismatch(*c.get("expect"), env);
            check(diff.empty(), name, diff);
        } catch (const wdt::Error &e) {
            if (creates) {
                check(false, name, std::string("constructor threw ") + e.envelope());
                continue;
            }
            std::string diff = mismatch(*c.get("expect"), e.envelope());
            if (diff.empty() && e.kind() != "config") diff = "Error::kind() is " + e.kind();
            check(diff.empty(), name, diff);
        }
    }
}

void test_good_quick_return(const Json &fixtures, const wdt::Client &client) {
    const std::string env = client.smart_refund_upload(find_case(fixtures, "good quick return")->get("request")->raw);
    const Json j = parse_json(env);
    const Json *data = j.get("data");
    const Json *id = data ? data->get("stockin_id") : NULL;
    const Json *type = data ? data->get("type") : NULL;
    check(j.get("ok") && j.get("ok")->boolean && j.get("status") && j.get("status")->raw == "0",
          "good quick return: ok with status 0", env);
    check(id && id->type == Json::Number && type && type->raw == "12",
          "good quick return: data has a numeric stockin_id and type 12", env);
}

void test_api_error_message(const wdt::Client &client) {
    const std::string request =
        "{\"refundInfo\":{\"tid\":\"no-such-order\",\"return_warehouse_no\":\"pos\",\"remark\":\"\"},"
        "\"detailMapList\":[{\"spec_no\":\"RRWDMS018040S\",\"stockin_num\":1,\"remark\":\"\"}],"
        "\"createPreStockin\":false}";
    const std::string env = client.smart_refund_upload(request);
    const Json j = parse_json(env);
    const Json *kind = error_member(j, "kind");
    const Json *status = error_member(j, "status");
    const Json *message = error_member(j, "message");
    check(kind && kind->str == "api" && status && status->raw == "100", "api error: kind api, status 100", env);
    check(message && message->str == "未找到对应的单据信息!",
          "api error: the gateway's Chinese message arrives exactly", env);
    // The message travels as raw UTF-8, not \u escapes, so a till can show it
    // straight from the envelope.
    check(env.find("未找到对应的单据信息!") != std::string::npos, "api error: message is raw UTF-8 in the envelope", env);
    // A caller can turn any error envelope into a wdt::Error.
    const wdt::Error e(env);
    check(e.kind() == wdt::kind::api && e.message() == "未找到对应的单据信息!" && std::string(e.what()) == e.message(),
          "api error: wdt::Error reads kind and message", e.what());
}

void test_invalid_argument(const wdt::Client &client) {
    const std::string request =
        "{\"refundInfo\":{\"tid\":\"\",\"return_warehouse_no\":\"pos\",\"remark\":\"\"},"
        "\"detailMapList\":[{\"spec_no\":\"RRWDMS018040S\",\"stockin_num\":1,\"remark\":\"\"}],"
        "\"createPreStockin\":false}";
    const std::string env = client.smart_refund_upload(request);
    const Json j = parse_json(env);
    const Json *kind = error_member(j, "kind");
    const Json *field = error_member(j, "field");
    const Json *message = error_member(j, "message");
    check(kind && kind->str == "invalid_argument" && field && field->str == "refundInfo.tid" && message &&
              !message->str.empty(),
          "invalid_argument names its field refundInfo.tid", env);
}

void test_rejected_config(const Json &fixtures, const std::string &url) {
    RawObject cfg = base_config(fixtures, url);
    cfg.remove("sid");
    try {
        const wdt::Client client(cfg.str());
        check(false, "rejected config throws wdt::Error", "no exception");
    } catch (const wdt::Error &e) {
        check(e.kind() == wdt::kind::config && e.field() == "sid", "rejected config throws wdt::Error kind config, field sid",
              e.envelope());
        check(!e.message().empty() && std::string(e.what()) == e.message(), "rejected config: what() is the message",
              e.what());
        check(e.envelope().compare(0, 11, "{\"ok\":false") == 0, "rejected config: envelope() is the full envelope",
              e.envelope());
        check(e.envelope().find("testsecret") == std::string::npos, "rejected config: the secret is not echoed",
              e.envelope());
    }

    // The secret must not leak even when it is the value being rejected.
    cfg = base_config(fixtures, url);
    cfg.set("appsecret", quote("topsecretvalue"));
    try {
        const wdt::Client client(cfg.str());
        check(false, "appsecret without salt is rejected", "no exception");
    } catch (const std::runtime_error &e) {  // wdt::Error is a std::runtime_error
        const wdt::Error *w = dynamic_cast<const wdt::Error *>(&e);
        check(w && w->kind() == "config" && w->field() == "appsecret" &&
                  w->envelope().find("topsecretvalue") == std::string::npos,
              "appsecret without salt: config error that does not echo the secret", w ? w->envelope() : e.what());
    }
}

void test_error_reader() {
    // Escaped text, extra members, other key orders and whitespace all read the same.
    const wdt::Error a(
        "{ \"ok\" : false, \"extra\": {\"kind\": \"no\"}, \"error\" : {\"status\": 100, \"message\": "
        "\"\\u672a\\u627e\\u5230 \\\"x\\\" \\ud83d\\ude00\", \"kind\": \"api\", \"future\": [1, {\"a\": null}]} }");
    check(a.kind() == "api" && a.message() == "未找到 \"x\" \xF0\x9F\x98\x80" && a.field().empty(),
          "wdt::Error decodes escapes and skips unknown members", a.kind() + " / " + a.message());
    const wdt::Error b("not json");
    check(b.kind().empty() && std::string(b.what()) == "not json" && b.envelope() == "not json",
          "wdt::Error on a non-envelope keeps the text as what()");
}

void test_moved_from(const Json &fixtures, const std::string &url) {
    static_assert(!std::is_copy_constructible<wdt::Client>::value, "Client must not be copyable");
    static_assert(!std::is_copy_assignable<wdt::Client>::value, "Client must not be copy-assignable");
    static_assert(std::is_nothrow_move_constructible<wdt::Client>::value, "Client moves must not throw");
    static_assert(std::is_nothrow_move_assignable<wdt::Client>::value, "Client move-assignment must not throw");
    static_assert(std::is_base_of<std::runtime_error, wdt::Error>::value, "wdt::Error is a std::runtime_error");

    const std::string config = base_config(fixtures, url).str();
    const std::string request = find_case(fixtures, "good quick return")->get("request")->raw;
    wdt::Client a(config);
    wdt::Client b(std::move(a));
    check(!a.valid() && b.valid() && a.native_handle() == NULL, "move construction transfers the handle");

    bool threw = false;
    try {
        a.smart_refund_upload(request);
    } catch (const wdt::Error &e) {
        threw = true;
        check(e.kind() == "invalid_argument", "moved-from smart_refund_upload throws kind invalid_argument",
              e.envelope());
    }
    check(threw, "moved-from smart_refund_upload throws wdt::Error");

    threw = false;
    try {
        a.call("{\"method\":\"wms.stockin.Refund.queryWithDetail\",\"args\":[{}]}");
    } catch (const wdt::Error &e) {
        threw = e.kind() == "invalid_argument";
    }
    check(threw, "moved-from call throws wdt::Error kind invalid_argument");

    const Json moved = parse_json(b.smart_refund_upload(request));
    check(moved.get("ok") && moved.get("ok")->boolean, "the moved-to client works");

    wdt::Client c(config);
    c = std::move(b);  // c's own handle is freed here (valgrind would see a leak otherwise)
    check(!b.valid() && c.valid(), "move assignment transfers the handle");
    threw = false;
    try {
        b.smart_refund_upload(request);
    } catch (const wdt::Error &) {
        threw = true;
    }
    check(threw, "moved-from (by assignment) client throws wdt::Error");
}

void test_threads(const wdt::Client &client) {
    // pos-load is seeded with a huge quantity so repeated returns stay valid.
    const std::string request =
        "{\"refundInfo\":{\"tid\":\"pos-load\",\"return_warehouse_no\":\"pos\",\"remark\":\"thread\"},"
        "\"detailMapList\":[{\"spec_no\":\"LOAD-SKU\",\"stockin_num\":1,\"remark\":\"\"}],"
        "\"createPreStockin\":false}";
    const int kThreads = 4;
    const int kCalls = 5;
    // Each thread writes only its own slot, so no lock is needed.
    std::vector<std::string> failures(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.push_back(std::thread([&client, &request, &failures, t]() {
            for (int n = 0; n < kCalls; ++n) {
                try {
                    const std::string env = client.smart_refund_upload(request);
                    if (env.compare(0, 10, "{\"ok\":true") != 0) failures[t] += env + " ";
                } catch (const std::exception &e) {
                    failures[t] += std::string("threw ") + e.what() + " ";
                }
            }
        }));
    }
    for (std::size_t t = 0; t < threads.size(); ++t) threads[t].join();
    std::string all;
    for (int t = 0; t < kThreads; ++t) all += failures[t];
    check(all.empty(), "4 threads x 5 quick returns on one shared client all succeed", all);
}

void test_log_callback(const Json &fixtures, const std::string &url) {
    wdt::Client client(base_config(fixtures, url).str());
    std::vector<std::string> lines;
    client.set_log_callback([&lines](const std::string &line) { lines.push_back(line); });
    const std::string request = find_case(fixtures, "good quick return")->get("request")->raw;
    client.smart_refund_upload(request);
    check(lines.size() == 1 && lines[0].find("attempt 1") != std::string::npos,
          "set_log_callback: one line per attempt", lines.empty() ? "(no line)" : lines[0]);
    check(lines.empty() || lines[0].find("testsecret") == std::string::npos, "log lines never carry the secret");
    // A throwing sink loses its line, never the call.
    client.set_log_callback([](const std::string &) { throw std::runtime_error("sink failed"); });
    const Json after = parse_json(client.smart_refund_upload(request));
    check(after.get("ok") && after.get("ok")->boolean, "a throwing log sink does not cost the answer");
    client.set_log_callback(std::function<void(const std::string &)>());
    client.smart_refund_upload(request);
    check(lines.size() == 1, "an empty std::function turns the callback off");
    // The sink moves with the client.
    std::vector<std::string> moved_lines;
    client.set_log_callback([&moved_lines](const std::string &line) { moved_lines.push_back(line); });
    wdt::Client other(std::move(client));
    other.smart_refund_upload(request);
    check(moved_lines.size() == 1, "the log sink moves with the client");
}

void test_error_fields(const Json &fixtures, const std::string &url) {
    RawObject cfg = base_config(fixtures, url);
    cfg.set("sid", quote(""));
    try {
        const wdt::Client client(cfg.str());
        check(false, "empty sid is rejected", "no exception");
    } catch (const wdt::Error &e) {
        check(e.delivery() == "not_sent", "wdt::Error::delivery() of a config error is not_sent", e.envelope());
    }
}

// Beijing time (the gateway's clock) as "YYYY-MM-DD HH:MM:SS", offset by `seconds`.
std::string beijing(long seconds) {
    const std::time_t t = std::time(NULL) + 8 * 3600 + seconds;
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::gmtime(&t));
    return buf;
}

void test_pages(const wdt::Client &client) {
    const std::string request =
        "{\"refundInfo\":{\"tid\":\"pos-load\",\"return_warehouse_no\":\"pos\",\"remark\":\"pages\"},"
        "\"detailMapList\":[{\"spec_no\":\"LOAD-SKU\",\"stockin_num\":1,\"remark\":\"\"}],"
        "\"createPreStockin\":false}";
    for (int i = 0; i < 5; ++i) client.smart_refund_upload(request);
    const std::string args =
        "[{\"start_time\":\"" + beijing(-3600) + "\",\"end_time\":\"" + beijing(3600) + "\"}]";
    long pages = 0;
    bool all_ok = true;
    const long total = client.for_each_page("wms.stockin.Refund.queryWithDetail", args, 2,
                                            [&pages, &all_ok](const std::string &env) {
                                                ++pages;
                                                all_ok = all_ok && env.compare(0, 10, "{\"ok\":true") == 0;
                                                return true;
                                            });
    check(total >= 5, "for_each_page: total_count of the first page", std::to_string(total));
    check(all_ok && pages == (total + 1) / 2, "for_each_page walks every page until total_count",
          std::to_string(pages) + " pages for " + std::to_string(total));
    long seen = 0;
    client.for_each_page("wms.stockin.Refund.queryWithDetail", args, 2, [&seen](const std::string &) {
        ++seen;
        return false;
    });
    check(seen == 1, "for_each_page stops when the callback returns false");
}

void test_version(const std::string &expected) {
    check(wdt::Client::version() == expected, "version() equals Cargo.toml's " + expected, wdt::Client::version());
    check(wdt::Client::version() == std::string(wdt_version()), "version() equals wdt_version()");
    check(wdt::Client::version() == WDT_VERSION, "version() equals the header's WDT_VERSION", WDT_VERSION);
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 3 || !std::getenv("WDT_MOCK_URL")) {
        std::fprintf(stderr, "usage: WDT_MOCK_URL=http://127.0.0.1:PORT/openapi %s CASES_JSON VERSION\n", argv[0]);
        return 2;
    }
    const std::string url = std::getenv("WDT_MOCK_URL");
    try {
        const Json fixtures = parse_json(read_file(argv[1]));
        test_fixture_cases(fixtures, url);
        test_fixture_config_cases(fixtures, url);
        const wdt::Client client(base_config(fixtures, url).str());
        test_good_quick_return(fixtures, client);
        test_api_error_message(client);
        test_invalid_argument(client);
        test_rejected_config(fixtures, url);
        test_error_reader();
        test_moved_from(fixtures, url);
        test_threads(client);
        test_log_callback(fixtures, url);
        test_error_fields(fixtures, url);
        test_pages(client);
        test_version(argv[2]);
    } catch (const std::exception &e) {
        check(false, "test run", std::string("stopped by exception: ") + e.what());
    }
    std::printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
