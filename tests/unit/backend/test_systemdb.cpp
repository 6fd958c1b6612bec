// systemdb_backend against real SQLite files: Meltano's exact schema and column bytes, an
// existing Meltano database left intact, Meltano's update semantics, fnmatch listing, refusals,
// bulk import, and read-modify-write serialised across processes.

#include "statestore/error.hpp"
#include "statestore/state_document.hpp"
#include "backend/systemdb/systemdb_backend.hpp"

#include "support/run_coro.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/test/unit_test.hpp>

#include <sqlite3.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace statestore::test {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

// The text SQLite keeps in sqlite_master for the table Meltano's migration creates:
// SQLAlchemy's DDL compiler output ("\n\t" before each item, ", " after each) minus the
// surrounding blank lines.
const std::string meltano_state_ddl = "CREATE TABLE state (\n"
                                      "\tstate_id VARCHAR(900) NOT NULL, \n"
                                      "\tpartial_state VARCHAR, \n"
                                      "\tcompleted_state VARCHAR, \n"
                                      "\tupdated_at DATETIME, \n"
                                      "\tPRIMARY KEY (state_id), \n"
                                      "\tUNIQUE (state_id)\n"
                                      ")";

class temp_dir {
public:
    temp_dir()
    {
        std::string pattern = "/tmp/statestore-systemdb-XXXXXX";
        if (mkdtemp(pattern.data()) == nullptr)
            throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~temp_dir()
    {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    fs::path path_;
};

using row = std::vector<std::optional<std::string>>;

/// A plain SQLite connection for setting up and inspecting files behind the backend's back.
class raw_db {
public:
    explicit raw_db(const std::string& path)
    {
        if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                            nullptr) != SQLITE_OK)
            throw std::runtime_error("cannot open " + path);
        sqlite3_busy_timeout(db_, 10'000);
    }
    ~raw_db() { sqlite3_close_v2(db_); }
    raw_db(const raw_db&) = delete;
    raw_db& operator=(const raw_db&) = delete;

    void exec(const std::string& sql)
    {
        char* message = nullptr;
        if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
            std::string text = message ? message : "?";
            sqlite3_free(message);
            throw std::runtime_error(sql + ": " + text);
        }
    }

    /// Every row of `sql`, each column as text or nullopt for NULL; ?1 bound to `param`.
    std::vector<row> query(const std::string& sql, std::optional<std::string> param = {})
    {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
            throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
        if (param)
            sqlite3_bind_text(st, 1, param->c_str(), -1, SQLITE_TRANSIENT);
        std::vector<row> rows;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            row r;
            for (int i = 0; i < sqlite3_column_count(st); ++i) {
                if (sqlite3_column_type(st, i) == SQLITE_NULL)
                    r.emplace_back();
                else
                    r.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, i)));
            }
            rows.push_back(std::move(r));
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
        return rows;
    }

    std::string scalar(const std::string& sql)
    {
        const auto rows = query(sql);
        if (rows.size() != 1 || rows[0].empty() || !rows[0][0])
            throw std::runtime_error(sql + ": expected one non-NULL value");
        return *rows[0][0];
    }

private:
    sqlite3* db_ = nullptr;
};

struct stored_row {
    std::optional<std::string> completed;
    std::optional<std::string> partial;
    std::optional<std::string> updated_at;
};

std::optional<stored_row> read_raw(const std::string& path, const std::string& id)
{
    raw_db db(path);
    const auto rows = db.query(
        "SELECT completed_state, partial_state, updated_at FROM state WHERE state_id = ?1", id);
    if (rows.empty())
        return std::nullopt;
    return stored_row{rows[0][0], rows[0][1], rows[0][2]};
}

/// The same text form the backend writes, for bracketing its timestamps.
std::string local_now()
{
    const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    const auto micros = std::chrono::floor<std::chrono::microseconds>(since_epoch).count();
    const std::time_t seconds = static_cast<std::time_t>(micros / 1'000'000);
    std::tm local{};
    localtime_r(&seconds, &local);
    char text[64];
    std::snprintf(text, sizeof text, "%04d-%02d-%02d %02d:%02d:%02d.%06ld", local.tm_year + 1900,
                  local.tm_mon + 1, local.tm_mday, local.tm_hour, local.tm_min, local.tm_sec,
                  static_cast<long>(micros % 1'000'000));
    return text;
}

/// Runs of whitespace become one space, none kept just inside parentheses.
std::string collapse_whitespace(std::string_view text)
{
    std::string out;
    bool pending_space = false;
    for (const char c : text) {
        if (c == ' ' || c == '\n' || c == '\t') {
            pending_space = true;
            continue;
        }
        if (pending_space && !out.empty() && out.back() != '(' && c != ')')
            out += ' ';
        pending_space = false;
        out += c;
    }
    return out;
}

