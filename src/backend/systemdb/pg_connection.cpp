#include "backend/systemdb/pg_connection.hpp"

#include "statestore/error.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <unordered_map>

namespace asio = boost::asio;

namespace statestore::pg {
namespace {

constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

std::string trimmed(std::string_view text)
{
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r'))
        text.remove_suffix(1);
    while (!text.empty() && (text.front() == '\n' || text.front() == ' '))
        text.remove_prefix(1);
    return std::string(text);
}

bool is_sqlstate(std::string_view s)
{
    if (s.size() != 5)
        return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')))
            return false;
    return true;
}

/// Why a wait ended early.
struct wait_failure {
    bool timed_out = false;
    bool cancelled = false;
    std::string message;
};

void ignore_notice(void*, const char*) {}

} // namespace

server_error parse_connect_error(std::string_view text)
{
    // libpq joins the messages of every host it tried; the last one is the verdict. A
    // server's report reads "SEVERITY:  SQLSTATE: message" under PQERRORS_VERBOSE, possibly
    // after "connection to server at ... failed: ", followed by DETAIL/HINT/LOCATION lines.
    server_error out;
    std::string all = trimmed(text);
    std::string chosen;
    for (std::size_t pos = 0; pos < all.size();) {
        const auto end = std::min(all.find('\n', pos), all.size());
        const std::string_view line(all.data() + pos, end - pos);
        pos = end + 1;
        // Continuation lines ("\tIs the server running on that host...?") and the fields
        // that follow a report add nothing a message needs.
        if (line.empty() || line.front() == '\t' || line.front() == ' ' ||
            line.rfind("DETAIL:", 0) == 0 || line.rfind("HINT:", 0) == 0 ||
            line.rfind("LOCATION:", 0) == 0 || line.rfind("CONTEXT:", 0) == 0)
            continue;
        for (const char* severity : {"FATAL:  ", "ERROR:  ", "PANIC:  "}) {
            const auto at = line.find(severity);
            if (at == std::string_view::npos)
                continue;
            std::string_view after = line.substr(at + std::char_traits<char>::length(severity));
            if (after.size() > 7 && is_sqlstate(after.substr(0, 5)) && after.substr(5, 2) == ": ") {
                out.sqlstate = std::string(after.substr(0, 5));
                chosen = std::string(line.substr(0, at)) + std::string(severity) +
                         std::string(after.substr(7));
            }
            break;
        }
        if (out.sqlstate.empty())
            chosen = std::string(line);
    }
    out.message = trimmed(chosen.empty() ? all : chosen);
    return out;
}

server_error error_of(const PGresult* result)
{
    server_error out;
    if (const char* code = PQresultErrorField(result, PG_DIAG_SQLSTATE))
        out.sqlstate = code;
    if (const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY))
        out.message = primary;
    else
        out.message = trimmed(PQresultErrorMessage(result));
    return out;
}

struct connection::impl : std::enable_shared_from_this<impl> {
    explicit impl(const asio::any_io_executor& ex) : socket(ex), deadline_timer(ex) {}
    ~impl()
    {
        detach();
        if (conn)
            PQfinish(conn);
    }

    PGconn* conn = nullptr;
    asio::posix::stream_descriptor socket;
    asio::steady_timer deadline_timer;
    std::uint64_t generation = 0; ///< which operation the deadline timer belongs to
    bool timed_out = false;
    bool broken = false;
    std::uint64_t round_trips = 0;
    std::vector<std::string> secrets;
    /// Statements prepared on this connection: SQL text -> name.
    std::unordered_map<std::string, std::string> prepared;
    std::uint64_t names_used = 0; ///< names are never reused, even after a failed Parse

    void attach(int fd)
    {
        detach();
        boost::system::error_code ec;
        socket.assign(fd, ec);
        if (ec)
            broken = true;
    }
    void detach()
    {
        if (socket.is_open())
            socket.release(); // libpq owns the socket: never close it here
    }

    std::string libpq_message() const
    {
        return scrub_secrets(trimmed(PQerrorMessage(conn)), secrets);
    }

    /// Starts a deadline for the operation that follows: when it passes, the pending wait is
    /// cancelled and timed_out set. end_deadline() disarms it.
    void arm(clock_type::time_point deadline)
    {
        ++generation;
        timed_out = false;
        deadline_timer.expires_at(deadline);
        std::weak_ptr<impl> weak = weak_from_this();
        const std::uint64_t mine = generation;
        deadline_timer.async_wait([weak, mine](const boost::system::error_code& ec) {
            if (ec)
                return;
            if (auto self = weak.lock(); self && self->generation == mine) {
                self->timed_out = true;
                boost::system::error_code ignored;
                self->socket.cancel(ignored);
            }
        });
    }
    void end_deadline()
    {
        ++generation;
        deadline_timer.cancel();
    }

