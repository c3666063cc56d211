// wdt.hpp — header-only C++11 wrapper over the libwdt C ABI (wdt.h).
//
// Owns two rules so callers never have to: every char* the library returns is
// released exactly once with wdt_free_string (through a unique_ptr, so an
// exception while copying it cannot leak it), and every WdtClient is released
// exactly once with wdt_client_free (the move-only wdt::Client).
//
// C++11 on purpose: till toolchains are old. Do not use C++14 or later here.
//
// 中文说明见 bindings/cpp/README.md。
#ifndef WDT_HPP_INCLUDED
#define WDT_HPP_INCLUDED

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>

#include "wdt.h"

namespace wdt {

namespace detail {

// The library releases what it allocated: wdt_free_string, never free()/delete.
struct StringDeleter {
    void operator()(char *s) const noexcept { wdt_free_string(s); }
};
typedef std::unique_ptr<char, StringDeleter> OwnedString;

struct ClientDeleter {
    void operator()(WdtClient *c) const noexcept { wdt_client_free(c); }
};

// Takes ownership of a string returned by the library (never NULL: docs/abi.md)
// and copies it out. The unique_ptr is built before std::string, so the C string
// is freed even when the copy throws std::bad_alloc.
inline std::string take_string(char *raw) {
    OwnedString owned(raw);
    return std::string(owned.get());
}

// A reader for the few envelope fields wdt::Error exposes. It is deliberately not a
// JSON library: it reads the top level of a well-formed object, ignores members it
// does not know (envelopes may gain fields, docs/abi.md) and gives up quietly on anything
// else, because Error must never fail to describe an error.
class EnvelopeReader {
public:
    explicit EnvelopeReader(const std::string &json) : s_(json) {}

    // Value of the string member `key` of the object that starts at `obj`, or ""
    // when the member is absent or not a string.
    std::string string_member(std::size_t obj, const char *key) const {
        std::size_t i = obj;
        std::string out;
        if (find_member(i, key) && i < s_.size() && s_[i] == '"' && read_string(i, &out)) {
            return out;
        }
        return std::string();
    }

    // Text of the number member `key` of the object at `obj` ("42"), or "" when the
    // member is absent or not a number.
    std::string number_member(std::size_t obj, const char *key) const {
        std::size_t i = obj;
        if (!find_member(i, key) || i >= s_.size()) {
            return std::string();
        }
        const std::size_t start = i;
        while (i < s_.size() && (s_[i] == '-' || s_[i] == '+' || s_[i] == '.' || s_[i] == 'e' ||
                                 s_[i] == 'E' || (s_[i] >= '0' && s_[i] <= '9'))) {
            ++i;
        }
        return s_.substr(start, i - start);
    }

    // Position of the object held by member `key` of the object at `obj`, or npos.
    std::size_t object_member(std::size_t obj, const char *key) const {
        std::size_t i = obj;
        if (find_member(i, key) && i < s_.size() && s_[i] == '{') {
            return i;
        }
        return std::string::npos;
    }

    std::size_t root() const {
        std::size_t i = 0;
        skip_ws(i);
        return (i < s_.size() && s_[i] == '{') ? i : std::string::npos;
    }

private:
    // Nesting beyond this is not an envelope; refusing it keeps the recursion bounded.
    static const int kMaxDepth = 64;

    void skip_ws(std::size_t &i) const {
        while (i < s_.size() &&
               (s_[i] == ' ' || s_[i] == '\t' || s_[i] == '\n' || s_[i] == '\r')) {
            ++i;
        }
    }

    bool read_hex4(std::size_t &i, unsigned long &out) const {
        if (s_.size() - i < 4) {
            return false;
        }
        out = 0;
        for (int k = 0; k < 4; ++k, ++i) {
            const char c = s_[i];
            out <<= 4;
            if (c >= '0' && c <= '9') {
                out |= static_cast<unsigned long>(c - '0');
            } else if (c >= 'a' && c <= 'f') {
                out |= static_cast<unsigned long>(c - 'a' + 10);
            } else if (c >= 'A' && c <= 'F') {
                out |= static_cast<unsigned long>(c - 'A' + 10);
            } else {
                return false;
            }
        }
        return true;
    }

