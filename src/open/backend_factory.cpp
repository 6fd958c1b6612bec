#include "statestore/backend_factory.hpp"

#include "open/cloud_factories.hpp"

#include "backend/systemdb/pg_uri.hpp"
#include "backend/systemdb/postgres_backend.hpp"
#include "backend/systemdb/systemdb_backend.hpp"
#include "statestore/blob_state_backend.hpp"
#include "statestore/error.hpp"
#include "store/file/file_store.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace statestore {
namespace {

constexpr const char* supported_list = "systemdb, file, s3, azure, gs";

bool valid_scheme(std::string_view s)
{
    if (s.empty() || !std::isalpha(static_cast<unsigned char>(s.front())))
        return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
    });
}

void check_lock_settings(const settings& s)
{
    auto bad = [](double v) { return !std::isfinite(v) || v < 0; };
    if (bad(s.lock_timeout_seconds))
        throw_error(errc::invalid_setting, "lock_timeout_seconds must be >= 0");
    if (bad(s.lock_retry_seconds) || s.lock_retry_seconds == 0)
        throw_error(errc::invalid_setting, "lock_retry_seconds must be > 0");
    if (s.lock_max_wait_seconds && bad(*s.lock_max_wait_seconds))
        throw_error(errc::invalid_setting, "lock_max_wait_seconds must be >= 0");
}

} // namespace