/// ^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$ (std::regex trips a g++ 12 warning).
bool is_sqlalchemy_datetime(std::string_view text)
{
    constexpr std::string_view shape = "dddd-dd-dd dd:dd:dd.dddddd";
    if (text.size() != shape.size())
        return false;
    for (std::size_t i = 0; i < shape.size(); ++i) {
        const bool digit = text[i] >= '0' && text[i] <= '9';
        if (shape[i] == 'd' ? !digit : text[i] != shape[i])
            return false;
    }
    return true;
}

auto has_code(errc code)
{
    return [code](const error& e) { return e.value() == code; };
}

auto has_code_and_text(errc code, std::vector<std::string> fragments)
{
    return [code, fragments](const error& e) {
        const std::string message = e.what();
        bool ok = e.value() == code;
        for (const auto& fragment : fragments) {
            if (message.find(fragment) == std::string::npos)
                ok = false;
        }
        BOOST_TEST_MESSAGE("error message: " << message);
        return ok;
    };
}

state_document document(std::string_view completed, std::string_view partial)
{
    state_document d;
    d.completed = json::parse(completed);
    d.partial = json::parse(partial);
    return d;
}

void check_document(const std::optional<state_document>& actual, std::string_view completed,
                    std::string_view partial)
{
    BOOST_REQUIRE(actual.has_value());
    const json::value want_completed = json::parse(completed);
    const json::value want_partial = json::parse(partial);
    BOOST_CHECK_MESSAGE(actual->completed == want_completed,
                        "completed " << json::serialize(actual->completed) << " != " << completed);
    BOOST_CHECK_MESSAGE(actual->partial == want_partial,
                        "partial " << json::serialize(actual->partial) << " != " << partial);
}

/// Meltano's StateStoreManager.update(): the incoming state goes through apply_update.
void meltano_update(systemdb_backend& backend, const std::string& id,
                    const state_document& incoming)
{
    state_mutator mutate = [incoming](const std::optional<state_document>& current) {
        return std::optional<state_document>(apply_update(current ? &*current : nullptr, incoming));
    };
    run_coro(backend.update(id, std::move(mutate)));
}

systemdb_options options_for(const std::string& path, double busy_timeout = 30.0)
{
    systemdb_options options;
    options.database_path = path;
    options.busy_timeout_seconds = busy_timeout;
    return options;
}

std::string read_file_bytes(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

} // namespace

BOOST_AUTO_TEST_SUITE(systemdb)

