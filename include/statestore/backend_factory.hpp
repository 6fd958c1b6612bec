#pragma once
// URI -> backend, as Meltano selects it: the literal "systemdb", else the lower-cased
// scheme (file, s3, azure, gs).

#include "statestore/blob_store.hpp"
#include "statestore/settings.hpp"
#include "statestore/state_backend.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace statestore {

/// The parts of a backend URI. For file: `path` is the directory, used verbatim as
/// Meltano does (no percent-decoding).
struct backend_uri {
    std::string scheme; ///< "systemdb", "file", "s3", "azure", "gs"
    std::string host;   ///< bucket / container (lower-cased, without userinfo or port)
    std::string path;   ///< file directory, or the object prefix with '/' trimmed
    std::string userinfo; ///< "key:secret" as written in the URI (s3 only), not decoded
};

/// Throws invalid_uri or unsupported_backend with a message listing what is supported.
backend_uri parse_backend_uri(std::string_view uri);

/// A blob store and where in it the states live: what a blob backend URI (file, s3,
/// azure, gs) resolves to. Used by open_backend, and directly by tools and tests that need
/// the raw objects.
struct opened_blob_store {
    std::shared_ptr<blob_store> store;
    std::string prefix;           ///< "" for the bucket/container root (no slashes at either end)
    std::string uri_for_messages; ///< the URI without credentials
};

/// Opens the blob store of a file/s3/azure/gs URI in `s.uri`. Throws invalid_uri for
/// systemdb (it is not a blob store), unsupported_backend for unknown schemes,
/// invalid_setting for bad credentials or options.
opened_blob_store open_blob_store(boost::asio::any_io_executor executor, const settings& s);

/// Opens the backend selected by `s.uri`.
std::unique_ptr<state_backend> open_backend(boost::asio::any_io_executor executor,
                                            const settings& s);

} // namespace statestore
