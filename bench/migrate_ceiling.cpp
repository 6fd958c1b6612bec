// The ceiling for bench/migrate_bench.sh: bare writes at a given concurrency against the
// destination of a migration, through the same client the migration uses, with nothing
// else per write (no lock, no read, no verification). A migration's request efficiency is
// its ids/s divided by this figure.
//
//   bench_migrate_ceiling URI COUNT CONCURRENCY
//
// URI is a blob backend (file://DIR, s3://bucket/prefix, azure://..., gs://...): COUNT
// unconditional durable writes of a state-sized object (for file: write + fsync + rename
// + directory fsync on the same I/O pool) under <prefix>/ceiling-<pid>/, deleted
// afterwards. URI "systemdb" with MELTANO_DATABASE_URI sqlite:///PATH: COUNT one-row upsert
// transactions with the backend's pragmas; SQLite has one writer, so the figure does not
// depend on CONCURRENCY. With MELTANO_DATABASE_URI postgresql://...: CONCURRENCY connections,
// each running one-row upsert transactions (one statement in autocommit: one round trip) on
// a table shaped like `state`, through the same libpq-on-Asio layer the backend uses; the
// table (statestore_ceiling_PID, in the URI's search_path) is dropped afterwards. Settings
// (endpoints, credentials) come from the environment, as for `statestore`. Prints one JSON
// object: {"ops":..,"seconds":..,"ops_per_second":..,
// "requests":..,"requests_per_second":..,"cpu_seconds":..}; requests counts what reached the
// server (HTTP attempts; file-system calls for file; transactions for systemdb; round trips
// for PostgreSQL).

#include "bench_util.hpp"

#include "backend/systemdb/pg_connection.hpp"
#include "backend/systemdb/pg_uri.hpp"

#include "statestore/statestore.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_future.hpp>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <stdexcept>

namespace asio = boost::asio;
using namespace statestore;

namespace {

std::string document_for(std::size_t i)
{
    return R"({"completed": {"singer_state": {"bookmarks": {"orders": {"replication_key": )"
           R"("updated_at", "replication_key_value": "2024-11-25T11:53:42.)" +
           std::to_string(100000 + i) + R"(Z"}}}}, "partial": {}})";
}

struct shared_counter {
    std::size_t next = 0;
    std::size_t count = 0;
};

asio::awaitable<void> writer(blob_store& store, std::string base, shared_counter& work)
{
    while (work.next < work.count) {
        const std::size_t i = work.next++;
        std::string key = base + std::to_string(i) + "/state.json";
        co_await store.write(std::move(key), document_for(i), precondition::none());
    }
}

asio::awaitable<void> remover(blob_store& store, std::string base, shared_counter& work)
{
    while (work.next < work.count) {
        const std::size_t i = work.next++;
        std::string key = base + std::to_string(i) + "/state.json";
        co_await store.remove(std::move(key), precondition::none());
    }
}

/// Runs `concurrency` copies of `loop` to completion on `io`.
template <typename Loop>
void run_all(asio::io_context& io, std::size_t concurrency, Loop loop)
{
    std::vector<std::future<void>> done;
    for (std::size_t w = 0; w < concurrency; ++w)
        done.push_back(asio::co_spawn(io, loop(), asio::use_future));
    io.restart();
    io.run();
    for (auto& f : done)
        f.get();
}

struct measured {
    double seconds = 0;
    std::uint64_t requests = 0; ///< sent to the server during the timed writes
};

measured blob_ceiling(const settings& config, std::size_t count, std::size_t concurrency)
{
    asio::io_context io;
    opened_blob_store opened = open_blob_store(io.get_executor(), config);
    const std::string base = (opened.prefix.empty() ? "" : opened.prefix + "/") + "ceiling-" +
                             std::to_string(::getpid()) + "/";
    shared_counter work{0, count};
    const std::uint64_t requests_before = opened.store->requests_sent();
    const auto t0 = std::chrono::steady_clock::now();
    run_all(io, concurrency, [&] { return writer(*opened.store, base, work); });
    measured result;
    result.seconds = bench::seconds_since(t0);
    result.requests = opened.store->requests_sent() - requests_before;
    shared_counter cleanup{0, count};
    run_all(io, concurrency, [&] { return remover(*opened.store, base, cleanup); });
    return result;
}

void sql(sqlite3* db, const char* text)
{
    char* message = nullptr;
    if (sqlite3_exec(db, text, nullptr, nullptr, &message) != SQLITE_OK) {
        std::string m = message ? message : "?";
        sqlite3_free(message);
        throw std::runtime_error(std::string(text) + ": " + m);
    }
}

