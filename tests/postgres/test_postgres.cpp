// The PostgreSQL system database against Debian's server (tests/servers/postgres.sh, through
// tests/postgres/with_pg.sh): Meltano's schema, an existing Meltano database used as is,
// updated_at, round trips per operation, group commit, the connection pool, TLS and password
// authentication, and faults (connections terminated by the server, a restart mid-migration,
// a wrong password, unreachable and silent hosts). Every case works in a schema of its own.
// The restart cases run against a server of their own (CTest postgres_faults).

#define BOOST_TEST_MODULE statestore_postgres
#include <boost/test/unit_test.hpp>

#include "support/pg_test.hpp"
#include "support/printing.hpp"
#include "support/process.hpp"
#include "support/run_coro.hpp"

#include "backend/systemdb/pg_uri.hpp"
#include "backend/systemdb/postgres_backend.hpp"
#include "backend/systemdb/systemdb_common.hpp"
#include "statestore/statestore.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;
using namespace statestore;
using namespace std::chrono_literals;
using statestore::test::pg_schema;
using statestore::test::pg_session;
using statestore::test::run_coro;

namespace {

json::value js(std::string_view text)
{
    return parse_json(text);
}

std::string env(const char* name)
{
    const char* v = std::getenv(name);
    if (!v || !*v)
        throw std::runtime_error(std::string(name) + " is not set (run through with_pg.sh)");
    return v;
}

std::string random_word()
{
    static std::mt19937_64 rng(std::random_device{}());
    std::string out;
    for (int i = 0; i < 8; ++i)
        out += static_cast<char>('a' + rng() % 26);
    return out;
}

/// The URI with application_name set, so a test can find (and terminate) its connections.
std::string tagged(const std::string& uri, const std::string& application)
{
    return uri + (uri.find('?') == std::string::npos ? "?" : "&") +
           "application_name=" + application;
}

settings settings_for(const std::string& database_uri)
{
    settings s;
    s.uri = "systemdb";
    s.database_uri = database_uri;
    s.lock_retry_seconds = 0.01;
    s.database_retry_timeout_seconds = 0.2;
    s.warn = [](const std::string&) {};
    return s;
}

postgres_options options_for(const std::string& database_uri)
{
    postgres_options o;
    o.target = pg::parse_postgres_uri(database_uri);
    o.retry_interval_seconds = 0.2;
    return o;
}

std::string slurp(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string run_command(const std::string& command)
{
    std::string out;
    FILE* pipe = ::popen(command.c_str(), "r");
    BOOST_REQUIRE(pipe != nullptr);
    char buffer[4096];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe))
        out.append(buffer, n);
    BOOST_REQUIRE_EQUAL(::pclose(pipe), 0);
    return out;
}

/// pg_dump --schema-only of one schema, with the schema's name replaced by SCHEMA and the
/// dump's random \restrict key lines dropped, so two schemas can be compared.
std::string schema_dump(const pg_schema& schema)
{
    const std::string dump = run_command(env("PG_BIN") +
                                         "/pg_dump --schema-only --no-owner "
                                         "--schema=" +
                                         schema.name + " '" + test::pg_base_uri() + "'");
    std::string out;
    std::size_t pos = 0;
    while (pos < dump.size()) {
        const auto end = std::min(dump.find('\n', pos), dump.size());
        std::string line = dump.substr(pos, end - pos);
        pos = end + 1;
        if (line.rfind("\\restrict", 0) == 0 || line.rfind("\\unrestrict", 0) == 0)
            continue;
        for (auto at = line.find(schema.name); at != std::string::npos;
             at = line.find(schema.name, at))
            line.replace(at, schema.name.size(), "SCHEMA");
        out += line + "\n";
    }
    return out;
}

