// Azure AD client-credentials tokens for Blob Storage, cached until shortly before they expire,
// with one refresh in flight however many requests need a token at once.
#include "cloud/azure/azure_store.hpp"

#include "cloud/azure/azure_shared_key.hpp"
#include "statestore/error.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cctype>

namespace statestore::azure {

struct token_source::state {
    client_credentials creds;
    blob_service_url authority;
    http_endpoint endpoint;
    http_client client;
    std::string token;
    std::chrono::steady_clock::time_point refresh_at{};
    bool refreshing = false;
    // Waiters park on this timer while a refresh is in flight; the refresher cancels it.
    boost::asio::steady_timer wake;
    int fetches = 0;

    state(boost::asio::any_io_executor ex, client_credentials c, http_client_options http)
        : creds(std::move(c)), authority(parse_blob_service_url(creds.authority_host, "AZURE_AUTHORITY_HOST")),
          endpoint(http_endpoint::parse(authority.origin())), client(ex, std::move(http)), wake(ex)
    {
    }

    std::string who() const
    {
        return "client '" + creds.client_id + "' in tenant '" + creds.tenant_id + "' at " +
               authority.to_string();
    }
};

namespace {

boost::asio::awaitable<void> fetch(std::shared_ptr<token_source::state> st, std::chrono::seconds margin)
{
    const std::string body = "grant_type=client_credentials&client_id=" +
                             encode_query_value(st->creds.client_id) +
                             "&client_secret=" + encode_query_value(st->creds.client_secret.reveal()) +
                             "&scope=" + encode_query_value("https://storage.azure.com/.default");
    const std::string target = st->authority.base_path + "/" + st->creds.tenant_id + "/oauth2/v2.0/token";
    http_request_factory factory = [&body, &target](int) {
        http_request r;
        r.method = "POST";
        r.target = target;
        r.headers = {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}};
        r.body = body;
        return r;
    };
    http_retry_config retry;
    // Asking for a token twice is harmless: it changes nothing on the server.
    const http_response r = co_await send_with_retry(st->client, st->endpoint, std::move(factory), retry, true);
    ++st->fetches;
    boost::system::error_code ec;
    const boost::json::value doc = boost::json::parse(r.body, ec);
    const auto* obj = ec ? nullptr : doc.if_object();
    if (r.status != 200) {
        std::string why;
        if (obj)
            if (const auto* e = obj->if_contains("error"); e && e->is_string())
                why = " " + std::string(e->as_string());
        throw_error(r.status == 400 || r.status == 401 || r.status == 403 ? errc::auth_failed
                                                                          : errc::backend_unavailable,
                    "Azure AD refused a token for " + st->who() + " (HTTP " + std::to_string(r.status) +
                        why + "); check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET");
    }
    const boost::json::value* token = obj ? obj->if_contains("access_token") : nullptr;
    const boost::json::value* expires = obj ? obj->if_contains("expires_in") : nullptr;
    long long lifetime = -1;
    if (expires && expires->is_int64())
        lifetime = expires->as_int64();
    else if (expires && expires->is_string()) {
        const std::string text(expires->as_string());
        if (!text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); }))
            lifetime = std::stoll(text.substr(0, 12));
    }
    if (!token || !token->is_string() || token->as_string().empty() || lifetime < 0)
        throw_error(errc::backend_unavailable, "the Azure AD token answer for " + st->who() +
                                                   " has no access_token or expires_in");
    st->token = std::string(token->as_string());
    // Refresh `margin` before expiry, but never later than half-way for short-lived tokens.
    const auto life = std::chrono::seconds(lifetime);
    st->refresh_at = std::chrono::steady_clock::now() + std::max(life - margin, life / 2);
}

} // namespace

token_source::token_source(boost::asio::any_io_executor executor, client_credentials credentials,
                           http_client_options http)
{
    const auto valid_id = [](const std::string& v) {
        return !v.empty() && std::all_of(v.begin(), v.end(), [](unsigned char c) {
            return std::isalnum(c) || c == '-' || c == '.' || c == '_';
        });
    };
    if (!valid_id(credentials.tenant_id))
        throw_error(errc::invalid_setting, "AZURE_TENANT_ID must be a tenant id or domain name");
    if (credentials.client_id.empty())
        throw_error(errc::invalid_setting, "AZURE_CLIENT_ID is empty");
    state_ = std::make_shared<state>(std::move(executor), std::move(credentials), std::move(http));
}

token_source::~token_source() = default;

int token_source::fetches() const noexcept { return state_->fetches; }

boost::asio::awaitable<std::string> token_source::token()
{
    auto st = state_;
    // Bounded: each round either returns, fails, or waits for another caller's refresh.
    for (int round = 0; round < 100; ++round) {
        if (!st->token.empty() && std::chrono::steady_clock::now() < st->refresh_at)
            co_return st->token;
        if (st->refreshing) {
            boost::system::error_code ec;
            co_await st->wake.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
            continue;
        }
        st->refreshing = true;
        st->wake.expires_at(std::chrono::steady_clock::time_point::max());
        std::exception_ptr failed;
        try {
            co_await fetch(st, refresh_margin);
        } catch (...) {
            failed = std::current_exception();
        }
        st->refreshing = false;
        st->wake.cancel();
        if (failed)
            std::rethrow_exception(failed);
        co_return st->token;
    }
    throw_error(errc::backend_unavailable, "no Azure AD token for " + st->who() + " after 100 rounds");
}

} // namespace statestore::azure
