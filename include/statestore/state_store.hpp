#pragma once
// Meltano's StateService semantics as awaitables:
//
//   co_await store.set("dev:tap-a-to-target-b", payload);   // completed = payload
//   co_await store.merge("dev:tap-a-to-target-b", partial); // deep-merge into partial
//   json::value effective = co_await store.get("dev:tap-a-to-target-b");
//
// Writes go through the backend's locked read-modify-write.

#include "statestore/state_backend.hpp"

#include <boost/json/value.hpp>

#include <memory>
#include <string>
#include <vector>

namespace statestore {

class state_store {
public:
    explicit state_store(std::unique_ptr<state_backend> backend);

    state_backend& backend() noexcept { return *backend_; }

    /// The effective state (partial merged onto completed); {} if the id has no state.
    boost::asio::awaitable<boost::json::value> get(std::string id);
    /// The raw document, or nullopt.
    boost::asio::awaitable<std::optional<state_document>> get_document(std::string id);

    /// meltano state set: completed = payload, partial = {}. With `validate`, the payload
    /// must have a top-level "singer_state" (invalid_document otherwise). A payload of {}
    /// is not complete and merges as a no-op, as in Meltano.
    boost::asio::awaitable<void> set(std::string id, boost::json::value payload,
                                     bool validate = true);
    /// meltano state merge: payload deep-merged into the stored partial.
    boost::asio::awaitable<void> merge(std::string id, boost::json::value payload,
                                       bool validate = true);
    /// meltano state merge --from-state-id: src's effective state merged into dst.
    boost::asio::awaitable<void> merge_from(std::string source_id, std::string destination_id);
    /// meltano state copy: src's effective state becomes dst's completed state.
    boost::asio::awaitable<void> copy(std::string source_id, std::string destination_id);
    /// meltano state move: copy, then clear the source.
    boost::asio::awaitable<void> move(std::string source_id, std::string destination_id);
    /// meltano state clear: delete. Returns false if there was nothing.
    boost::asio::awaitable<bool> clear(std::string id);
    boost::asio::awaitable<std::size_t> clear_all();

    boost::asio::awaitable<std::vector<std::string>> list(std::string pattern = "");
    /// Raw documents of every matching id (meltano state export).
    boost::asio::awaitable<std::vector<state_entry>> export_all(std::string pattern = "");
    /// Overwrites each listed id (meltano state import).
    boost::asio::awaitable<std::size_t> import_all(std::vector<state_entry> entries);

private:
    std::unique_ptr<state_backend> backend_;
};

/// The check behind `validate`: payload is an object with a "singer_state" key.
void validate_singer_state(const boost::json::value& payload);

} // namespace statestore
