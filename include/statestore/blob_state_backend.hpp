#pragma once
// Meltano's layout and lock protocol over any blob_store, made atomic:
//
//   <prefix>/<id>/state.json   the document (json.dumps bytes)
//   <prefix>/<id>/lock         Meltano's timestamp text, e.g. 1732535622.12
//
// acquire: create the lock with if_absent; if it exists and is stale
// (timestamp + timeout < now) take it over with if_version(stale version), so exactly one
// contender wins; otherwise wait lock_retry_seconds on a steady_timer and try again, up to
// an optional maximum wait (lock_timeout error naming the id).
// release: remove with if_version(ours); never deletes a lock someone else took over.
// update: read, mutate, write with if_version/if_absent of what was read, retried on
// conflict, so no update is lost even if our lock expired under us.
// Contenders in one process queue locally, so only one of them polls the store.

#include "statestore/blob_store.hpp"
#include "statestore/state_backend.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace statestore {

struct lock_options {
    double timeout_seconds = 10.0; ///< state_backend.lock_timeout_seconds
    double retry_seconds = 1.0;    ///< state_backend.lock_retry_seconds (honoured)
    std::optional<double> max_wait_seconds; ///< nullopt: wait as long as it takes
    /// Wall clock used for lock timestamps and expiry; injectable for tests.
    std::function<std::chrono::system_clock::time_point()> clock;
    /// Receives warnings (lock taken over, lock lost). Defaults to stderr.
    std::function<void(const std::string&)> warn;
};

/// A lock this process holds. Release it with blob_state_backend::release().
struct held_lock {
    std::string id;
    std::string key;
    std::string version;
    bool taken_over_stale = false; ///< we replaced an expired lock
};

class blob_state_backend final : public state_backend {
public:
    blob_state_backend(boost::asio::any_io_executor executor, std::shared_ptr<blob_store> store,
                       std::string prefix, std::string uri_for_messages, lock_options options);
    ~blob_state_backend() override;

    std::string describe() const override;
    std::uint64_t requests_sent() const noexcept override;
    blob_store& store() noexcept { return *store_; }
    const lock_options& options() const noexcept { return options_; }

    /// Key of the document / lock for `id` under the prefix ("" prefix: bucket root).
    std::string state_key(const std::string& id) const;
    std::string lock_key(const std::string& id) const;

    boost::asio::awaitable<std::optional<state_document>> get(std::string id) override;
    boost::asio::awaitable<void> update(std::string id, state_mutator mutate) override;
    /// Under the lock, a create-if-absent of mutate(nullopt) first; a read only if the
    /// document exists after all.
    boost::asio::awaitable<void> update_expecting_absent(std::string id,
                                                         state_mutator mutate) override;
    boost::asio::awaitable<bool> erase(std::string id) override;
    boost::asio::awaitable<std::vector<std::string>> list(std::string pattern) override;
    /// Lists with the delimiter "/" (ids from common prefixes; candidates, see
    /// state_id_page), falling back to the keys when the store ignores the delimiter.
    boost::asio::awaitable<state_id_page> list_page(std::string pattern,
                                                    std::string token) override;
    /// One atomic write of the document, no lock (offline migrations only).
    boost::asio::awaitable<void> put_unlocked(std::string id, state_document document) override;

    /// Waits for and takes the lock of `id`. Throws lock_timeout after max_wait_seconds,
    /// invalid_lock if the lock object holds something that is not a timestamp.
    boost::asio::awaitable<held_lock> acquire(std::string id);
    /// One attempt, no waiting: the lock, or nullopt if someone else holds a live lock.
    boost::asio::awaitable<std::optional<held_lock>> try_acquire(std::string id);
    /// Removes our lock if it is still ours. Returns false (and warns) if it was taken
    /// over by someone else meanwhile; their lock is left alone.
    boost::asio::awaitable<bool> release(held_lock lock);

private:
    struct local_queue;
    boost::asio::awaitable<void>
    enter_local(const std::string& id,
                std::optional<std::chrono::steady_clock::time_point> deadline);
    void leave_local(const std::string& id);
    struct blank_lock_watch {
        std::string version;
        std::chrono::steady_clock::time_point first_seen;
    };
    boost::asio::awaitable<std::optional<held_lock>>
    attempt(const std::string& id, std::optional<blank_lock_watch>& blank_watch);
    /// Runs `body` holding the lock of `id`; releases it however `body` ends.
    boost::asio::awaitable<void> under_lock(const std::string& id,
                                            std::function<boost::asio::awaitable<void>()> body);
    boost::asio::awaitable<void> update_locked(std::string id, state_mutator mutate,
                                               bool expect_absent);
    std::optional<state_document> parse_stored(const std::string& id,
                                               const std::string& bytes) const;
    std::chrono::system_clock::time_point now() const;
    void warn(const std::string& message) const;

    boost::asio::any_io_executor executor_;
    std::shared_ptr<blob_store> store_;
    std::string prefix_;
    std::string uri_;
    lock_options options_;
    std::map<std::string, std::shared_ptr<local_queue>> local_;
};

} // namespace statestore