std::size_t server_connections(const std::string& application)
{
    pg_session super(test::pg_super_uri());
    return std::stoul(super.scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", {application}));
}

std::size_t terminate_connections(const std::string& application)
{
    pg_session super(test::pg_super_uri());
    return std::stoul(super.scalar("SELECT count(pg_terminate_backend(pid)) FROM "
                                   "pg_stat_activity WHERE application_name = $1",
                                   {application}));
}

/// A TCP port on 127.0.0.1 nothing listens on (bound, then closed).
int closed_port()
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

/// TEST SUPPORT (fault injection, no real server behaves so): a listener whose connections
/// the kernel accepts but nobody ever answers.
struct silent_listener {
    silent_listener()
    {
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        ::listen(fd, 16);
        socklen_t len = sizeof addr;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
        port = ntohs(addr.sin_port);
    }
    ~silent_listener() { ::close(fd); }
    int fd = -1;
    int port = 0;
};

error failure_of(const std::function<void()>& f)
{
    try {
        f();
    } catch (const error& e) {
        return e;
    }
    BOOST_FAIL("expected a statestore::error");
    throw std::logic_error("unreachable");
}

std::vector<state_entry> make_entries(std::size_t n)
{
    std::vector<state_entry> entries;
    for (std::size_t i = 0; i < n; ++i) {
        json::object inner;
        inner["seq"] = static_cast<std::int64_t>(i);
        inner["name"] = "stream-" + std::to_string(i % 13) + " \xC3\xA9";
        json::object payload;
        payload["singer_state"] = inner;
        state_document d = state_document::complete(payload);
        if (i % 3 == 1)
            d.partial = json::object{{"singer_state", json::object{{"p", i}}}};
        entries.emplace_back("dev:tap-" + std::to_string(i) + "-to-target_%x", std::move(d));
    }
    return entries;
}

/// Every document as its serialize() bytes.
std::map<std::string, std::string> dump(asio::io_context& io, state_backend& backend)
{
    auto body = [](state_backend& b) -> asio::awaitable<std::map<std::string, std::string>> {
        std::map<std::string, std::string> out;
        for (const auto& id : co_await b.list("")) {
            std::optional<state_document> d = co_await b.get(id);
            if (d)
                out[id] = d->serialize();
        }
        co_return out;
    };
    return run_coro(io, body(backend), 120s);
}

struct temp_dir {
    fs::path path;
    temp_dir()
    {
        std::string templ = (fs::temp_directory_path() / "statestore-pg-XXXXXX").string();
        path = mkdtemp(templ.data());
    }
    ~temp_dir()
    {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

} // namespace

BOOST_AUTO_TEST_SUITE(postgres)

// --- Meltano's schema --------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(created_schema_is_the_one_meltanos_migrations_make)
{
    // Ours, made by the first operation on an empty schema ...
    pg_schema ours("ours");
    {
        asio::io_context io;
        state_store store(open_backend(io.get_executor(), settings_for(ours.uri)));
        BOOST_TEST(run_coro(io, store.list("")).empty());
    }
    // ... and the DDL Meltano's migrations produce on PostgreSQL, applied by psql's way.
    pg_schema meltano("meltano");
    pg_session(meltano.uri)
        .exec(slurp(fs::path(STATESTORE_TEST_DATA_DIR) / "postgres" /
                    "meltano-head-c0efb3c314eb.sql"));
    const std::string expected = schema_dump(meltano);
    BOOST_TEST(expected.find("CREATE TABLE SCHEMA.state") != std::string::npos);
    BOOST_TEST(schema_dump(ours) == expected);
    BOOST_TEST(pg_session(ours.uri).scalar("SELECT version_num FROM alembic_version") ==
               "c0efb3c314eb");
    BOOST_TEST(pg_session(ours.uri).scalar("SELECT count(*) FROM alembic_version") == "1");
}

BOOST_AUTO_TEST_CASE(existing_meltano_database_is_used_as_is)
{
    pg_schema schema("existing");
    pg_session db(schema.uri);
    db.exec(
        slurp(fs::path(STATESTORE_TEST_DATA_DIR) / "postgres" / "meltano-head-c0efb3c314eb.sql"));
    // What Meltano leaves: history, a setting, a state it wrote (compact JSON is read too),
    // and a table of the user's own.
    db.exec("INSERT INTO runs (job_name, state, started_at, payload, payload_flags, run_id, "
            "\"trigger\") VALUES ('dev:tap-a-to-target-b', 'SUCCESS', '2024-11-25 11:53:42', "
            "'{\"singer_state\": {}}', 1, 'c2f4a3f0-6c3e-4d5a-9a55-2f5b8e2d1c11', 'cli');"
            "INSERT INTO plugin_settings (name, namespace, value, enabled) VALUES "
            "('x', 'tap-a', '\\x80', true);"
            "INSERT INTO state (state_id, partial_state, completed_state) VALUES "
            "('dev:tap-a-to-target-b', '{}', '{\"singer_state\":{\"a\":1}}');"
            "CREATE TABLE users_own (id int); INSERT INTO users_own VALUES (7);");
    const auto before = db.query("SELECT * FROM runs UNION ALL SELECT NULL, name, namespace, "
                                 "NULL, NULL, encode(value, 'hex'), NULL, NULL, NULL, NULL "
                                 "FROM plugin_settings");
    const std::string before_schema = schema_dump(schema);

    asio::io_context io;
    state_store store(open_backend(io.get_executor(), settings_for(schema.uri)));
    BOOST_TEST(to_python_json(run_coro(io, store.get("dev:tap-a-to-target-b")),
                              json_style::compact) == R"({"singer_state":{"a":1}})");
    run_coro(io, store.merge("dev:tap-a-to-target-b", js(R"({"singer_state": {"b": 2}})")));
    BOOST_TEST(run_coro(io, store.list("")) == std::vector<std::string>{"dev:tap-a-to-target-b"},
               boost::test_tools::per_element());
    BOOST_TEST(db.query("SELECT * FROM runs UNION ALL SELECT NULL, name, namespace, NULL, NULL, "
                        "encode(value, 'hex'), NULL, NULL, NULL, NULL FROM plugin_settings") ==
               before);
    BOOST_TEST(db.scalar("SELECT id FROM users_own") == "7");
    BOOST_TEST(schema_dump(schema) == before_schema, "no table, column or index was changed");
    BOOST_TEST(db.scalar("SELECT version_num FROM alembic_version") == "c0efb3c314eb");
    const auto row = db.query("SELECT partial_state, completed_state FROM state");
    BOOST_REQUIRE_EQUAL(row.size(), 1u);
    BOOST_TEST(*row[0][0] == R"({"singer_state": {"b": 2}})");
    // Both halves rewritten as json.dumps text, as Meltano's own set() writes them.
    BOOST_TEST(*row[0][1] == R"({"singer_state": {"a": 1}})");
}

BOOST_AUTO_TEST_CASE(a_database_meltano_has_not_migrated_is_refused_untouched)
{
    pg_schema schema("partial");
    pg_session db(schema.uri);
    db.exec("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);"
            "INSERT INTO alembic_version VALUES ('5b43800443d1');"
            "CREATE TABLE runs (id SERIAL PRIMARY KEY, job_name VARCHAR);");
    asio::io_context io;
    state_store store(open_backend(io.get_executor(), settings_for(schema.uri)));
    const error e =
        failure_of([&] { run_coro(io, store.set("x", js(R"({"singer_state": {}})"))); });
    BOOST_TEST(e.value() == errc::database_error);
    const std::string what = e.what();
    BOOST_TEST(what.find("alembic revision 5b43800443d1") != std::string::npos, what);
    BOOST_TEST(what.find("meltano upgrade") != std::string::npos);
    BOOST_TEST(db.scalar("SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = "
                         "'state'",
                         {schema.name}) == "0");

    // Meltano's pre-v2.7.1 state table: refused with the upgrade hint.
    pg_schema old("old");
    pg_session(old.uri).exec("CREATE TABLE state (id SERIAL, job_name VARCHAR, partial_state "
                             "VARCHAR, completed_state VARCHAR, updated_at TIMESTAMP)");
    state_store old_store(open_backend(io.get_executor(), settings_for(old.uri)));
    const error e2 = failure_of([&] { run_coro(io, old_store.get("x")); });
    BOOST_TEST(std::string(e2.what()).find("pre-v2.7.1 schema (job_name)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(processes_creating_the_schema_at_once_make_it_once)
{
    pg_schema schema("race");
    std::vector<test::child_process> children;
    for (int p = 0; p < 6; ++p)
        children.push_back(test::spawn_process(
            {STATESTORE_WORKER_PATH, "merge-loop", "race", "p" + std::to_string(p), "3"},
            {{"MELTANO_STATE_BACKEND_URI", "systemdb"}, {"MELTANO_DATABASE_URI", schema.uri}},
            false));
    for (auto& c : children)
        BOOST_TEST(test::wait_process(c, 60s) == 0);
    pg_session db(schema.uri);
    BOOST_TEST(db.scalar("SELECT count(*) FROM alembic_version") == "1");
    asio::io_context io;
    state_store store(open_backend(io.get_executor(), settings_for(schema.uri)));
    BOOST_TEST(run_coro(io, store.get("race")).at("singer_state").as_object().size() == 18u);
}

BOOST_AUTO_TEST_CASE(updated_at_is_null_on_insert_then_the_writers_local_time)
{
    pg_schema schema("updated");
    asio::io_context io;
    state_store store(open_backend(io.get_executor(), settings_for(schema.uri)));
    run_coro(io, store.set("u", js(R"({"singer_state": {"v": 1}})")));
    pg_session db(schema.uri);
    BOOST_TEST(!db.query("SELECT updated_at FROM state")[0][0].has_value());
    const std::string before = systemdb::local_timestamp();
    run_coro(io, store.merge("u", js(R"({"singer_state": {"v": 2}})")));
    const std::string after = systemdb::local_timestamp();
    const std::string stored = db.scalar(
        "SELECT to_char(updated_at, 'YYYY-MM-DD HH24:MI:SS.US') FROM state WHERE state_id = 'u'");
    BOOST_TEST(before <= stored);
    BOOST_TEST(stored <= after);
    BOOST_TEST(db.scalar("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
                         "attrelid = 'state'::regclass AND attname = 'updated_at'") ==
               "timestamp without time zone");
}

// --- round trips, group commit, the pool -------------------------------------------------

BOOST_AUTO_TEST_CASE(round_trips_per_operation)
{
    pg_schema schema("trips");
    asio::io_context io;
    postgres_backend backend(io.get_executor(), options_for(schema.uri));
    state_mutator set_one = [](const std::optional<state_document>&) {
        return std::optional<state_document>(
            state_document::complete(js(R"({"singer_state": {}})")));
    };
    // The first operation also reads the schema (one), creates it (two) and connects.
    run_coro(io, backend.update("a", set_one));
    BOOST_TEST(backend.requests_sent() == 5u);
    const auto trips = [&](auto&& op) {
        const std::uint64_t before = backend.requests_sent();
        op();
        return backend.requests_sent() - before;
    };
    BOOST_TEST(trips([&] { run_coro(io, backend.update("a", set_one)); }) == 2u); // locked RMW
    BOOST_TEST(trips([&] { run_coro(io, backend.update("new", set_one)); }) == 2u);
    BOOST_TEST(trips([&] { run_coro(io, backend.get("a")); }) == 1u);
    BOOST_TEST(trips([&] { run_coro(io, backend.update_expecting_absent("b", set_one)); }) == 1u);
    BOOST_TEST(trips([&] { run_coro(io, backend.put_unlocked("c", state_document{})); }) == 1u);
    BOOST_TEST(trips([&] { run_coro(io, backend.erase("c")); }) == 1u);
    BOOST_TEST(trips([&] { run_coro(io, backend.list("")); }) == 1u);
    BOOST_TEST(trips([&] { run_coro(io, backend.list_page("", "")); }) == 1u);
    // A wrong guess costs the insert, then the locked read-merge-write.
    BOOST_TEST(trips([&] { run_coro(io, backend.update_expecting_absent("a", set_one)); }) == 3u);
    BOOST_TEST(backend.connections_opened() == 1u); // one pooled connection served them all
}

BOOST_AUTO_TEST_CASE(concurrent_updates_share_transactions)
{
    pg_schema schema("group");
    const auto run = [&](std::size_t max_batch) {
        asio::io_context io;
        postgres_options o = options_for(schema.uri);
        o.max_connections = 2;
        o.max_batch = max_batch;
        postgres_backend backend(io.get_executor(), o);
        run_coro(io, backend.list("")); // schema and connection first
        const std::uint64_t before = backend.requests_sent();
        auto body = [&backend](int i) -> asio::awaitable<void> {
            state_mutator add = [i](const std::optional<state_document>& current) {
                return std::optional<state_document>(
                    apply_update(current ? &*current : nullptr,
                                 state_document::incomplete(js(R"({"singer_state": {"k)" +
                                                               std::to_string(i) + R"(": 1}})"))));
            };
            co_await backend.update("g" + std::to_string(i % 16), std::move(add));
        };
        std::vector<std::future<void>> done;
        for (int i = 0; i < 64; ++i)
            done.push_back(asio::co_spawn(io, body(i), asio::use_future));
        io.restart();
        io.run_for(60s);
        for (auto& f : done)
            f.get();
        const std::uint64_t trips = backend.requests_sent() - before;
        // Every merge is in: 16 ids, 4 keys each.
        for (int id = 0; id < 16; ++id)
            BOOST_TEST(run_coro(io, backend.get("g" + std::to_string(id)))
                           ->partial.at("singer_state")
                           .as_object()
                           .size() == 4u);
        run_coro(io, backend.clear_all());
        return trips;
    };
    const std::uint64_t alone = run(1);
    const std::uint64_t grouped = run(256);
    BOOST_TEST_MESSAGE("64 updates: " << alone << " round trips one by one, " << grouped
                                      << " in groups");
    BOOST_TEST(alone == 128u);  // two per update
    BOOST_TEST(grouped <= 32u); // 64 updates in groups of up to 16 (one per id each)
}

BOOST_AUTO_TEST_CASE(the_pool_is_bounded_and_idle_connections_are_closed)
{
    pg_schema schema("pool");
    const std::string app = "ss_pool_" + random_word();
    asio::io_context io;
    postgres_options o = options_for(tagged(schema.uri, app));
    o.max_connections = 3;
    o.idle_timeout = 300ms;
    postgres_backend backend(io.get_executor(), o);
    run_coro(io, backend.list(""));
    std::size_t most_seen = 0;
    auto reader = [&](int i) -> asio::awaitable<void> {
        for (int k = 0; k < 5; ++k) {
            co_await backend.get("id-" + std::to_string(i));
            most_seen = std::max(most_seen, backend.open_connections());
        }
    };
    std::vector<std::future<void>> done;
    for (int i = 0; i < 40; ++i)
        done.push_back(asio::co_spawn(io, reader(i), asio::use_future));
    io.restart();
    io.run_for(60s);
    for (auto& f : done)
        f.get();
    BOOST_TEST(most_seen <= 3u);
    BOOST_TEST(backend.open_connections() <= 3u);
    BOOST_TEST(server_connections(app) == backend.open_connections());
    // Idle past idle_timeout: closed when the pool is next used, and a fresh one opened.
    const std::uint64_t opened = backend.connections_opened();
    std::this_thread::sleep_for(400ms);
    run_coro(io, backend.get("x"));
    BOOST_TEST(backend.connections_opened() == opened + 1);
    BOOST_TEST(backend.open_connections() == 1u);
    // The closed ones' server processes exit as they read the goodbye.
    for (int i = 0; i < 50 && server_connections(app) != 1u; ++i)
        std::this_thread::sleep_for(40ms);
    BOOST_TEST(server_connections(app) == 1u);
}

BOOST_AUTO_TEST_CASE(a_connection_the_server_ended_never_serves_again)
{
    pg_schema schema("ended");
    const std::string app = "ss_ended_" + random_word();
    asio::io_context io;
    postgres_backend backend(io.get_executor(), options_for(tagged(schema.uri, app)));
    state_mutator first = [](const std::optional<state_document>&) {
        return std::optional<state_document>(
            state_document::complete(js(R"({"singer_state": {"v": 1}})")));
    };
    run_coro(io, backend.update("k", first));
    // Ended while idle in the pool: noticed before use, replaced.
    BOOST_TEST(terminate_connections(app) == 1u);
    std::this_thread::sleep_for(100ms);
    BOOST_TEST(run_coro(io, backend.get("k")).has_value());
    BOOST_TEST(backend.connections_opened() == 2u);

    // Ended in the middle of a read-merge-write (between its read and its write): the
    // transaction died with the connection, so the update runs again on a new one.
    int calls = 0;
    state_mutator killer = [&calls, &app](const std::optional<state_document>& current) {
        if (++calls == 1)
            terminate_connections(app);
        return std::optional<state_document>(
            apply_update(current ? &*current : nullptr,
                         state_document::incomplete(js(R"({"singer_state": {"merged": true}})"))));
    };
    run_coro(io, backend.update("k", killer));
    BOOST_TEST(calls == 2);
    BOOST_TEST(backend.connections_opened() == 3u);
    BOOST_TEST(
        run_coro(io, backend.get("k"))->serialize() ==
        R"({"completed": {"singer_state": {"v": 1}}, "partial": {"singer_state": {"merged": true}}})");
    BOOST_TEST(pg_session(schema.uri).scalar("SELECT count(*) FROM state") == "1");
}

BOOST_AUTO_TEST_CASE(killed_connections_during_a_migration_lose_nothing)
{
    pg_schema schema("killed");
    temp_dir dir;
    const std::string app = "ss_kill_" + random_word();
    asio::io_context io;
    settings from_settings;
    from_settings.uri = "file://" + (dir.path / "src").string();
    auto from = open_backend(io.get_executor(), from_settings);
    const auto entries = make_entries(1500);
    run_coro(io, from->import_all(entries), 120s);
    settings to_settings = settings_for(tagged(schema.uri, app));
    to_settings.database_max_retries = 20;
    to_settings.database_retry_timeout_seconds = 0.05;
    auto to = open_backend(io.get_executor(), to_settings);
    run_coro(io, to->list(""));

    std::atomic<bool> stop{false};
    std::atomic<std::size_t> killed{0};
    std::thread killer([&] {
        pg_session super(test::pg_super_uri());
        while (!stop) {
            killed += std::stoul(super.scalar("SELECT count(pg_terminate_backend(pid)) FROM "
                                              "pg_stat_activity WHERE application_name = $1",
                                              {app}));
            std::this_thread::sleep_for(40ms);
        }
    });
    migrate_options options;
    options.concurrency = 16;
    migrate_report report;
    try {
        report = run_coro(io, migrate(*from, *to, options), 170s);
    } catch (...) {
        stop = true;
        killer.join();
        throw;
    }
    stop = true;
    killer.join();
    BOOST_TEST_MESSAGE(killed << " connections terminated during the migration; "
                              << report.failures.size() << " failures");
    BOOST_TEST(killed > 0u);
    for (const auto& f : report.failures)
        BOOST_TEST_MESSAGE(f.id << ": " << f.message);
    BOOST_TEST(report.failed == 0u);
    // A write whose answer was lost and whose outcome could not be settled runs again; its
    // mutator then finds the document already there and reports it identical.
    BOOST_TEST(report.copied + report.identical_skipped == entries.size());
    BOOST_TEST_MESSAGE(report.copied << " copied, " << report.identical_skipped
                                     << " found already written by an attempt whose answer "
                                        "was lost");
    pg_session db(schema.uri);
    BOOST_TEST(db.scalar("SELECT count(*) FROM state") == std::to_string(entries.size()));
    BOOST_TEST((dump(io, *to) == dump(io, *from)), "every state arrived once, byte for byte");
}

// --- connecting -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(wrong_password_is_refused_at_once_and_never_printed)
{
    const std::string uri = env("STATESTORE_TEST_PG_PASSWORD_URI");
    const std::string password = env("PG_PASSWORD");
    std::string wrong = uri;
    wrong.replace(wrong.find(password), password.size(), "Wr0ngPassw0rd");
    asio::io_context io;
    settings s = settings_for(wrong);
    s.database_retry_timeout_seconds = 3; // retried, this would take 9 s
    state_store store(open_backend(io.get_executor(), s));
    const auto t0 = std::chrono::steady_clock::now();
    const error e = failure_of([&] { run_coro(io, store.list("")); });
    BOOST_TEST(e.value() == errc::auth_failed);
    const std::string what = e.what();
    BOOST_TEST(what.find("password authentication failed for user \"ss_pw\"") != std::string::npos,
               what);
    BOOST_TEST(what.find("SQLSTATE 28P01") != std::string::npos);
    BOOST_TEST(what.find("Wr0ngPassw0rd") == std::string::npos);
    BOOST_TEST(what.find(password) == std::string::npos);
    BOOST_TEST((std::chrono::steady_clock::now() - t0 < 3s),
               "an authentication failure is not retried");
    BOOST_TEST(store.backend().describe().find("Wr0ngPassw0rd") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(unreachable_and_silent_hosts_fail_after_the_retries)
{
    asio::io_context io;
    {
        settings s = settings_for(
            "postgresql://u:Secr3tPass@127.0.0.1:" + std::to_string(closed_port()) + "/db");
        s.database_max_retries = 2;
        s.database_retry_timeout_seconds = 0.1;
        state_store store(open_backend(io.get_executor(), s));
        const error e = failure_of([&] { run_coro(io, store.get("x")); });
        BOOST_TEST(e.value() == errc::backend_unavailable);
        const std::string what = e.what();
        BOOST_TEST(what.find("Connection refused") != std::string::npos, what);
        BOOST_TEST(what.find("3 attempts") != std::string::npos, what);
        BOOST_TEST(what.find("Secr3tPass") == std::string::npos);
    }
    {
        silent_listener silent;
        settings s = settings_for("postgresql://u@127.0.0.1:" + std::to_string(silent.port) +
                                  "/db?connect_timeout=2");
        s.database_max_retries = 1;
        s.database_retry_timeout_seconds = 0.1;
        state_store store(open_backend(io.get_executor(), s));
        const error e = failure_of([&] { run_coro(io, store.get("x"), 30s); });
        BOOST_TEST(e.value() == errc::backend_unavailable);
        BOOST_TEST(std::string(e.what()).find("no connection within 2000 ms") != std::string::npos,
                   e.what());
    }
}

BOOST_AUTO_TEST_CASE(tls_with_verify_full_and_scram_passwords)
{
    const std::string tls_uri = env("STATESTORE_TEST_PG_TLS_URI");
    const std::string tls_password = env("PG_TLS_PASSWORD");
    pg_session super(env("PG_SUPER_URI")
                         .replace(env("PG_SUPER_URI").find(":" + env("PG_PORT")),
                                  env("PG_PORT").size() + 1, ":" + env("PG_SECURE_PORT")));
    asio::io_context io;
    {
        const std::string app = "ss_tls_" + random_word();
        state_store store(open_backend(io.get_executor(), settings_for(tagged(tls_uri, app))));
        run_coro(io, store.set("tls", js(R"({"singer_state": {"over": "tls"}})")));
        BOOST_TEST(run_coro(io, store.get("tls")).at("singer_state").at("over") == "tls");
        // The pooled connection is still open: the server says how it is protected.
        const auto row = super.query("SELECT s.ssl, a.usename FROM pg_stat_ssl s JOIN "
                                     "pg_stat_activity a USING (pid) WHERE a.application_name = $1",
                                     {app});
        BOOST_REQUIRE_EQUAL(row.size(), 1u);
        BOOST_TEST(*row[0][0] == "t");
        BOOST_TEST(*row[0][1] == "ss_tls");
        BOOST_TEST(store.backend().describe().find(tls_password) == std::string::npos);
    }
    const std::string port = env("PG_SECURE_PORT");
    const std::string ca = env("PG_CA_FILE");
    const auto refused = [&](const std::string& uri) {
        settings s = settings_for(uri);
        s.database_max_retries = 0;
        state_store store(open_backend(io.get_executor(), s));
        return failure_of([&] { run_coro(io, store.get("tls")); });
    };
    // A CA that did not sign the server's certificate.
    error e = refused("postgresql://ss_tls:" + tls_password + "@localhost:" + port +
                      "/statestore_tls?sslmode=verify-full&sslrootcert=" +
                      (fs::path(ca).parent_path() / "server.pem").string());
    BOOST_TEST(std::string(e.what()).find("certificate verify failed") != std::string::npos,
               e.what());
    // A certificate for another name (connecting by address, verifying the name given).
    e = refused("postgresql://ss_tls:" + tls_password +
                "@/statestore_tls?host=wrong.example&"
                "hostaddr=127.0.0.1&port=" +
                port + "&sslmode=verify-full&sslrootcert=" + ca);
    BOOST_TEST(std::string(e.what()).find("does not match host name") != std::string::npos,
               e.what());
    // The TLS-only user without TLS: the server's pg_hba says no.
    e = refused("postgresql://ss_tls:" + tls_password + "@127.0.0.1:" + port +
                "/statestore_tls?sslmode=disable");
    BOOST_TEST(e.value() == errc::auth_failed);
    BOOST_TEST(std::string(e.what()).find("SQLSTATE 28000") != std::string::npos, e.what());
    BOOST_TEST(std::string(e.what()).find(tls_password) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(libpq_finds_the_password_where_libpq_looks)
{
    const std::string password = env("PG_PASSWORD");
    const std::string port = env("PG_SECURE_PORT");
    const std::string no_password = "postgresql://ss_pw@127.0.0.1:" + port + "/statestore";
    temp_dir dir;
    asio::io_context io;
    const auto works = [&] {
        settings s = settings_for(no_password);
        s.database_max_retries = 0;
        state_store store(open_backend(io.get_executor(), s));
        run_coro(io, store.list(""));
    };
    // Nothing: libpq has no password to send.
    BOOST_TEST(failure_of(works).value() == errc::auth_failed);
    // PGPASSWORD.
    ::setenv("PGPASSWORD", password.c_str(), 1);
    BOOST_CHECK_NO_THROW(works());
    ::unsetenv("PGPASSWORD");
    // A password file (~/.pgpass format), owner-only as libpq requires.
    const fs::path passfile = dir.path / "pgpass";
    {
        std::ofstream out(passfile);
        out << "127.0.0.1:" << port << ":statestore:ss_pw:" << password << "\n";
    }
    fs::permissions(passfile, fs::perms::owner_read | fs::perms::owner_write);
    const char* old = std::getenv("PGPASSFILE");
    const std::string saved = old ? old : "";
    ::setenv("PGPASSFILE", passfile.c_str(), 1);
    BOOST_CHECK_NO_THROW(works());
    ::setenv("PGPASSFILE", saved.c_str(), 1);
    // PGSSLMODE: require on a user allowed without TLS still works (TLS is offered).
    ::setenv("PGSSLMODE", "require", 1);
    {
        settings s = settings_for(env("STATESTORE_TEST_PG_PASSWORD_URI"));
        s.database_uri.replace(s.database_uri.find("?sslmode=disable"), 16, "");
        const std::string app = "ss_pgssl_" + random_word();
        s.database_uri = tagged(s.database_uri, app);
        state_store store(open_backend(io.get_executor(), s));
        run_coro(io, store.list(""));
        pg_session super(env("PG_SUPER_URI")
                             .replace(env("PG_SUPER_URI").find(":" + env("PG_PORT")),
                                      env("PG_PORT").size() + 1, ":" + port));
        BOOST_TEST(super.scalar("SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a "
                                "USING (pid) WHERE a.application_name = $1",
                                {app}) == "t");
    }
    ::unsetenv("PGSSLMODE");
}

// --- locks --------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_writer_that_stalls_holding_a_lock_loses_it)
{
    pg_schema schema("stall");
    asio::io_context io;
    state_store store(open_backend(io.get_executor(), settings_for(schema.uri)));
    run_coro(io, store.set("s", js(R"({"singer_state": {"v": 0}})")));
    // Another process whose update stalls for 4 s inside its transaction, with
    // lock_timeout_seconds = 1: the server ends its transaction after 1 s idle.
    auto child = test::spawn_process({STATESTORE_WORKER_PATH, "slow-update", "s", "4", "stalled"},
                                     {{"MELTANO_STATE_BACKEND_URI", "systemdb"},
                                      {"MELTANO_DATABASE_URI", schema.uri},
                                      {"MELTANO_STATE_BACKEND_LOCK_TIMEOUT_SECONDS", "1"}});
    BOOST_REQUIRE(test::read_line(child, 20s) == std::optional<std::string>("entered"));
    const auto t0 = std::chrono::steady_clock::now();
    run_coro(io, store.merge("s", js(R"({"singer_state": {"parent": 1}})")));
    const auto waited = std::chrono::steady_clock::now() - t0;
    BOOST_TEST_MESSAGE("the parent waited "
                       << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count()
                       << " ms for the stalled writer's lock");
    // The stalled writer is told it lost its lock; it wrote nothing.
    BOOST_TEST(test::wait_process(child, 30s) == 3);
    BOOST_TEST(
        run_coro(io, store.get_document("s"))->serialize() ==
        R"({"completed": {"singer_state": {"v": 0}}, "partial": {"singer_state": {"parent": 1}}})");
}

// --- listing ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(pages_cover_every_id_once)
{
    pg_schema schema("pages");
    asio::io_context io;
    auto backend = open_backend(io.get_executor(), settings_for(schema.uri));
    std::vector<state_entry> entries;
    for (int i = 0; i < 2500; ++i)
        entries.emplace_back((i % 2 ? "Dev:" : "dev:") + std::to_string(i) + (i % 7 ? "_x" : "%y"),
                             state_document::complete(js(R"({"singer_state": {}})")));
    run_coro(io, backend->import_all(entries), 120s);
    std::vector<std::string> all, matching;
    for (const std::string pattern : {"", "dev:*%y"}) {
        std::string token;
        int pages = 0;
        do {
            state_id_page page = run_coro(io, backend->list_page(pattern, token));
            (pattern.empty() ? all : matching)
                .insert((pattern.empty() ? all : matching).end(), page.ids.begin(), page.ids.end());
            token = page.next_token;
            ++pages;
        } while (!token.empty() && pages < 100);
    }
    BOOST_TEST(all.size() == 2500u);
    BOOST_TEST(std::set<std::string>(all.begin(), all.end()).size() == 2500u);
    std::size_t expected = 0;
    for (const auto& [id, d] : entries)
        expected += id.rfind("dev:", 0) == 0 && id.size() >= 2 && id.substr(id.size() - 2) == "%y";
    BOOST_TEST(matching.size() == expected);
    BOOST_TEST(run_coro(io, backend->list("dev:*%y")).size() == expected); // case-sensitive
}

// --- a restart of the server (its own server: CTest postgres_faults) ----------------------

void restart_server()
{
    run_command("bash " STATESTORE_SOURCE_DIR "/tests/servers/postgres.sh restart " +
                env("STATESTORE_TEST_PG_DIR") + " 2>&1");
}

void migrate_across_a_restart(bool into_postgres)
{
    pg_schema schema("restart");
    temp_dir dir;
    asio::io_context io;
    settings file_settings;
    file_settings.uri = "file://" + (dir.path / "files").string();
    settings pg_settings = settings_for(schema.uri);
    pg_settings.database_max_retries = 40;
    pg_settings.database_retry_timeout_seconds = 0.25;
    auto files = open_backend(io.get_executor(), file_settings);
    auto database = open_backend(io.get_executor(), pg_settings);
    const auto entries = make_entries(3000);
    run_coro(io, (into_postgres ? files : database)->import_all(entries), 120s);
    state_backend& from = into_postgres ? *files : *database;
    state_backend& to = into_postgres ? *database : *files;

    migrate_options options;
    options.concurrency = 16;
    options.max_attempts = 10;
    std::size_t done_when_restarted = 0;
    options.progress_interval = 20ms;
    std::thread restarter;
    std::atomic<bool> restarted{false};
    options.on_progress = [&](const migrate_progress& p) {
        if (!restarted && p.done >= 300) {
            restarted = true;
            done_when_restarted = p.done;
            restarter = std::thread(restart_server);
        }
    };
    const migrate_report report = run_coro(io, migrate(from, to, options), 170s);
    if (restarter.joinable())
        restarter.join();
    BOOST_TEST_MESSAGE((into_postgres ? "file -> postgres" : "postgres -> file")
                       << ": server restarted after " << done_when_restarted << " ids; "
                       << report.failed << " failed");
    BOOST_TEST(restarted.load());
    BOOST_TEST(done_when_restarted < entries.size());
    for (const auto& f : report.failures)
        BOOST_TEST_MESSAGE(f.id << ": " << f.message);
    BOOST_TEST(report.failed == 0u);
    BOOST_TEST(report.copied == entries.size());
    BOOST_TEST((dump(io, to) == dump(io, from)), "0 lost, 0 duplicated, byte for byte");
    BOOST_TEST(pg_session(schema.uri).scalar("SELECT count(*) FROM state") ==
               std::to_string(entries.size()));
}

BOOST_AUTO_TEST_CASE(server_restarted_mid_migration_into_postgres)
{
    migrate_across_a_restart(true);
}

BOOST_AUTO_TEST_CASE(server_restarted_mid_migration_out_of_postgres)
{
    migrate_across_a_restart(false);
}

BOOST_AUTO_TEST_SUITE_END()
