#include "cloud/azure/azure_shared_key.hpp"

#include "cloud/azure/azure_connection_string.hpp"
#include "statestore/error.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <map>

namespace statestore::azure {
namespace {

std::string lower(std::string_view text)
{
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

// Primary weight of a character in the en-US collation the service uses. 0 means "ignored at
// this level" (hyphen, apostrophe, and characters that cannot occur in a header name). Only the
// relative order matters: punctuation < digits < letters, letters case-insensitive, and the
// punctuation in the order the collation gives it.
unsigned primary_weight(unsigned char c) noexcept
{
    if (c >= 'a' && c <= 'z')
        return 0x300 + (c - 'a');
    if (c >= 'A' && c <= 'Z')
        return 0x300 + (c - 'A');
    if (c >= '0' && c <= '9')
        return 0x200 + (c - '0');
    // The punctuation allowed in an HTTP token, in collation order.
    static constexpr std::string_view punctuation = "!#$%&*.^_`|~+";
    if (const auto at = punctuation.find(static_cast<char>(c)); at != std::string_view::npos)
        return 0x100 + static_cast<unsigned>(at);
    return 0;
}

// Weight at the last level, where only the ignorable punctuation counts.
unsigned tie_weight(unsigned char c) noexcept
{
    if (c == '\'')
        return 1;
    if (c == '-')
        return 2;
    return 0;
}

std::string_view header_or_empty(const http_headers& headers, std::string_view name)
{
    const auto v = find_header(headers, name);
    return v ? *v : std::string_view{};
}

} // namespace

bool header_name_less(std::string_view a, std::string_view b)
{
    // Level 1: the sequences of primary weights, ignorables skipped; a proper prefix first.
    std::size_t i = 0;
    std::size_t j = 0;
    for (;;) {
        while (i < a.size() && primary_weight(static_cast<unsigned char>(a[i])) == 0)
            ++i;
        while (j < b.size() && primary_weight(static_cast<unsigned char>(b[j])) == 0)
            ++j;
        if (i == a.size() || j == b.size()) {
            if (i != a.size() || j != b.size())
                return i == a.size(); // a ended first: a is the prefix
            break;
        }
        const unsigned wa = primary_weight(static_cast<unsigned char>(a[i]));
        const unsigned wb = primary_weight(static_cast<unsigned char>(b[j]));
        if (wa != wb)
            return wa < wb;
        ++i;
        ++j;
    }
    // (The case level is skipped: callers compare lower-cased names.)
    // Last level: walk both names in step; where one has a hyphen or apostrophe and the other
    // an ordinary character, the one whose ignorable comes later sorts first.
    i = 0;
    j = 0;
    for (;;) {
        if (i != j)
            return i > j;
        const bool end_a = i >= a.size();
        const bool end_b = j >= b.size();
        if (end_a && end_b)
            return false;
        const unsigned wa = end_a ? 0 : tie_weight(static_cast<unsigned char>(a[i]));
        const unsigned wb = end_b ? 0 : tie_weight(static_cast<unsigned char>(b[j]));
        if (wa == wb) {
            ++i;
            ++j;
        } else if (wa == 0) {
            ++i;
        } else if (wb == 0) {
            ++j;
        } else {
            return wa < wb;
        }
    }
}

std::string canonicalized_headers(const http_headers& headers)
{
    // Lower-cased name -> values in their original order.
    std::vector<std::pair<std::string, std::string>> ms;
    for (const auto& h : headers) {
        std::string name = lower(h.name);
        if (name.rfind("x-ms-", 0) != 0)
            continue;
        std::string_view value = h.value;
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
            value.remove_prefix(1);
        const auto same = std::find_if(ms.begin(), ms.end(),
                                       [&](const auto& p) { return p.first == name; });
        if (same != ms.end())
            same->second += "," + std::string(value);
        else
            ms.emplace_back(std::move(name), std::string(value));
    }
    std::stable_sort(ms.begin(), ms.end(),
                     [](const auto& x, const auto& y) { return header_name_less(x.first, y.first); });
    std::string out;
    for (const auto& [name, value] : ms)
        out += name + ":" + value + "\n";
    return out;
}

std::string canonicalized_resource(std::string_view account, std::string_view path,
                                   const std::vector<query_param>& query)
{
    std::string out = "/" + std::string(account) + (path.empty() ? std::string("/") : std::string(path));
    std::map<std::string, std::vector<std::string>> params; // bytewise order of lower-case names
    for (const auto& q : query)
        params[lower(q.name)].push_back(q.value);
    for (auto& [name, values] : params) {
        std::sort(values.begin(), values.end());
        out += "\n" + name + ":";
        for (std::size_t k = 0; k < values.size(); ++k)
            out += (k ? "," : "") + values[k];
    }
    return out;
}

std::string string_to_sign(std::string_view account, const shared_key_request& request)
{
    const auto& h = request.headers;
    std::string out = request.method + "\n";
    out += std::string(header_or_empty(h, "Content-Encoding")) + "\n";
    out += std::string(header_or_empty(h, "Content-Language")) + "\n";
    // Since version 2015-02-21 a zero length is signed as the empty string.
    out += (request.content_length ? std::to_string(request.content_length) : std::string()) + "\n";
    out += std::string(header_or_empty(h, "Content-MD5")) + "\n";
    out += std::string(header_or_empty(h, "Content-Type")) + "\n";
    out += std::string(header_or_empty(h, "Date")) + "\n";
    out += std::string(header_or_empty(h, "If-Modified-Since")) + "\n";
    out += std::string(header_or_empty(h, "If-Match")) + "\n";
    out += std::string(header_or_empty(h, "If-None-Match")) + "\n";
    out += std::string(header_or_empty(h, "If-Unmodified-Since")) + "\n";
    out += std::string(header_or_empty(h, "Range")) + "\n";
    out += canonicalized_headers(h);
    out += canonicalized_resource(account, request.path, request.query);
    return out;
}

std::string signature(const aws::secret& account_key, std::string_view string_to_sign)
{
    std::string key;
    if (!base64_decode(account_key.reveal(), key))
        throw_error(errc::invalid_setting, "the Azure account key is not valid base64");
    const auto mac = aws::hmac_sha256(
        std::span<const unsigned char>(reinterpret_cast<const unsigned char*>(key.data()), key.size()),
        string_to_sign);
    std::fill(key.begin(), key.end(), '\0');
    return base64_encode(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
}

std::string authorization(std::string_view account, std::string_view signature)
{
    return "SharedKey " + std::string(account) + ":" + std::string(signature);
}

std::string rfc1123_date(std::chrono::system_clock::time_point time)
{
    const std::time_t t = std::chrono::system_clock::to_time_t(time);
    std::tm tm{};
    gmtime_r(&t, &tm);
    static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char buf[40];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
                  months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

// SigV4's encoding is exactly what Azure wants too: unreserved characters kept, the rest %XX.
std::string encode_blob_path(std::string_view name) { return aws::uri_encode(name, false); }

std::string encode_query_value(std::string_view value) { return aws::uri_encode(value, true); }

} // namespace statestore::azure
