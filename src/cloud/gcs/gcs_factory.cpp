// gs://bucket/prefix -> gcs_store: endpoint (emulator or not), CA, credentials in Meltano's
// order, and the token cache that turns credentials into bearer tokens.
#include "open/cloud_factories.hpp"

#include "statestore/error.hpp"
#include "cloud/gcs/gcs_credentials.hpp"
#include "cloud/gcs/gcs_oauth.hpp"
#include "cloud/gcs/gcs_store.hpp"
#include "cloud/gcs/gcs_token_cache.hpp"

#include <boost/asio/use_awaitable.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace statestore::detail {

namespace asio = boost::asio;

namespace {

constexpr std::string_view default_endpoint = "https://storage.googleapis.com";

std::optional<std::string> getenv_string(const std::string& name)
{
    if (const char* v = std::getenv(name.c_str()))
        return std::string(v);
    return std::nullopt;
}

std::string read_credentials_file(const gcs::credential_source& source)
{
    std::ifstream in(source.path, std::ios::binary);
    if (!in)
        throw_error(errc::invalid_setting, "cannot read the Google credentials file named by " +
                                               source.origin + ": " + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

/// "https://host[:port]/path" -> endpoint and target.
std::pair<http_endpoint, std::string> split_url(const std::string& url)
{
    const auto scheme_end = url.find("://");
    const auto path_start =
        scheme_end == std::string::npos ? std::string::npos : url.find('/', scheme_end + 3);
    if (path_start == std::string::npos)
        return {http_endpoint::parse(url), "/"};
    return {http_endpoint::parse(url.substr(0, path_start)), url.substr(path_start)};
}

/// One token exchange: POST the grant to the token endpoint, parse the answer.
asio::awaitable<gcs::token_response> fetch_token(std::shared_ptr<http_client> client,
                                                 gcs::credentials creds, http_retry_config retry)
{
    std::string token_uri;
    std::string body;
    std::string who;
    if (const auto* sa = std::get_if<gcs::service_account>(&creds)) {
        const auto iat = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
        body = gcs::jwt_bearer_request_body(gcs::jwt_assertion(*sa, gcs::read_write_scope, iat));
        token_uri = sa->token_uri;
        who = token_uri + " (service account " + sa->client_email + ")";
    } else {
        const auto& user = std::get<gcs::authorized_user>(creds);
        body = gcs::refresh_token_request_body(user);
        token_uri = user.token_uri;
        who = token_uri + " (authorized user, client " + user.client_id + ")";
    }
    const auto [endpoint, target] = split_url(token_uri);
    http_request req;
    req.method = "POST";
    req.target = target;
    req.headers.push_back({"Content-Type", "application/x-www-form-urlencoded"});
    req.headers.push_back({"Accept", "application/json"});
    req.body = std::move(body);
    const http_request_factory factory = [&req](int) { return req; };
    // Asking for a token twice only yields two tokens: always safe to repeat.
    const http_response r =
        co_await send_with_retry(*client, endpoint, factory, retry, true, {});
    co_return gcs::parse_token_response(r.status, r.body, who);
}

} // namespace

opened_blob_store open_gcs_store(asio::any_io_executor executor, const settings& s,
                                 const backend_uri& uri)
{
    const gcs::env_lookup env = getenv_string;
    const std::optional<std::string> emulator = gcs::emulator_endpoint(env);

    gcs_store_options options;
    options.bucket = uri.host;
    options.endpoint = http_endpoint::parse(
        emulator ? *emulator
                 : (s.gcs.endpoint_url.empty() ? std::string(default_endpoint) : s.gcs.endpoint_url));
    options.http.max_connections_per_endpoint = s.http_max_connections;
    options.http.tls.ca_file = s.gcs.ca_file;
    if (options.http.tls.ca_file.empty())
        options.http.tls.ca_file = env("SSL_CERT_FILE").value_or("");
    auto client = std::make_shared<http_client>(executor, options.http);

    if (emulator) {
        options.auth_description = "emulator, no credentials";
    } else {
        const auto warn = [&s](const std::string& message) {
            if (s.warn)
                s.warn(message);
            else
                std::cerr << "warning: " << message << "\n";
        };
        const auto exists = [](const std::string& p) {
            std::error_code ec;
            return std::filesystem::is_regular_file(p, ec);
        };
        const gcs::credential_source source = gcs::find_credential_source(s.gcs, env, exists, warn);
        if (source.type == gcs::credential_source::kind::none)
            throw_error(errc::invalid_setting,
                        "no Google Cloud credentials found for " + std::string("gs://") + uri.host +
                            ": set state_backend.gcs.application_credentials_path (or _json), or "
                            "GOOGLE_APPLICATION_CREDENTIALS, or run `gcloud auth "
                            "application-default login`");
        const std::string text = source.type == gcs::credential_source::kind::inline_json
                                     ? source.json_text
                                     : read_credentials_file(source);
        gcs::credentials creds = gcs::parse_credentials(text, source.origin);
        if (const auto* sa = std::get_if<gcs::service_account>(&creds))
            options.auth_description = "service account " + sa->client_email;
        else
            options.auth_description = "authorized user from " + source.origin;
        const http_retry_config retry = options.retry;
        gcs::token_cache::fetch_fn fetch = [client, creds, retry] {
            return fetch_token(client, creds, retry);
        };
        options.tokens = std::make_shared<gcs::token_cache>(executor, std::move(fetch));
    }

    opened_blob_store out;
    out.prefix = uri.path;
    out.uri_for_messages = "gs://" + uri.host + (uri.path.empty() ? "" : "/" + uri.path);
    out.store = std::make_shared<gcs_store>(executor, std::move(options), std::move(client));
    return out;
}

} // namespace statestore::detail
