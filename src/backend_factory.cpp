#include "statestore/backend_factory.hpp"

#include "statestore/blob_state_backend.hpp"
#include "statestore/error.hpp"
#include "statestore/file_store.hpp"
#include "statestore/systemdb_backend.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace statestore {
namespace {

constexpr const char* supported_list = "systemdb, file";

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
        return {"systemdb", "", ""};
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
        return {"file", "", dir};
    }
    if (scheme == "s3" || scheme == "azure" || scheme == "gs") {
        // Recognised Meltano schemes; their stores are separate pieces of work.
        throw_error(errc::unsupported_backend,
                    "the '" + scheme + "' state backend is not available in this build of "
                                       "statestore; available backends are: " +
                        supported_list);
    }
    throw_error(errc::unsupported_backend, "No state backend found for scheme '" + scheme +
                                               "' (URI \"" + std::string(uri) +
                                               "\"), available backends are: " +
                                               supported_list);
}

std::unique_ptr<state_backend> open_backend(boost::asio::any_io_executor executor,
                                            const settings& s)
{
    const std::string uri = expand_env_vars(s.uri);
    const backend_uri parsed = parse_backend_uri(uri);
    check_lock_settings(s);
    if (parsed.scheme == "systemdb") {
        systemdb_options options;
        options.database_path = sqlite_path_from_uri(effective_database_uri(s));
        // Writers wait on SQLite's busy handler; give them at least Meltano's lock patience.
        options.busy_timeout_seconds =
            s.lock_max_wait_seconds ? *s.lock_max_wait_seconds
                                    : std::max(30.0, s.lock_timeout_seconds);
        return std::make_unique<systemdb_backend>(std::move(options));
    }
    // file: the directory is the state dir itself, so the key prefix is empty.
    auto pool = std::make_shared<blocking_pool>(s.io_threads);
    auto store = std::make_shared<file_store>(parsed.path, std::move(pool));
    lock_options locks;
    locks.timeout_seconds = s.lock_timeout_seconds;
    locks.retry_seconds = s.lock_retry_seconds;
    locks.max_wait_seconds = s.lock_max_wait_seconds;
    locks.warn = s.warn;
    return std::make_unique<blob_state_backend>(std::move(executor), std::move(store), "",
                                                "file://" + parsed.path, std::move(locks));
}

} // namespace statestore
