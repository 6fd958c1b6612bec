#include "backend/systemdb/postgres_backend.hpp"

#include "backend/systemdb/pg_connection.hpp"
#include "backend/systemdb/systemdb_common.hpp"
#include "core/pattern.hpp"
#include "statestore/error.hpp"
#include "statestore/state_id.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace asio = boost::asio;

namespace statestore {
namespace {

using pg::clock_type;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

// --- SQL ----------------------------------------------------------------------------------
// Every statement is sent with the extended protocol (one per PQsendQueryParams), so none
// holds more than one command. `state` is named unqualified: it resolves through the
// connection's search_path, as Meltano's own unqualified queries do.

constexpr const char* sql_begin = "BEGIN ISOLATION LEVEL READ COMMITTED";
// The transaction id first (flushed at once: if the connection is lost later, it is what
// pg_xact_status settles the commit with), then the transaction's lock limits.
constexpr const char* sql_xid_and_limits =
    "SELECT pg_current_xact_id()::text, set_config('lock_timeout', $1, true), "
    "set_config('statement_timeout', $2, true), "
    "set_config('idle_in_transaction_session_timeout', $3, true)";
// The ids' locks, which exist whether or not the row does (so a first write excludes another
// as much as a later one): transaction-scoped advisory locks in statestore's own key space
// (two-key form, class 1937006964), taken in hash order. Then the rows, locked in byte order
// against writers that take no advisory lock (Meltano's own UPDATE). Two groups of ours take
// both kinds in the same order, so they queue behind each other instead of deadlocking.
constexpr const char* sql_lock_ids =
    "SELECT pg_advisory_xact_lock(1937006964, h) FROM (SELECT DISTINCT hashtext(i) AS h "
    "FROM unnest($1::text[]) AS i ORDER BY 1) AS k";
constexpr const char* sql_lock_rows =
    "SELECT state_id, completed_state, partial_state FROM state "
    "WHERE state_id = ANY($1::text[]) ORDER BY state_id COLLATE \"C\" FOR UPDATE";
// updated_at stays NULL on insert and is set on every update, as SQLAlchemy's
// onupdate=datetime.now does for Meltano.
constexpr const char* sql_insert_absent =
    "INSERT INTO state (state_id, partial_state, completed_state) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) "
    "ON CONFLICT (state_id) DO NOTHING RETURNING state_id";
constexpr const char* sql_update_rows =
    "UPDATE state AS s SET partial_state = u.p, completed_state = u.c, "
    "updated_at = $4::timestamp "
    "FROM unnest($1::text[], $2::text[], $3::text[]) AS u(id, p, c) WHERE s.state_id = u.id";
constexpr const char* sql_upsert =
    "INSERT INTO state (state_id, partial_state, completed_state) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) "
    "ON CONFLICT (state_id) DO UPDATE SET partial_state = EXCLUDED.partial_state, "
    "completed_state = EXCLUDED.completed_state, updated_at = $4::timestamp";
constexpr const char* sql_commit = "COMMIT";
constexpr const char* sql_rollback = "ROLLBACK";
constexpr const char* sql_read =
    "SELECT state_id, completed_state, partial_state FROM state WHERE state_id = ANY($1::text[])";
constexpr const char* sql_delete = "DELETE FROM state WHERE state_id = $1";
constexpr const char* sql_delete_all = "DELETE FROM state";
// LIKE narrows the rows in the server (E'\\' is one backslash whatever
// standard_conforming_strings says); fnmatch_full decides. COLLATE "C": LIKE is not
// allowed on nondeterministic collations.
constexpr const char* sql_list =
    "SELECT state_id FROM state WHERE state_id COLLATE \"C\" LIKE $1 ESCAPE E'\\\\'";
// Pages follow the primary key's index (the database's collation), so each page is an
// index range scan however large the table.
constexpr const char* sql_page =
    "SELECT state_id FROM state WHERE state_id > $1 AND state_id COLLATE \"C\" LIKE $2 "
    "ESCAPE E'\\\\' ORDER BY state_id LIMIT $3";
constexpr const char* sql_xact_status = "SELECT pg_xact_status($1::xid8)";

// What a database offers: the columns of `state` and which of Meltano's other tables exist
// (each name resolved through search_path, as unqualified names are).
constexpr const char* sql_facts =
    "SELECT 'column', attname::text FROM pg_attribute "
    "WHERE attrelid = to_regclass('state') AND attnum > 0 AND NOT attisdropped "
    "UNION ALL SELECT 'table', t FROM unnest(ARRAY['alembic_version', 'runs', 'job', "
    "'plugin_settings']) AS t WHERE to_regclass(t) IS NOT NULL";
constexpr const char* sql_alembic_revision = "SELECT max(version_num) FROM alembic_version";
// Serialises schema creation between processes (any constant: it names nothing else).
constexpr const char* sql_schema_lock = "SELECT pg_advisory_xact_lock(7234298871734851173)";

// Meltano's complete schema at alembic head c0efb3c314eb on PostgreSQL: what its migrations
// b4c05e463b53 ... c0efb3c314eb leave, written directly. The `runs` table was created as
// `job` (SERIAL id, so its sequence and primary key keep the names job_id_seq and job_pkey),
// had `state` converted from an enum to VARCHAR and was renamed; GUIDs are native UUIDs;
// datetimes TIMESTAMP WITHOUT TIME ZONE; PickleType is BYTEA. The UI tables the old
// migrations created are dropped by c0efb3c314eb, so they are not made at all.
// tests/data/postgres/meltano-head-c0efb3c314eb.sql replays the migrations' own DDL; the
// test postgres_schema_matches_meltano compares pg_dump of both.
constexpr const char* create_schema[] = {
    "CREATE TABLE alembic_version (\n"
    "\tversion_num VARCHAR(32) NOT NULL, \n"
    "\tCONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)\n"
    ")",
    "CREATE SEQUENCE job_id_seq AS integer",
    "CREATE TABLE runs (\n"
    "\tid INTEGER DEFAULT nextval('job_id_seq'::regclass) NOT NULL, \n"
    "\tjob_name VARCHAR, \n"
    "\tstate VARCHAR, \n"
    "\tstarted_at TIMESTAMP WITHOUT TIME ZONE, \n"
    "\tended_at TIMESTAMP WITHOUT TIME ZONE, \n"
    "\tpayload VARCHAR, \n"
    "\tpayload_flags INTEGER, \n"
    "\trun_id UUID, \n"
    "\ttrigger VARCHAR, \n"
    "\tlast_heartbeat_at TIMESTAMP WITHOUT TIME ZONE, \n"
    "\tCONSTRAINT job_pkey PRIMARY KEY (id)\n"
    ")",
    "ALTER SEQUENCE job_id_seq OWNED BY runs.id",
    "CREATE TABLE plugin_settings (\n"
    "\tlabel VARCHAR(255), \n"
    "\tdescription TEXT, \n"
    "\tname VARCHAR(255) NOT NULL, \n"
    "\tnamespace VARCHAR(255), \n"
    "\tvalue BYTEA, \n"
    "\tenabled BOOLEAN, \n"
    "\tPRIMARY KEY (name, namespace)\n"
    ")",
    "CREATE TABLE state (\n"
    "\tstate_id VARCHAR(900) NOT NULL, \n"
    "\tpartial_state VARCHAR, \n"
    "\tcompleted_state VARCHAR, \n"
    "\tupdated_at TIMESTAMP WITHOUT TIME ZONE, \n"
    "\tPRIMARY KEY (state_id), \n"
    "\tUNIQUE (state_id)\n"
    ")",
    "INSERT INTO alembic_version (version_num) VALUES ('c0efb3c314eb')",
};

/// A PostgreSQL text[] literal: every element quoted, '"' and '\' escaped.
std::string text_array(const std::vector<std::string>& items)
{
    std::size_t size = 2;
    for (const auto& s : items)
        size += s.size() + 3;
    std::string out;
    out.reserve(size);
    out += '{';
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i)
            out += ',';
        out += '"';
        for (const char c : items[i]) {
            if (c == '"' || c == '\\')
                out += '\\';
            out += c;
        }
        out += '"';
    }
    out += '}';
    return out;
}

