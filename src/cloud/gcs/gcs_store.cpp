#include "cloud/gcs/gcs_store.hpp"

#include "statestore/error.hpp"
#include "cloud/gcs/gcs_json.hpp"
#include "net/retry.hpp"

#include <boost/asio/use_awaitable.hpp>

namespace statestore {

namespace asio = boost::asio;

namespace {

/// ifGenerationMatch for a precondition: 0 means "must not exist" in the JSON API.
std::optional<std::string> generation_match(const precondition& pre)
{
    switch (pre.type()) {
    case precondition::kind::if_absent:
        return std::string("0");
    case precondition::kind::if_version:
        return pre.version();
    case precondition::kind::none:
        break;
    }
    return std::nullopt;
}

std::string header_or_empty(const http_response& r, std::string_view name)
{
    const auto v = find_header(r.headers, name);
    return v ? std::string(*v) : std::string();
}

} // namespace

gcs_store::gcs_store(asio::any_io_executor executor, gcs_store_options options,
                     std::shared_ptr<http_client> client)
    : options_(std::move(options)), client_(std::move(client))
{
    if (!client_)
        client_ = std::make_shared<http_client>(std::move(executor), options_.http);
}

// Token requests share the client when it is shared with the token fetcher: one per hour.
std::uint64_t gcs_store::requests_sent() const noexcept { return client_->requests_sent(); }

std::string gcs_store::describe() const
{
    return "gs://" + options_.bucket + " at " + options_.endpoint.to_string() +
           (options_.auth_description.empty() ? "" : " (" + options_.auth_description + ")");
}

asio::awaitable<http_response> gcs_store::send(http_request request, bool idempotent)
{
    const provider_code_extractor reason = [](const http_response& r) {
        return gcs::error_reason(r.body);
    };
    // A 401 means the token was refused before anything happened (revoked, or expired on the
    // way): fetch a new one and try once more.
    for (int auth_attempt = 1;; ++auth_attempt) {
        std::string token;
        if (options_.tokens)
            token = co_await options_.tokens->token();
        const std::shared_ptr<gcs::token_cache> tokens = options_.tokens;
        // Called per attempt: a retry after a backoff carries the newest cached token.
        const http_request_factory factory = [&request, tokens, token](int) {
            http_request r = request;
            if (tokens) {
                const auto fresh = tokens->current();
                r.headers.push_back({"Authorization", "Bearer " + (fresh ? *fresh : token)});
            }
            return r;
        };
        http_response response = co_await send_with_retry(*client_, options_.endpoint, factory,
                                                          options_.retry, idempotent, reason);
        if (response.status == 401 && options_.tokens && auth_attempt < 2) {
            options_.tokens->invalidate();
            continue;
        }
        co_return response;
    }
}

void gcs_store::fail(const http_request& request, const http_response& response) const
{
    const std::string reason = gcs::error_reason(response.body);
    const std::string message = gcs::error_message(response.body);
    std::string text = "Google Cloud Storage " + request.method + " " + options_.endpoint.to_string() +
                       request.target.substr(0, request.target.find('?')) + " failed: HTTP " +
                       std::to_string(response.status);
    if (!reason.empty())
        text += " " + reason;
    if (!message.empty())
        text += " (" + message + ")";
    if (response.attempts > 1)
        text += " after " + std::to_string(response.attempts) + " attempts";
    if (response.status == 404) {
        // Every 404 that reaches here is about the bucket, not an object: the callers handle
        // a missing object themselves. It is a configuration error, never "no state".
        throw_error(errc::invalid_setting,
                    text + "; does the bucket " + options_.bucket + " exist?");
    }
    throw_error(to_errc(response.status, reason).value_or(errc::backend_unavailable), text);
}

asio::awaitable<std::optional<blob>> gcs_store::read(std::string key)
{
    http_request req;
    req.method = "GET";
    req.target = gcs::download_target(options_.bucket, key);
    const http_response r = co_await send(req, true);
    if (r.status == 404)
        co_return std::nullopt;
    if (r.status != 200)
        fail(req, r);
    blob b;
    b.version = header_or_empty(r, "x-goog-generation");
    if (b.version.empty())
        throw_error(errc::backend_unavailable,
                    "Google Cloud Storage answered a download of " + key +
                        " without an x-goog-generation header");
    b.bytes = r.body;
    co_return b;
}

asio::awaitable<std::optional<std::string>> gcs_store::write(std::string key, std::string bytes,
                                                             precondition pre, durability)
{
    const std::optional<std::string> match = generation_match(pre);
    http_request req;
    req.method = "POST";
    req.target = gcs::upload_target(options_.bucket, key, match);
    // Meltano writes state with content_type application/json; locks too.
    req.headers.push_back({"Content-Type", "application/json"});
    req.body = bytes;
    // Repeating an unconditional upload of the same bytes is harmless; a conditional one is
    // guarded by its precondition.
    const bool idempotent = may_retry(req.method, match.has_value(), !match.has_value());
    const http_response r = co_await send(req, idempotent);
    if (r.status == 200 || r.status == 201)
        co_return gcs::parse_generation(r.body);
    if (r.status == 412) {
        if (r.attempts > 1) {
            // An earlier attempt may have been applied with only its answer lost, and then our
            // own write fails the precondition on the retry. If the object now holds exactly
            // our bytes, that write was ours (lock and state contents are unique in practice).
            auto now = co_await read(key);
            if (now && now->bytes == bytes)
                co_return now->version;
        }
        co_return std::nullopt;
    }
    fail(req, r);
}

asio::awaitable<remove_result> gcs_store::remove(std::string key, precondition pre, durability)
{
    const std::optional<std::string> match = generation_match(pre);
    http_request req;
    req.method = "DELETE";
    req.target = gcs::delete_target(options_.bucket, key, match);
    // Deleting twice is harmless (the second answer is 404).
    const http_response r = co_await send(req, may_retry(req.method, match.has_value(), true));
    if (r.status == 204 || r.status == 200)
        co_return remove_result::removed;
    if (r.status == 404)
        co_return remove_result::not_found;
    if (r.status == 412)
        co_return remove_result::precondition_failed;
    fail(req, r);
}

asio::awaitable<list_page> gcs_store::list(std::string prefix, std::string delimiter,
                                           std::string page_token)
{
    http_request req;
    req.method = "GET";
    req.target = gcs::list_target(options_.bucket, prefix, delimiter, page_token);
    const http_response r = co_await send(req, true);
    if (r.status != 200)
        fail(req, r);
    gcs::list_result parsed = gcs::parse_list(r.body);
    list_page page;
    page.keys = std::move(parsed.names);
    page.common_prefixes = std::move(parsed.prefixes);
    page.next_token = std::move(parsed.next_page_token);
    co_return page;
}

} // namespace statestore
