#include "cloud/azure/azure_connection_string.hpp"

#include "statestore/error.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>

namespace statestore::azure {
namespace {

[[noreturn]] void bad(const std::string& detail)
{
    throw_error(errc::invalid_setting, "invalid Azure storage connection string: " + detail);
}

std::string lower(std::string_view text)
{
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

int base64_value(char c) noexcept
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

// The canonical spelling of every key we accept, keyed by its lower-case form.
const std::map<std::string, std::string_view>& known_keys()
{
    static const std::map<std::string, std::string_view> keys = {
        {"defaultendpointsprotocol", "DefaultEndpointsProtocol"},
        {"accountname", "AccountName"},
        {"accountkey", "AccountKey"},
        {"blobendpoint", "BlobEndpoint"},
        {"endpointsuffix", "EndpointSuffix"},
        {"sharedaccesssignature", "SharedAccessSignature"},
        {"usedevelopmentstorage", "UseDevelopmentStorage"},
        // Other services' endpoints appear in portal-copied strings; they do not concern blobs.
        {"queueendpoint", "QueueEndpoint"},
        {"tableendpoint", "TableEndpoint"},
        {"fileendpoint", "FileEndpoint"},
    };
    return keys;
}

} // namespace

bool base64_decode(std::string_view text, std::string& out)
{
    out.clear();
    if (text.size() % 4 != 0)
        return false;
    std::size_t padding = 0;
    if (!text.empty() && text.back() == '=')
        padding = (text.size() >= 2 && text[text.size() - 2] == '=') ? 2 : 1;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        std::array<int, 4> v{};
        const bool last = i + 4 == text.size();
        for (std::size_t k = 0; k < 4; ++k) {
            const char c = text[i + k];
            if (c == '=' && last && k >= 4 - padding) {
                v[k] = 0;
                continue;
            }
            v[k] = base64_value(c);
            if (v[k] < 0)
                return false;
        }
        const unsigned n = (static_cast<unsigned>(v[0]) << 18) | (static_cast<unsigned>(v[1]) << 12) |
                           (static_cast<unsigned>(v[2]) << 6) | static_cast<unsigned>(v[3]);
        out.push_back(static_cast<char>((n >> 16) & 0xFF));
        if (!(last && padding == 2))
            out.push_back(static_cast<char>((n >> 8) & 0xFF));
        if (!(last && padding >= 1))
            out.push_back(static_cast<char>(n & 0xFF));
        // Non-canonical encodings (bits set in the padding) are not what any SDK produces.
        if (last && padding == 2 && (n & 0xFFFF) != 0)
            return false;
        if (last && padding == 1 && (n & 0xFF) != 0)
            return false;
    }
    return true;
}

std::string base64_encode(std::string_view bytes)
{
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const unsigned n = (static_cast<unsigned char>(bytes[i]) << 16) |
                           (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                           static_cast<unsigned char>(bytes[i + 2]);
        out += alphabet[(n >> 18) & 63];
        out += alphabet[(n >> 12) & 63];
        out += alphabet[(n >> 6) & 63];
        out += alphabet[n & 63];
    }
    const std::size_t rest = bytes.size() - i;
    if (rest > 0) {
        unsigned n = static_cast<unsigned char>(bytes[i]) << 16;
        if (rest == 2)
            n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
        out += alphabet[(n >> 18) & 63];
        out += alphabet[(n >> 12) & 63];
        out += rest == 2 ? alphabet[(n >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

blob_service_url parse_blob_service_url(std::string_view url, std::string_view what)
{
    const std::string name(what);
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos)
        throw_error(errc::invalid_setting,
                    name + " must be an http:// or https:// URL (no scheme found)");
    blob_service_url out;
    out.scheme = lower(url.substr(0, scheme_end));
    if (out.scheme != "http" && out.scheme != "https")
        throw_error(errc::invalid_setting, name + " must be an http:// or https:// URL");
    std::string_view rest = url.substr(scheme_end + 3);
    if (rest.find('#') != std::string_view::npos)
        throw_error(errc::invalid_setting, name + " must not contain a fragment ('#')");
    if (const auto q = rest.find('?'); q != std::string_view::npos) {
        out.query = std::string(rest.substr(q + 1));
        rest = rest.substr(0, q);
    }
    const auto slash = rest.find('/');
    out.authority = std::string(rest.substr(0, slash));
    if (out.authority.empty())
        throw_error(errc::invalid_setting, name + " has no host");
    if (out.authority.find('@') != std::string::npos)
        throw_error(errc::invalid_setting, name + " must not contain user information ('@')");
    std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    while (!path.empty() && path.back() == '/')
        path.remove_suffix(1);
    // Check the segments: they become part of every signed resource path.
    std::string_view segs = path;
    while (!segs.empty()) {
        segs.remove_prefix(1); // the '/'
        const auto next = segs.find('/');
        const std::string_view seg = segs.substr(0, next);
        if (seg.empty() || seg == "." || seg == "..")
            throw_error(errc::invalid_setting,
                        name + " has an empty, '.' or '..' path segment");
        segs = next == std::string_view::npos ? std::string_view{} : segs.substr(next);
    }
    out.base_path = std::string(path);
    return out;
}

std::string account_from_url(const blob_service_url& url)
{
    std::string host = url.authority;
    if (!host.empty() && host.front() == '[')
        host.clear(); // an IPv6 literal: no account in the host
    else if (const auto colon = host.find(':'); colon != std::string::npos)
        host.resize(colon);
    const bool ip = !host.empty() && host.find_first_not_of("0123456789.") == std::string::npos;
    if (!host.empty() && !ip && host != "localhost") {
        const auto dot = host.find('.');
        if (dot != std::string::npos && lower(host.substr(dot + 1)).rfind("blob.", 0) == 0)
            return host.substr(0, dot);
    }
    if (url.base_path.size() > 1) {
        const auto end = url.base_path.find('/', 1);
        return url.base_path.substr(1, end == std::string::npos ? std::string::npos : end - 1);
    }
    return {};
}

connection_string parse_connection_string(std::string_view text)
{
    if (text.find_first_not_of(" \t\r\n") == std::string_view::npos)
        bad("it is empty");
    std::map<std::string_view, std::string> values; // canonical key -> value
    std::size_t index = 0;
    while (!text.empty()) {
        const auto semi = text.find(';');
        std::string_view segment = text.substr(0, semi);
        text = semi == std::string_view::npos ? std::string_view{} : text.substr(semi + 1);
        ++index;
        if (segment.find_first_not_of(" \t\r\n") == std::string_view::npos)
            continue; // "a=b;;c=d" and a trailing ';' are common and harmless
        const auto eq = segment.find('=');
        if (eq == std::string_view::npos)
            bad("segment " + std::to_string(index) + " has no '=' (expected Key=Value)");
        const std::string_view key = segment.substr(0, eq);
        const std::string_view value = segment.substr(eq + 1);
        if (key.empty())
            bad("segment " + std::to_string(index) + " has an empty key");
        const auto known = known_keys().find(lower(key));
        if (known == known_keys().end()) {
            // A key name is not secret, but a garbled string may have a key fragment where a
            // name should be; quote it only when it looks like a name.
            const bool printable = key.size() <= 40 &&
                std::all_of(key.begin(), key.end(), [](unsigned char c) { return std::isalpha(c); });
            bad(printable ? "unknown key '" + std::string(key) + "'"
                          : "segment " + std::to_string(index) + " has an unknown key");
        }
        const std::string_view canonical = known->second;
        if (value.empty())
            bad(std::string(canonical) + " has an empty value");
        if (!values.emplace(canonical, std::string(value)).second)
            bad(std::string(canonical) + " is given twice");
    }

    connection_string out;
    const auto get = [&](std::string_view key) -> const std::string* {
        const auto it = values.find(key);
        return it == values.end() ? nullptr : &it->second;
    };

    if (const auto* dev = get("UseDevelopmentStorage")) {
        if (lower(*dev) != "true")
            bad("UseDevelopmentStorage must be 'true' when given");
        if (values.size() != 1)
            bad("UseDevelopmentStorage=true cannot be combined with other keys");
        out.development_storage = true;
        out.account_name = std::string(development_account);
        out.account_key = aws::secret(std::string(development_key));
        out.blob_endpoint = parse_blob_service_url(development_blob_endpoint, "BlobEndpoint");
        return out;
    }

    std::string protocol = "https";
    if (const auto* p = get("DefaultEndpointsProtocol")) {
        protocol = lower(*p);
        if (protocol != "http" && protocol != "https")
            bad("DefaultEndpointsProtocol must be 'http' or 'https'");
    }
    if (const auto* a = get("AccountName")) {
        // Storage account names are lower-case letters and digits; anything else is a paste
        // error (and would end up in every signed resource path).
        if (!std::all_of(a->begin(), a->end(), [](unsigned char c) {
                return std::islower(c) || std::isdigit(c);
            }))
            // Not quoted: a missing ';' can glue the key onto the name.
            bad("AccountName may contain only lower-case letters and digits");
        out.account_name = *a;
    }
    if (const auto* k = get("AccountKey")) {
        std::string decoded;
        if (!base64_decode(*k, decoded) || decoded.empty())
            bad("AccountKey is not valid base64");
        if (out.account_name.empty())
            bad("AccountKey is given without AccountName");
        out.account_key = aws::secret(*k);
    }
    if (const auto* s = get("SharedAccessSignature")) {
        std::string_view sas = *s;
        if (!sas.empty() && sas.front() == '?')
            sas.remove_prefix(1);
        if (sas.empty())
            bad("SharedAccessSignature has an empty value");
        out.sas = aws::secret(std::string(sas));
    }
    if (out.account_key.empty() && out.sas.empty())
        bad("it has neither AccountKey nor SharedAccessSignature");
    if (const auto* e = get("BlobEndpoint")) {
        try {
            out.blob_endpoint = parse_blob_service_url(*e, "BlobEndpoint");
        } catch (const error& ex) {
            bad(ex.what());
        }
        if (!out.blob_endpoint.query.empty())
            bad("BlobEndpoint must not contain a query; put a SAS in SharedAccessSignature");
        if (out.account_name.empty())
            out.account_name = account_from_url(out.blob_endpoint);
    } else {
        if (out.account_name.empty())
            bad("it has neither BlobEndpoint nor AccountName, so the blob endpoint is unknown");
        std::string suffix = "core.windows.net";
        if (const auto* sfx = get("EndpointSuffix"))
            suffix = *sfx;
        if (suffix.find_first_of("/?#@:") != std::string::npos)
            bad("EndpointSuffix must be a DNS suffix such as core.windows.net");
        out.blob_endpoint = parse_blob_service_url(
            protocol + "://" + out.account_name + ".blob." + suffix, "BlobEndpoint");
    }
    return out;
}

} // namespace statestore::azure
