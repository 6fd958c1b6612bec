#pragma once
// The four primitives every storage service offers; the lock algorithm, the Meltano layout
// and the state semantics are written once above them (blob_state_backend).

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace statestore {

/// An object's bytes and the opaque version token that identifies exactly this content
/// (an ETag, a GCS generation, or a file identity).
struct blob {
    std::string bytes;
    std::string version;
};

/// The condition a write or remove is made under. A class with constructors rather than
/// an aggregate, so it is safe as a temporary in co_await expressions under g++ 12.
class precondition {
public:
    enum class kind { none, if_absent, if_version };

    static precondition none() { return precondition(kind::none, {}); }
    static precondition if_absent() { return precondition(kind::if_absent, {}); }
    static precondition if_version(std::string version)
    {
        return precondition(kind::if_version, std::move(version));
    }

    kind type() const noexcept { return kind_; }
    const std::string& version() const noexcept { return version_; }

private:
    precondition(kind k, std::string v) : kind_(k), version_(std::move(v)) {}
    kind kind_;
    std::string version_;
};

enum class remove_result { removed, not_found, precondition_failed };

/// Whether a change must survive a power failure. Lock objects only exclude live
/// processes, so a store may skip flushing them (on a local disk that saves two fsyncs per
/// locked write); state documents are always durable. Stores that are durable anyway
/// (object stores) ignore it.
enum class durability { durable, ephemeral };

/// One page of a listing. With a delimiter, keys that contain it after the prefix are
/// rolled up into common prefixes (S3 semantics). An empty next_token means the end.
struct list_page {
    std::vector<std::string> keys;
    std::vector<std::string> common_prefixes;
    std::string next_token;
};

class blob_store {
public:
    virtual ~blob_store() = default;

    /// Where this store points, for messages (never contains a secret).
    virtual std::string describe() const = 0;

    /// The object, or nullopt if it does not exist.
    virtual boost::asio::awaitable<std::optional<blob>> read(std::string key) = 0;

    /// Writes the whole object atomically. Returns the new version, or nullopt when the
    /// precondition did not hold (nothing was changed then).
    virtual boost::asio::awaitable<std::optional<std::string>>
    write(std::string key, std::string bytes, precondition pre, durability mode) = 0;

    virtual boost::asio::awaitable<remove_result> remove(std::string key, precondition pre,
                                                         durability mode) = 0;

    /// Durable write / remove.
    boost::asio::awaitable<std::optional<std::string>> write(std::string key, std::string bytes,
                                                             precondition pre)
    {
        return write(std::move(key), std::move(bytes), std::move(pre), durability::durable);
    }
    boost::asio::awaitable<remove_result> remove(std::string key, precondition pre)
    {
        return remove(std::move(key), std::move(pre), durability::durable);
    }

    virtual boost::asio::awaitable<list_page>
    list(std::string prefix, std::string delimiter, std::string page_token) = 0;

    /// Requests sent to the storage so far: HTTP requests (every attempt) for the cloud
    /// stores, primitive calls (read, write, remove, list) for the file store. For figures
    /// such as a migration's request rate; not synchronised (read it on the store's executor).
    virtual std::uint64_t requests_sent() const noexcept { return 0; }
};

} // namespace statestore
