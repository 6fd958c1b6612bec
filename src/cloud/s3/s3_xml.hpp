#pragma once
// The S3 XML documents the S3 store reads: a ListObjectsV2 result and an error body.
// Parsed with a real XML parser (entities, CDATA, namespaces and formatting all handled),
// never with string searches. Pure functions from bytes to plain structs, no I/O.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace statestore {

/// One <Contents> entry of a listing.
struct s3_object {
    std::string key;      ///< percent-decoded when the response used EncodingType=url
    std::string etag;     ///< without the surrounding quotes (what RGW's If-Match compares)
    std::string raw_etag; ///< exactly as sent, normally quoted: "\"70ee...\""
    std::uint64_t size = 0;
    std::string last_modified; ///< as sent (ISO 8601), for diagnostics only
};

/// A ListObjectsV2 result (<ListBucketResult>). Keys, prefixes, the delimiter and
/// StartAfter are already percent-decoded when the response says EncodingType=url;
/// continuation tokens are opaque and never decoded.
struct s3_list_result {
    std::string bucket; ///< <Name>
    std::string prefix;
    std::string delimiter;
    std::string start_after;
    std::string continuation_token;      ///< the request's token, echoed back
    std::string next_continuation_token; ///< non-empty whenever is_truncated
    std::optional<std::uint64_t> key_count;
    std::optional<std::uint64_t> max_keys;
    bool is_truncated = false;
    bool url_encoded = false; ///< the response said EncodingType=url (and was decoded)
    std::vector<s3_object> contents;
    std::vector<std::string> common_prefixes; ///< <CommonPrefixes><Prefix>, in order
};

/// Parses a ListObjectsV2 response body. Unknown elements are ignored; element names are
/// matched without a namespace prefix, so both the usual default namespace and a
/// prefixed one work.
///
/// Throws statestore::error(errc::backend_unavailable) when the body cannot be used: not
/// well-formed XML (with the parser's reason and byte offset, e.g. for a body cut short),
/// a root other than ListBucketResult (an <Error> root names its Code), a <Contents>
/// without <Key>, a Size, KeyCount or MaxKeys that is not a non-negative integer, an
/// IsTruncated other than true/false, an unknown EncodingType, bad percent-encoding, or a
/// truncated listing without NextContinuationToken (the caller could not continue, and
/// stopping early would silently drop state ids). backend_unavailable rather than a new
/// code because, to the caller, a service whose answers cannot be read is not working;
/// the message says exactly what was wrong.
s3_list_result parse_list_objects_v2(std::string_view body);

/// An S3 error body (<Error>); RGW and Azure use the same shape. Absent elements are
/// empty strings: RGW, for one, sends no or an empty <Message>.
struct s3_error {
    std::string code;        ///< the provider code used for classification
    std::string message;     ///< human text, for diagnostics only; may be empty
    std::string request_id;  ///< <RequestId>
    std::string host_id;     ///< <HostId>
    std::string resource;    ///< <Resource>
    std::string bucket_name; ///< <BucketName> (RGW, and some AWS errors)
    std::string key;         ///< <Key> (AWS NoSuchKey)
};

/// Parses an error body. Returns nullopt, never throws a parse error, when the body is
/// empty (HEAD answers have none), not XML (an HTML page from a proxy) or not an <Error>
/// document: the caller is already reporting a failed request and should report it by
/// its HTTP status then, instead of replacing it with a parse error.
std::optional<s3_error> parse_s3_error(std::string_view body);

/// An ETag without one pair of surrounding double quotes ("\"abc\"" -> "abc"); a value
/// that is not quoted is returned as is. Ceph RGW compares If-Match against the unquoted
/// form, so this is what the S3 store sends there.
std::string unquote_etag(std::string_view etag);

} // namespace statestore