std::string milliseconds_text(double seconds)
{
    if (!std::isfinite(seconds) || seconds <= 0)
        return "0";
    return std::to_string(std::max<long long>(1, std::llround(seconds * 1000.0)));
}

std::optional<std::string_view> column(const PGresult* r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return std::nullopt;
    return std::string_view(PQgetvalue(r, row, col),
                            static_cast<std::size_t>(PQgetlength(r, row, col)));
}

bool ok(const pg::result_ptr& r)
{
    const ExecStatusType status = PQresultStatus(r.get());
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

/// The first statement that failed in a complete pipeline, or nullptr.
const PGresult* first_error(const pg::pipeline_outcome& o)
{
    for (const auto& r : o.results)
        if (PQresultStatus(r.get()) == PGRES_FATAL_ERROR)
            return r.get();
    return nullptr;
}

/// A transport failure the caller may retry: the server never answered in full.
struct transport_lost : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// SQLSTATE classes that mean "try again": the transaction lost a race, or the server is
/// going away or not ready.
bool is_conflict(std::string_view sqlstate)
{
    return sqlstate == "40001" || sqlstate == "40P01";
}
bool is_server_unavailable(std::string_view sqlstate)
{
    return sqlstate.substr(0, 2) == "08" || sqlstate == "57P01" || sqlstate == "57P02" ||
           sqlstate == "57P03" || sqlstate == "53300" || sqlstate == "25P03";
}

enum class job_kind { read, update, insert_absent, upsert, direct };

struct job {
    explicit job(const asio::any_io_executor& ex) : done(ex, clock_type::time_point::max()) {}
    job_kind kind = job_kind::read;
    std::uint64_t seq = 0;
    std::string id;
    state_mutator mutate;
    std::optional<state_document> document; ///< upsert: what to write
    /// direct: runs on a connection; writes its answer into the job (never into its
    /// caller's frame, which may be gone if the caller was cancelled).
    std::function<asio::awaitable<void>(pg::connection&, job&)> direct;
    std::optional<state_document> found; ///< read: the answer
    std::vector<std::string> ids;        ///< direct: listed ids
    state_id_page page;                  ///< direct: a page
    std::size_t count = 0;               ///< direct: rows affected
    std::exception_ptr failure;
    bool finished = false;
    bool abandoned = false; ///< its caller stopped waiting (cancelled) before it started
    bool solo = false;      ///< run alone: its group failed once
    int transport_failures = 0;
    int races = 0; ///< serialization failures, deadlocks, inserts that met a concurrent insert
    asio::steady_timer done;
};
using job_ptr = std::shared_ptr<job>;

/// A row a group writes: the job, whether it inserts or updates, and the column texts.
struct planned_write {
    job_ptr j;
    bool insert = false;
    std::string partial, completed;
};

constexpr int max_races = 50;

} // namespace

struct postgres_backend::impl : std::enable_shared_from_this<impl> {
    impl(asio::any_io_executor ex, postgres_options o)
        : executor(std::move(ex)), options(std::move(o))
    {
        if (options.max_connections == 0)
            options.max_connections = 1;
        if (options.max_batch == 0)
            options.max_batch = 1;
        where = "PostgreSQL database " + options.target.display;
        lock_timeout_ms = milliseconds_text(options.lock_wait_seconds);
        if (options.lock_wait_seconds <= 0)
            lock_timeout_ms = "1"; // 0 would mean "wait forever" to PostgreSQL
        statement_timeout_ms = milliseconds_text(options.lock_wait_seconds + 30.0);
        idle_in_transaction_ms = milliseconds_text(options.lock_hold_seconds);
        // libpq applies connect_timeout only when it blocks; here the deadline is ours. Its
        // value (URI, else PGCONNECT_TIMEOUT) counts per host, as in libpq, at least 2 s.
        double seconds = std::chrono::duration<double>(options.connect_timeout).count();
        const char* env_timeout = std::getenv("PGCONNECT_TIMEOUT");
        std::string given = env_timeout ? env_timeout : "";
        for (const auto& [k, v] : options.target.keywords)
            if (k == "connect_timeout")
                given = v;
        if (!given.empty()) {
            char* end = nullptr;
            const double value = std::strtod(given.c_str(), &end);
            if (end != given.c_str() && value > 0)
                seconds = std::max(2.0, value);
        }
        connect_timeout = std::chrono::milliseconds(static_cast<long long>(
            seconds * 1000.0 * static_cast<double>(options.target.host_count)));
    }

    ~impl()
    {
        idle.clear(); // PQfinish each
    }

    asio::any_io_executor executor;
    postgres_options options;
    std::string where;
    std::string lock_timeout_ms, statement_timeout_ms, idle_in_transaction_ms;
    std::chrono::milliseconds connect_timeout{10000};