backend_uri parse_backend_uri(std::string_view uri)
{
    if (uri == "systemdb")
        return {"systemdb", "", "", ""};
    // Like Python's urlparse: the scheme is what precedes the first ':', lower-cased.
    const auto colon = uri.find(':');
    std::string scheme;
    if (colon != std::string_view::npos && valid_scheme(uri.substr(0, colon))) {
        scheme = std::string(uri.substr(0, colon));
        std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    }
    std::string_view rest = colon == std::string_view::npos ? "" : uri.substr(colon + 1);
    rest = rest.substr(0, rest.find_first_of("?#"));
    const bool has_authority = rest.substr(0, 2) == "//";
    std::string_view authority, path;
    if (has_authority) {
        rest.remove_prefix(2);
        const auto slash = rest.find('/');
        authority = rest.substr(0, slash);
        path = slash == std::string_view::npos ? "" : rest.substr(slash);
    }

    if (scheme == "file") {
        if (!has_authority || (!authority.empty() && authority != "localhost"))
            throw_error(errc::invalid_uri,
                        "file state backend URI \"" + std::string(uri) +
                            "\" must be file:///absolute/directory (\"file://" +
                            std::string(authority) +
                            "/...\" would name a host, not a relative path)");
        if (path.empty() || path == "/")
            throw_error(errc::invalid_uri, "file state backend URI \"" + std::string(uri) +
                                               "\" names no directory");
        std::string dir(path);
        while (dir.size() > 1 && dir.back() == '/')
            dir.pop_back();
        return {"file", "", dir, ""};
    }
    if (scheme == "s3" || scheme == "azure" || scheme == "gs") {
        const std::string form = scheme == "s3"      ? "s3://[key:secret@]bucket[/prefix]"
                                 : scheme == "azure" ? "azure://container[/prefix]"
                                                     : "gs://bucket[/prefix]";
        if (!has_authority)
            throw_error(errc::invalid_uri, "state backend URI must be in the form of " + form);
        backend_uri out;
        out.scheme = scheme;
        // urlparse: userinfo is everything before the last '@' of the authority.
        const auto at = authority.rfind('@');
        std::string_view hostport = authority;
        if (at != std::string_view::npos) {
            out.userinfo = std::string(authority.substr(0, at));
            hostport = authority.substr(at + 1);
        }
        if (path.find('@') != std::string_view::npos && at == std::string_view::npos &&
            authority.find(':') != std::string_view::npos)
            // s3://KEY:abc/def@bucket: a raw '/' in the secret ends the authority early.
            throw_error(errc::invalid_uri,
                        "the " + scheme + " state backend URI looks like it holds credentials "
                        "whose secret contains '/'; percent-encode it as %2F (the URI is not "
                        "shown because it contains a secret)");
        if (scheme != "s3" && !out.userinfo.empty())
            throw_error(errc::invalid_uri, "the " + scheme +
                                               " state backend URI must not contain credentials; "
                                               "use the settings instead");
        const auto port_colon = hostport.rfind(':');
        if (port_colon != std::string_view::npos && hostport.find(']') == std::string_view::npos)
            hostport = hostport.substr(0, port_colon);
        out.host = std::string(hostport);
        std::transform(out.host.begin(), out.host.end(), out.host.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (out.host.empty())
            throw_error(errc::invalid_uri,
                        std::string(scheme == "azure" ? "no container" : "no bucket") +
                            " in the state backend URI; it must be in the form of " + form);
        while (!path.empty() && path.front() == '/')
            path.remove_prefix(1);
        while (!path.empty() && path.back() == '/')
            path.remove_suffix(1);
        out.path = std::string(path);
        return out;
    }
    throw_error(errc::unsupported_backend, "No state backend found for scheme '" + scheme +
                                               "' (URI \"" + std::string(uri) +
                                               "\"), available backends are: " +
                                               supported_list);
}

opened_blob_store open_blob_store(boost::asio::any_io_executor executor, const settings& s)
{
    const std::string uri = expand_env_vars(s.uri);
    const backend_uri parsed = parse_backend_uri(uri);
    if (parsed.scheme == "s3")
        return detail::open_s3_store(std::move(executor), s, parsed);
    if (parsed.scheme == "azure")
        return detail::open_azure_store(std::move(executor), s, parsed);
    if (parsed.scheme == "gs")
        return detail::open_gcs_store(std::move(executor), s, parsed);
    if (parsed.scheme != "file")
        throw_error(errc::invalid_uri,
                    "the " + parsed.scheme + " state backend is not a blob store");
    // file: the directory is the state dir itself, so the key prefix is empty.
    auto pool = std::make_shared<blocking_pool>(s.io_threads);
    opened_blob_store out;
    out.store = std::make_shared<file_store>(parsed.path, std::move(pool));
    out.uri_for_messages = "file://" + parsed.path;
    return out;
}

std::unique_ptr<state_backend> open_backend(boost::asio::any_io_executor executor,
                                            const settings& s)
{
    const std::string uri = expand_env_vars(s.uri);
    const backend_uri parsed = parse_backend_uri(uri);
    check_lock_settings(s);
    if (parsed.scheme == "systemdb") {
        // Writers wait for another writer's lock (SQLite's busy handler, a PostgreSQL row
        // lock) at least as long as Meltano's lock patience.
        const double lock_wait = s.lock_max_wait_seconds ? *s.lock_max_wait_seconds
                                                         : std::max(30.0, s.lock_timeout_seconds);
        const std::string database_uri = effective_database_uri(s);
        if (pg::is_postgres_uri(database_uri)) {
            postgres_options options;
            options.target = pg::parse_postgres_uri(database_uri);
            options.max_connections = s.database_max_connections;
            options.max_retries = std::max(0, s.database_max_retries);
            options.retry_interval_seconds = s.database_retry_timeout_seconds;
            options.lock_wait_seconds = lock_wait;
            // A writer of ours that stalls holding row locks loses them after the time a
            // lock takes to go stale on the other backends.
            options.lock_hold_seconds = s.lock_timeout_seconds;
            return std::make_unique<postgres_backend>(std::move(executor), std::move(options));
        }
        systemdb_options options;
        options.database_path = sqlite_path_from_uri(database_uri);
        options.busy_timeout_seconds = lock_wait;
        return std::make_unique<systemdb_backend>(std::move(options));
    }
    opened_blob_store opened = open_blob_store(executor, s);
    lock_options locks;
    locks.timeout_seconds = s.lock_timeout_seconds;
    locks.retry_seconds = s.lock_retry_seconds;
    locks.max_wait_seconds = s.lock_max_wait_seconds;
    locks.warn = s.warn;
    return std::make_unique<blob_state_backend>(std::move(executor), std::move(opened.store),
                                                std::move(opened.prefix),
                                                std::move(opened.uri_for_messages),
                                                std::move(locks));
}

} // namespace statestore
