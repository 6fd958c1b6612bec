#pragma once
// The Azure Blob XML documents the Azure store reads: a List Blobs result (EnumerationResults)
// and an error body (<Error><Code/><Message/></Error>). Parsed with pugixml, never with string
// searches. Pure functions, no I/O.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace statestore::azure {

struct list_blobs_result {
    std::vector<std::string> names;    ///< Blobs/Blob/Name, in order
    std::vector<std::string> prefixes; ///< Blobs/BlobPrefix/Name (with a delimiter)
    std::string next_marker;           ///< empty at the end
};

/// Parses a List Blobs response. Throws statestore::error(errc::backend_unavailable) when the
/// body is not well-formed XML, its root is not EnumerationResults, there is no <Blobs>, or a
/// Blob / BlobPrefix has no Name: stopping early would silently drop state ids.
list_blobs_result parse_list_blobs(std::string_view body);

struct error_body {
    std::string code;    ///< e.g. BlobNotFound, ContainerNotFound, AuthorizationFailure
    std::string message; ///< human text; may echo request details, so print with care
};

/// Parses an error body; nullopt (never an exception) for an empty body (HEAD), a body that
/// is not XML, or a root other than <Error>.
std::optional<error_body> parse_error(std::string_view body);

} // namespace statestore::azure