    std::deque<job_ptr> reads, writes, directs;
    std::uint64_t next_seq = 0;
    std::deque<std::unique_ptr<pg::connection>> idle; // back = most recently used
    std::size_t workers = 0;
    std::size_t open = 0;
    std::uint64_t opened = 0;
    std::uint64_t round_trips = 0;
    bool schema_ready = false;

    // --- the queue --------------------------------------------------------------------

    bool has_work() const { return !reads.empty() || !writes.empty() || !directs.empty(); }

    void submit(const job_ptr& j, bool front = false)
    {
        if (!front)
            j->seq = next_seq++;
        std::deque<job_ptr>& queue = j->kind == job_kind::read     ? reads
                                     : j->kind == job_kind::direct ? directs
                                                                   : writes;
        if (front) {
            // Put back by a worker, which goes on serving the queue: no new worker needed.
            queue.push_front(j);
            return;
        }
        queue.push_back(j);
        spawn_workers();
    }

    void spawn_workers()
    {
        // Until the schema is known good, one worker checks it while the rest wait.
        const std::size_t limit = schema_ready ? options.max_connections : 1;
        if (workers < limit && has_work()) {
            ++workers;
            auto body = worker(shared_from_this());
            asio::co_spawn(executor, std::move(body), asio::detached);
        }
    }

    void finish(const job_ptr& j, std::exception_ptr failure = nullptr)
    {
        j->failure = std::move(failure);
        j->finished = true;
        j->done.cancel();
    }

    void fail_all(const std::exception_ptr& failure)
    {
        for (auto* queue : {&reads, &writes, &directs}) {
            for (const auto& j : *queue)
                finish(j, failure);
            queue->clear();
        }
    }

    /// A job whose attempt was cut by a lost connection goes back to the front of its queue,
    /// until it has failed that way more often than connections are retried.
    void retry_after_transport(const job_ptr& j, const std::string& why)
    {
        if (++j->transport_failures > options.max_retries) {
            finish(j, std::make_exception_ptr(error(
                          errc::backend_unavailable,
                          "lost the connection to " + where + " " +
                              std::to_string(j->transport_failures) + " times" +
                              (j->id.empty() ? "" : " working on state " + j->id) + ": " + why)));
            return;
        }
        submit(j, true);
    }

    void retry_after_race(const job_ptr& j, const pg::server_error& e)
    {
        if (++j->races > max_races) {
            finish(j, std::make_exception_ptr(
                          error(errc::database_error, "state " + j->id + " in " + where +
                                                          " kept conflicting with "
                                                          "concurrent writers (" +
                                                          std::to_string(j->races) +
                                                          " attempts; last: " + e.message + ")")));
            return;
        }
        submit(j, true);
    }

    /// What a server error means for an operation on `id` ("" for none).
    std::exception_ptr error_for(const pg::server_error& e, const std::string& id,
                                 std::string_view doing)
    {
        const std::string subject =
            id.empty() ? std::string(doing) : std::string(doing) + " state " + id;
        if (e.sqlstate == "55P03" || e.sqlstate == "57014")
            return std::make_exception_ptr(
                error(errc::lock_timeout, (id.empty() ? std::string("a state") : "state " + id) +
                                              " in " + where + " is locked by another writer " +
                                              "(waited the lock_timeout of " + lock_timeout_ms +
                                              " ms for its row lock)"));
        return std::make_exception_ptr(
            error(errc::database_error, "PostgreSQL error " + e.sqlstate + " while " + subject +
                                            " in " + where + ": " +
                                            pg::scrub_secrets(e.message, options.target.secrets)));
    }

    // --- connections ------------------------------------------------------------------

    asio::awaitable<pg::pipeline_outcome> exec(pg::connection& c, std::vector<pg::statement> st,
                                               std::chrono::seconds budget)
    {
        ++round_trips;
        co_return co_await c.run(std::move(st), clock_type::now() + budget);
    }
    std::chrono::seconds write_budget() const
    {
        return std::chrono::seconds(60 + static_cast<long long>(options.lock_wait_seconds));
    }

    void close(std::unique_ptr<pg::connection>& c)
    {
        if (c) {
            c.reset();
            --open;
        }
    }

    void put_back(std::unique_ptr<pg::connection>& c)
    {
        if (c && c->reusable()) {
            c->idle_since = clock_type::now();
            idle.push_back(std::move(c));
        } else {
            close(c);
        }
    }

    /// A pooled connection, or a new one with Meltano's retries (database_max_retries,
    /// database_retry_timeout). nullptr if the work ran out while waiting to retry.
    /// Throws statestore::error when the server cannot be reached or refuses us.
    asio::awaitable<std::unique_ptr<pg::connection>> acquire()
    {
        const auto now = clock_type::now();
        while (!idle.empty() && now - idle.front()->idle_since >= options.idle_timeout) {
            idle.pop_front();
            --open;
        }
        while (!idle.empty()) {
            std::unique_ptr<pg::connection> c = std::move(idle.back());
            idle.pop_back();
            if (!c->closed_by_peer())
                co_return c;
            close(c);
        }
        const auto started = clock_type::now();
        for (int attempt = 1;; ++attempt) {
            try {
                ++open;
                std::unique_ptr<pg::connection> c =
                    co_await pg::connection::open(executor, options.target, connect_timeout);
                ++opened;
                co_return c;
            } catch (const pg::connect_error& e) {
                --open;
                const std::string& state = e.details().sqlstate;
                // The server has no connection slot left, but this backend holds some: serve
                // with those (the worker asking for one more stands down).
                if (state == "53300" && open > 0)
                    co_return nullptr;
                const bool final = state.substr(0, 2) == "28" || state == "3D000" ||
                                   state == "42501" || e.password_missing() ||
                                   attempt > options.max_retries;
                if (final) {
                    const errc code = state.substr(0, 2) == "28" || e.password_missing()
                                          ? errc::auth_failed
                                      : state == "3D000" ? errc::invalid_setting
                                      : state == "42501" ? errc::auth_failed
                                                         : errc::backend_unavailable;
                    const double waited =
                        std::chrono::duration<double>(clock_type::now() - started).count();
                    std::string message = "cannot connect to " + where + ": " + e.what();
                    if (!state.empty())
                        message += " (SQLSTATE " + state + ")";
                    if (e.password_missing())
                        message += " (no password in the URI, PGPASSWORD or the password "
                                   "file)";
                    if (attempt > 1) {
                        char span[32];
                        std::snprintf(span, sizeof span, "%.1f", waited);
                        message +=
                            " (" + std::to_string(attempt) + " attempts over " + span + " s)";
                    }
                    throw_error(code, message);
                }
            } catch (...) {
                --open;
                throw;
            }
            asio::steady_timer pause(executor);
            pause.expires_after(std::chrono::milliseconds(
                static_cast<long long>(options.retry_interval_seconds * 1000.0)));
            co_await pause.async_wait(tuple_awaitable);
            if (!has_work())
                co_return nullptr;
        }
    }

