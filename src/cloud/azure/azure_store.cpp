// The Azure Blob store: one coroutine layer over the pure pieces (azure_shared_key,
// azure_xml) and the shared HTTP client.
#include "cloud/azure/azure_store.hpp"

#include "cloud/azure/azure_shared_key.hpp"
#include "cloud/azure/azure_xml.hpp"
#include "statestore/error.hpp"

#include <boost/asio/use_awaitable.hpp>

#include <stdexcept>

namespace statestore::azure {

struct azure_store::impl {
    store_config cfg;
    http_endpoint endpoint;
    http_client client;

    impl(boost::asio::any_io_executor ex, store_config c)
        : cfg(std::move(c)), endpoint(http_endpoint::parse(cfg.service.origin())),
          client(std::move(ex), cfg.http)
    {
    }

    std::string where() const
    {
        return "container '" + cfg.container + "' of storage account '" +
               (cfg.account.empty() ? cfg.service.authority : cfg.account) + "' (" +
               cfg.service.to_string() + ")";
    }

    // One logical request; turned into a freshly dated and signed http_request per attempt.
    struct operation {
        std::string method;
        std::string key; ///< blob name; empty for a container-level request
        std::vector<query_param> query;
        http_headers headers;
        std::string body;
    };

    http_request build(const operation& op, const std::string& bearer) const
    {
        std::string path = cfg.service.base_path + "/" + cfg.container;
        if (!op.key.empty())
            path += "/" + encode_blob_path(op.key);
        std::string query;
        for (const auto& q : op.query)
            query += (query.empty() ? "" : "&") + encode_query_value(q.name) + "=" +
                     encode_query_value(q.value);
        if (cfg.auth == auth_kind::sas)
            query += (query.empty() ? "" : "&") + cfg.sas.reveal(); // untouched, as issued
        http_request r;
        r.method = op.method;
        r.target = query.empty() ? path : path + "?" + query;
        r.headers = op.headers;
        r.headers.push_back({"x-ms-date", rfc1123_date(std::chrono::system_clock::now())});
        r.headers.push_back({"x-ms-version", std::string(api_version)});
        r.body = op.body;
        if (cfg.auth == auth_kind::shared_key) {
            shared_key_request sk;
            sk.method = op.method;
            sk.path = path;
            sk.query = op.query;
            sk.headers = r.headers;
            sk.content_length = op.body.size();
            r.headers.push_back(
                {"Authorization",
                 authorization(cfg.account, signature(cfg.account_key, string_to_sign(cfg.account, sk)))});
        } else if (cfg.auth == auth_kind::bearer) {
            r.headers.push_back({"Authorization", "Bearer " + bearer});
        }
        return r;
    }

    static std::string code_of(const http_response& r)
    {
        const auto e = parse_error(r.body);
        return e ? e->code : std::string();
    }

