// azure://container/prefix -> azure_store, with the configuration sources in order:
// the connection_string setting, AZURE_STORAGE_CONNECTION_STRING (Meltano's documented fallback),
// then storage_account_url with a SAS or Azure AD client credentials.
#include "open/cloud_factories.hpp"

#include "cloud/azure/azure_store.hpp"
#include "statestore/error.hpp"

#include <cstdlib>
#include <memory>

namespace statestore {
namespace azure {
namespace {

std::string env(const char* name)
{
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
}

// SSL_CERT_FILE as the CA file when no ca_file setting is given, for https endpoints only:
// loading a CA bundle costs tens of milliseconds per process, which plain-http endpoints
// (Azurite) should not pay. (OpenSSL's default paths honour SSL_CERT_FILE as well; naming it
// explicitly makes a wrong path a clear error.)
store_config with_ca_fallback(store_config cfg)
{
    if (cfg.http.tls.ca_file.empty() && cfg.service.scheme == "https")
        cfg.http.tls.ca_file = env("SSL_CERT_FILE");
    return cfg;
}

} // namespace

store_config resolve_config(boost::asio::any_io_executor executor, const settings& s,
                            const std::string& container)
{
    store_config cfg;
    cfg.container = container;
    cfg.http.max_connections_per_endpoint = s.http_max_connections;
    cfg.http.tls.ca_file = s.azure.ca_file;

    std::string text = s.azure.connection_string;
    if (text.empty())
        text = env("AZURE_STORAGE_CONNECTION_STRING");
    if (!text.empty()) {
        connection_string cs = parse_connection_string(text);
        cfg.service = cs.blob_endpoint;
        cfg.account = cs.account_name;
        if (cs.uses_sas()) {
            cfg.auth = auth_kind::sas;
            cfg.sas = cs.sas;
        } else {
            cfg.auth = auth_kind::shared_key;
            cfg.account_key = cs.account_key;
        }
        return with_ca_fallback(std::move(cfg));
    }
    if (!s.azure.storage_account_url.empty()) {
        cfg.service = parse_blob_service_url(s.azure.storage_account_url, "storage_account_url");
        cfg.account = account_from_url(cfg.service);
        if (!cfg.service.query.empty()) {
            cfg.auth = auth_kind::sas;
            cfg.sas = aws::secret(cfg.service.query);
            cfg.service.query.clear();
            return with_ca_fallback(std::move(cfg));
        }
        client_credentials cc;
        cc.tenant_id = env("AZURE_TENANT_ID");
        cc.client_id = env("AZURE_CLIENT_ID");
        cc.client_secret = aws::secret(env("AZURE_CLIENT_SECRET"));
        if (const std::string host = env("AZURE_AUTHORITY_HOST"); !host.empty())
            cc.authority_host = host;
        if (cc.tenant_id.empty() || cc.client_id.empty() || cc.client_secret.empty())
            throw_error(errc::invalid_setting,
                        "Azure state backend: storage_account_url has no SAS token, and Azure AD "
                        "client credentials are incomplete (set AZURE_TENANT_ID, AZURE_CLIENT_ID and "
                        "AZURE_CLIENT_SECRET; other host credentials are not supported)");
        cfg.auth = auth_kind::bearer;
        cfg = with_ca_fallback(std::move(cfg));
        cfg.tokens = std::make_shared<token_source>(executor, std::move(cc), cfg.http);
        return cfg;
    }
    throw_error(errc::invalid_setting,
                "Azure state backend requires a connection string or an account URL to use host "
                "credentials");
}

} // namespace azure

namespace detail {

opened_blob_store open_azure_store(boost::asio::any_io_executor executor, const settings& s,
                                   const backend_uri& uri)
{
    if (uri.host.empty())
        throw_error(errc::invalid_uri, "Must be in the form of azure://<container>/<prefix>");
    azure::store_config cfg = azure::resolve_config(executor, s, uri.host);
    opened_blob_store out;
    out.store = std::make_shared<azure::azure_store>(executor, std::move(cfg));
    out.prefix = uri.path;
    out.uri_for_messages = "azure://" + uri.host + (uri.path.empty() ? "" : "/" + uri.path);
    return out;
}

} // namespace detail
} // namespace statestore
