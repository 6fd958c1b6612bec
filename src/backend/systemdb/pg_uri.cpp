#include "backend/systemdb/pg_uri.hpp"

#include "statestore/error.hpp"

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <cctype>
#include <optional>

namespace statestore::pg {
namespace {

std::string lower(std::string_view s)
{
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

/// The scheme before "://", or nullopt when there is none.
std::optional<std::string_view> scheme_of(std::string_view uri)
{
    const auto end = uri.find("://");
    if (end == std::string_view::npos || end == 0)
        return std::nullopt;
    return uri.substr(0, end);
}

int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/// Python's urllib.parse.unquote: %XX sequences decoded, anything else (a lone '%') kept.
std::string percent_decode(std::string_view s, bool plus_is_space)
{
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
            hex_value(s[i + 2]) >= 0) {
            out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
        } else if (plus_is_space && s[i] == '+') {
            out += ' ';
        } else {
            out += s[i];
        }
    }
    return out;
}

[[noreturn]] void bad(const std::string& display, const std::string& why)
{
    throw_error(errc::invalid_uri, "database URI " + display + " is invalid: " + why);
}

bool is_secret_key(std::string_view key)
{
    return key == "password" || key == "sslpassword";
}

} // namespace

bool is_postgres_uri(std::string_view uri)
{
    const auto scheme = scheme_of(uri);
    if (!scheme)
        return false;
    const std::string s = lower(*scheme);
    return s == "postgres" || s == "postgresql" || s.rfind("postgresql+", 0) == 0;
}

connection_target parse_postgres_uri(std::string_view uri)
{
    const auto scheme_view = scheme_of(uri);
    const std::string scheme = scheme_view ? lower(*scheme_view) : std::string();
    if (scheme != "postgres" && scheme != "postgresql" && scheme != "postgresql+psycopg" &&
        scheme != "postgresql+psycopg2") {
        if (scheme.rfind("postgresql+", 0) == 0)
            throw_error(errc::unsupported_backend,
                        "database URI driver '" + scheme.substr(11) +
                            "' is not supported; use postgresql://, postgresql+psycopg://, "
                            "postgresql+psycopg2:// or postgres:// (statestore talks to the "
                            "server through libpq whichever driver Meltano uses)");
        throw_error(errc::invalid_uri, "database URI scheme '" + scheme + "' is not PostgreSQL");
    }
    std::string_view rest = uri.substr(scheme_view->size() + 3);

    // --- userinfo, as SQLAlchemy's pattern finds it: `[^:/]*` then an optional
    // `:[^@]*`, then '@'. The user part may itself hold '@' (the last one before ':' or '/'
    // ends it); the password ends at the first '@' after the colon.
    std::optional<std::string> user, password;
    {
        const auto run_end = std::min(rest.find_first_of(":/"), rest.size());
        bool taken = false;
        if (run_end < rest.size() && rest[run_end] == ':') {
            const auto at = rest.find('@', run_end + 1);
            if (at != std::string_view::npos) {
                user = percent_decode(rest.substr(0, run_end), false);
                password = percent_decode(rest.substr(run_end + 1, at - run_end - 1), false);
                rest.remove_prefix(at + 1);
                taken = true;
            }
        }
        if (!taken) {
            const auto at = rest.substr(0, run_end).rfind('@');
            if (at != std::string_view::npos) {
                user = percent_decode(rest.substr(0, at), false);
                rest.remove_prefix(at + 1);
            }
        }
    }
    // From here on messages show the URI without its password.
    const std::string display_prefix =
        std::string(*scheme_view) + "://" + (user ? *user + "@" : std::string());

    // --- host and port.
    std::string host, port;
    std::string host_text; // as written, for display
    if (!rest.empty() && rest.front() == '[') {
        const auto close = rest.find(']');
        if (close == std::string_view::npos || close == 1)
            bad(display_prefix + std::string(rest), "an IPv6 host must be written [address]");
        host = std::string(rest.substr(1, close - 1));
        host_text = std::string(rest.substr(0, close + 1));
        rest.remove_prefix(close + 1);
    } else {
        const auto end = std::min(rest.find_first_of("/:?"), rest.size());
        host = std::string(rest.substr(0, end));
        host_text = host;
        rest.remove_prefix(end);
    }
    if (!rest.empty() && rest.front() == ':') {
        const auto end = std::min(rest.find_first_of("/?"), rest.size());
        port = std::string(rest.substr(1, end - 1));
        rest.remove_prefix(end);
        if (!port.empty()) {
            const bool digits = std::all_of(port.begin(), port.end(),
                                            [](unsigned char c) { return std::isdigit(c) != 0; });
            if (!digits || port.size() > 5 || std::stoul(port) == 0 || std::stoul(port) > 65535)
                bad(display_prefix + host_text + ":" + port,
                    "the port must be a number from 1 to 65535 (for several hosts use "
                    "?host=h1:p1&host=h2:p2)");
        }
    }
    std::string dbname;
    if (!rest.empty() && rest.front() == '/') {
        const auto end = std::min(rest.find('?'), rest.size());
        dbname = std::string(rest.substr(1, end - 1));
        rest.remove_prefix(end);
    }
    std::string_view query;
    if (!rest.empty() && rest.front() == '?') {
        query = rest.substr(1);
        rest = {};
    }
    const std::string display_base = display_prefix + host_text + (port.empty() ? "" : ":" + port) +
                                     (dbname.empty() ? "" : "/" + dbname);
    if (!rest.empty())
        bad(display_base, "unexpected text after the host");

    // --- the query: Python's parse_qsl (keep_blank_values=False).
    std::vector<std::pair<std::string, std::string>> options;
    std::string display_query;
    while (!query.empty()) {
        const auto amp = std::min(query.find('&'), query.size());
        const std::string_view piece = query.substr(0, amp);
        query.remove_prefix(std::min(amp + 1, query.size()));
        const auto eq = piece.find('=');
        if (piece.empty() || eq == std::string_view::npos || eq + 1 == piece.size())
            continue;
        std::string key = percent_decode(piece.substr(0, eq), true);
        std::string value = percent_decode(piece.substr(eq + 1), true);
        display_query +=
            std::string(display_query.empty() ? "?" : "&") + std::string(piece.substr(0, eq)) +
            "=" + (is_secret_key(key) ? std::string("***") : std::string(piece.substr(eq + 1)));
        options.emplace_back(std::move(key), std::move(value));
    }
    connection_target target;
    target.display = display_base + display_query;

    // Repeated keys: only `host` may repeat (SQLAlchemy's multihost form).
    std::vector<std::string> hosts_from_query;
    for (std::size_t i = 0; i < options.size(); ++i) {
        const std::size_t repeats = static_cast<std::size_t>(
            std::count_if(options.begin(), options.end(),
                          [&](const auto& o) { return o.first == options[i].first; }));
        if (repeats > 1 && options[i].first != "host")
            bad(target.display, "the option '" + options[i].first + "' is given more than once");
        if (options[i].first == "host")
            hosts_from_query.push_back(options[i].second);
    }
    const auto option = [&options](std::string_view key) -> const std::string* {
        for (const auto& [k, v] : options)
            if (k == key)
                return &v;
        return nullptr;
    };
    if (const std::string* encoding = option("client_encoding")) {
        const std::string e = lower(*encoding);
        if (e != "utf8" && e != "utf-8" && e != "unicode")
            bad(target.display, "client_encoding must be UTF8 (statestore's text is UTF-8)");
    }

    // SQLAlchemy: the authority's parts, then the query on top of them.
    std::vector<std::pair<std::string, std::string>> keywords;
    const auto set = [&keywords](const std::string& key, std::string value) {
        for (auto& [k, v] : keywords)
            if (k == key) {
                v = std::move(value);
                return;
            }
        keywords.emplace_back(key, std::move(value));
    };
    if (user)
        set("user", *user);
    if (password)
        set("password", *password);
    if (!host.empty())
        set("host", host);
    if (!port.empty())
        set("port", port);
    if (!dbname.empty())
        set("dbname", dbname);
    if (hosts_from_query.size() > 1) {
        if (option("port"))
            bad(target.display, "several ?host= options cannot be mixed with ?port=; write "
                                "?host=h1:p1&host=h2:p2 or ?host=h1,h2&port=p1,p2");
        std::string hosts, ports;
        for (std::size_t i = 0; i < hosts_from_query.size(); ++i) {
            const std::string& h = hosts_from_query[i];
            const auto colon = h.rfind(':');
            const bool has_port = colon != std::string::npos && h.find(']') == std::string::npos;
            hosts += (i ? "," : "") + (has_port ? h.substr(0, colon) : h);
            ports += (i ? "," : "") + (has_port ? h.substr(colon + 1) : std::string());
        }
        set("host", hosts);
        set("port", ports);
    }
    for (const auto& [key, value] : options) {
        if (key == "host" && hosts_from_query.size() > 1)
            continue;
        if (key == "client_encoding")
            continue;
        set(key == "database" ? "dbname" : key == "username" ? "user" : key, value);
    }
    set("client_encoding", "UTF8");
    set("fallback_application_name", "statestore");

    const auto add_secret = [&target](const std::string& value) {
        if (!value.empty() &&
            std::find(target.secrets.begin(), target.secrets.end(), value) == target.secrets.end())
            target.secrets.push_back(value);
    };
    if (password)
        add_secret(*password);
    for (const auto& [k, v] : options)
        if (is_secret_key(k))
            add_secret(v);
    for (const auto& [k, v] : keywords)
        if (k == "host")
            target.host_count = std::max<std::size_t>(
                1, static_cast<std::size_t>(std::count(v.begin(), v.end(), ',')) + 1);
    target.keywords = std::move(keywords);
    return target;
}