    static asio::awaitable<void> worker(std::shared_ptr<impl> self)
    {
        impl& s = *self;
        std::unique_ptr<pg::connection> conn;
        std::exception_ptr failure;
        try {
            while (s.has_work()) {
                if (conn && !conn->reusable())
                    s.close(conn);
                if (!conn) {
                    conn = co_await s.acquire();
                    if (!conn)
                        break;
                }
                if (!s.schema_ready)
                    co_await s.ensure_schema(conn);
                co_await s.serve_one(conn);
            }
        } catch (...) {
            failure = std::current_exception();
        }
        s.put_back(conn);
        --s.workers;
        if (failure) {
            // The server cannot be reached, refuses us, or the schema is unusable: the waiting
            // operations fail with that, unless another worker still serves them.
            if (s.workers == 0 || !s.schema_ready)
                s.fail_all(failure);
        }
        s.spawn_workers(); // work queued while this one was the only one allowed
    }

    // --- the schema -------------------------------------------------------------------

    asio::awaitable<systemdb::database_facts> read_facts(pg::connection& c, bool in_transaction)
    {
        std::vector<pg::statement> st;
        if (in_transaction) {
            st.push_back({sql_begin, {}, false});
            st.push_back({sql_schema_lock, {}, false});
        }
        st.push_back({sql_facts, {}, false});
        pg::pipeline_outcome o = co_await exec(c, std::move(st), write_budget());
        if (!o.complete)
            throw transport_lost(o.failure);
        if (const PGresult* bad = first_error(o))
            schema_failure(pg::error_of(bad), "reading the schema");
        systemdb::database_facts facts;
        const PGresult* r = o.results.back().get();
        for (int row = 0; row < PQntuples(r); ++row) {
            const std::string kind = PQgetvalue(r, row, 0);
            std::string name = PQgetvalue(r, row, 1);
            (kind == "column" ? facts.state_columns : facts.other_tables_found)
                .push_back(std::move(name));
        }
        if (std::find(facts.other_tables_found.begin(), facts.other_tables_found.end(),
                      "alembic_version") != facts.other_tables_found.end() &&
            facts.state_columns.empty()) {
            std::vector<pg::statement> q{{sql_alembic_revision, {}, false}};
            pg::pipeline_outcome v = co_await exec(c, std::move(q), write_budget());
            if (v.complete && !first_error(v) && !v.results.empty()) {
                if (auto text = column(v.results[0].get(), 0, 0))
                    facts.alembic_revision = std::string(*text);
            } else if (!v.complete) {
                throw transport_lost(v.failure);
            }
        }
        co_return facts;
    }

    [[noreturn]] void schema_failure(const pg::server_error& e, std::string_view doing)
    {
        throw_error(errc::database_error, "PostgreSQL error " + e.sqlstate + " while " +
                                              std::string(doing) + " of " + where + ": " +
                                              pg::scrub_secrets(e.message, options.target.secrets));
    }

    /// Checks `state` once per backend; creates Meltano's schema in an empty database.
    asio::awaitable<void> ensure_schema(std::unique_ptr<pg::connection>& c)
    {
        for (int attempt = 1;; ++attempt) {
            try {
                systemdb::database_facts facts = co_await read_facts(*c, false);
                if (systemdb::plan_schema(facts, where) == systemdb::schema_plan::create_at_head)
                    co_await create_schema_at_head(*c);
                schema_ready = true;
                co_return;
            } catch (const transport_lost& e) {
                if (attempt > options.max_retries)
                    throw_error(errc::backend_unavailable,
                                "lost the connection to " + where +
                                    " while checking its schema: " + e.what());
            }
            close(c);
            c = co_await acquire();
            if (!c)
                throw_error(errc::backend_unavailable, "no connection to " + where);
        }
    }

    asio::awaitable<void> create_schema_at_head(pg::connection& c)
    {
        // Another process may be creating it right now: under the advisory lock, look again.
        systemdb::database_facts facts = co_await read_facts(c, true);
        std::vector<pg::statement> st;
        const bool create =
            systemdb::plan_schema(facts, where) == systemdb::schema_plan::create_at_head;
        if (create)
            for (const char* ddl : create_schema)
                st.push_back({ddl, {}, false});
        st.push_back({sql_commit, {}, false});
        pg::pipeline_outcome o = co_await exec(c, std::move(st), write_budget());
        if (!o.complete)
            throw transport_lost(o.failure);
        if (const PGresult* bad = first_error(o)) {
            const pg::server_error e = pg::error_of(bad);
            std::vector<pg::statement> rollback{{sql_rollback, {}, false}};
            co_await exec(c, std::move(rollback), write_budget());
            throw_error(errc::database_error,
                        "cannot create Meltano's schema (alembic " +
                            std::string(systemdb::alembic_head) + ") in " + where +
                            ": PostgreSQL error " + e.sqlstate + ": " +
                            pg::scrub_secrets(e.message, options.target.secrets));
        }
    }

    // --- serving ----------------------------------------------------------------------

    /// Takes the oldest kind of work and serves one batch of it.
    asio::awaitable<void> serve_one(std::unique_ptr<pg::connection>& c)
    {
        drop_abandoned();
        const std::uint64_t none = std::numeric_limits<std::uint64_t>::max();
        const std::uint64_t r = reads.empty() ? none : reads.front()->seq;
        const std::uint64_t w = writes.empty() ? none : writes.front()->seq;
        const std::uint64_t d = directs.empty() ? none : directs.front()->seq;
        if (d != none && d <= r && d <= w) {
            job_ptr j = directs.front();
            directs.pop_front();
            co_await serve_direct(*c, j);
        } else if (w != none && w <= r) {
            co_await serve_writes(c, take_writes());
        } else if (r != none) {
            co_await serve_reads(*c, take_reads());
        }
    }

    void drop_abandoned()
    {
        for (auto* queue : {&reads, &writes, &directs}) {
            queue->erase(std::remove_if(queue->begin(), queue->end(),
                                        [](const job_ptr& j) { return j->abandoned; }),
                         queue->end());
        }
    }

