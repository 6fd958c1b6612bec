#pragma once
// Meltano's system database on PostgreSQL: table `state` exactly as Meltano's migrations
// create it there (state_id VARCHAR(900) primary key, partial_state and completed_state
// VARCHAR holding json.dumps text, updated_at TIMESTAMP WITHOUT TIME ZONE: NULL on insert,
// the writer's local naive time on every update). An existing database is used as is; an
// empty one gets Meltano's complete schema at alembic head in one transaction
// (systemdb_common.hpp, plan_schema).
//
// Everything runs on the caller's executor through libpq's non-blocking API
// (pg_connection.hpp). Operations are queued and served by up to max_connections worker
// coroutines, each holding one pooled connection:
//   get                  one round trip; concurrent gets share one (WHERE state_id = ANY)
//   update               one transaction, two round trips: BEGIN, the id's lock and
//                        SELECT ... FOR UPDATE; the mutator runs here; INSERT (ON CONFLICT
//                        DO NOTHING) or UPDATE, and COMMIT. Updates queued meanwhile share
//                        the transaction (group commit)
//   update_expecting_absent, put_unlocked, erase, list pages: one round trip each
// The lock of an id is a transaction-scoped advisory lock on it (it exists before the row
// does, so a first write is as exclusive as a later one) plus the row's FOR UPDATE lock
// (against Meltano's own writers, which take no advisory lock): no lock rows, nothing to
// expire, released by COMMIT, ROLLBACK or a dropped connection. Groups take both in a fixed
// order, so they never deadlock each other. lock_max_wait_seconds is the transaction's
// lock_timeout (default max(30, lock_timeout_seconds), as for SQLite); lock_timeout_seconds
// is its idle_in_transaction_session_timeout, so a writer that stalls while holding locks
// loses them (and its transaction) after that long, as a stale lock is taken over on the
// other backends. Lost connections, serialization failures and deadlocks are retried; a
// commit whose answer was lost is settled with pg_xact_status.

#include "backend/systemdb/pg_uri.hpp"
#include "statestore/state_backend.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace statestore {

struct postgres_options {
    pg::connection_target target;
    /// Connections (and worker coroutines) at most; each serves queued operations in batches.
    std::size_t max_connections = 8;
    /// An idle pooled connection unused this long is closed (lazily, like the HTTP pool).
    std::chrono::milliseconds idle_timeout{30000};
    /// Connection attempt deadline when the URI (or PGCONNECT_TIMEOUT) gives none.
    std::chrono::milliseconds connect_timeout{10000};
    /// Meltano's database_max_retries / database_retry_timeout: a failed connection attempt
    /// is retried this many times, this long apart (authentication and unknown-database
    /// failures are not retried).
    int max_retries = 3;
    double retry_interval_seconds = 5.0;
    /// Longest wait for a row lock held by another writer (SET LOCAL lock_timeout).
    double lock_wait_seconds = 30.0;
    /// Longest a transaction of ours may sit idle holding row locks
    /// (idle_in_transaction_session_timeout); 0 = no limit.
    double lock_hold_seconds = 10.0;
    /// Updates per group-commit transaction (1 turns group commit off).
    std::size_t max_batch = 256;
};

class postgres_backend final : public state_backend {
public:
    /// Does no I/O: the server is first contacted (and the schema checked or created) by
    /// the first operation, which reports any failure to connect.
    postgres_backend(boost::asio::any_io_executor executor, postgres_options options);
    ~postgres_backend() override;

    std::string describe() const override;
    /// Round trips to the server so far (pipelines sent; connection set-up not counted).
    std::uint64_t requests_sent() const noexcept override;

    boost::asio::awaitable<std::optional<state_document>> get(std::string id) override;
    boost::asio::awaitable<void> update(std::string id, state_mutator mutate) override;
    boost::asio::awaitable<void> update_expecting_absent(std::string id,
                                                         state_mutator mutate) override;
    boost::asio::awaitable<bool> erase(std::string id) override;
    boost::asio::awaitable<std::vector<std::string>> list(std::string pattern) override;
    boost::asio::awaitable<state_id_page> list_page(std::string pattern,
                                                    std::string token) override;
    boost::asio::awaitable<std::size_t> import_all(std::vector<state_entry> entries) override;
    boost::asio::awaitable<std::size_t> clear_all() override;
    boost::asio::awaitable<void> put_unlocked(std::string id, state_document document) override;

    /// Connections open now (idle and in use), and connections opened so far.
    std::size_t open_connections() const noexcept;
    std::uint64_t connections_opened() const noexcept;

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

} // namespace statestore
