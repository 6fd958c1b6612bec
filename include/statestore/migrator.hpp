#pragma once
// Bulk migration of states between two backends (systemdb, file, ... in any direction):
//
//   statestore::migrate_options options;
//   options.policy = statestore::if_exists::skip_identical;
//   statestore::migrate_report report = co_await statestore::migrate(from, to, options);
//
// Every matching source id is copied as its raw document (completed and partial, unmerged,
// bytes preserved), a bounded number of ids at a time on the caller's executor (no thread
// per id). The source is listed a page at a time (state_backend::list_page) while the ids
// already listed are copied, so memory stays bounded however many states there are.
// Whoever opens the backends should allow at least `concurrency` connections per endpoint
// (settings::http_max_connections), as the CLI does, or the workers queue for connections. Each write takes the destination's lock, as Meltano would, so it is safe beside
// running pipelines; lock = false writes without it, for offline migrations only.
// Failures are per id: the run always finishes and reports them. Re-running a migration
// skips ids whose destination already holds identical bytes without writing them, so an
// interrupted run is completed by running it again.

#include "statestore/state_backend.hpp"

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace statestore {

/// What to do with an id that already exists at the destination.
enum class if_exists {
    overwrite,      ///< replace it (Meltano's `state set --force`); identical bytes are not
                    ///< rewritten (counted as identical_skipped)
    skip,           ///< keep the destination's document, whatever it holds
    skip_identical, ///< keep it if its bytes equal the source's, else replace it
};

/// Counts while a migration runs. `skipped` includes the identical ones here.
struct migrate_progress {
    /// Matching source ids listed so far: the listing streams into the copy, so this is
    /// the final count only once total_known.
    std::size_t total = 0;
    bool total_known = false;
    std::size_t done = 0;  ///< ids finished, whatever the outcome
    std::size_t copied = 0;
    std::size_t skipped = 0;
    std::size_t failed = 0;
    std::chrono::steady_clock::duration elapsed{};
    double ids_per_second = 0;
};

/// Cancels a running migration: no new id is started, ids in flight finish (including
/// their lock waits). Safe to call from any thread or a signal handler's completion.
class migrate_cancel {
public:
    void request() noexcept { requested_.store(true, std::memory_order_relaxed); }
    bool requested() const noexcept { return requested_.load(std::memory_order_relaxed); }

private:
    std::atomic<bool> requested_{false};
};

struct migrate_options {
    std::string pattern;          ///< fnmatch over source ids; "" = all
    std::size_t concurrency = 16; ///< ids in flight at once (0 counts as 1)
    if_exists policy = if_exists::overwrite;
    bool verify = true;   ///< read every written id back and compare bytes
    bool lock = true;     ///< write under the destination's lock (off: offline use only)
    bool dry_run = false; ///< read both sides, plan, write nothing
    /// List the destination beside the copy. Once that listing is complete, an id it does
    /// not hold skips the unlocked look before its write and is created without a read
    /// under the lock (state_backend::update_expecting_absent): a fresh migration to a
    /// cloud store costs two requests per id fewer. The write still decides under the lock
    /// on what it finds, so an id created at the destination after the listing is treated
    /// by the policy as usual (without the lock, lock = false, it is overwritten: offline
    /// use only). A listing of more than 1,000,000 ids, or one that fails, is given up and
    /// every id is looked at.
    bool list_destination = true;
    /// Attempts per id for transient failures (backend unavailable, throttled, a state
    /// that kept changing). lock_timeout, corrupt documents and bad ids are never retried.
    int max_attempts = 3;
    /// Called on the migration's executor at most every progress_interval, and once at
    /// the end with the final counts.
    std::function<void(const migrate_progress&)> on_progress;
    std::chrono::milliseconds progress_interval{500};
    std::shared_ptr<migrate_cancel> cancel; ///< optional
};

struct migrate_failure {
    std::string id;
    std::string message;
};

enum class plan_action { copy, skip, overwrite };

/// "copy", "skip", "overwrite".
const char* to_string(plan_action action) noexcept;

struct planned {
    std::string id;
    plan_action action = plan_action::copy;
    bool identical = false; ///< skip because the destination already holds the same bytes
};

struct migrate_report {
    std::size_t total = 0;  ///< matching source ids
    std::size_t copied = 0; ///< written (new ids and overwrites)
    std::size_t overwritten = 0; ///< of `copied`, ids that existed at the destination
    std::size_t skipped = 0;     ///< existed, kept by policy skip
    std::size_t identical_skipped = 0; ///< destination already identical: not written
    std::size_t failed = 0;
    std::size_t verified = 0; ///< written and read back identical
    /// Cancelled before every id was started: total - (copied + skipped +
    /// identical_skipped + failed) listed ids were not looked at, and the listing itself
    /// may have stopped early (listing_complete false): total counts the ids listed.
    bool cancelled = false;
    bool listing_complete = false; ///< the whole source was listed
    bool dry_run = false; ///< counts then describe the plan; nothing was written
    std::chrono::steady_clock::duration elapsed{};
    /// Requests each side's storage received during the run (state_backend::requests_sent:
    /// HTTP requests for cloud stores), so that a run's request rate can be set against
    /// what the server sustains.
    std::uint64_t source_requests = 0;
    std::uint64_t destination_requests = 0;
    std::vector<migrate_failure> failures; ///< sorted by id
    std::vector<planned> plan;             ///< dry run only, in id order

    std::size_t done() const noexcept { return copied + skipped + identical_skipped + failed; }
    double ids_per_second() const noexcept;
};

/// Copies every source id matching options.pattern to `to`. Throws only if the source
/// cannot be listed (after the ids already listed have finished; a re-run resumes), or if
/// `from` and `to` are the same object; everything per id is in the report. Both backends must be driven from the awaiting coroutine's executor.
boost::asio::awaitable<migrate_report> migrate(state_backend& from, state_backend& to,
                                               migrate_options options);

} // namespace statestore
