#pragma once
// URI -> backend, as Meltano selects it: the literal "systemdb", else the lower-cased
// scheme (file, s3, azure, gs).

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
    std::string host;   ///< bucket / container
    std::string path;   ///< file directory, or the object prefix with '/' trimmed
};

/// Throws invalid_uri or unsupported_backend with a message listing what is supported.
backend_uri parse_backend_uri(std::string_view uri);

/// Opens the backend selected by `s.uri`.
std::unique_ptr<state_backend> open_backend(boost::asio::any_io_executor executor,
                                            const settings& s);

} // namespace statestore