    static void append_utf8(std::string *out, unsigned long cp) {
        if (cp < 0x80) {
            out->push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
            out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
            out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
            out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
            out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
            out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
            out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
            out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
    }

    // s_[i] is the opening quote; on success i is just past the closing one.
    // `out` may be NULL to skip the string. The library writes raw UTF-8, but \u
    // escapes (with surrogate pairs) are decoded too so any valid JSON reads right.
    bool read_string(std::size_t &i, std::string *out) const {
        ++i;
        while (i < s_.size()) {
            const char c = s_[i++];
            if (c == '"') {
                return true;
            }
            if (c != '\\') {
                if (out) out->push_back(c);
                continue;
            }
            if (i >= s_.size()) {
                return false;
            }
            const char e = s_[i++];
            char plain = 0;
            switch (e) {
            case '"': plain = '"'; break;
            case '\\': plain = '\\'; break;
            case '/': plain = '/'; break;
            case 'b': plain = '\b'; break;
            case 'f': plain = '\f'; break;
            case 'n': plain = '\n'; break;
            case 'r': plain = '\r'; break;
            case 't': plain = '\t'; break;
            case 'u': {
                unsigned long cp = 0;
                if (!read_hex4(i, cp)) {
                    return false;
                }
                if (cp >= 0xD800 && cp <= 0xDBFF && s_.size() - i >= 6 && s_[i] == '\\' &&
                    s_[i + 1] == 'u') {
                    std::size_t j = i + 2;
                    unsigned long lo = 0;
                    if (read_hex4(j, lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        i = j;
                    }
                }
                if (out) append_utf8(out, cp);
                continue;
            }
            default: return false;
            }
            if (out) out->push_back(plain);
        }
        return false;
    }

    bool skip_value(std::size_t &i, int depth) const {
        skip_ws(i);
        if (i >= s_.size() || depth > kMaxDepth) {
            return false;
        }
        const char c = s_[i];
        if (c == '"') {
            return read_string(i, NULL);
        }
        if (c == '{' || c == '[') {
            const char close = (c == '{') ? '}' : ']';
            ++i;
            skip_ws(i);
            if (i < s_.size() && s_[i] == close) {
                ++i;
                return true;
            }
            for (;;) {
                if (c == '{') {
                    skip_ws(i);
                    if (i >= s_.size() || s_[i] != '"' || !read_string(i, NULL)) return false;
                    skip_ws(i);
                    if (i >= s_.size() || s_[i] != ':') return false;
                    ++i;
                }
                if (!skip_value(i, depth + 1)) return false;
                skip_ws(i);
                if (i >= s_.size()) return false;
                if (s_[i] == ',') {
                    ++i;
                    continue;
                }
                if (s_[i] == close) {
                    ++i;
                    return true;
                }
                return false;
            }
        }
        // A number or a literal: everything up to the next delimiter.
        const std::size_t start = i;
        while (i < s_.size() && s_[i] != ',' && s_[i] != '}' && s_[i] != ']' && s_[i] != ' ' &&
               s_[i] != '\t' && s_[i] != '\n' && s_[i] != '\r') {
            ++i;
        }
        return i > start;
    }

    // i is at '{'; on success i is at the first character of the member's value.
    bool find_member(std::size_t &i, const char *key) const {
        if (i >= s_.size() || s_[i] != '{') {
            return false;
        }
        ++i;
        for (;;) {
            skip_ws(i);
            if (i >= s_.size() || s_[i] != '"') {
                return false;
            }
            std::string name;
            if (!read_string(i, &name)) return false;
            skip_ws(i);
            if (i >= s_.size() || s_[i] != ':') return false;
            ++i;
            skip_ws(i);
            if (name == key) {
                return true;
            }
            if (!skip_value(i, 1)) return false;
            skip_ws(i);
            if (i >= s_.size() || s_[i] != ',') return false;
            ++i;
        }
    }

    const std::string &s_;
};

struct ErrorFields {
    std::string envelope;
    std::string kind;
    std::string field;
    std::string message;
    std::string delivery;
    std::string hint;
};

inline std::shared_ptr<const ErrorFields> read_error(const std::string &envelope) {
    std::shared_ptr<ErrorFields> f = std::make_shared<ErrorFields>();
    f->envelope = envelope;
    EnvelopeReader r(f->envelope);
    const std::size_t root = r.root();
    if (root != std::string::npos) {
        const std::size_t err = r.object_member(root, "error");
        if (err != std::string::npos) {
            f->kind = r.string_member(err, "kind");
            f->field = r.string_member(err, "field");
            f->message = r.string_member(err, "message");
            f->delivery = r.string_member(err, "delivery");
            f->hint = r.string_member(err, "hint");
        }
    }
    return f;
}

}  // namespace detail

// The kinds an envelope's error.kind can hold (docs/abi.md, error kinds): stable, never
// renamed or reused; compare Error::kind() with them. tests/docs.rs checks that every kind
// the library returns is here.
namespace kind {
const char *const invalid_argument = "invalid_argument";  // bad request; nothing was sent
const char *const config = "config";                      // bad config (Client, Outbox constructors)
const char *const transport = "transport";                // network failure; see delivery
const char *const timeout = "timeout";                    // no complete answer in time; see delivery
const char *const http = "http";                          // a non-2xx answer
const char *const bad_response = "bad_response";          // a 2xx answer that is not the gateway's JSON
const char *const api = "api";                            // the gateway's status > 0
const char *const storage = "storage";                    // only from the outbox: its file
const char *const internal = "internal";                  // a caught panic in the library
}  // namespace kind

// An error envelope as an exception. Thrown by the Client constructor (kind
// "config") and by calls on a moved-from Client (kind "invalid_argument", the
// library's own envelope for a NULL client). Calls on a live client do not throw
// for gateway, network or argument errors: they return the envelope, since a till
// has to branch on its kind anyway (docs/abi.md).
//
// what() is error.message (e.g. for showing or logging); envelope() is the full
// JSON, kept so that fields added in later versions are not lost.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string &envelope) : Error(detail::read_error(envelope)) {}