    std::vector<job_ptr> take_reads()
    {
        std::vector<job_ptr> batch;
        const std::size_t limit = 1000;
        while (!reads.empty() && batch.size() < limit) {
            batch.push_back(reads.front());
            reads.pop_front();
            if (batch.back()->solo)
                break;
        }
        return batch;
    }

    /// The oldest writes, at most max_batch, one per id (a second write of an id waits for
    /// the next group, so each mutator sees its predecessor's result), a `solo` one alone.
    std::vector<job_ptr> take_writes()
    {
        std::vector<job_ptr> batch;
        std::unordered_set<std::string> ids;
        for (auto it = writes.begin(); it != writes.end() && batch.size() < options.max_batch;) {
            const job_ptr& j = *it;
            const bool alone = j->solo;
            if ((alone && !batch.empty()) || ids.contains(j->id)) {
                ++it;
                if (alone)
                    break;
                continue;
            }
            ids.insert(j->id);
            batch.push_back(j);
            it = writes.erase(it);
            if (alone)
                break;
        }
        return batch;
    }

    asio::awaitable<void> serve_reads(pg::connection& c, std::vector<job_ptr> batch)
    {
        std::vector<std::string> ids;
        for (const auto& j : batch)
            ids.push_back(j->id);
        std::vector<pg::statement> st{{sql_read, {text_array(ids)}, false, true}};
        pg::pipeline_outcome o = co_await exec(c, std::move(st), std::chrono::seconds(60));
        if (!o.complete) {
            for (const auto& j : batch)
                retry_after_transport(j, o.failure);
            co_return;
        }
        if (const PGresult* bad = first_error(o)) {
            const pg::server_error e = pg::error_of(bad);
            for (const auto& j : batch) {
                if (is_server_unavailable(e.sqlstate))
                    retry_after_transport(j, e.message);
                else
                    finish(j, error_for(e, j->id, "reading"));
            }
            co_return;
        }
        const PGresult* r = o.results[0].get();
        std::unordered_map<std::string, int> row_of;
        for (int row = 0; row < PQntuples(r); ++row)
            row_of.emplace(PQgetvalue(r, row, 0), row);
        for (const auto& j : batch) {
            const auto found = row_of.find(j->id);
            if (found == row_of.end()) {
                finish(j);
                continue;
            }
            try {
                j->found = read_row(r, found->second, j->id);
                finish(j);
            } catch (...) {
                finish(j, std::current_exception());
            }
        }
    }

    state_document read_row(const PGresult* r, int row, const std::string& id) const
    {
        state_document d;
        d.completed = systemdb::parse_column(column(r, row, 1), "completed_state", id, where);
        d.partial = systemdb::parse_column(column(r, row, 2), "partial_state", id, where);
        return d;
    }

