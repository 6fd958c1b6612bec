// The S3 blob_store: builds and signs requests (pure pieces in aws_sigv4 / s3_xml), sends
// them with the shared retrying HTTP client, and maps S3's answers onto blob_store's
// contract. See s3_store.hpp for how preconditions are made safe on servers that differ.
#include "cloud/s3/s3_store.hpp"

#include "cloud/s3/aws_sigv4.hpp"
#include "statestore/error.hpp"
#include "net/retry.hpp"
#include "cloud/s3/s3_xml.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <iostream>
#include <mutex>
#include <random>
#include <set>

namespace statestore {

namespace asio = boost::asio;

namespace {

constexpr std::string_view write_token_header = "x-amz-meta-statestore-write";

std::string random_token()
{
    thread_local std::mt19937_64 rng(std::random_device{}());
    static const char hex[] = "0123456789abcdef";
    std::string out;
    for (int word = 0; word < 2; ++word) {
        std::uint64_t v = rng();
        for (int i = 0; i < 16; ++i, v >>= 4)
            out += hex[v & 0xF];
    }
    return out;
}

std::string provider_code(const http_response& r)
{
    if (auto e = parse_s3_error(r.body))
        return e->code;
    return {};
}

bool is_success(unsigned status) { return status >= 200 && status < 300; }

} // namespace

struct s3_store::impl {
    impl(asio::any_io_executor ex, s3_store_options opts)
        : executor(ex), options(std::move(opts)), client(ex, options.http),
          endpoint(options.config.request_endpoint()), probe_done(ex)
    {
        probe_done.expires_at(asio::steady_timer::time_point::max());
        if (!options.clock)
            options.clock = [] { return std::chrono::system_clock::now(); };
        if (!options.warn)
            options.warn = [](const std::string& m) { std::cerr << "warning: " << m << "\n"; };
    }

    asio::any_io_executor executor;
    s3_store_options options;
    http_client client;
    http_endpoint endpoint;
    s3_precondition_support support;
    bool probing = false;
    /// The day's derived signing key (the store runs on one thread at a time).
    mutable aws::signing_options::key_cache key_cache;
    asio::steady_timer probe_done; // cancelled when a probe finishes: wakes the waiters

    const std::string& bucket() const { return options.config.bucket; }

    std::string object_path(const std::string& key) const
    {
        const std::string encoded = aws::uri_encode(key, false);
        return options.config.path_style ? "/" + bucket() + "/" + encoded : "/" + encoded;
    }
    std::string bucket_path() const { return options.config.path_style ? "/" + bucket() : "/"; }

    std::string where(const std::string& key) const
    {
        return "s3://" + bucket() + "/" + key + " at " + options.config.endpoint.to_string();
    }

    /// A signed request; called once per attempt so each attempt has a fresh date.
    http_request sign(const std::string& method, const std::string& path,
                      const std::vector<aws::query_param>& query, http_headers headers,
                      const std::string& body, const std::string& payload_hash) const
    {
        aws::request req;
        req.method = method;
        req.path = path;
        req.query = query;
        req.payload_hash = payload_hash;
        req.headers.push_back({"host", endpoint.authority()});
        for (const auto& h : headers)
            req.headers.push_back({h.name, h.value});
        aws::signing_options so;
        so.region = options.config.region;
        so.service = "s3";
        so.time = options.clock();
        so.mode = aws::signing_mode::s3;
        so.signing_key_cache = &key_cache;
        const aws::signing_result signed_req = aws::sign_headers(req, options.config.credentials, so);
        http_request out;
        out.method = method;
        out.target = path;
        if (!query.empty())
            out.target += "?" + aws::canonical_query(query);
        out.headers = std::move(headers);
        out.headers.push_back({"Host", endpoint.authority()});
        for (const auto& h : signed_req.headers)
            out.headers.push_back({h.name, h.value});
        out.body = body;
        return out;
    }