    /// Waits for the socket to be ready; nullopt when ready, else why not.
    asio::awaitable<std::optional<wait_failure>> wait(asio::posix::descriptor_base::wait_type w)
    {
        if (timed_out)
            co_return wait_failure{true, false, "timed out"};
        auto [ec] = co_await socket.async_wait(w, tuple_awaitable);
        if (!ec)
            co_return std::nullopt;
        if (timed_out)
            co_return wait_failure{true, false, "timed out"};
        if (ec == asio::error::operation_aborted)
            co_return wait_failure{false, true, "cancelled"};
        co_return wait_failure{false, false, ec.message()};
    }

    /// Waits until the socket is readable or writable, whichever comes first (libpq's rule
    /// while PQflush cannot send everything: the server may be waiting for us to read).
    asio::awaitable<std::optional<wait_failure>> wait_either()
    {
        if (timed_out)
            co_return wait_failure{true, false, "timed out"};
        auto group = asio::experimental::make_parallel_group(
            socket.async_wait(asio::posix::descriptor_base::wait_read, asio::deferred),
            socket.async_wait(asio::posix::descriptor_base::wait_write, asio::deferred));
        const asio::experimental::wait_for_one first_done;
        auto [order, read_ec, write_ec] =
            co_await group.async_wait(first_done, asio::use_awaitable);
        const boost::system::error_code ec = order[0] == 0 ? read_ec : write_ec;
        if (!ec)
            co_return std::nullopt;
        if (timed_out)
            co_return wait_failure{true, false, "timed out"};
        if (ec == asio::error::operation_aborted)
            co_return wait_failure{false, true, "cancelled"};
        co_return wait_failure{false, false, ec.message()};
    }
};

connection::connection(std::shared_ptr<impl> state) : impl_(std::move(state)) {}

connection::~connection() = default;