    /// A group of writes in one transaction (group commit). Updates read their rows under
    /// FOR UPDATE first (one round trip), run their mutators here, then everything is
    /// written and committed in a second round trip; with no update in the group, a single
    /// round trip does it all.
    asio::awaitable<void> serve_writes(std::unique_ptr<pg::connection>& c,
                                       std::vector<job_ptr> batch)
    {
        std::vector<planned_write> planned;
        std::vector<job_ptr> upserts, updates, settled_without_write;

        // update_expecting_absent: the mutator's answer for "absent" decides up front.
        for (const auto& j : batch) {
            if (j->abandoned)
                continue;
            if (j->kind == job_kind::insert_absent) {
                std::optional<state_document> next;
                try {
                    next = j->mutate(std::nullopt);
                } catch (...) {
                    finish(j, std::current_exception());
                    continue;
                }
                if (!next) { // it writes nothing for "absent": ask again with what is there
                    j->kind = job_kind::update;
                    updates.push_back(j);
                    continue;
                }
                planned.push_back({j, true, systemdb::column_text(next->partial),
                                   systemdb::column_text(next->completed)});
            } else if (j->kind == job_kind::upsert) {
                upserts.push_back(j);
            } else {
                updates.push_back(j);
            }
        }
        if (planned.empty() && upserts.empty() && updates.empty())
            co_return;
        std::vector<job_ptr> participants = updates;
        participants.insert(participants.end(), upserts.begin(), upserts.end());
        for (const auto& p : planned)
            participants.push_back(p.j);

        std::optional<std::string> xid;
        std::optional<clock_type::time_point> locked_at; // when RT1's locks were granted
        const std::vector<std::optional<std::string>> limits{lock_timeout_ms, statement_timeout_ms,
                                                             idle_in_transaction_ms};
        const bool two_trips = !updates.empty();
        // Every id written under its lock but those of put_unlocked.
        std::vector<std::string> locked_ids;
        for (const auto& j : updates)
            locked_ids.push_back(j->id);
        for (const auto& p : planned)
            locked_ids.push_back(p.j->id);
        if (two_trips) {
            std::vector<std::string> ids;
            for (const auto& j : updates)
                ids.push_back(j->id);
            std::vector<pg::statement> st{{sql_begin, {}, false},
                                          {sql_xid_and_limits, limits, true, true},
                                          {sql_lock_ids, {text_array(locked_ids)}, false, true},
                                          {sql_lock_rows, {text_array(ids)}, false, true}};
            pg::pipeline_outcome o = co_await exec(*c, std::move(st), write_budget());
            if (!o.complete) { // no COMMIT was sent: nothing of it happened
                for (const auto& j : participants)
                    retry_after_transport(j, o.failure);
                co_return;
            }
            if (const PGresult* bad = first_error(o)) {
                co_await rollback(*c);
                group_failed(pg::error_of(bad), participants);
                co_return;
            }
            xid = std::string(PQgetvalue(o.results[1].get(), 0, 0));
            locked_at = clock_type::now();
            const PGresult* rows = o.results[3].get();
            std::unordered_map<std::string, int> row_of;
            for (int row = 0; row < PQntuples(rows); ++row)
                row_of.emplace(PQgetvalue(rows, row, 0), row);
            for (const auto& j : updates) {
                if (j->abandoned) // its caller is gone: so may be what its mutator refers to
                    continue;
                std::optional<state_document> current, next;
                try {
                    const auto found = row_of.find(j->id);
                    if (found != row_of.end())
                        current = read_row(rows, found->second, j->id);
                    next = j->mutate(current);
                } catch (...) {
                    finish(j, std::current_exception()); // nothing of it is written
                    continue;
                }
                if (!next) {
                    settled_without_write.push_back(j);
                    continue;
                }
                planned.push_back({j, !current, systemdb::column_text(next->partial),
                                   systemdb::column_text(next->completed)});
            }
        }

        // The writes and the COMMIT.
        const std::string now = systemdb::local_timestamp();
        std::vector<pg::statement> st;
        if (!two_trips) {
            st.push_back({sql_begin, {}, false});
            st.push_back({sql_xid_and_limits, limits, true, true});
            if (!locked_ids.empty())
                st.push_back({sql_lock_ids, {text_array(locked_ids)}, false, true});
        }
        std::vector<std::string> ins_id, ins_p, ins_c, upd_id, upd_p, upd_c;
        std::vector<job_ptr> inserted_jobs, updated_jobs;
        std::vector<planned_write> inserts;
        for (const auto& p : planned) {
            (p.insert ? ins_id : upd_id).push_back(p.j->id);
            (p.insert ? ins_p : upd_p).push_back(p.partial);
            (p.insert ? ins_c : upd_c).push_back(p.completed);
            (p.insert ? inserted_jobs : updated_jobs).push_back(p.j);
            if (p.insert)
                inserts.push_back(p);
        }
        int insert_index = -1;
        if (!ins_id.empty()) {
            insert_index = static_cast<int>(st.size());
            st.push_back({sql_insert_absent,
                          {text_array(ins_id), text_array(ins_p), text_array(ins_c)},
                          false,
                          true});
        }
        if (!upd_id.empty())
            st.push_back({sql_update_rows,
                          {text_array(upd_id), text_array(upd_p), text_array(upd_c), now},
                          false,
                          true});
        if (!upserts.empty()) {
            std::vector<std::string> ids, ps, cs;
            for (const auto& j : upserts) {
                ids.push_back(j->id);
                ps.push_back(systemdb::column_text(j->document->partial));
                cs.push_back(systemdb::column_text(j->document->completed));
            }
            st.push_back(
                {sql_upsert, {text_array(ids), text_array(ps), text_array(cs), now}, false, true});
        }
        st.push_back({sql_commit, {}, false});
        // Mutators that ran longer than lock_hold_seconds found the transaction ended by the
        // server (idle_in_transaction_session_timeout): their locks were released meanwhile.
        const bool held_too_long =
            locked_at && options.lock_hold_seconds > 0 &&
            std::chrono::duration<double>(clock_type::now() - *locked_at).count() >=
                options.lock_hold_seconds;
        const std::size_t statements = st.size();
        pg::pipeline_outcome o = co_await exec(*c, std::move(st), write_budget());

        if (!two_trips && o.results.size() >= 2 && ok(o.results[1]))
            xid = std::string(PQgetvalue(o.results[1].get(), 0, 0));
        // Every answer arrived, the COMMIT's included, and the connection died after: the
        // outcome is known.
        const bool answered = o.results.size() == statements && ok(o.results.back());
        if (!o.complete && !answered) {
            co_await settle_lost_commit(c, xid, o.failure, inserts, updated_jobs, upserts,
                                        settled_without_write, held_too_long);
            co_return;
        }
        if (const PGresult* bad = first_error(o)) {
            co_await rollback(*c);
            // Only those that took part: the mutators ran, so nothing was written by any.
            std::vector<job_ptr> all = inserted_jobs;
            all.insert(all.end(), updated_jobs.begin(), updated_jobs.end());
            all.insert(all.end(), upserts.begin(), upserts.end());
            all.insert(all.end(), settled_without_write.begin(), settled_without_write.end());
            group_failed(pg::error_of(bad), all);
            co_return;
        }
        // Committed. An insert that met a row inserted meanwhile wrote nothing: it runs
        // again as an update, its mutator seeing that row.
        std::unordered_set<std::string> inserted;
        if (insert_index >= 0) {
            const PGresult* r = o.results[static_cast<std::size_t>(insert_index)].get();
            for (int row = 0; row < PQntuples(r); ++row)
                inserted.insert(PQgetvalue(r, row, 0));
        }
        for (const auto& j : inserted_jobs) {
            if (inserted.contains(j->id)) {
                finish(j);
            } else {
                j->kind = job_kind::update;
                retry_after_race(j, pg::server_error{"23505", "inserted concurrently"});
            }
        }
        for (const auto& j : updated_jobs)
            finish(j);
        for (const auto& j : upserts)
            finish(j);
        for (const auto& j : settled_without_write)
            finish(j);
    }

    asio::awaitable<void> rollback(pg::connection& c)
    {
        std::vector<pg::statement> st{{sql_rollback, {}, false}};
        co_await exec(c, std::move(st), std::chrono::seconds(10));
    }

    /// A statement of the group failed in the server: the group is rolled back. Races are
    /// run again; otherwise a group of several is split so each job meets its own fate.
    void group_failed(const pg::server_error& e, const std::vector<job_ptr>& jobs)
    {
        for (const auto& j : jobs) {
            if (is_conflict(e.sqlstate)) {
                retry_after_race(j, e);
            } else if (is_server_unavailable(e.sqlstate)) {
                retry_after_transport(j, e.message);
            } else if (jobs.size() > 1 && !j->solo) {
                j->solo = true;
                submit(j, true);
            } else {
                finish(j, error_for(e, j->id, "writing"));
            }
        }
    }

