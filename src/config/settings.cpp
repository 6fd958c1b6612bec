#include "statestore/settings.hpp"

#include "statestore/error.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace statestore {
namespace {

const char* env(const char* name)
{
    const char* value = std::getenv(name);
    return (value && *value) ? value : nullptr;
}

double parse_seconds(const char* variable, std::string_view text)
{
    // Python's int()/float() accept surrounding whitespace; so do we.
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
        text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n'))
        text.remove_suffix(1);
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value) ||
        value < 0)
        throw_error(errc::invalid_setting, std::string(variable) + " must be a non-negative "
                                              "number of seconds, got \"" +
                                              std::string(text) + "\"");
    return value;
}

std::size_t parse_count(const char* variable, std::string_view text, std::size_t maximum,
                        std::size_t minimum = 1)
{
    std::size_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size() || n < minimum || n > maximum)
        throw_error(errc::invalid_setting, std::string(variable) + " must be a whole number from " +
                                               std::to_string(minimum) + " to " +
                                               std::to_string(maximum) + ", got \"" +
                                               std::string(text) + "\"");
    return n;
}

} // namespace

settings settings::from_env()
{
    settings s;
    s.apply_env();
    return s;
}

void settings::apply_env()
{
    if (const char* v = env("MELTANO_STATE_BACKEND_URI"))
        uri = v;
    if (const char* v = env("MELTANO_STATE_BACKEND_LOCK_TIMEOUT_SECONDS"))
        lock_timeout_seconds = parse_seconds("MELTANO_STATE_BACKEND_LOCK_TIMEOUT_SECONDS", v);
    if (const char* v = env("MELTANO_STATE_BACKEND_LOCK_RETRY_SECONDS"))
        lock_retry_seconds = parse_seconds("MELTANO_STATE_BACKEND_LOCK_RETRY_SECONDS", v);
    if (const char* v = env("STATESTORE_LOCK_MAX_WAIT_SECONDS"))
        lock_max_wait_seconds = parse_seconds("STATESTORE_LOCK_MAX_WAIT_SECONDS", v);
    if (const char* v = env("MELTANO_DATABASE_URI"))
        database_uri = v;
    if (const char* v = env("MELTANO_DATABASE_MAX_RETRIES"))
        database_max_retries =
            static_cast<int>(parse_count("MELTANO_DATABASE_MAX_RETRIES", v, 1000, 0));
    if (const char* v = env("MELTANO_DATABASE_RETRY_TIMEOUT"))
        database_retry_timeout_seconds = parse_seconds("MELTANO_DATABASE_RETRY_TIMEOUT", v);
    if (const char* v = env("STATESTORE_DATABASE_MAX_CONNECTIONS"))
        database_max_connections = parse_count("STATESTORE_DATABASE_MAX_CONNECTIONS", v, 1000);
    if (const char* v = env("STATESTORE_HTTP_MAX_CONNECTIONS"))
        http_max_connections = parse_count("STATESTORE_HTTP_MAX_CONNECTIONS", v, 100000);
    if (const char* v = env("STATESTORE_IO_THREADS"))
        io_threads = parse_count("STATESTORE_IO_THREADS", v, 256);
    const auto take = [](const char* name, std::string& field) {
        if (const char* v = env(name))
            field = v;
    };
    take("MELTANO_STATE_BACKEND_S3_AWS_ACCESS_KEY_ID", s3.aws_access_key_id);
    take("MELTANO_STATE_BACKEND_S3_AWS_SECRET_ACCESS_KEY", s3.aws_secret_access_key);
    take("MELTANO_STATE_BACKEND_S3_ENDPOINT_URL", s3.endpoint_url);
    take("STATESTORE_S3_REGION", s3.region);
    take("STATESTORE_S3_ADDRESSING_STYLE", s3.addressing_style);
    take("STATESTORE_S3_CA_FILE", s3.ca_file);
    take("MELTANO_STATE_BACKEND_AZURE_CONNECTION_STRING", azure.connection_string);
    take("MELTANO_STATE_BACKEND_AZURE_STORAGE_ACCOUNT_URL", azure.storage_account_url);
    take("STATESTORE_AZURE_CA_FILE", azure.ca_file);
    take("MELTANO_STATE_BACKEND_GCS_APPLICATION_CREDENTIALS", gcs.application_credentials);
    take("MELTANO_STATE_BACKEND_GCS_APPLICATION_CREDENTIALS_PATH", gcs.application_credentials_path);
    take("MELTANO_STATE_BACKEND_GCS_APPLICATION_CREDENTIALS_JSON", gcs.application_credentials_json);
    take("STATESTORE_GCS_CA_FILE", gcs.ca_file);
    take("STATESTORE_GCS_ENDPOINT", gcs.endpoint_url);
}

std::string effective_database_uri(const settings& s)
{
    if (!s.database_uri.empty())
        return expand_env_vars(s.database_uri);
    // Meltano's default: sqlite:///$MELTANO_SYS_DIR_ROOT/meltano.db, where the system dir
    // defaults to <project root>/.meltano; we take the current directory as project root.
    std::string root = ".meltano";
    if (const char* v = env("MELTANO_SYS_DIR_ROOT"))
        root = v;
    return "sqlite:///" + root + "/meltano.db";
}

std::string sqlite_path_from_uri(std::string_view uri)
{
    const auto colon = uri.find("://");
    const std::string_view scheme = colon == std::string_view::npos ? "" : uri.substr(0, colon);
    // SQLAlchemy spells drivers as dialect+driver (sqlite+pysqlite).
    const std::string_view dialect = scheme.substr(0, scheme.find('+'));
    if (dialect != "sqlite") {
        if (scheme.empty())
            throw_error(errc::invalid_uri, "database URI \"" + std::string(uri) +
                                               "\" has no scheme; expected sqlite:///path");
        throw_error(errc::unsupported_backend,
                    "database URI scheme '" + std::string(scheme) +
                        "' is not supported; statestore's systemdb backend uses SQLite "
                        "(sqlite:///relative/path or sqlite:////absolute/path) or PostgreSQL "
                        "(postgresql://user@host:port/dbname)");
    }
    std::string_view rest = uri.substr(colon + 3);
    rest = rest.substr(0, rest.find('?')); // driver options such as ?timeout=: not used
    if (rest.empty() || rest == "/" || rest == "/:memory:")
        return ":memory:";
    if (rest.front() != '/')
        throw_error(errc::invalid_uri, "database URI \"" + std::string(uri) +
                                           "\" names a host; use sqlite:///relative/path or "
                                           "sqlite:////absolute/path");
    return std::string(rest.substr(1));
}

std::string expand_env_vars(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    auto is_name_char = [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '_';
    };
    for (std::size_t i = 0; i < text.size();) {
        if (text[i] != '$' || i + 1 >= text.size()) {
            out += text[i++];
            continue;
        }
        std::size_t name_begin = 0, name_end = 0, next = 0;
        if (text[i + 1] == '{') {
            const auto close = text.find('}', i + 2);
            if (close == std::string_view::npos) {
                out += text[i++];
                continue;
            }
            name_begin = i + 2;
            name_end = close;
            next = close + 1;
        } else {
            name_begin = i + 1;
            name_end = name_begin;
            while (name_end < text.size() && is_name_char(text[name_end]))
                ++name_end;
            next = name_end;
        }
        const std::string name(text.substr(name_begin, name_end - name_begin));
        const char* value = name.empty() ? nullptr : std::getenv(name.c_str());
        if (value)
            out += value;
        else
            out.append(text.substr(i, next - i)); // unset: leave the reference visible
        i = next;
    }
    return out;
}

} // namespace statestore
