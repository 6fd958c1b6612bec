#pragma once
// Azure Storage SharedKey authorisation as pure functions: the string to sign (fixed order of
// standard headers, canonicalised x-ms-* headers, canonicalised resource) and its signature
// (base64 HMAC-SHA256 under the decoded account key). No clock and no I/O: the caller puts
// x-ms-date in the headers, so every stage can be checked byte for byte.

#include "cloud/s3/aws_sigv4.hpp" // aws::secret
#include "net/http.hpp"      // http_headers

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace statestore::azure {

/// The API version every request is sent with (x-ms-version). Azurite accepts it with or
/// without --skipApiVersionCheck; it has conditional headers, Put Blob and List Blobs as used.
inline constexpr std::string_view api_version = "2021-12-02";

/// A decoded query parameter.
struct query_param {
    std::string name;
    std::string value;
};

/// What SharedKey signs of a request.
struct shared_key_request {
    std::string method; ///< "GET", "PUT", ...
    /// The path exactly as sent, percent-encoded, starting with '/' (Azurite's includes the
    /// account: "/devstoreaccount1/container/blob").
    std::string path;
    std::vector<query_param> query; ///< decoded
    http_headers headers;           ///< every header that will be sent (x-ms-date included)
    std::size_t content_length = 0;
};

/// Whether header name `a` sorts before `b` in the storage service's order. The service sorts
/// with .NET's culture-aware (en-US) comparison, not bytewise: hyphens (and apostrophes) are
/// ignored at first and only break ties, by position. So "x-ms-meta-ab" comes before
/// "x-ms-meta-a-c", although '-' < 'b' in ASCII. Names are compared as given; callers lower-case
/// them first (the case level then never decides).
bool header_name_less(std::string_view a, std::string_view b);

/// "name:value\n" for every x-ms-* header: names lower-cased, sorted by header_name_less,
/// values with leading whitespace removed (as the service does), repeated names joined by ','.
std::string canonicalized_headers(const http_headers& headers);

/// "/<account><path>" then "\n<name>:<value>" per query parameter: names lower-cased and
/// sorted bytewise, values decoded, repeated names' values sorted and joined by ','.
std::string canonicalized_resource(std::string_view account, std::string_view path,
                                   const std::vector<query_param>& query);

/// The whole string to sign (version 2009-09-19 and later):
/// VERB, Content-Encoding, Content-Language, Content-Length (empty when 0), Content-MD5,
/// Content-Type, Date, If-Modified-Since, If-Match, If-None-Match, If-Unmodified-Since, Range,
/// one per line, then the canonicalized headers and the canonicalized resource.
std::string string_to_sign(std::string_view account, const shared_key_request& request);

/// base64(HMAC-SHA256(base64-decode(account_key), string_to_sign)). Throws invalid_setting
/// (without the key) when the key is not base64.
std::string signature(const aws::secret& account_key, std::string_view string_to_sign);

/// "SharedKey <account>:<signature>".
std::string authorization(std::string_view account, std::string_view signature);

/// RFC 1123 date in GMT, as x-ms-date wants it: "Sun, 06 Nov 1994 08:49:37 GMT".
std::string rfc1123_date(std::chrono::system_clock::time_point time);

/// Percent-encodes a blob name for the request path: everything except unreserved characters
/// and '/' (Azure blob names keep their slashes in the URL).
std::string encode_blob_path(std::string_view name);

/// Percent-encodes a query value (everything except unreserved characters).
std::string encode_query_value(std::string_view value);

} // namespace statestore::azure