std::string host_to_resolve(const std::vector<std::pair<std::string, std::string>>& keywords)
{
    std::string host;
    for (const auto& [k, v] : keywords) {
        if (k == "hostaddr")
            return "";
        if (k == "host")
            host = v;
    }
    if (host.empty() || host.front() == '/' || host.front() == '@' ||
        host.find(',') != std::string::npos)
        return "";
    boost::system::error_code ec;
    boost::asio::ip::make_address(host, ec);
    return ec ? host : "";
}

std::vector<std::pair<std::string, std::string>>
with_addresses(std::vector<std::pair<std::string, std::string>> keywords,
               const std::vector<std::string>& addresses)
{
    const auto repeated = [&addresses](const std::string& value) {
        std::string out;
        for (std::size_t i = 0; i < addresses.size(); ++i)
            out += (i ? "," : "") + value;
        return out;
    };
    std::string joined;
    for (std::size_t i = 0; i < addresses.size(); ++i)
        joined += (i ? "," : "") + addresses[i];
    for (auto& [k, v] : keywords)
        if (k == "host" || (k == "port" && v.find(',') == std::string::npos))
            v = repeated(v);
    keywords.emplace_back("hostaddr", joined);
    return keywords;
}

std::string scrub_secrets(std::string text, const std::vector<std::string>& secrets)
{
    for (const std::string& secret : secrets) {
        if (secret.size() < 4)
            continue;
        for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3))
            text.replace(at, secret.size(), "***");
    }
    return text;
}

} // namespace statestore::pg