asio::awaitable<std::unique_ptr<connection>> connection::open(asio::any_io_executor executor,
                                                              const connection_target& target,
                                                              std::chrono::milliseconds timeout)
{
    auto state = std::make_shared<impl>(executor);
    state->secrets = target.secrets;
    const auto deadline = clock_type::now() + timeout;
    // A host name is resolved here, asynchronously: libpq would call getaddrinfo and block the
    // executor's thread for as long as DNS takes.
    std::vector<std::pair<std::string, std::string>> keywords = target.keywords;
    if (const std::string name = host_to_resolve(keywords); !name.empty()) {
        asio::ip::tcp::resolver resolver(executor);
        asio::steady_timer limit(executor, deadline);
        limit.async_wait([&resolver](const boost::system::error_code& ec) {
            if (!ec)
                resolver.cancel();
        });
        auto [ec, results] = co_await resolver.async_resolve(name, "", tuple_awaitable);
        limit.cancel();
        if (ec) {
            const bool timed_out = clock_type::now() >= deadline;
            throw connect_error(
                server_error{"", "could not resolve host name \"" + name + "\": " +
                                     (timed_out ? std::string("timed out") : ec.message())},
                timed_out);
        }
        std::vector<std::string> addresses;
        for (const auto& entry : results) {
            std::string a = entry.endpoint().address().to_string();
            if (std::find(addresses.begin(), addresses.end(), a) == addresses.end())
                addresses.push_back(std::move(a));
        }
        keywords = with_addresses(std::move(keywords), addresses);
    }
    std::vector<const char*> keys, values;
    for (const auto& [k, v] : keywords) {
        keys.push_back(k.c_str());
        values.push_back(v.c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    state->conn = PQconnectStartParams(keys.data(), values.data(), 0);
    if (state->conn == nullptr)
        throw std::bad_alloc();
    if (PQstatus(state->conn) == CONNECTION_BAD) // refused before any I/O: a bad option
        throw_error(errc::invalid_setting,
                    "PostgreSQL connection options in " + target.display +
                        " are not accepted by libpq: " + state->libpq_message());
    // Server errors during the start-up then carry their SQLSTATE in the message text (the
    // only place libpq reports them for a connection that failed).
    PQsetErrorVerbosity(state->conn, PQERRORS_VERBOSE);
    PQsetNoticeProcessor(state->conn, ignore_notice, nullptr);

    state->arm(deadline);
    PostgresPollingStatusType poll = PGRES_POLLING_WRITING; // libpq's rule before the first poll
    std::optional<wait_failure> failed;
    while (poll != PGRES_POLLING_OK) {
        if (poll == PGRES_POLLING_FAILED)
            break;
        const int fd = PQsocket(state->conn);
        if (fd < 0)
            break;
        // Re-attached on every step: libpq may close its socket and open another (the next
        // host or address, a retry without TLS) that can even reuse the same number.
        state->attach(fd);
        failed = co_await state->wait(poll == PGRES_POLLING_READING
                                          ? asio::posix::descriptor_base::wait_read
                                          : asio::posix::descriptor_base::wait_write);
        if (failed)
            break;
        poll = PQconnectPoll(state->conn);
    }
    state->end_deadline();
    if (poll != PGRES_POLLING_OK) {
        server_error e;
        if (failed && failed->timed_out)
            e.message = "no connection within " + std::to_string(timeout.count()) + " ms";
        else if (failed && failed->cancelled)
            throw_error(errc::cancelled, "connecting to " + target.display + " was cancelled");
        else if (failed)
            e.message = failed->message;
        else
            e = parse_connect_error(state->libpq_message());
        e.message = scrub_secrets(e.message, target.secrets);
        throw connect_error(std::move(e), failed && failed->timed_out,
                            !failed && PQconnectionNeedsPassword(state->conn) == 1);
    }
    if (PQsetnonblocking(state->conn, 1) != 0 || PQenterPipelineMode(state->conn) != 1)
        throw connect_error(server_error{"", "cannot switch the connection to pipeline mode: " +
                                                 state->libpq_message()},
                            false);
    PQsetErrorVerbosity(state->conn, PQERRORS_DEFAULT);
    state->attach(PQsocket(state->conn));
    co_return std::unique_ptr<connection>(new connection(std::move(state)));
}

asio::awaitable<pipeline_outcome> connection::run(std::vector<statement> statements,
                                                  clock_type::time_point deadline)
{
    impl& s = *impl_;
    auto keep_alive = impl_; // the deadline handler may outlive a discarded connection
    pipeline_outcome out;
    ++s.round_trips;
    if (s.broken) {
        out.failure = "the connection was already broken";
        co_return out;
    }
    const auto fail = [&s, &out](std::string why) {
        s.broken = true;
        out.failure = std::move(why);
    };
    // For each statement, the name it is prepared under now (its Parse goes first), if any;
    // a statement repeated in the pipeline is parsed once.
    std::vector<std::string> preparing(statements.size());
    std::unordered_map<std::string, std::string> parsing_now;
    for (std::size_t i = 0; i < statements.size(); ++i) {
        const statement& st = statements[i];
        std::vector<const char*> values;
        values.reserve(st.params.size());
        for (const auto& p : st.params)
            values.push_back(p ? p->c_str() : nullptr);
        const int n = static_cast<int>(values.size());
        int sent = 0;
        if (!st.prepared) {
            sent =
                PQsendQueryParams(s.conn, st.sql, n, nullptr, values.data(), nullptr, nullptr, 0);
        } else {
            auto known = s.prepared.find(st.sql);
            auto pending = parsing_now.find(st.sql);
            std::string name;
            if (known != s.prepared.end()) {
                name = known->second;
            } else if (pending != parsing_now.end()) {
                name = pending->second;
            } else {
                name = "statestore_" + std::to_string(s.names_used++);
                parsing_now.emplace(st.sql, name);
                preparing[i] = name;
                if (PQsendPrepare(s.conn, name.c_str(), st.sql, n, nullptr) != 1) {
                    fail("cannot send a query: " + s.libpq_message());
                    co_return out;
                }
            }
            sent = PQsendQueryPrepared(s.conn, name.c_str(), n, values.data(), nullptr, nullptr, 0);
        }
        if (sent != 1 || (st.flush_after && PQsendFlushRequest(s.conn) != 1)) {
            fail("cannot send a query: " + s.libpq_message());
            co_return out;
        }
    }
    if (PQpipelineSync(s.conn) != 1) {
        fail("cannot send a query: " + s.libpq_message());
        co_return out;
    }

    s.arm(deadline);
    struct disarm {
        impl& s;
        ~disarm() { s.end_deadline(); }
    } disarm_at_exit{s};

    // Send everything.
    for (;;) {
        const int flushed = PQflush(s.conn);
        if (flushed == 0)
            break;
        if (flushed < 0) {
            fail("lost the connection while sending: " + s.libpq_message());
            co_return out;
        }
        if (auto failed = co_await s.wait_either()) {
            out.timed_out = failed->timed_out;
            out.cancelled = failed->cancelled;
            fail("while sending: " + failed->message);
            co_return out;
        }
        if (PQconsumeInput(s.conn) != 1) {
            fail("lost the connection while sending: " + s.libpq_message());
            co_return out;
        }
    }

    // Read one result per statement, then the Sync.
    const auto next_result = [&s, &out, &fail]() -> asio::awaitable<std::optional<PGresult*>> {
        for (;;) {
            if (PQisBusy(s.conn) == 0)
                co_return PQgetResult(s.conn);
            if (auto failed = co_await s.wait(asio::posix::descriptor_base::wait_read)) {
                out.timed_out = failed->timed_out;
                out.cancelled = failed->cancelled;
                fail("while waiting for the server: " + failed->message);
                co_return std::nullopt;
            }
            if (PQconsumeInput(s.conn) != 1) {
                fail("lost the connection: " + s.libpq_message());
                co_return std::nullopt;
            }
        }
    };
    // One result (then a null) per Parse sent, then per statement.
    const auto read_one = [&s, &next_result,
                           &fail]() -> asio::awaitable<std::optional<result_ptr>> {
        std::optional<PGresult*> first = co_await next_result();
        if (!first)
            co_return std::nullopt;
        if (*first == nullptr) {
            fail("lost the connection: " + s.libpq_message());
            co_return std::nullopt;
        }
        result_ptr kept(*first);
        if (PQstatus(s.conn) == CONNECTION_BAD)
            co_return std::optional<result_ptr>(std::move(kept)); // the caller fails next
        for (;;) {
            std::optional<PGresult*> more = co_await next_result();
            if (!more)
                co_return std::nullopt;
            if (*more == nullptr)
                break;
            kept.reset(*more);
        }
        co_return std::optional<result_ptr>(std::move(kept));
    };
    for (std::size_t i = 0; i < statements.size(); ++i) {
        if (!preparing[i].empty()) {
            std::optional<result_ptr> parsed = co_await read_one();
            if (!parsed)
                co_return out;
            if (PQstatus(s.conn) == CONNECTION_BAD) {
                out.results.push_back(std::move(*parsed));
                fail("lost the connection: " + s.libpq_message());
                co_return out;
            }
            if (PQresultStatus(parsed->get()) == PGRES_COMMAND_OK) {
                s.prepared.emplace(statements[i].sql, preparing[i]);
            } else {
                // The statement's own result (aborted) follows; what the server said about
                // the Parse is what the caller needs.
                std::optional<result_ptr> skipped = co_await read_one();
                if (!skipped)
                    co_return out;
                out.results.push_back(std::move(*parsed));
                continue;
            }
        }
        std::optional<PGresult*> first = co_await next_result();
        if (!first)
            co_return out;
        if (*first == nullptr) {
            fail("lost the connection: " + s.libpq_message());
            co_return out;
        }
        result_ptr kept(*first);
        if (PQstatus(s.conn) == CONNECTION_BAD) {
            // What the server said as it closed the connection (e.g. 57P01 when terminated)
            // is kept as this statement's result for the caller to classify.
            out.results.push_back(std::move(kept));
            fail("lost the connection: " + s.libpq_message());
            co_return out;
        }
        // Each statement's results end with a null result.
        for (;;) {
            std::optional<PGresult*> more = co_await next_result();
            if (!more)
                co_return out;
            if (*more == nullptr)
                break;
            kept.reset(*more);
        }
        out.results.push_back(std::move(kept));
    }
    std::optional<PGresult*> sync = co_await next_result();
    if (!sync)
        co_return out;
    result_ptr sync_result(*sync);
    if (!sync_result || PQresultStatus(sync_result.get()) != PGRES_PIPELINE_SYNC) {
        fail("unexpected reply at the end of a pipeline: " + s.libpq_message());
        co_return out;
    }
    out.complete = true;
    co_return out;
}

bool connection::reusable() const
{
    const impl& s = *impl_;
    return !s.broken && PQstatus(s.conn) == CONNECTION_OK &&
           PQtransactionStatus(s.conn) == PQTRANS_IDLE &&
           PQpipelineStatus(s.conn) == PQ_PIPELINE_ON;
}

bool connection::closed_by_peer() const
{
    const int fd = PQsocket(impl_->conn);
    if (fd < 0 || impl_->broken)
        return true;
    char byte;
    const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0)
        return true; // EOF
    if (n < 0)
        return !(errno == EAGAIN || errno == EWOULDBLOCK);
    return true; // something unasked for (a termination notice): not worth reusing
}

std::uint64_t connection::round_trips() const noexcept
{
    return impl_->round_trips;
}

int connection::backend_pid() const
{
    return PQbackendPID(impl_->conn);
}

} // namespace statestore::pg
