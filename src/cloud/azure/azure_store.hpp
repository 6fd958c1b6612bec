#pragma once
// blob_store on Azure Blob Storage (and Azurite): Put Blob / Get Blob / Delete Blob / List
// Blobs over the shared HTTP client, authorised with SharedKey, a SAS token, or an Azure AD
// bearer token (client credentials). Every attempt is signed afresh.

#include "cloud/azure/azure_connection_string.hpp"
#include "statestore/blob_store.hpp"
#include "net/http.hpp"
#include "statestore/settings.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace statestore::azure {

/// Azure AD client-credentials settings (AZURE_TENANT_ID, AZURE_CLIENT_ID,
/// AZURE_CLIENT_SECRET; the authority from AZURE_AUTHORITY_HOST, default
/// https://login.microsoftonline.com).
struct client_credentials {
    std::string authority_host = "https://login.microsoftonline.com";
    std::string tenant_id;
    std::string client_id;
    aws::secret client_secret;
};

/// Fetches and caches bearer tokens for https://storage.azure.com/. A token is reused until
/// `refresh_margin` before it expires; concurrent callers share one refresh in flight.
class token_source {
public:
    token_source(boost::asio::any_io_executor executor, client_credentials credentials,
                 http_client_options http);
    ~token_source();
    token_source(const token_source&) = delete;
    token_source& operator=(const token_source&) = delete;

    /// A valid access token. Throws auth_failed (naming the tenant and client id, never the
    /// secret) when the token endpoint refuses, backend_unavailable when it cannot be reached.
    boost::asio::awaitable<std::string> token();

    /// How many tokens were fetched (for tests of the cache).
    int fetches() const noexcept;

    std::chrono::seconds refresh_margin{300};

    struct state;

private:
    std::shared_ptr<state> state_;
};

enum class auth_kind { shared_key, sas, bearer };

struct store_config {
    blob_service_url service; ///< endpoint and base path; query ignored (see sas)
    std::string account;      ///< for SharedKey and messages; may be "" with SAS
    std::string container;
    auth_kind auth = auth_kind::shared_key;
    aws::secret account_key; ///< base64, for shared_key
    aws::secret sas;         ///< without '?', for sas
    std::shared_ptr<token_source> tokens; ///< for bearer
    http_client_options http;
    http_retry_config retry;
};

/// Resolves the configuration sources in order: settings.azure.connection_string, then the
/// AZURE_STORAGE_CONNECTION_STRING environment variable, then settings.azure.storage_account_url
/// (with a SAS query, else Azure AD client credentials from the environment). TLS CA:
/// settings.azure.ca_file, else SSL_CERT_FILE. Throws invalid_setting with Meltano's message
/// when nothing is configured.
store_config resolve_config(boost::asio::any_io_executor executor, const settings& s,
                            const std::string& container);

class azure_store final : public blob_store {
public:
    azure_store(boost::asio::any_io_executor executor, store_config config);
    ~azure_store() override;

    std::string describe() const override;
    std::uint64_t requests_sent() const noexcept override;
    boost::asio::awaitable<std::optional<blob>> read(std::string key) override;
    boost::asio::awaitable<std::optional<std::string>>
    write(std::string key, std::string bytes, precondition pre, durability mode) override;
    boost::asio::awaitable<remove_result> remove(std::string key, precondition pre,
                                                 durability mode) override;
    /// With delimiter "/", names below the next "/" come back as common_prefixes (from
    /// BlobPrefix). The page token is Azure's NextMarker.
    boost::asio::awaitable<list_page> list(std::string prefix, std::string delimiter,
                                           std::string page_token) override;

    /// The client, for benchmarks that want the bare Put Blob ceiling over the same pool.
    http_client& client() noexcept;
    /// Builds a signed request for `method` on blob `key` (empty key: the container), for the
    /// benchmark's bare load. `query` is decoded name/value pairs.
    boost::asio::awaitable<http_request> signed_request(std::string method, std::string key,
                                                        std::vector<std::pair<std::string, std::string>> query,
                                                        http_headers headers, std::string body);
    const http_endpoint& endpoint() const noexcept;

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

} // namespace statestore::azure