    const std::string &envelope() const noexcept { return fields_->envelope; }
    // One of the wdt::kind strings ("config", "invalid_argument", ...).
    const std::string &kind() const noexcept { return fields_->kind; }
    // JSON path of the offending input ("sid", "refundInfo.tid"), or "".
    const std::string &field() const noexcept { return fields_->field; }
    const std::string &message() const noexcept { return fields_->message; }
    // "not_sent", "rejected" or "unknown" (docs/abi.md): whether a resend is safe.
    const std::string &delivery() const noexcept { return fields_->delivery; }
    // What to do about it, in Chinese (中文处理建议); "" when the envelope has none.
    const std::string &hint() const noexcept { return fields_->hint; }

private:
    // Fields live behind a shared_ptr so copying the exception (which the runtime
    // may do while throwing) cannot throw.
    explicit Error(const std::shared_ptr<const detail::ErrorFields> &f)
        : std::runtime_error(f->message.empty() ? f->envelope : f->message), fields_(f) {}

    std::shared_ptr<const detail::ErrorFields> fields_;
};

namespace detail {

// The library calls this with each log line; it must never let an exception
// unwind into C, so a throwing sink loses that line instead of the process.
inline void log_trampoline(const char *line, void *user_data) {
    try {
        const std::function<void(const std::string &)> *sink =
            static_cast<const std::function<void(const std::string &)> *>(user_data);
        (*sink)(std::string(line));
    } catch (...) {
    }
}

}  // namespace detail

// A connection to the 旺店通 flagship open API: owns one WdtClient (and so one
// connection pool). Move-only: copying would double-free the handle.
//
// Threads: one Client may be used by any number of threads at once (the calls are
// const and WdtClient is thread-safe). Moving or destroying it while another
// thread is calling it is a data race, as for any C++ object.
//
// Strings in and out are UTF-8 JSON. They are handed to C as NUL-terminated, so a
// request containing '\0' ends there.
class Client {
public:
    // Throws wdt::Error (kind "config") when the library rejects the config.
    explicit Client(const std::string &config_json) {
        char *error_json = NULL;
        WdtClient *raw = wdt_client_new(config_json.c_str(), &error_json);
        // Own both results before anything can throw.
        handle_.reset(raw);
        detail::OwnedString error(error_json);
        if (!handle_) {
            // On failure the library always fills error_json (docs/abi.md).
            throw Error(std::string(error.get()));
        }
    }

