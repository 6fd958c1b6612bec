// The plain parts of http.hpp: endpoint parsing, header lookup and redaction. No I/O.
#include "net/http.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace statestore {
namespace {

bool iequals(std::string_view a, std::string_view b) noexcept
{
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

[[noreturn]] void bad_endpoint(std::string_view url, std::string_view why)
{
    throw_error(errc::invalid_uri,
                "invalid endpoint URL '" + std::string(url) + "': " + std::string(why));
}

} // namespace

http_endpoint http_endpoint::parse(std::string_view url)
{
    http_endpoint ep;
    std::string_view rest;
    if (url.substr(0, 8) == "https://") {
        ep.tls = true;
        rest = url.substr(8);
    } else if (url.substr(0, 7) == "http://") {
        rest = url.substr(7);
    } else {
        bad_endpoint(url, "expected http:// or https://");
    }
    if (!rest.empty() && rest.back() == '/')
        rest.remove_suffix(1);
    if (rest.find_first_of("/?#@") != std::string_view::npos)
        bad_endpoint(url, "only a scheme, a host and a port are allowed");
    std::string_view port_text;
    if (!rest.empty() && rest.front() == '[') {
        auto close = rest.find(']');
        if (close == std::string_view::npos)
            bad_endpoint(url, "unterminated IPv6 literal");
        ep.host = std::string(rest.substr(1, close - 1));
        auto after = rest.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':')
                bad_endpoint(url, "unexpected text after the IPv6 literal");
            port_text = after.substr(1);
            if (port_text.empty())
                bad_endpoint(url, "empty port");
        }
    } else {
        auto colon = rest.find(':');
        ep.host = std::string(rest.substr(0, colon));
        if (colon != std::string_view::npos) {
            port_text = rest.substr(colon + 1);
            if (port_text.empty())
                bad_endpoint(url, "empty port");
        }
    }
    if (ep.host.empty())
        bad_endpoint(url, "no host");
    ep.port = ep.tls ? 443 : 80;
    if (!port_text.empty()) {
        unsigned value = 0;
        auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
        if (ec != std::errc() || end != port_text.data() + port_text.size() || value == 0 ||
            value > 65535)
            bad_endpoint(url, "bad port");
        ep.port = static_cast<std::uint16_t>(value);
    }
    return ep;
}

std::string http_endpoint::authority() const
{
    std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    if (port != (tls ? 443 : 80))
        out += ":" + std::to_string(port);
    return out;
}

std::string http_endpoint::to_string() const
{
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return (tls ? "https://" : "http://") + h + ":" + std::to_string(port);
}

std::optional<std::string_view> find_header(const http_headers& headers, std::string_view name)
{
    for (const auto& h : headers)
        if (iequals(h.name, name))
            return std::string_view(h.value);
    return std::nullopt;
}

bool is_sensitive_header(std::string_view name) noexcept
{
    static constexpr std::string_view names[] = {
        "authorization",          "proxy-authorization",
        "x-amz-security-token",   "cookie",
        "set-cookie",             "x-ms-copy-source-authorization",
        "x-goog-iam-authorization-token", "x-amz-server-side-encryption-customer-key",
    };
    return std::any_of(std::begin(names), std::end(names),
                       [name](std::string_view n) { return iequals(n, name); });
}

std::string redacted(const http_headers& headers)
{
    std::string out;
    for (const auto& h : headers) {
        out += h.name;
        out += ": ";
        out += is_sensitive_header(h.name) ? std::string_view("***") : std::string_view(h.value);
        out += '\n';
    }
    return out;
}

} // namespace statestore