measured systemdb_ceiling(const settings& config, std::size_t count)
{
    const std::string prefix = "sqlite:///";
    if (config.database_uri.rfind(prefix, 0) != 0)
        throw std::runtime_error("systemdb ceiling: MELTANO_DATABASE_URI must be sqlite:///PATH");
    const std::string path = config.database_uri.substr(prefix.size());
    sqlite3* db = nullptr;
    if (sqlite3_open(path.c_str(), &db) != SQLITE_OK)
        throw std::runtime_error("cannot open " + path);
    sql(db, "PRAGMA journal_mode=WAL");
    sql(db, "PRAGMA synchronous=FULL");
    sql(db, "CREATE TABLE IF NOT EXISTS ceiling (id TEXT PRIMARY KEY, body TEXT)");
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db,
                       "INSERT INTO ceiling (id, body) VALUES (?1, ?2) ON CONFLICT (id) DO "
                       "UPDATE SET body = excluded.body",
                       -1, &st, nullptr);
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < count; ++i) {
        const std::string id = "ceiling-" + std::to_string(i);
        const std::string body = document_for(i);
        sql(db, "BEGIN IMMEDIATE");
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, id.c_str(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, body.c_str(), static_cast<int>(body.size()), SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE)
            throw std::runtime_error(sqlite3_errmsg(db));
        sql(db, "COMMIT");
    }
    const double seconds = bench::seconds_since(t0);
    sqlite3_finalize(st);
    sql(db, "DROP TABLE ceiling");
    sqlite3_close(db);
    return measured{seconds, count}; // one transaction per write
}

asio::awaitable<std::unique_ptr<pg::connection>> pg_open(const pg::connection_target& target)
{
    auto executor = co_await asio::this_coro::executor;
    co_return co_await pg::connection::open(executor, target, std::chrono::seconds(30));
}

/// One statement on a connection; throws on any failure.
asio::awaitable<void> pg_exec(pg::connection& c, pg::statement st)
{
    std::vector<pg::statement> one{std::move(st)};
    pg::pipeline_outcome o =
        co_await c.run(std::move(one), pg::clock_type::now() + std::chrono::seconds(60));
    if (!o.complete)
        throw std::runtime_error("PostgreSQL ceiling: " + o.failure);
    const ExecStatusType status = PQresultStatus(o.results[0].get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
        throw std::runtime_error("PostgreSQL ceiling: " + pg::error_of(o.results[0].get()).message);
}

asio::awaitable<void> pg_setup(std::vector<std::unique_ptr<pg::connection>>& connections,
                               const pg::connection_target& target, const std::string& create)
{
    for (auto& c : connections)
        c = co_await pg_open(target);
    pg::statement st;
    st.sql = create.c_str();
    co_await pg_exec(*connections[0], std::move(st));
}

/// One-row transactions, one after another on one connection, until the work runs out.
asio::awaitable<void> pg_writer(pg::connection& c, const std::string& insert, shared_counter& work)
{
    while (work.next < work.count) {
        const std::size_t i = work.next++;
        pg::statement st;
        st.sql = insert.c_str();
        st.params = {"ceiling-" + std::to_string(i), document_for(i)};
        co_await pg_exec(c, std::move(st));
    }
}

measured postgres_ceiling(const settings& config, std::size_t count, std::size_t concurrency)
{
    const pg::connection_target target = pg::parse_postgres_uri(effective_database_uri(config));
    const std::string table = "statestore_ceiling_" + std::to_string(::getpid());
    const std::string create =
        "CREATE TABLE " + table + " (id VARCHAR(900) PRIMARY KEY, body VARCHAR)";
    const std::string insert = "INSERT INTO " + table +
                               " (id, body) VALUES ($1, $2) ON CONFLICT "
                               "(id) DO UPDATE SET body = EXCLUDED.body";
    const std::string drop = "DROP TABLE " + table;
    asio::io_context io;
    std::vector<std::unique_ptr<pg::connection>> connections(concurrency);
    auto started = asio::co_spawn(io, pg_setup(connections, target, create), asio::use_future);
    io.run();
    started.get();
    shared_counter work{0, count};
    const auto t0 = std::chrono::steady_clock::now();
    std::size_t next_connection = 0;
    run_all(io, concurrency,
            [&]() { return pg_writer(*connections[next_connection++], insert, work); });
    measured result{bench::seconds_since(t0), count}; // one round trip per write
    pg::statement drop_table;
    drop_table.sql = drop.c_str();
    auto dropped =
        asio::co_spawn(io, pg_exec(*connections[0], std::move(drop_table)), asio::use_future);
    io.restart();
    io.run();
    dropped.get();
    return result;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc != 4) {
        std::cerr << "usage: bench_migrate_ceiling URI COUNT CONCURRENCY\n";
        return 2;
    }
    try {
        settings config = settings::from_env();
        config.uri = argv[1];
        const auto count = static_cast<std::size_t>(std::stoul(argv[2]));
        const auto concurrency = std::max<std::size_t>(1, std::stoul(argv[3]));
        config.http_max_connections = std::max(config.http_max_connections, concurrency);
        const double cpu0 = bench::cpu_seconds();
        const bool postgres =
            config.uri == "systemdb" && pg::is_postgres_uri(effective_database_uri(config));
        const measured m = postgres                   ? postgres_ceiling(config, count, concurrency)
                           : config.uri == "systemdb" ? systemdb_ceiling(config, count)
                                                      : blob_ceiling(config, count, concurrency);
        const double cpu = bench::cpu_seconds() - cpu0;
        const double seconds = m.seconds;
        std::printf("{\"ops\": %zu, \"seconds\": %.6f, \"ops_per_second\": %.1f, "
                    "\"requests\": %llu, \"requests_per_second\": %.1f, "
                    "\"cpu_seconds\": %.3f}\n",
                    count, seconds, seconds > 0 ? static_cast<double>(count) / seconds : 0.0,
                    static_cast<unsigned long long>(m.requests),
                    seconds > 0 ? static_cast<double>(m.requests) / seconds : 0.0, cpu);
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "bench_migrate_ceiling: " << e.what() << '\n';
        return 1;
    }
}