    Client(Client &&other) noexcept
        : log_(std::move(other.log_)), handle_(std::move(other.handle_)) {}
    Client &operator=(Client &&other) noexcept {
        release();
        log_ = std::move(other.log_);
        handle_ = std::move(other.handle_);
        return *this;
    }
    ~Client() { release(); }
    Client(const Client &) = delete;
    Client &operator=(const Client &) = delete;

    // 快速退货 wms.stockin.SmartRefund.upload. Returns the response envelope.
    std::string smart_refund_upload(const std::string &request_json) const {
        return invoke(&wdt_smart_refund_upload, request_json);
    }

    // Any flagship open API method ({"method", "args", "pager"}). Returns the envelope.
    std::string call(const std::string &request_json) const {
        return invoke(&wdt_call, request_json);
    }

    // Sends each log line (one per attempt: method, outcome, time, clock offset;
    // never the secret) to `sink`, on the thread making the call; an empty
    // std::function turns it off. The Client owns the sink. Throws wdt::Error on a
    // moved-from Client.
    void set_log_callback(const std::function<void(const std::string &)> &sink) {
        if (!handle_) {
            throw Error(detail::take_string(wdt_call(NULL, "{}")));
        }
        std::unique_ptr<std::function<void(const std::string &)> > next;
        if (sink) {
            next.reset(new std::function<void(const std::string &)>(sink));
        }
        // The library switches to the new sink before the old one is destroyed.
        wdt_client_set_log_callback(handle_.get(), next ? &detail::log_trampoline : NULL,
                                    next.get());
        log_ = std::move(next);
    }

    // Walks every page of a paged query: calls `page` with each page's envelope
    // (page_no 0, 1, ...) until total_count is covered, an error envelope was
    // handed over, or `page` returns false. `args_json` is the method's argument
    // list, e.g. [{"start_time":"...","end_time":"..."}]. Returns the total_count
    // of the first page (-1 when it had none).
    long for_each_page(const std::string &method, const std::string &args_json,
                       int page_size, const std::function<bool(const std::string &)> &page) const {
        long total = -1;
        for (long page_no = 0;; ++page_no) {
            const std::string request = "{\"method\":\"" + method + "\",\"args\":" + args_json +
                                        ",\"pager\":{\"page_size\":" + to_text(page_size) +
                                        ",\"page_no\":" + to_text(page_no) +
                                        ",\"calc_total\":true}}";
            const std::string envelope = call(request);
            detail::EnvelopeReader r(envelope);
            const std::size_t root = r.root();
            const bool ok = root != std::string::npos && envelope.find("\"ok\":true") != std::string::npos;
            if (ok && page_no == 0) {
                const std::string t = r.number_member(root, "total_count");
                total = t.empty() ? -1 : std::strtol(t.c_str(), NULL, 10);
            }
            if (!page(envelope) || !ok || total < 0 || (page_no + 1) * page_size >= total) {
                return total;
            }
        }
    }

    // false once the client has been moved from.
    bool valid() const noexcept { return handle_.get() != NULL; }

    // For mixing with C code; the Client keeps ownership.
    WdtClient *native_handle() const noexcept { return handle_.get(); }

    // The library's version, e.g. "0.1.0".
    static std::string version() {
        const char *v = wdt_version();
        return v ? std::string(v) : std::string();
    }

private:
    typedef char *(*Entry)(WdtClient *, const char *);