BOOST_AUTO_TEST_CASE(fresh_database_gets_meltanos_exact_table_in_wal_mode)
{
    temp_dir dir;
    const std::string path = dir.file("project/.meltano/meltano.db"); // parents do not exist
    {
        systemdb_backend backend(options_for(path));
        BOOST_CHECK_EQUAL(backend.describe(), "systemdb (sqlite:///" + path + ")");
    }
    raw_db db(path);
    BOOST_CHECK_EQUAL(db.scalar("SELECT sql FROM sqlite_master WHERE name = 'state'"),
                      meltano_state_ddl);
    // Modulo whitespace it is the text in meltano-compat.md section 13.
    BOOST_CHECK_EQUAL(
        collapse_whitespace(db.scalar("SELECT sql FROM sqlite_master WHERE name = 'state'")),
        "CREATE TABLE state (state_id VARCHAR(900) NOT NULL, "
        "partial_state VARCHAR, completed_state VARCHAR, updated_at "
        "DATETIME, PRIMARY KEY (state_id), UNIQUE (state_id))");
    BOOST_CHECK_EQUAL(db.scalar("PRAGMA journal_mode"), "wal");
    // Only Meltano's table: no bookkeeping of ours.
    BOOST_CHECK_EQUAL(db.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table'"), "1");

    // Reopening an existing file is fine and changes nothing.
    {
        systemdb_backend again(options_for(path));
    }
    BOOST_CHECK_EQUAL(db.scalar("SELECT sql FROM sqlite_master WHERE name = 'state'"),
                      meltano_state_ddl);
}

BOOST_AUTO_TEST_CASE(existing_meltano_database_is_used_and_other_tables_left_alone)
{
    temp_dir dir;
    const std::string path = dir.file("meltano.db");
    const std::string id = "dev:tap-gitlab-to-target-postgres";
    {
        raw_db db(path);
        db.exec("PRAGMA journal_mode=WAL");
        db.exec(meltano_state_ddl);
        db.exec("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))");
        db.exec("INSERT INTO alembic_version VALUES ('c0efb3c314eb')");
        db.exec("CREATE TABLE runs (id INTEGER NOT NULL, job_name VARCHAR, run_id CHAR(32), "
                "state VARCHAR, started_at DATETIME, ended_at DATETIME, last_heartbeat_at "
                "DATETIME, payload VARCHAR, payload_flags INTEGER, \"trigger\" VARCHAR, "
                "PRIMARY KEY (id))");
        db.exec("INSERT INTO runs VALUES (1, '" + id +
                "', '0f9ac9e1d2c34b6f8e0a1b2c3d4e5f60', 'STATE_EDIT', "
                "'2024-11-25 11:53:42.337096', '2024-11-25 11:53:42.337096', NULL, "
                "'{\"singer_state\": {\"a\": 1}}', 1, 'cli')");
        // A row as Meltano's first write leaves it: INSERT, updated_at NULL.
        db.exec("INSERT INTO state (state_id, partial_state, completed_state) VALUES ('" + id +
                "', '{}', '{\"singer_state\": {\"a\": 1}}')");
    }
    auto snapshot = [&path] {
        raw_db db(path);
        std::vector<row> all = db.query("SELECT type, name, sql FROM sqlite_master ORDER BY name");
        for (auto& r : db.query("SELECT * FROM alembic_version"))
            all.push_back(r);
        for (auto& r : db.query("SELECT * FROM runs ORDER BY id"))
            all.push_back(r);
        return all;
    };
    const std::vector<row> before = snapshot();

    {
        systemdb_backend backend(options_for(path));
        check_document(run_coro(backend.get(id)), R"({"singer_state": {"a": 1}})", "{}");
        meltano_update(backend, id,
                       state_document::incomplete(json::parse(R"({"singer_state": {"b": 2}})")));
        check_document(run_coro(backend.get(id)), R"({"singer_state": {"a": 1}})",
                       R"({"singer_state": {"b": 2}})");
        BOOST_CHECK(run_coro(backend.list("")) == std::vector<std::string>{id});
    }

    const auto stored = read_raw(path, id);
    BOOST_REQUIRE(stored.has_value());
    BOOST_CHECK_EQUAL(stored->completed.value_or("NULL"), R"({"singer_state": {"a": 1}})");
    BOOST_CHECK_EQUAL(stored->partial.value_or("NULL"), R"({"singer_state": {"b": 2}})");
    BOOST_CHECK(stored->updated_at.has_value());

    const std::vector<row> after = snapshot();
    BOOST_CHECK(before == after);
    BOOST_CHECK_EQUAL(before.size(), after.size());
    raw_db db(path);
    BOOST_CHECK_EQUAL(db.scalar("SELECT version_num FROM alembic_version"), "c0efb3c314eb");
    BOOST_CHECK_EQUAL(db.scalar("SELECT count(*) FROM runs"), "1");
}

BOOST_AUTO_TEST_CASE(first_write_inserts_with_null_updated_at_later_writes_set_it)
{
    temp_dir dir;
    const std::string path = dir.file("meltano.db");
    systemdb_backend backend(options_for(path));
    const std::string id = "dev:tap-a-to-target-b";

    meltano_update(backend, id,
                   state_document::complete(json::parse(R"({"singer_state": {"bookmark-1": 0}})")));
    auto stored = read_raw(path, id);
    BOOST_REQUIRE(stored.has_value());
    // json.dumps bytes: ", " and ": " separators, one half per column.
    BOOST_CHECK_EQUAL(stored->completed.value_or("NULL"), R"({"singer_state": {"bookmark-1": 0}})");
    BOOST_CHECK_EQUAL(stored->partial.value_or("NULL"), "{}");
    BOOST_CHECK(!stored->updated_at.has_value());

    const std::string before = local_now();
    meltano_update(backend, id,
                   state_document::complete(json::parse(R"({"singer_state": {"bookmark-1": 7}})")));
    const std::string after = local_now();
    stored = read_raw(path, id);
    BOOST_REQUIRE(stored.has_value());
    BOOST_CHECK_EQUAL(stored->completed.value_or("NULL"), R"({"singer_state": {"bookmark-1": 7}})");
    BOOST_CHECK_EQUAL(stored->partial.value_or("NULL"), "{}");
    BOOST_REQUIRE(stored->updated_at.has_value());
    const std::string& updated_at = *stored->updated_at;
    BOOST_CHECK_MESSAGE(is_sqlalchemy_datetime(updated_at), updated_at);
    // Local wall-clock time of the write (same format, so text order is time order).
    BOOST_CHECK_LE(before, updated_at);
    BOOST_CHECK_LE(updated_at, after);
}

BOOST_AUTO_TEST_CASE(meltano_update_matrix)
{
    temp_dir dir;
    const std::string path = dir.file("meltano.db");
    systemdb_backend backend(options_for(path));

    // partial onto nothing: stored as is.
    meltano_update(backend, "p",
                   state_document::incomplete(json::parse(R"({"singer_state": {"a": 1}})")));
    check_document(run_coro(backend.get("p")), "{}", R"({"singer_state": {"a": 1}})");

    // complete over partial: both halves replaced, partial becomes {}.
    meltano_update(backend, "p",
                   state_document::complete(json::parse(R"({"singer_state": {"b": 2}})")));
    check_document(run_coro(backend.get("p")), R"({"singer_state": {"b": 2}})", "{}");
    BOOST_CHECK_EQUAL(read_raw(path, "p")->partial.value_or("NULL"), "{}");

    // partial over complete: completed kept, partial merged onto {}.
    meltano_update(backend, "p",
                   state_document::incomplete(json::parse(
                       R"({"singer_state": {"bookmarks": {"s1": {"x": 1}, "s2": {"x": 1}}}})")));
    check_document(run_coro(backend.get("p")), R"({"singer_state": {"b": 2}})",
                   R"({"singer_state": {"bookmarks": {"s1": {"x": 1}, "s2": {"x": 1}}}})");

    // partial over partial: deep merge, incoming wins on leaves, untouched keys kept in order.
    meltano_update(backend, "p",
                   state_document::incomplete(json::parse(
                       R"({"singer_state": {"bookmarks": {"s1": {"x": 2}, "s3": {"x": 3}}}})")));
    check_document(
        run_coro(backend.get("p")), R"({"singer_state": {"b": 2}})",
        R"({"singer_state": {"bookmarks": {"s1": {"x": 2}, "s2": {"x": 1}, "s3": {"x": 3}}}})");
    const auto stored = read_raw(path, "p");
    BOOST_CHECK_EQUAL(
        stored->partial.value_or("NULL"),
        R"({"singer_state": {"bookmarks": {"s1": {"x": 2}, "s2": {"x": 1}, "s3": {"x": 3}}}})");
    BOOST_CHECK_EQUAL(stored->completed.value_or("NULL"), R"({"singer_state": {"b": 2}})");
}

BOOST_AUTO_TEST_CASE(failed_or_empty_mutation_leaves_the_row_unchanged)
{
    temp_dir dir;
    const std::string path = dir.file("meltano.db");
    systemdb_backend backend(options_for(path));
    meltano_update(backend, "x",
                   state_document::incomplete(json::parse(R"({"singer_state": {"a": 1}})")));
    meltano_update(backend, "x",
                   state_document::incomplete(json::parse(R"({"singer_state": {"c": 3}})")));
    const auto before = read_raw(path, "x");
    BOOST_REQUIRE(before.has_value() && before->updated_at.has_value());

    // An object merged onto a scalar is a clash: invalid_document, nothing written.
    BOOST_CHECK_EXCEPTION(meltano_update(backend, "x",
                                         state_document::incomplete(
                                             json::parse(R"({"singer_state": {"a": {"b": 1}}})"))),
                          error, has_code(errc::invalid_document));
    auto after = read_raw(path, "x");
    BOOST_REQUIRE(after.has_value());
    BOOST_CHECK_EQUAL(after->partial.value_or("NULL"), before->partial.value_or("NULL"));
    BOOST_CHECK_EQUAL(after->completed.value_or("NULL"), before->completed.value_or("NULL"));
    BOOST_CHECK_EQUAL(after->updated_at.value_or("NULL"), before->updated_at.value_or("NULL"));

    // Any exception from the mutator rolls back and reaches the caller unchanged.
    state_mutator explode =
        [](const std::optional<state_document>&) -> std::optional<state_document> {
        throw std::runtime_error("mutator failed");
    };
    BOOST_CHECK_THROW(run_coro(backend.update("x", std::move(explode))), std::runtime_error);
    after = read_raw(path, "x");
    BOOST_CHECK_EQUAL(after->updated_at.value_or("NULL"), before->updated_at.value_or("NULL"));

    // The transaction was rolled back, not left open: later writes still work.
    meltano_update(backend, "x",
                   state_document::incomplete(json::parse(R"({"singer_state": {"d": 4}})")));
    check_document(run_coro(backend.get("x")), "{}",
                   R"({"singer_state": {"a": 1, "c": 3, "d": 4}})");

    // nullopt means "write nothing": no row appears.
    bool saw_absent = false;
    state_mutator keep = [&saw_absent](const std::optional<state_document>& current) {
        saw_absent = !current.has_value();
        return std::optional<state_document>();
    };
    run_coro(backend.update("never-written", std::move(keep)));
    BOOST_CHECK(saw_absent);
    BOOST_CHECK(!read_raw(path, "never-written").has_value());
    BOOST_CHECK(!run_coro(backend.get("never-written")).has_value());
}

BOOST_AUTO_TEST_CASE(null_halves_read_as_null_and_are_never_written)
{
    temp_dir dir;
    const std::string path = dir.file("meltano.db");
    systemdb_backend backend(options_for(path));
    {
        raw_db db(path);
        db.exec("INSERT INTO state (state_id, partial_state, completed_state) "
                "VALUES ('n', NULL, '{\"singer_state\": {}}')");
    }
    const auto got = run_coro(backend.get("n"));
    BOOST_REQUIRE(got.has_value());
    BOOST_CHECK(got->partial.is_null());
    BOOST_CHECK(got->completed == json::parse(R"({"singer_state": {}})"));

    // A document with null halves is stored as "{}": Meltano cannot read NULL halves.
    state_document nulls;
    nulls.completed = nullptr;
    nulls.partial = nullptr;
    state_mutator write_nulls = [nulls](const std::optional<state_document>&) {
        return std::optional<state_document>(nulls);
    };
    run_coro(backend.update("n", std::move(write_nulls)));
    const auto stored = read_raw(path, "n");
    BOOST_CHECK_EQUAL(stored->partial.value_or("NULL"), "{}");
    BOOST_CHECK_EQUAL(stored->completed.value_or("NULL"), "{}");
}

BOOST_AUTO_TEST_CASE(unparseable_column_is_reported_with_id_path_and_column)
{
    temp_dir dir;
    const std::string path = dir.file("meltano.db");
    systemdb_backend backend(options_for(path));
    {
        raw_db db(path);
        db.exec("INSERT INTO state (state_id, partial_state, completed_state) "
                "VALUES ('broken', '{\"a\": ', '{}')");
        db.exec("INSERT INTO state (state_id, partial_state, completed_state) "
                "VALUES ('scalar', '{}', '42')");
    }
    BOOST_CHECK_EXCEPTION(
        run_coro(backend.get("broken")), error,
        has_code_and_text(errc::invalid_document,
                          {"state broken in " + path, "column partial_state is not valid JSON"}));
    BOOST_CHECK_EXCEPTION(
        run_coro(backend.get("scalar")), error,
        has_code_and_text(errc::invalid_document, {"state scalar", "column completed_state"}));
    // An update cannot read the row either, and leaves it as it was.
    BOOST_CHECK_EXCEPTION(
        meltano_update(backend, "broken", state_document::complete(json::parse(R"({"a": 1})"))),
        error, has_code(errc::invalid_document));
    BOOST_CHECK_EQUAL(read_raw(path, "broken")->partial.value_or("NULL"), "{\"a\": ");
    // erase still removes it.
    BOOST_CHECK(run_coro(backend.erase("broken")));
    BOOST_CHECK(!read_raw(path, "broken").has_value());
}

BOOST_AUTO_TEST_CASE(list_uses_fnmatch_not_like)
{
    temp_dir dir;
    systemdb_backend backend(options_for(dir.file("meltano.db")));
    const std::vector<std::string> ids = {"a_b",
                                          "axb",
                                          "a%b",
                                          "100%",
                                          "DEV:tap-q",
                                          "prod:tap-x",
                                          "dev:tap-x-to-target-y",
                                          "dev:tap-z-to-target-y"};
    for (const auto& id : ids)
        meltano_update(backend, id,
                       state_document::complete(json::parse(R"({"singer_state": {}})")));

    using ids_t = std::vector<std::string>;
    BOOST_CHECK(run_coro(backend.list("a_b")) == ids_t{"a_b"}); // LIKE would also match axb
    BOOST_CHECK(run_coro(backend.list("a%b")) == ids_t{"a%b"});
    BOOST_CHECK(run_coro(backend.list("a?b")) == (ids_t{"a%b", "a_b", "axb"}));
    BOOST_CHECK(run_coro(backend.list("*%")) == ids_t{"100%"});
    BOOST_CHECK(run_coro(backend.list("dev:*")) ==
                (ids_t{"dev:tap-x-to-target-y", "dev:tap-z-to-target-y"})); // case-sensitive
    BOOST_CHECK(run_coro(backend.list("DEV:*")) == ids_t{"DEV:tap-q"});
    BOOST_CHECK(run_coro(backend.list("*-to-target-[xy]")) ==
                (ids_t{"dev:tap-x-to-target-y", "dev:tap-z-to-target-y"}));
    BOOST_CHECK(run_coro(backend.list("nothing*")).empty());

    ids_t all = run_coro(backend.list(""));
    ids_t sorted = ids;
    std::sort(sorted.begin(), sorted.end());
    BOOST_CHECK(all == sorted);
    BOOST_CHECK(run_coro(backend.list("*")) == sorted);
}

BOOST_AUTO_TEST_CASE(invalid_ids_are_refused)
{
    temp_dir dir;
    const std::string path = dir.file("meltano.db");
    systemdb_backend backend(options_for(path));
    for (const std::string& id : std::vector<std::string>{"", "a/b", "..", "a\nb"}) {
        BOOST_TEST_CONTEXT("id " << id)
        {
            BOOST_CHECK_EXCEPTION(run_coro(backend.get(id)), error,
                                  has_code(errc::invalid_state_id));
            BOOST_CHECK_EXCEPTION(
                meltano_update(backend, id, state_document::complete(json::parse(R"({"a": 1})"))),
                error, has_code(errc::invalid_state_id));
            BOOST_CHECK_EXCEPTION(run_coro(backend.erase(id)), error,
                                  has_code(errc::invalid_state_id));
        }
    }
    raw_db db(path);
    BOOST_CHECK_EQUAL(db.scalar("SELECT count(*) FROM state"), "0");
}

BOOST_AUTO_TEST_CASE(erase_reports_whether_a_row_was_deleted)
{
    temp_dir dir;
    const std::string path = dir.file("meltano.db");
    systemdb_backend backend(options_for(path));
    meltano_update(backend, "gone", state_document::complete(json::parse(R"({"a": 1})")));
    meltano_update(backend, "kept", state_document::complete(json::parse(R"({"a": 2})")));
    BOOST_CHECK(run_coro(backend.erase("gone")));
    BOOST_CHECK(!run_coro(backend.erase("gone")));
    BOOST_CHECK(!run_coro(backend.get("gone")).has_value());
    BOOST_CHECK(run_coro(backend.list("")) == std::vector<std::string>{"kept"});
}

BOOST_AUTO_TEST_CASE(a_file_that_is_not_sqlite_is_refused_and_untouched)
{
    temp_dir dir;
    const std::string path = dir.file("meltano.db");
    std::string garbage;
    while (garbage.size() < 4096)
        garbage += "this is a text file, not a SQLite database; do not touch it\n";
    garbage.resize(4096);
    {
        std::ofstream out(path, std::ios::binary);
        out << garbage;
    }
    auto open = [&path] { systemdb_backend backend(options_for(path)); };
    BOOST_CHECK_EXCEPTION(
        open(), error, has_code_and_text(errc::database_error, {path, "is not a SQLite database"}));
    BOOST_CHECK(read_file_bytes(path) == garbage);
    BOOST_CHECK(!fs::exists(path + "-wal"));
    BOOST_CHECK(!fs::exists(path + "-journal"));
}

BOOST_AUTO_TEST_CASE(pre_2_7_1_state_table_is_refused_with_the_missing_columns)
{
    temp_dir dir;
    const std::string path = dir.file("meltano.db");
    {
        raw_db db(path);
        db.exec("CREATE TABLE state (id INTEGER NOT NULL, job_name VARCHAR, partial_state "
                "VARCHAR, completed_state VARCHAR, updated_at DATETIME, PRIMARY KEY (id))");
    }
    auto open = [&path] { systemdb_backend backend(options_for(path)); };
    BOOST_CHECK_EXCEPTION(open(), error,
                          has_code_and_text(errc::database_error, {path, "state_id", "job_name"}));
    raw_db db(path);
    BOOST_CHECK_EQUAL(db.scalar("SELECT count(*) FROM sqlite_master"), "1");
}

BOOST_AUTO_TEST_CASE(busy_writer_gives_lock_timeout_after_the_busy_timeout)
{
    temp_dir dir;
    const std::string path = dir.file("meltano.db");
    systemdb_backend backend(options_for(path, 0.2));
    raw_db other(path);
    other.exec("BEGIN IMMEDIATE");
    const auto start = std::chrono::steady_clock::now();
    BOOST_CHECK_EXCEPTION(
        meltano_update(backend, "x", state_document::complete(json::parse(R"({"a": 1})"))), error,
        has_code_and_text(errc::lock_timeout, {"database " + path, "waited 0.2 s"}));
    BOOST_CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(150));
    // Readers are not blocked by a writer in WAL mode.
    BOOST_CHECK(!run_coro(backend.get("x")).has_value());
    other.exec("ROLLBACK");
    meltano_update(backend, "x", state_document::complete(json::parse(R"({"a": 1})")));
    check_document(run_coro(backend.get("x")), R"({"a": 1})", "{}");
}

