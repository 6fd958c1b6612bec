#pragma once
// Where state documents live. Two implementations: blob_state_backend (Meltano's
// <prefix>/<id>/state.json layout over any blob_store, with locks) and systemdb_backend
// (Meltano's SQLite `state` table).

#include "statestore/state_document.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace statestore {

/// Computes the next document from the current one (nullopt = absent). Returning nullopt
/// writes nothing. Must be a pure function of its argument: it may run on another thread
/// and more than once (compare-and-swap retries).
using state_mutator =
    std::function<std::optional<state_document>(const std::optional<state_document>& current)>;

using state_entry = std::pair<std::string, state_document>;

/// One page of state ids (state_backend::list_page).
struct state_id_page {
    std::vector<std::string> ids; ///< matching the pattern, ascending
    std::string next_token;       ///< pass to the next call; "" after the last page
    /// The listing cannot tell a state from an id that only has a lock or other objects
    /// (a blob store listed with a delimiter): get() may find no document for some ids.
    bool candidates = false;
};

class state_backend {
public:
    virtual ~state_backend() = default;

    /// The backend URI without secrets, for messages.
    virtual std::string describe() const = 0;

    /// Unlocked read (Meltano does not lock reads). nullopt if absent. A stored document
    /// that does not parse throws invalid_document naming the id.
    virtual boost::asio::awaitable<std::optional<state_document>> get(std::string id) = 0;

    /// Locked read-modify-write. No concurrent update of the same id, from this or any
    /// other process, is lost.
    virtual boost::asio::awaitable<void> update(std::string id, state_mutator mutate) = 0;
    /// update() for a caller with reason to believe `id` is absent (it has just listed or
    /// read the store): the same guarantees, one read fewer when the guess is right. A
    /// backend with conditional writes offers the mutator nullopt first and creates the
    /// document only if it is still absent, without reading under the lock; if the id
    /// exists after all (or the mutator wrote nothing), it reads and calls the mutator
    /// again on what is there. The default is update().
    virtual boost::asio::awaitable<void> update_expecting_absent(std::string id,
                                                                 state_mutator mutate);

    /// Locked delete. Returns false if there was nothing to delete.
    virtual boost::asio::awaitable<bool> erase(std::string id) = 0;

    /// Ids whose documents exist, matching `pattern` (fnmatch; "" means all), sorted.
    virtual boost::asio::awaitable<std::vector<std::string>> list(std::string pattern) = 0;

    /// The same ids as list(), a page at a time, for listings too large to hold at once
    /// (bulk migration streams them). Pages follow each other in ascending id order;
    /// `token` is "" for the first page, then the previous page's next_token. A page may
    /// be empty without being the last. The default returns list() as one page.
    virtual boost::asio::awaitable<state_id_page> list_page(std::string pattern,
                                                            std::string token);

    /// Overwrites every given id (Meltano's import/set_all). Each id is written under its
    /// lock; the default runs a few at a time, systemdb uses one transaction.
    virtual boost::asio::awaitable<std::size_t> import_all(std::vector<state_entry> entries);

    /// Deletes every state; returns how many were deleted.
    virtual boost::asio::awaitable<std::size_t> clear_all();

    /// Overwrites `id` with `document` without taking the state's lock (offline bulk
    /// migration, `migrate --no-lock`). The default goes through update(), i.e. it does lock;
    /// blob_state_backend overrides it with a plain atomic write. systemdb keeps the default:
    /// its one-transaction update is its lock and costs nothing extra.
    virtual boost::asio::awaitable<void> put_unlocked(std::string id, state_document document);

    /// Requests sent to the storage so far (blob_store::requests_sent; for systemdb, SQLite
    /// transactions: one per read, one per group of updates committed together). 0 when a
    /// backend does not count. Read it on the backend's executor.
    virtual std::uint64_t requests_sent() const noexcept { return 0; }
};

} // namespace statestore