    static std::string to_text(long n) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%ld", n);
        return std::string(buf);
    }

    // The sink must not be called after it is gone: turn it off first. A call
    // still running on another thread keeps the native client alive until it
    // returns (docs/abi.md), which is why the sink is switched off explicitly.
    void release() noexcept {
        if (handle_ && log_) {
            wdt_client_set_log_callback(handle_.get(), NULL, NULL);
        }
        handle_.reset();
        log_.reset();
    }

    std::string invoke(Entry entry, const std::string &request_json) const {
        if (!handle_) {
            // A moved-from Client is a bug in the caller, so it throws instead of
            // returning an envelope a till could mistake for a failed refund. The
            // envelope comes from the library's NULL-client rule (docs/abi.md), so C and
            // C++ callers see the same kind and field.
            throw Error(detail::take_string(entry(NULL, request_json.c_str())));
        }
        return detail::take_string(entry(handle_.get(), request_json.c_str()));
    }

    // Declared before handle_: destroyed after it.
    std::unique_ptr<std::function<void(const std::string &)> > log_;
    std::unique_ptr<WdtClient, detail::ClientDeleter> handle_;
};

// The durable outbox (docs/outbox.md): quick returns stored in a local SQLite file
// before they are sent, delivered exactly once across lost answers, crashes and
// offline hours. Owns one WdtOutbox; move-only. Calls return the library's
// envelopes; a delivery that failed is not an error (the entry's state says what
// happened). Throws wdt::Error from the constructor (kind "config": bad options, or
// a file that cannot be an outbox) and on a moved-from Outbox.
//
// Threads: one Outbox may be used by many threads at once; several processes may
// open the same file.
class Outbox {
public:
    Outbox(const std::string &client_config_json, const std::string &options_json) {
        char *error_json = NULL;
        WdtOutbox *raw =
            wdt_outbox_open(client_config_json.c_str(), options_json.c_str(), &error_json);
        handle_.reset(raw);
        detail::OwnedString error(error_json);
        if (!handle_) {
            if (!error) {
                throw std::bad_alloc();
            }
            throw Error(std::string(error.get()));
        }
    }

    Outbox(Outbox &&other) noexcept : handle_(std::move(other.handle_)) {}
    Outbox &operator=(Outbox &&other) noexcept {
        handle_ = std::move(other.handle_);
        return *this;
    }
    Outbox(const Outbox &) = delete;
    Outbox &operator=(const Outbox &) = delete;

    // {"id":…,"request":{…quick return…},"defer":false}: stores, then delivers now
    // unless deferred. The envelope's data is the entry.
    std::string submit(const std::string &submit_json) const {
        return invoke(&wdt_outbox_submit, submit_json);
    }
    // One entry with its history.
    std::string get(const std::string &id) const { return invoke(&wdt_outbox_get, id); }
    // {"state":…,"limit":…,"after":…}, all optional.
    std::string list(const std::string &filter_json = "{}") const {
        return invoke(&wdt_outbox_list, filter_json);
    }
    // {"max_entries":…,"budget_ms":…}, both optional. Blocks while it works.
    std::string flush(const std::string &options_json = "{}") const {
        return invoke(&wdt_outbox_flush, options_json);
    }

    bool valid() const noexcept { return handle_.get() != NULL; }
    WdtOutbox *native_handle() const noexcept { return handle_.get(); }

private:
    struct Deleter {
        void operator()(WdtOutbox *o) const noexcept { wdt_outbox_close(o); }
    };
    typedef char *(*Entry)(WdtOutbox *, const char *);

    std::string invoke(Entry entry, const std::string &arg) const {
        if (!handle_) {
            throw Error(detail::take_string(entry(NULL, arg.c_str())));
        }
        return detail::take_string(entry(handle_.get(), arg.c_str()));
    }

    std::unique_ptr<WdtOutbox, Deleter> handle_;
};

}  // namespace wdt

#endif  // WDT_HPP_INCLUDED