BOOST_AUTO_TEST_CASE(import_and_clear_ten_thousand_states)
{
    temp_dir dir;
    const std::string path = dir.file("meltano.db");
    systemdb_backend backend(options_for(path));
    meltano_update(backend, "state-00042", state_document::complete(json::parse(R"({"old": 1})")));

    std::vector<state_entry> entries;
    for (int i = 0; i < 10'000; ++i) {
        char id[32];
        std::snprintf(id, sizeof id, "state-%05d", i);
        entries.emplace_back(
            id, document(R"({"singer_state": {"n": )" + std::to_string(i) + "}}", "{}"));
    }
    const auto start = std::chrono::steady_clock::now();
    BOOST_CHECK_EQUAL(run_coro(backend.import_all(std::move(entries))), 10'000u);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    BOOST_TEST_MESSAGE("import of 10,000 took "
                       << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()
                       << " ms");
    BOOST_CHECK(elapsed < std::chrono::seconds(20));

    BOOST_CHECK_EQUAL(run_coro(backend.list("")).size(), 10'000u);
    BOOST_CHECK_EQUAL(run_coro(backend.list("state-0000?")).size(), 10u);
    check_document(run_coro(backend.get("state-09999")), R"({"singer_state": {"n": 9999}})", "{}");
    // The pre-existing row was overwritten (an UPDATE: updated_at set); new rows keep NULL.
    check_document(run_coro(backend.get("state-00042")), R"({"singer_state": {"n": 42}})", "{}");
    BOOST_CHECK(read_raw(path, "state-00042")->updated_at.has_value());
    BOOST_CHECK(!read_raw(path, "state-00043")->updated_at.has_value());
    BOOST_CHECK_EQUAL(read_raw(path, "state-00043")->completed.value_or("NULL"),
                      R"({"singer_state": {"n": 43}})");

    BOOST_CHECK_EQUAL(run_coro(backend.clear_all()), 10'000u);
    BOOST_CHECK(run_coro(backend.list("")).empty());
    BOOST_CHECK_EQUAL(run_coro(backend.clear_all()), 0u);
}

BOOST_AUTO_TEST_CASE(import_with_an_invalid_id_writes_nothing)
{
    temp_dir dir;
    const std::string path = dir.file("meltano.db");
    systemdb_backend backend(options_for(path));
    std::vector<state_entry> entries;
    entries.emplace_back("good-1", document(R"({"a": 1})", "{}"));
    entries.emplace_back("bad/id", document(R"({"a": 2})", "{}"));
    entries.emplace_back("good-2", document(R"({"a": 3})", "{}"));
    BOOST_CHECK_EXCEPTION(run_coro(backend.import_all(std::move(entries))), error,
                          has_code(errc::invalid_state_id));
    BOOST_CHECK(run_coro(backend.list("")).empty());
}

BOOST_AUTO_TEST_CASE(memory_database_works)
{
    systemdb_backend backend(options_for(":memory:"));
    BOOST_CHECK_EQUAL(backend.describe(), "systemdb (sqlite:///:memory:)");
    meltano_update(backend, "m", state_document::incomplete(json::parse(R"({"a": {"b": 1}})")));
    meltano_update(backend, "m", state_document::incomplete(json::parse(R"({"a": {"c": 2}})")));
    check_document(run_coro(backend.get("m")), "{}", R"({"a": {"b": 1, "c": 2}})");
    BOOST_CHECK_EQUAL(run_coro(backend.clear_all()), 1u);
}

namespace {

// Runs in a forked child: its own io_context and backend (never the parent's), 50 partial
// merges of a distinct key into one shared id. Returns the exit status.
int child_merges(const std::string& path, int child, int updates)
{
    try {
        systemdb_backend backend(options_for(path, 30.0));
        for (int i = 0; i < updates; ++i) {
            json::object payload;
            payload["k" + std::to_string(child) + "_" + std::to_string(i)] = i;
            const state_document incoming = state_document::incomplete(json::value(payload));
            state_mutator mutate = [incoming](const std::optional<state_document>& current) {
                return std::optional<state_document>(
                    apply_update(current ? &*current : nullptr, incoming));
            };
            boost::asio::io_context io;
            std::future<void> done = boost::asio::co_spawn(
                io, backend.update("shared", std::move(mutate)), boost::asio::use_future);
            io.run();
            done.get();
        }
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "child %d: %s\n", child, e.what());
        return 1;
    } catch (...) {
        return 2;
    }
}

} // namespace

BOOST_AUTO_TEST_CASE(concurrent_processes_lose_no_update)
{
    temp_dir dir;
    const std::string path = dir.file("meltano.db");
    // Create the file, table and WAL mode first; no connection stays open across fork().
    {
        systemdb_backend setup(options_for(path));
    }

    constexpr int children = 8;
    constexpr int updates = 50;
    std::vector<pid_t> pids;
    for (int c = 0; c < children; ++c) {
        const pid_t pid = fork();
        if (pid == 0)
            _exit(child_merges(path, c, updates)); // no Boost.Test teardown in the child
        if (pid < 0)
            break;
        pids.push_back(pid);
    }

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    std::vector<int> statuses(pids.size(), -1);
    std::size_t remaining = pids.size();
    while (remaining > 0 && std::chrono::steady_clock::now() < deadline) {
        for (std::size_t i = 0; i < pids.size(); ++i) {
            if (statuses[i] != -1)
                continue;
            int status = 0;
            if (waitpid(pids[i], &status, WNOHANG) == pids[i]) {
                statuses[i] = status;
                --remaining;
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (std::size_t i = 0; i < pids.size(); ++i) {
        if (statuses[i] == -1) { // over the limit: stop our own child and reap it
            kill(pids[i], SIGKILL);
            waitpid(pids[i], &statuses[i], 0);
            BOOST_ERROR("child " << i << " did not finish within 120 s");
        }
    }
    BOOST_REQUIRE_EQUAL(pids.size(), static_cast<std::size_t>(children));
    for (std::size_t i = 0; i < pids.size(); ++i) {
        BOOST_TEST_CONTEXT("child " << i)
        {
            BOOST_CHECK(WIFEXITED(statuses[i]));
            BOOST_CHECK_EQUAL(WEXITSTATUS(statuses[i]), 0);
        }
    }

    systemdb_backend backend(options_for(path));
    const auto final_document = run_coro(backend.get("shared"));
    BOOST_REQUIRE(final_document.has_value());
    BOOST_CHECK(final_document->completed == json::object());
    BOOST_REQUIRE(final_document->partial.is_object());
    const json::object& partial = final_document->partial.as_object();
    BOOST_CHECK_EQUAL(partial.size(), static_cast<std::size_t>(children * updates));
    for (int c = 0; c < children; ++c) {
        for (int i = 0; i < updates; ++i) {
            const std::string key = "k" + std::to_string(c) + "_" + std::to_string(i);
            const json::value* value = partial.if_contains(key);
            BOOST_CHECK_MESSAGE(value != nullptr && *value == json::value(i), "key " << key);
        }
    }
}

// Updates queued while the SQLite thread is busy are committed together (group commit): one
// transaction, one fsync, for all of them. Each still reads and writes under the write lock:
// merges into one id from many coroutines lose nothing, and a mutator that throws rolls back
// only its own change (its savepoint), not its neighbours'.
BOOST_AUTO_TEST_CASE(queued_updates_commit_together_and_fail_alone)
{
    temp_dir dir;
    const std::string path = dir.file("meltano.db");
    systemdb_backend backend(options_for(path));
    const std::uint64_t transactions_before = backend.requests_sent();

    boost::asio::io_context io;
    // The first update holds the SQLite thread until every other update is queued.
    std::promise<void> entered;
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    state_mutator gate = [&entered, released](const std::optional<state_document>&) {
        entered.set_value();
        released.wait();
        return std::optional<state_document>(
            state_document::complete(json::parse(R"({"singer_state": {"gate": 1}})")));
    };
    std::future<void> gate_done =
        boost::asio::co_spawn(io, backend.update("gate", std::move(gate)), boost::asio::use_future);
    io.poll();
    BOOST_REQUIRE(entered.get_future().wait_for(std::chrono::seconds(30)) ==
                  std::future_status::ready);

    constexpr int ids = 100;
    constexpr int merges = 50;
    std::vector<std::future<void>> good;
    std::vector<std::future<void>> bad;
    for (int i = 0; i < ids; ++i) {
        const std::string doc = R"({"singer_state": {"n": )" + std::to_string(i) + "}}";
        state_mutator write = [doc](const std::optional<state_document>&) {
            return std::optional<state_document>(state_document::complete(json::parse(doc)));
        };
        good.push_back(boost::asio::co_spawn(io, backend.update("id-" + std::to_string(i), std::move(write)),
                                             boost::asio::use_future));
        if (i % 10 == 3) { // every tenth group member fails in its mutator
            state_mutator explode =
                [](const std::optional<state_document>&) -> std::optional<state_document> {
                throw std::runtime_error("mutator failed on purpose");
            };
            bad.push_back(boost::asio::co_spawn(
                io, backend.update("bad-" + std::to_string(i), std::move(explode)),
                boost::asio::use_future));
        }
    }
    for (int k = 0; k < merges; ++k) {
        const state_document incoming = state_document::incomplete(
            json::parse(R"({"singer_state": {"k)" + std::to_string(k) + R"(": 1}})"));
        state_mutator merge = [incoming](const std::optional<state_document>& current) {
            return std::optional<state_document>(
                apply_update(current ? &*current : nullptr, incoming));
        };
        good.push_back(boost::asio::co_spawn(io, backend.update("merged", std::move(merge)),
                                             boost::asio::use_future));
    }
    io.poll(); // every update above is now queued behind the gate
    release.set_value();
    io.run_for(std::chrono::seconds(60));

    gate_done.get();
    for (auto& f : good)
        BOOST_CHECK_NO_THROW(f.get());
    for (auto& f : bad)
        BOOST_CHECK_THROW(f.get(), std::runtime_error);
    // The gate's transaction, then one for all 160 queued updates.
    BOOST_CHECK_EQUAL(backend.requests_sent() - transactions_before, 2u);

    raw_db db(path);
    BOOST_CHECK_EQUAL(db.scalar("SELECT count(*) FROM state WHERE state_id LIKE 'id-%'"),
                      std::to_string(ids));
    BOOST_CHECK_EQUAL(db.scalar("SELECT count(*) FROM state WHERE state_id LIKE 'bad-%'"), "0");
    BOOST_CHECK_EQUAL(*read_raw(path, "id-42")->completed, R"({"singer_state": {"n": 42}})");
    const auto merged = run_coro(backend.get("merged"));
    BOOST_REQUIRE(merged.has_value() && merged->partial.is_object());
    const json::object& singer = merged->partial.as_object().at("singer_state").as_object();
    BOOST_CHECK_EQUAL(singer.size(), static_cast<std::size_t>(merges));
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace statestore::test