    /// One S3 operation's request, before signing. Always a named local at the call site
    /// (g++ 12 coroutine rule: no aggregate temporaries in a co_await expression).
    struct call {
        std::string op;  ///< "GetObject", for messages
        std::string key; ///< for messages
        std::string method;
        std::string path;
        std::vector<aws::query_param> query;
        http_headers headers;
        std::string body;
    };

    call object_call(std::string op, const std::string& key, std::string method) const
    {
        call c;
        c.op = std::move(op);
        c.key = key;
        c.method = std::move(method);
        c.path = object_path(key);
        return c;
    }

    /// Sends with retries. `c` must outlive the await (it is a caller's local).
    asio::awaitable<http_response> send(const call& c, bool idempotent)
    {
        const std::string payload_hash =
            c.body.empty() ? std::string(aws::empty_payload_sha256) : aws::sha256_hex(c.body);
        http_request_factory factory = [this, &c, &payload_hash](int) {
            return sign(c.method, c.path, c.query, c.headers, c.body, payload_hash);
        };
        provider_code_extractor code = provider_code;
        try {
            co_return co_await send_with_retry(client, endpoint, factory, options.retry,
                                               idempotent, code);
        } catch (const transport_error& e) {
            throw transport_error(e.step(), e.timed_out(),
                                  "S3 " + c.op + " " + where(c.key) + ": " + e.what());
        }
    }

    [[noreturn]] void fail(const std::string& op, const std::string& key,
                           const http_response& r) const
    {
        const auto parsed = parse_s3_error(r.body);
        const std::string code = parsed ? parsed->code : std::string();
        std::string message = "S3 " + op + " " + where(key) + " failed: HTTP " +
                              std::to_string(r.status);
        if (!code.empty())
            message += " " + code;
        if (parsed && !parsed->message.empty())
            message += ": " + parsed->message;
        errc value = to_errc(r.status, code).value_or(errc::backend_unavailable);
        if (code == "NoSuchBucket") {
            message += " (the bucket \"" + bucket() + "\" does not exist)";
            value = errc::invalid_setting;
        } else if (value == errc::auth_failed) {
            message += " (authentication or permission failure for bucket \"" + bucket() +
                       "\"; credentials from " + options.config.credentials_source +
                       ", access key id " + options.config.credentials.access_key_id + ")";
        } else if (value == errc::precondition_failed) {
            value = errc::backend_unavailable; // unexpected here: callers handle 409/412
        }
        std::string details;
        if (parsed && !parsed->request_id.empty())
            details += "request id " + parsed->request_id;
        else if (auto id = find_header(r.headers, "x-amz-request-id"))
            details += "request id " + std::string(*id);
        if (!details.empty())
            details += "; ";
        details += std::to_string(r.attempts) + (r.attempts == 1 ? " attempt" : " attempts");
        throw_error(value, message + " [" + details + "]");
    }

    asio::awaitable<std::optional<http_response>> get_object(std::string key)
    {
        const call c = object_call("GetObject", key, "GET");
        http_response r = co_await send(c, true);
        if (is_success(r.status))
            co_return r;
        if (r.status == 404 && provider_code(r) != "NoSuchBucket")
            co_return std::nullopt;
        fail("GetObject", key, r);
    }

    /// After an ambiguous conditional write: is the object now exactly our write?
    asio::awaitable<std::optional<std::string>> settle(std::string key, std::string token)
    {
        auto current = co_await get_object(key);
        if (!current)
            co_return std::nullopt;
        const auto found = find_header(current->headers, write_token_header);
        if (found && *found == token) {
            const auto etag = find_header(current->headers, "ETag");
            co_return unquote_etag(etag.value_or(""));
        }
        co_return std::nullopt;
    }

