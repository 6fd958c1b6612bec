#pragma once
// The GCS JSON API's wire format as pure functions: request targets (object names
// percent-encoded with '/' as %2F) and the JSON answers (object resource, list page, error),
// parsed with Boost.JSON.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace statestore::gcs {

/// Percent-encodes everything but RFC 3986 unreserved characters, so '/' becomes %2F (the
/// JSON API takes an object name as one path segment or one query value).
std::string encode_component(std::string_view text);

/// "/upload/storage/v1/b/B/o?uploadType=media&name=N[&ifGenerationMatch=G]"
std::string upload_target(std::string_view bucket, std::string_view name,
                          std::optional<std::string_view> if_generation_match);
/// "/storage/v1/b/B/o/N?alt=media"
std::string download_target(std::string_view bucket, std::string_view name);
/// "/storage/v1/b/B/o/N[?ifGenerationMatch=G]"
std::string delete_target(std::string_view bucket, std::string_view name,
                          std::optional<std::string_view> if_generation_match);
/// "/storage/v1/b/B/o?prefix=P[&delimiter=D][&pageToken=T]"
std::string list_target(std::string_view bucket, std::string_view prefix,
                        std::string_view delimiter, std::string_view page_token);

/// The "generation" of an object resource (a decimal string in JSON; a number is accepted
/// too). Throws statestore::error(errc::backend_unavailable) when absent or malformed.
std::string parse_generation(std::string_view object_resource_json);

struct list_result {
    std::vector<std::string> names;    ///< items[].name
    std::vector<std::string> prefixes; ///< prefixes[] (with a delimiter)
    std::string next_page_token;       ///< "" at the end
};
/// An objects.list answer. Throws statestore::error(errc::backend_unavailable) when it is not
/// the expected JSON.
list_result parse_list(std::string_view json);

/// The first error.errors[].reason of an error answer ("notFound", "conditionNotMet",
/// "rateLimitExceeded", ...), "" when there is none or the body is not JSON. Used to
/// classify answers (retry.hpp's classify/to_errc), never shown as the sole explanation.
std::string error_reason(std::string_view body);
/// error.message of an error answer, shortened and made safe for a message; "" if none.
std::string error_message(std::string_view body);

} // namespace statestore::gcs