    /// The connection died after the COMMIT may have been sent. pg_xact_status on a new
    /// connection says whether the transaction committed. If it did, updates and upserts
    /// are done, and an insert is done when its row holds what it wrote (its RETURNING row
    /// never arrived: it may have met a concurrent insert instead), else it runs again as an
    /// update whose mutator sees what is there. If it did not, everything runs again as it
    /// was. If that cannot be told, everything runs again, inserts as updates: mutators may
    /// run more than once (state_backend.hpp allows it; Meltano's merges are idempotent).
    asio::awaitable<void>
    settle_lost_commit(std::unique_ptr<pg::connection>& c, const std::optional<std::string>& xid,
                       const std::string& why, const std::vector<planned_write>& inserts,
                       const std::vector<job_ptr>& updated_jobs,
                       const std::vector<job_ptr>& upserts, const std::vector<job_ptr>& no_write,
                       bool held_too_long)
    {
        std::string status = "unknown";
        // Asked on a new connection (a few times: that one may be cut too).
        for (int attempt = 0; xid && attempt <= options.max_retries && status == "unknown";
             ++attempt) {
            close(c);
            try {
                c = co_await acquire();
            } catch (...) {
                c.reset();
                break;
            }
            for (int poll = 0; c && poll < 50; ++poll) {
                std::vector<pg::statement> st{{sql_xact_status, {*xid}, false}};
                pg::pipeline_outcome o = co_await exec(*c, std::move(st), std::chrono::seconds(10));
                if (!o.complete || first_error(o)) {
                    status = "unknown";
                    break;
                }
                const auto value = column(o.results[0].get(), 0, 0);
                status = value ? std::string(*value) : "forgotten";
                if (status != "in progress")
                    break;
                // The server has not yet noticed the old connection is gone.
                asio::steady_timer pause(executor);
                pause.expires_after(std::chrono::milliseconds(100));
                co_await pause.async_wait(tuple_awaitable);
            }
            if (status == "in progress")
                break;
        }
        const bool committed = status == "committed";
        const bool aborted = status == "aborted";
        std::vector<job_ptr> inserted_jobs_list;
        for (const auto& p : inserts)
            inserted_jobs_list.push_back(p.j);
        const std::vector<job_ptr>& inserted_jobs = inserted_jobs_list;
        if (!committed && held_too_long) {
            // Running it again would only stall again: the update is refused, as a write
            // whose lock went stale is on the other backends. Nothing of it was written.
            for (const auto* group : {&inserted_jobs, &updated_jobs, &upserts, &no_write})
                for (const auto& j : *group)
                    finish(j, std::make_exception_ptr(error(
                                  errc::lock_lost,
                                  "the update of state " + j->id + " in " + where +
                                      " held its lock longer than lock_timeout_seconds (" +
                                      idle_in_transaction_ms +
                                      " ms) before writing: PostgreSQL ended the transaction "
                                      "(idle_in_transaction_session_timeout) and released the "
                                      "lock; nothing was written")));
            co_return;
        }
        if (committed && !inserts.empty() && c) {
            std::vector<std::string> ids;
            for (const auto& p : inserts)
                ids.push_back(p.j->id);
            std::vector<pg::statement> st{{sql_read, {text_array(ids)}, false, true}};
            pg::pipeline_outcome o = co_await exec(*c, std::move(st), std::chrono::seconds(60));
            std::unordered_map<std::string, std::pair<std::string, std::string>> stored;
            if (o.complete && !first_error(o)) {
                const PGresult* r = o.results[0].get();
                for (int row = 0; row < PQntuples(r); ++row)
                    stored[PQgetvalue(r, row, 0)] = {PQgetvalue(r, row, 2), PQgetvalue(r, row, 1)};
            }
            for (const auto& p : inserts) {
                const auto found = stored.find(p.j->id);
                if (found != stored.end() && found->second.first == p.partial &&
                    found->second.second == p.completed) {
                    finish(p.j); // it holds what this insert wrote
                } else {
                    p.j->kind = job_kind::update;
                    retry_after_transport(p.j, why);
                }
            }
        } else {
            for (const auto& j : inserted_jobs) {
                if (!aborted)
                    j->kind = job_kind::update;
                retry_after_transport(j, why);
            }
        }
        for (const auto* group : {&updated_jobs, &upserts, &no_write}) {
            for (const auto& j : *group) {
                if (committed)
                    finish(j);
                else
                    retry_after_transport(j, why);
            }
        }
    }

    asio::awaitable<void> serve_direct(pg::connection& c, const job_ptr& j)
    {
        try {
            co_await j->direct(c, *j);
            finish(j);
        } catch (const transport_lost& e) {
            retry_after_transport(j, e.what());
        } catch (...) {
            finish(j, std::current_exception());
        }
    }

    /// Runs a direct job's statements: the outcome when complete and without error, else
    /// throws transport_lost or the mapped server error.
    asio::awaitable<pg::pipeline_outcome>
    run_checked(pg::connection& c, std::vector<pg::statement> st, std::string_view doing)
    {
        pg::pipeline_outcome o = co_await exec(c, std::move(st), write_budget() * 2);
        if (!o.complete)
            throw transport_lost(o.failure);
        if (const PGresult* bad = first_error(o)) {
            const pg::server_error e = pg::error_of(bad);
            if (is_server_unavailable(e.sqlstate) || is_conflict(e.sqlstate))
                throw transport_lost(e.message);
            std::rethrow_exception(error_for(e, "", doing));
        }
        co_return o;
    }

    // --- awaiting a job ---------------------------------------------------------------

    asio::awaitable<void> run_job(const job_ptr& j)
    {
        submit(j);
        if (!j->finished) {
            auto [ec] = co_await j->done.async_wait(tuple_awaitable);
            (void)ec;
        }
        if (!j->finished) {
            j->abandoned = true;
            throw_error(errc::cancelled, "the operation on " + where + " was cancelled");
        }
        if (j->failure)
            std::rethrow_exception(j->failure);
    }

    job_ptr make_job(job_kind kind, std::string id = {})
    {
        auto j = std::make_shared<job>(executor);
        j->kind = kind;
        j->id = std::move(id);
        return j;
    }
};

postgres_backend::postgres_backend(asio::any_io_executor executor, postgres_options options)
    : impl_(std::make_shared<impl>(std::move(executor), std::move(options)))
{
}

postgres_backend::~postgres_backend()
{
    // Workers still running (they hold the impl) finish their batch and exit; the queue is
    // empty unless an operation was abandoned.
    impl_->fail_all(std::make_exception_ptr(
        error(errc::cancelled, "the backend for " + impl_->where + " was destroyed")));
}

std::string postgres_backend::describe() const
{
    return "systemdb (" + impl_->options.target.display + ")";
}

std::uint64_t postgres_backend::requests_sent() const noexcept
{
    return impl_->round_trips;
}

std::size_t postgres_backend::open_connections() const noexcept
{
    return impl_->open;
}

std::uint64_t postgres_backend::connections_opened() const noexcept
{
    return impl_->opened;
}

asio::awaitable<std::optional<state_document>> postgres_backend::get(std::string id)
{
    validate_state_id(id);
    job_ptr j = impl_->make_job(job_kind::read, std::move(id));
    co_await impl_->run_job(j);
    co_return std::move(j->found);
}

asio::awaitable<void> postgres_backend::update(std::string id, state_mutator mutate)
{
    validate_state_id(id);
    job_ptr j = impl_->make_job(job_kind::update, std::move(id));
    j->mutate = std::move(mutate);
    co_await impl_->run_job(j);
}

asio::awaitable<void> postgres_backend::update_expecting_absent(std::string id,
                                                                state_mutator mutate)
{
    validate_state_id(id);
    job_ptr j = impl_->make_job(job_kind::insert_absent, std::move(id));
    j->mutate = std::move(mutate);
    co_await impl_->run_job(j);
}