    [[noreturn]] void fail(const http_response& r, std::string_view what, std::string_view key) const
    {
        const auto body = parse_error(r.body);
        const std::string code = body ? body->code : std::string();
        const std::string status = "HTTP " + std::to_string(r.status) + (code.empty() ? "" : " " + code);
        if (code == "ContainerNotFound")
            throw_error(errc::invalid_setting,
                        "Azure " + where() + " does not exist (" + status +
                            "); create the container or fix the state backend URI");
        const bool auth = r.status == 401 || r.status == 403 || code == "AuthorizationFailure" ||
                          code == "AuthenticationFailed" || code == "InvalidAuthenticationInfo" ||
                          code.rfind("AuthorizationPermission", 0) == 0 ||
                          code.rfind("AuthorizationSource", 0) == 0;
        if (auth)
            // The service's message is left out: for AuthenticationFailed it quotes our signature.
            throw_error(errc::auth_failed,
                        "Azure Blob Storage refused authentication for " + where() + " on " +
                            std::string(what) + " (" + status +
                            "); check the account key, SAS token or Azure AD credentials");
        std::string message;
        if (body && !body->message.empty()) {
            message = body->message.substr(0, body->message.find('\n'));
            if (message.size() > 200)
                message = message.substr(0, 200) + "...";
            message = ": " + message;
        }
        const errc e = to_errc(r.status, code).value_or(errc::backend_unavailable);
        throw_error(e, "Azure Blob Storage " + std::string(what) +
                           (key.empty() ? "" : " of '" + std::string(key) + "'") + " in " + where() +
                           " failed (" + status + message + ")" +
                           (r.attempts > 1 ? " after " + std::to_string(r.attempts) + " attempts" : ""));
    }
};

namespace {

boost::asio::awaitable<http_response> send(std::shared_ptr<azure_store::impl> d,
                                           azure_store::impl::operation op, bool idempotent)
{
    std::string bearer;
    if (d->cfg.auth == auth_kind::bearer)
        bearer = co_await d->cfg.tokens->token();
    http_request_factory factory = [d, op = std::move(op), bearer](int) { return d->build(op, bearer); };
    provider_code_extractor code = [](const http_response& r) { return azure_store::impl::code_of(r); };
    http_response r = co_await send_with_retry(d->client, d->endpoint, std::move(factory), d->cfg.retry,
                                               idempotent, std::move(code));
    co_return r;
}

std::string etag_of(const http_response& r)
{
    const auto v = find_header(r.headers, "ETag");
    return v ? std::string(*v) : std::string();
}

} // namespace

azure_store::azure_store(boost::asio::any_io_executor executor, store_config config)
    : impl_(std::make_shared<impl>(std::move(executor), std::move(config)))
{
}

azure_store::~azure_store() = default;

std::uint64_t azure_store::requests_sent() const noexcept
{
    return impl_->client.requests_sent();
}

std::string azure_store::describe() const
{
    return "azure://" + impl_->cfg.container + " (" + impl_->where() + ")";
}

http_client& azure_store::client() noexcept { return impl_->client; }
const http_endpoint& azure_store::endpoint() const noexcept { return impl_->endpoint; }

boost::asio::awaitable<http_request>
azure_store::signed_request(std::string method, std::string key,
                            std::vector<std::pair<std::string, std::string>> query, http_headers headers,
                            std::string body)
{
    impl::operation op;
    op.method = std::move(method);
    op.key = std::move(key);
    for (auto& [n, v] : query)
        op.query.push_back({std::move(n), std::move(v)});
    op.headers = std::move(headers);
    op.body = std::move(body);
    std::string bearer;
    if (impl_->cfg.auth == auth_kind::bearer)
        bearer = co_await impl_->cfg.tokens->token();
    co_return impl_->build(op, bearer);
}

boost::asio::awaitable<std::optional<blob>> azure_store::read(std::string key)
{
    auto d = impl_;
    impl::operation op;
    op.method = "GET";
    op.key = key;
    const http_response r = co_await send(d, std::move(op), true);
    if (r.status == 200) {
        blob found{r.body, etag_of(r)};
        co_return found;
    }
    if (r.status == 404 && impl::code_of(r) != "ContainerNotFound")
        co_return std::nullopt;
    d->fail(r, "Get Blob", key);
}

boost::asio::awaitable<std::optional<std::string>>
azure_store::write(std::string key, std::string bytes, precondition pre, durability)
{
    auto d = impl_;
    impl::operation op;
    op.method = "PUT";
    op.key = key;
    op.headers = {{"x-ms-blob-type", "BlockBlob"}, {"Content-Type", "application/json"}};
    if (pre.type() == precondition::kind::if_absent)
        op.headers.push_back({"If-None-Match", "*"});
    else if (pre.type() == precondition::kind::if_version)
        op.headers.push_back({"If-Match", pre.version()});
    op.body = bytes;
    const bool conditional = pre.type() != precondition::kind::none;
    const http_response r = co_await send(d, std::move(op), may_retry("PUT", conditional, false));
    if (r.status == 201 || r.status == 200)
        co_return etag_of(r);
    const std::string code = impl::code_of(r);
    // If-None-Match: * on an existing blob is 409 BlobAlreadyExists on Azure (412 from some
    // proxies); a stale If-Match is 412 ConditionNotMet.
    const bool lost = conditional && (r.status == 412 || (r.status == 409 && code == "BlobAlreadyExists"));
    if (!lost)
        d->fail(r, "Put Blob", key);
    if (r.attempts > 1) {
        // An earlier attempt may have been applied with only its answer lost; then the
        // precondition fails against our own write. Our bytes in place mean it was ours.
        auto current = co_await read(key);
        if (current && current->bytes == bytes)
            co_return current->version;
    }
    co_return std::nullopt;
}

boost::asio::awaitable<remove_result> azure_store::remove(std::string key, precondition pre, durability)
{
    if (pre.type() == precondition::kind::if_absent)
        throw std::invalid_argument("azure_store::remove: if_absent is not a meaningful precondition");
    auto d = impl_;
    impl::operation op;
    op.method = "DELETE";
    op.key = key;
    const bool conditional = pre.type() == precondition::kind::if_version;
    if (conditional)
        op.headers.push_back({"If-Match", pre.version()});
    const http_response r = co_await send(d, std::move(op), may_retry("DELETE", conditional, false));
    if (r.status == 202 || r.status == 200 || r.status == 204)
        co_return remove_result::removed;
    const std::string code = impl::code_of(r);
    if (r.status == 404 && code != "ContainerNotFound")
        // After a retry, a conditional delete that finds nothing most likely removed it itself.
        co_return (conditional && r.attempts > 1) ? remove_result::removed : remove_result::not_found;
    if (r.status == 412 && conditional)
        co_return remove_result::precondition_failed;
    d->fail(r, "Delete Blob", key);
}

boost::asio::awaitable<list_page> azure_store::list(std::string prefix, std::string delimiter,
                                                    std::string page_token)
{
    auto d = impl_;
    impl::operation op;
    op.method = "GET";
    op.query = {{"restype", "container"}, {"comp", "list"}};
    if (!prefix.empty())
        op.query.push_back({"prefix", prefix});
    if (!delimiter.empty())
        op.query.push_back({"delimiter", delimiter});
    if (!page_token.empty())
        op.query.push_back({"marker", page_token});
    const http_response r = co_await send(d, std::move(op), true);
    if (r.status != 200)
        d->fail(r, "List Blobs", prefix);
    auto parsed = parse_list_blobs(r.body);
    list_page page;
    page.keys = std::move(parsed.names);
    page.common_prefixes = std::move(parsed.prefixes);
    page.next_token = std::move(parsed.next_marker);
    co_return page;
}

} // namespace statestore::azure