    asio::awaitable<void> probe(std::string near_key)
    {
        if (support.probed || !options.probe_preconditions)
            co_return;
        if (probing) {
            boost::system::error_code ignored;
            co_await probe_done.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
            co_return;
        }
        probing = true;
        struct reset_guard {
            impl* self;
            ~reset_guard()
            {
                self->probing = false;
                self->probe_done.cancel();
            }
        } guard{this};
        const auto slash = near_key.rfind('/');
        const std::string key = (slash == std::string::npos ? "" : near_key.substr(0, slash + 1)) +
                                ".statestore-probe-" + random_token().substr(0, 12);
        call put = object_call("PutObject (probe)", key, "PUT");
        put.body = "{}";
        put.headers.push_back({"Content-Type", "application/json"});
        http_response r = co_await send(put, true);
        if (!is_success(r.status))
            fail(put.op, key, r);

        call create_only = put;
        create_only.headers.push_back({"If-None-Match", "*"});
        r = co_await send(create_only, true);
        support.put_if_none_match = !is_success(r.status);

        call wrong_version = put;
        wrong_version.headers.push_back({"If-Match", "00000000000000000000000000000000"});
        r = co_await send(wrong_version, true);
        support.put_if_match = !is_success(r.status);

        call wrong_delete = object_call("DeleteObject (probe)", key, "DELETE");
        wrong_delete.headers.push_back({"If-Match", "00000000000000000000000000000000"});
        r = co_await send(wrong_delete, true);
        support.delete_if_match = !is_success(r.status);
        if (support.delete_if_match) {
            const call cleanup = object_call("DeleteObject (probe)", key, "DELETE");
            r = co_await send(cleanup, true);
            if (!is_success(r.status) && r.status != 404)
                fail(cleanup.op, key, r);
        }
        support.probed = true;

        const std::string server = options.config.endpoint.to_string();
        // Once per server and process: every store instance probes, one warning is enough.
        static std::mutex warned_mutex;
        static std::set<std::string> warned;
        {
            const std::lock_guard<std::mutex> lock(warned_mutex);
            if (!warned.insert(server).second)
                co_return;
        }
        if (!support.put_if_none_match || !support.put_if_match)
            options.warn("the S3 server at " + server + " ignores " +
                         (!support.put_if_none_match ? std::string("If-None-Match") : "") +
                         (!support.put_if_none_match && !support.put_if_match ? " and " : "") +
                         (!support.put_if_match ? std::string("If-Match") : "") +
                         " on PutObject: locks and compare-and-swap writes are NOT atomic "
                         "there; run one writer per state id");
        if (!support.delete_if_match)
            options.warn("the S3 server at " + server +
                         " ignores If-Match on DeleteObject: a lock release is checked "
                         "against the lock's ETag just before deleting, which leaves a short "
                         "window in which a lock taken over by another process could be "
                         "removed (see README, S3 limitations)");
    }
};

s3_store::s3_store(asio::any_io_executor executor, s3_store_options options)
    : impl_(std::make_shared<impl>(std::move(executor), std::move(options)))
{
}

s3_store::~s3_store() = default;

http_client& s3_store::client() noexcept { return impl_->client; }

std::uint64_t s3_store::requests_sent() const noexcept { return impl_->client.requests_sent(); }

std::string s3_store::describe() const
{
    return "s3://" + impl_->bucket() + " at " + impl_->options.config.endpoint.to_string();
}

asio::awaitable<s3_precondition_support> s3_store::precondition_support()
{
    auto self = impl_;
    co_await self->probe("");
    co_return self->support;
}

asio::awaitable<std::optional<blob>> s3_store::read(std::string key)
{
    auto self = impl_;
    auto r = co_await self->get_object(key);
    if (!r)
        co_return std::nullopt;
    const auto etag = find_header(r->headers, "ETag");
    blob out;
    out.bytes = std::move(r->body);
    out.version = unquote_etag(etag.value_or(""));
    co_return out;
}

asio::awaitable<std::optional<std::string>>
s3_store::write(std::string key, std::string bytes, precondition pre, durability)
{
    auto self = impl_;
    const bool conditional = pre.type() != precondition::kind::none;
    if (conditional)
        co_await self->probe(key);
    const std::string token = random_token();
    impl::call put = self->object_call("PutObject", key, "PUT");
    put.body = std::move(bytes);
    put.headers.push_back({"Content-Type", "application/json"});
    put.headers.push_back({std::string(write_token_header), token});
    if (pre.type() == precondition::kind::if_absent)
        put.headers.push_back({"If-None-Match", "*"});
    else if (pre.type() == precondition::kind::if_version)
        put.headers.push_back({"If-Match", pre.version()});
    // A whole-object PUT is naturally idempotent; a conditional one is guarded by its
    // precondition (a duplicate fails it, and settle() tells whether it was ours).
    http_response r = co_await self->send(put, true);
    if (is_success(r.status)) {
        const auto etag = find_header(r.headers, "ETag");
        co_return unquote_etag(etag.value_or(""));
    }
    if (conditional && (r.status == 412 || r.status == 409)) {
        if (r.attempts == 1)
            co_return std::nullopt; // a clean "precondition failed"
        // An earlier attempt may have been applied and only its answer lost.
        co_return co_await self->settle(key, token);
    }
    if (conditional && r.status >= 500) {
        // RGW's 500 for a lost race, or a real failure: never assume success.
        if (auto mine = co_await self->settle(key, token))
            co_return mine;
    }
    self->fail("PutObject", key, r);
}

asio::awaitable<remove_result> s3_store::remove(std::string key, precondition pre, durability)
{
    auto self = impl_;
    if (pre.type() == precondition::kind::if_absent)
        throw_error(errc::invalid_setting, "remove with if_absent is meaningless");
    // S3 answers 204 whether or not the key existed; read first so that callers learn
    // whether there was something to remove (and, for if_version, whether it is still the
    // version they mean).
    auto current = co_await self->get_object(key);
    if (!current)
        co_return remove_result::not_found;
    impl::call del = self->object_call("DeleteObject", key, "DELETE");
    if (pre.type() == precondition::kind::if_version) {
        co_await self->probe(key);
        const auto etag = find_header(current->headers, "ETag");
        if (unquote_etag(etag.value_or("")) != pre.version())
            co_return remove_result::precondition_failed;
        del.headers.push_back({"If-Match", pre.version()});
    }
    http_response r = co_await self->send(del, true);
    if (is_success(r.status))
        co_return remove_result::removed;
    if (r.status == 404 && provider_code(r) != "NoSuchBucket")
        co_return remove_result::not_found;
    if (r.status == 412)
        co_return remove_result::precondition_failed;
    self->fail("DeleteObject", key, r);
}

asio::awaitable<list_page> s3_store::list(std::string prefix, std::string delimiter,
                                          std::string page_token)
{
    auto self = impl_;
    impl::call get;
    get.op = "ListObjectsV2";
    get.key = prefix;
    get.method = "GET";
    get.path = self->bucket_path();
    get.query.push_back({"list-type", "2"});
    get.query.push_back({"encoding-type", "url"});
    get.query.push_back({"prefix", prefix});
    if (!delimiter.empty())
        get.query.push_back({"delimiter", delimiter});
    if (!page_token.empty())
        get.query.push_back({"continuation-token", page_token});
    http_response r = co_await self->send(get, true);
    if (!is_success(r.status))
        self->fail("ListObjectsV2", prefix, r);
    s3_list_result parsed;
    try {
        parsed = parse_list_objects_v2(r.body);
    } catch (const error& e) {
        throw_error(errc::backend_unavailable,
                    "S3 ListObjectsV2 " + self->where(prefix) + ": " + e.what());
    }
    list_page page;
    page.keys.reserve(parsed.contents.size());
    for (auto& object : parsed.contents)
        page.keys.push_back(std::move(object.key));
    page.common_prefixes = std::move(parsed.common_prefixes);
    if (parsed.is_truncated) {
        if (parsed.next_continuation_token.empty())
            throw_error(errc::backend_unavailable,
                        "S3 ListObjectsV2 " + self->where(prefix) +
                            ": a truncated listing without a continuation token");
        page.next_token = std::move(parsed.next_continuation_token);
    }
    co_return page;
}

} // namespace statestore
