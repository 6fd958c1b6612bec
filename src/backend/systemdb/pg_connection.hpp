#pragma once
// libpq on Asio: one PostgreSQL connection driven entirely by the caller's executor, with no
// thread of its own. libpq does the protocol (authentication, TLS, error fields, .pgpass,
// the PG* environment); this layer only waits: PQconnectStartParams/PQconnectPoll with waits
// on PQsocket, then non-blocking pipeline mode (PQsendQueryParams..., PQpipelineSync,
// PQflush, PQconsumeInput/PQisBusy/PQgetResult), each wait an async_wait on a
// posix::stream_descriptor that wraps libpq's socket without owning it (released, never
// closed: libpq closes its socket in PQfinish).
//
// A connection is used by one coroutine at a time. Once a pipeline fails in transport (lost
// connection, deadline, cancellation) the connection is broken for good: reusable() is false
// and it must be discarded.

#include "backend/systemdb/pg_uri.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace statestore::pg {

using clock_type = std::chrono::steady_clock;

struct result_deleter {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using result_ptr = std::unique_ptr<PGresult, result_deleter>;

/// One statement of a pipeline: SQL with $1, $2... and its parameters, all in text format
/// (nullopt is SQL NULL); the server infers the parameter types.
struct statement {
    const char* sql = "";
    std::vector<std::optional<std::string>> params;
    /// Ask the server to send the results so far at once (PQsendFlushRequest) instead of
    /// at the Sync: lets a caller learn them even if the rest of the pipeline is lost.
    bool flush_after = false;
    /// Parse and plan it once per connection (a named prepared statement, made in the same
    /// pipeline the first time it is used), rather than on every use.
    bool prepared = false;
};

/// How one pipeline ended.
struct pipeline_outcome {
    /// Results in statement order: those received before a transport failure (so possibly
    /// fewer than the statements). A server error is a result (PGRES_FATAL_ERROR); the
    /// statements after it in the pipeline come back PGRES_PIPELINE_ABORTED.
    std::vector<result_ptr> results;
    bool complete = false;  ///< every result and the Sync arrived
    bool timed_out = false; ///< the deadline passed first
    bool cancelled = false; ///< the waiting coroutine was cancelled
    std::string failure;    ///< why it is not complete (no secrets)
};

/// A server error taken apart (PG_DIAG_* fields, or the verbose text of a failed connect).
struct server_error {
    std::string sqlstate; ///< "" when the server did not answer (refused, TLS, timeout)
    std::string message;  ///< primary message, one line
};

/// SQLSTATE and message of a libpq connection failure, from PQerrorMessage() text written
/// with PQERRORS_VERBOSE ("FATAL:  28P01: password authentication failed ..."); libpq's own
/// (non-server) messages have no SQLSTATE.
server_error parse_connect_error(std::string_view verbose_text);

/// The fields of an error result.
server_error error_of(const PGresult* result);

class connection {
public:
    /// Connects within `timeout`. Throws statestore::error: invalid_setting for options
    /// libpq refuses before connecting (an unknown keyword, a bad sslmode), and otherwise
    /// connect_error (below) carrying what the server said.
    static boost::asio::awaitable<std::unique_ptr<connection>>
    open(boost::asio::any_io_executor executor, const connection_target& target,
         std::chrono::milliseconds timeout);

    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    /// Sends the statements as one pipeline, ended by a Sync, in one flush, and reads every
    /// result: one round trip. Never throws for what the server answers or for transport
    /// failures (see pipeline_outcome); throws only std::bad_alloc.
    boost::asio::awaitable<pipeline_outcome> run(std::vector<statement> statements,
                                                 clock_type::time_point deadline);

    /// Whether it may go back to a pool: connected, no transport failure so far, outside
    /// any transaction.
    bool reusable() const;
    /// Whether the server has closed it (or sent something unasked) while it was idle: a
    /// non-blocking peek at the socket.
    bool closed_by_peer() const;
    /// Pipelines run on it (round trips).
    std::uint64_t round_trips() const noexcept;
    /// The server's process id (for pg_terminate_backend in tests and messages).
    int backend_pid() const;

    clock_type::time_point idle_since{};

    struct impl;

private:
    explicit connection(std::shared_ptr<impl> state);
    std::shared_ptr<impl> impl_;
};

/// A connection attempt that failed: what the server said (sqlstate "" when it said
/// nothing), already scrubbed of secrets.
class connect_error : public std::exception {
public:
    connect_error(server_error e, bool timed_out, bool password_missing = false)
        : error_(std::move(e)), timed_out_(timed_out), password_missing_(password_missing)
    {
    }
    const char* what() const noexcept override { return error_.message.c_str(); }
    const server_error& details() const noexcept { return error_; }
    bool timed_out() const noexcept { return timed_out_; }
    /// The server asked for a password and libpq had none (URI, PGPASSWORD, password file).
    bool password_missing() const noexcept { return password_missing_; }

private:
    server_error error_;
    bool timed_out_;
    bool password_missing_;
};

} // namespace statestore::pg