asio::awaitable<void> postgres_backend::put_unlocked(std::string id, state_document document)
{
    validate_state_id(id);
    job_ptr j = impl_->make_job(job_kind::upsert, std::move(id));
    j->document = std::move(document);
    co_await impl_->run_job(j);
}

asio::awaitable<bool> postgres_backend::erase(std::string id)
{
    validate_state_id(id);
    impl* self = impl_.get();
    job_ptr j = self->make_job(job_kind::direct, id);
    // A re-run after a lost connection reports what it finds (the lost attempt may have
    // deleted the row already).
    j->direct = [self](pg::connection& c, job& me) -> asio::awaitable<void> {
        std::vector<pg::statement> st{{sql_delete, {me.id}, false, true}};
        pg::pipeline_outcome o = co_await self->run_checked(c, std::move(st), "deleting");
        me.count = std::string_view(PQcmdTuples(o.results[0].get())) == "0" ? 0 : 1;
    };
    co_await self->run_job(j);
    co_return j->count != 0;
}

asio::awaitable<std::vector<std::string>> postgres_backend::list(std::string pattern)
{
    const std::optional<std::string> like = like_superset(pattern);
    if (!like)
        co_return std::vector<std::string>{};
    impl* self = impl_.get();
    job_ptr j = self->make_job(job_kind::direct);
    j->direct = [self, pattern, like = *like](pg::connection& c, job& me) -> asio::awaitable<void> {
        std::vector<pg::statement> st{{sql_list, {like}, false, true}};
        pg::pipeline_outcome o = co_await self->run_checked(c, std::move(st), "listing states");
        const PGresult* r = o.results[0].get();
        me.ids.clear();
        for (int row = 0; row < PQntuples(r); ++row) {
            std::string id = PQgetvalue(r, row, 0);
            if (pattern.empty() || fnmatch_full(pattern, id))
                me.ids.push_back(std::move(id));
        }
    };
    co_await self->run_job(j);
    std::vector<std::string> ids = std::move(j->ids);
    std::sort(ids.begin(), ids.end());
    co_return ids;
}

asio::awaitable<state_id_page> postgres_backend::list_page(std::string pattern, std::string token)
{
    // Short pages: each is one short read, so writers (this process's migration into the
    // same database included) share the connections with the listing.
    constexpr int rows = 1000;
    const std::optional<std::string> like = like_superset(pattern);
    if (!like)
        co_return state_id_page{};
    impl* self = impl_.get();
    job_ptr j = self->make_job(job_kind::direct);
    j->direct = [self, pattern, token, like = *like](pg::connection& c,
                                                     job& me) -> asio::awaitable<void> {
        std::vector<pg::statement> st{{sql_page, {token, like, std::to_string(rows)}, false, true}};
        pg::pipeline_outcome o = co_await self->run_checked(c, std::move(st), "listing states");
        const PGresult* r = o.results[0].get();
        me.page = state_id_page{};
        const int n = PQntuples(r);
        for (int row = 0; row < n; ++row) {
            std::string id = PQgetvalue(r, row, 0);
            if (pattern.empty() || fnmatch_full(pattern, id))
                me.page.ids.push_back(id);
            if (row == rows - 1) // a full page: there may be more after its last row
                me.page.next_token = std::move(id);
        }
    };
    co_await self->run_job(j);
    co_return std::move(j->page);
}

asio::awaitable<std::size_t> postgres_backend::import_all(std::vector<state_entry> entries)
{
    // Every id is checked before anything is written: an import is all or nothing.
    for (const auto& entry : entries)
        validate_state_id(entry.first);
    // The last of an id given twice wins (a statement may write a row only once). The
    // statements' arrays are built here and owned by the job.
    std::vector<const state_entry*> last;
    {
        std::unordered_map<std::string_view, std::size_t> index;
        for (const auto& entry : entries) {
            auto [it, inserted] = index.emplace(entry.first, last.size());
            if (inserted)
                last.push_back(&entry);
            else
                last[it->second] = &entry;
        }
    }
    struct chunk_arrays {
        std::string ids, partials, completeds;
    };
    std::vector<chunk_arrays> chunks;
    constexpr std::size_t chunk = 1000;
    for (std::size_t first = 0; first < last.size(); first += chunk) {
        std::vector<std::string> ids, ps, cs;
        for (std::size_t i = first; i < std::min(last.size(), first + chunk); ++i) {
            ids.push_back(last[i]->first);
            ps.push_back(systemdb::column_text(last[i]->second.partial));
            cs.push_back(systemdb::column_text(last[i]->second.completed));
        }
        chunks.push_back({text_array(ids), text_array(ps), text_array(cs)});
    }
    impl* self = impl_.get();
    job_ptr j = self->make_job(job_kind::direct);
    j->direct = [self, chunks = std::move(chunks)](pg::connection& c,
                                                   job&) -> asio::awaitable<void> {
        const std::vector<std::optional<std::string>> limits{
            self->lock_timeout_ms, self->statement_timeout_ms, self->idle_in_transaction_ms};
        const std::string now = systemdb::local_timestamp();
        std::vector<pg::statement> st{{sql_begin, {}, false},
                                      {sql_xid_and_limits, limits, false, true}};
        for (const chunk_arrays& a : chunks)
            st.push_back({sql_upsert, {a.ids, a.partials, a.completeds, now}, false, true});
        st.push_back({sql_commit, {}, false});
        pg::pipeline_outcome o = co_await self->exec(c, std::move(st), self->write_budget() * 2);
        if (!o.complete) // an import overwrites: running it again is safe
            throw transport_lost(o.failure);
        if (const PGresult* bad = first_error(o)) {
            const pg::server_error e = pg::error_of(bad);
            co_await self->rollback(c);
            if (is_server_unavailable(e.sqlstate) || is_conflict(e.sqlstate))
                throw transport_lost(e.message);
            std::rethrow_exception(self->error_for(e, "", "importing states"));
        }
    };
    co_await self->run_job(j);
    co_return entries.size(); // an id given twice counts twice, as on SQLite
}

asio::awaitable<std::size_t> postgres_backend::clear_all()
{
    impl* self = impl_.get();
    job_ptr j = self->make_job(job_kind::direct);
    j->direct = [self](pg::connection& c, job& me) -> asio::awaitable<void> {
        std::vector<pg::statement> st{{sql_delete_all, {}, false}};
        pg::pipeline_outcome o = co_await self->run_checked(c, std::move(st), "clearing states");
        me.count = static_cast<std::size_t>(std::stoull(PQcmdTuples(o.results[0].get())));
    };
    co_await self->run_job(j);
    co_return j->count;
}

} // namespace statestore
