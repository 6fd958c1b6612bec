// Bulk migration (statestore::migrate and `statestore migrate`) between every pair of
// backends: systemdb and file always; a cloud store when its base URI is in the
// environment (STATESTORE_TEST_S3_URI=s3://bucket/prefix, STATESTORE_TEST_AZURE_URI,
// STATESTORE_TEST_GCS_URI, with the store's endpoint and credentials in the usual
// MELTANO_STATE_BACKEND_* variables); cases naming an unset one are skipped. Adding a pair
// is one line at "the pairs" below. Multi-process cases start the conformance worker
// (another process holding destination locks) and the CLI itself (SIGKILLed mid-run, then
// re-run).

#define BOOST_TEST_MODULE statestore_migrate
#include <boost/test/unit_test.hpp>

#include "support/pg_test.hpp"
#include "support/printing.hpp"
#include "support/process.hpp"
#include "support/run_coro.hpp"

#include "statestore/statestore.hpp"
#include "core/pattern.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <sqlite3.h>

#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;
using namespace statestore;
using statestore::test::run_coro;
using namespace std::chrono_literals;

namespace {

std::string slurp(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void spit(const fs::path& p, const std::string& bytes)
{
    fs::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << bytes;
}

/// Ids that break naive layouts, quoting or LIKE patterns; all valid state ids.
const std::vector<std::string>& awkward_ids()
{
    static const std::vector<std::string> ids = {
        "dev:tap-ünïcödé-to-target-straße",
        "日本語:ステート",
        "emoji \xF0\x9F\x8E\x89 id",
        "with space",
        "a:b:c:d",
        "100%",
        "%41%2F",
        "under_score",
        "_leading",
        ".hidden",
        "..dots",
        "[bracket]*?",
        "trailing space ",
        "quote\"d 'and' $HOME ~",
    };
    return ids;
}

/// The i-th document: completed only, partial only, both, or (when allowed) a null half.
state_document document_for(std::size_t i, bool null_halves)
{
    json::object inner;
    inner["seq"] = static_cast<std::int64_t>(i);
    inner["name"] = "stream-" + std::to_string(i % 17) + " \xC3\xA9\xE2\x82\xAC";
    inner["ratio"] = static_cast<double>(i) / 8.0;
    json::object payload;
    payload["singer_state"] = inner;
    state_document d;
    switch (i % (null_halves ? 5 : 3)) {
    case 0: d = state_document::complete(payload); break;
    case 1: d = state_document::incomplete(payload); break;
    case 2:
        d.completed = payload;
        d.partial = json::object{{"singer_state", json::object{{"partial_seq", i}}}};
        break;
    case 3:
        d.completed = payload;
        d.partial = nullptr;
        break;
    default:
        d.completed = nullptr;
        d.partial = payload;
        break;
    }
    return d;
}

std::vector<state_entry> make_entries(std::size_t n, bool null_halves)
{
    std::vector<state_entry> entries;
    const auto& awkward = awkward_ids();
    for (std::size_t i = 0; i < n; ++i) {
        std::string id = i < awkward.size() ? awkward[i]
                                            : "dev:tap-" + std::to_string(i) + "-to-target-x";
        entries.emplace_back(std::move(id), document_for(i, null_halves));
    }
    return entries;
}

struct temp_dir {
    fs::path path;
    temp_dir()
    {
        std::string templ = (fs::temp_directory_path() / "statestore-migrate-XXXXXX").string();
        path = mkdtemp(templ.data());
    }
    ~temp_dir()
    {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

enum class kind { systemdb, file, s3, azure, gcs, postgres };

const char* name_of(kind k)
{
    switch (k) {
    case kind::systemdb: return "systemdb";
    case kind::file: return "file";
    case kind::s3: return "s3";
    case kind::azure: return "azure";
    case kind::gcs: return "gcs";
    case kind::postgres:
        return "postgres";
    }
    return "?";
}

bool is_local(kind k) { return k == kind::systemdb || k == kind::file; }

/// A system database (SQLite or PostgreSQL): a null half is stored as {}.
bool is_database(kind k)
{
    return k == kind::systemdb || k == kind::postgres;
}

/// The environment variable naming a cloud store's base URI for these tests.
const char* uri_variable(kind k)
{
    switch (k) {
    case kind::s3: return "STATESTORE_TEST_S3_URI";
    case kind::azure: return "STATESTORE_TEST_AZURE_URI";
    case kind::gcs: return "STATESTORE_TEST_GCS_URI";
    case kind::postgres:
        return "STATESTORE_TEST_PG_URI"; // a database; each side a schema
    default: return nullptr;
    }
}

bool available(kind k)
{
    const char* v = uri_variable(k);
    return is_local(k) || (v && std::getenv(v) && *std::getenv(v));
}

/// Boost.Test precondition: skip a case (reported as skipped) when one of its backends is
/// not configured.
struct needs {
    kind a, b;
    boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const
    {
        boost::test_tools::assertion_result ok(available(a) && available(b));
        if (!available(a))
            ok.message() << uri_variable(a) << " is not set";
        if (!available(b) && b != a)
            ok.message() << (available(a) ? "" : "; ") << uri_variable(b) << " is not set";
        return ok;
    }
};

/// One side of a migration: its settings and where its bytes live.
struct side {
    kind k;
    fs::path where; // the database file or the state directory (local kinds)
    settings config;

    side(kind k_, const fs::path& dir, const std::string& label) : k(k_)
    {
        if (k == kind::postgres) {
            schema = std::make_unique<test::pg_schema>(label);
        } else if (!is_local(k)) {
            // Endpoint and credentials from the environment; a fresh sub-prefix per side,
            // removed by the destructor.
            config = settings::from_env();
            std::string base = std::getenv(uri_variable(k));
            while (!base.empty() && base.back() == '/')
                base.pop_back();
            config.uri = base + "/migrate-" + dir.filename().string() + "-" + label;
        }
        config.lock_retry_seconds = 0.02;
        config.lock_timeout_seconds = 10;
        config.warn = [](const std::string&) {};
        if (k == kind::postgres) {
            config.uri = "systemdb";
            config.database_uri = schema->uri;
        } else if (!is_local(k)) {
            cloud = true;
        } else if (k == kind::systemdb) {
            where = dir / (label + ".db");
            config.uri = "systemdb";
            config.database_uri = "sqlite:///" + where.string();
        } else {
            where = dir / (label + "-state");
            config.uri = "file://" + where.string();
        }
    }

    side(const side&) = delete;
    side& operator=(const side&) = delete;
    ~side()
    {
        if (!cloud)
            return;
        try {
            asio::io_context io;
            auto b = open(io);
            run_coro(io, b->clear_all(), 120s);
        } catch (const std::exception& e) {
            BOOST_TEST_MESSAGE("could not clear " << config.uri << ": " << e.what());
        }
    }

    std::unique_ptr<state_backend> open(asio::io_context& io) const
    {
        return open_backend(io.get_executor(), config);
    }

    bool cloud = false;
    std::unique_ptr<test::pg_schema> schema; // postgres: dropped with the side

    /// CLI arguments naming this side as --from / --to.
    std::vector<std::string> cli_args(const std::string& role) const
    {
        std::vector<std::string> args{"--" + role, config.uri};
        if (is_database(k)) {
            args.push_back("--" + role + "-database-uri");
            args.push_back(config.database_uri);
        }
        return args;
    }
};

/// Every stored document as its serialize() bytes.
std::map<std::string, std::string> dump(asio::io_context& io, state_backend& backend)
{
    auto body = [](state_backend& b) -> asio::awaitable<std::map<std::string, std::string>> {
        std::map<std::string, std::string> out;
        const std::vector<std::string> ids = co_await b.list("");
        for (const auto& id : ids) {
            std::optional<state_document> d = co_await b.get(id);
            if (d)
                out[id] = d->serialize();
        }
        co_return out;
    };
    return run_coro(io, body(backend), 120s);
}

void seed(asio::io_context& io, state_backend& backend, const std::vector<state_entry>& entries)
{
    run_coro(io, backend.import_all(entries), 120s);
}

migrate_report run_migrate(asio::io_context& io, state_backend& from, state_backend& to,
                           migrate_options options)
{
    return run_coro(io, migrate(from, to, std::move(options)), 170s);
}

std::string cli_path() { return STATESTORE_CLI_PATH; }
std::string worker_path() { return STATESTORE_WORKER_PATH; }

/// The CLI's environment: nothing from the caller's Meltano settings leaks in.
std::map<std::string, std::string> clean_env()
{
    return {{"MELTANO_STATE_BACKEND_URI", "systemdb"},
            {"MELTANO_DATABASE_URI", "sqlite://"},
            {"MELTANO_STATE_BACKEND_LOCK_TIMEOUT_SECONDS", "10"},
            {"MELTANO_STATE_BACKEND_LOCK_RETRY_SECONDS", "0.05"}};
}

std::size_t count_file_states(const fs::path& dir)
{
    std::size_t n = 0;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (fs::exists(it->path() / "state.json"))
            ++n;
    return n;
}

json::object read_report(const fs::path& p)
{
    return json::parse(slurp(p)).as_object();
}

std::size_t count_of(const json::object& report, const char* key)
{
    return static_cast<std::size_t>(report.at(key).to_number<std::int64_t>());
}

/// A fingerprint of a directory tree: every path with its bytes and modification time.
std::map<std::string, std::string> tree_snapshot(const fs::path& root)
{
    std::map<std::string, std::string> out;
    if (!fs::exists(root))
        return out;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
        std::string value = e.is_regular_file() ? slurp(e.path()) : "<dir>";
        value += "@" + std::to_string(fs::last_write_time(e.path()).time_since_epoch().count());
        out[fs::relative(e.path(), root).string()] = value;
    }
    return out;
}

// --- the four directions --------------------------------------------------------------

void migrate_direction(kind from_kind, kind to_kind)
{
    temp_dir dir;
    side src(from_kind, dir.path, "src");
    side dst(to_kind, dir.path, "dst");
    // Null halves only where both sides keep them (systemdb writes {} for null).
    const bool nulls = !is_database(from_kind) && !is_database(to_kind);
    const auto entries = make_entries(2000, nulls);

    asio::io_context io;
    auto from = src.open(io);
    auto to = dst.open(io);
    seed(io, *from, entries);
    const auto source = dump(io, *from);
    BOOST_REQUIRE_EQUAL(source.size(), entries.size());
    if (nulls) {
        std::size_t with_null = 0;
        for (const auto& [id, bytes] : source)
            with_null += bytes.find("null") != std::string::npos;
        BOOST_TEST(with_null > 0u, "the source holds documents with null halves");
    }

    std::size_t progress_calls = 0;
    migrate_progress last;
    migrate_options options;
    options.on_progress = [&](const migrate_progress& p) {
        ++progress_calls;
        last = p;
    };
    options.progress_interval = 100ms;
    const migrate_report r = run_migrate(io, *from, *to, options);
    BOOST_TEST_MESSAGE(name_of(from_kind)
                       << " -> " << name_of(to_kind) << ": 2000 states in "
                       << std::chrono::duration<double>(r.elapsed).count() << " s ("
                       << r.ids_per_second() << " ids/s)");
    BOOST_TEST(r.total == 2000u);
    BOOST_TEST(r.copied == 2000u);
    BOOST_TEST(r.overwritten == 0u);
    BOOST_TEST(r.verified == 2000u);
    BOOST_TEST(r.failed == 0u);
    BOOST_TEST(r.skipped + r.identical_skipped == 0u);
    BOOST_TEST(!r.cancelled);
    BOOST_TEST(r.failures.empty());
    // Request counts: every id read at the source. The destination was empty when listed,
    // so no id is looked at before its write: a blob store sees the lock's create, the
    // document's create (no read under the lock), the lock's release (S3: a read and a
    // delete, RGW ignores If-Match on DELETE) and the verification read, plus a few
    // listing pages and retries (slack 200). Without the listing it was 2 more per id.
    if (from_kind == kind::postgres) // concurrent reads share round trips
        BOOST_TEST((r.source_requests > 0u && r.source_requests <= 2000u + 20u));
    else
        BOOST_TEST(r.source_requests >= 2000u);
    if (to_kind == kind::systemdb) {
        BOOST_TEST(r.destination_requests >= 2000u); // the verification reads
    } else if (to_kind == kind::postgres) {
        // Round trips: a write (one, or a group's) and a verification read (one, or a
        // batch's) per id at most, plus the listing pages and the schema check.
        BOOST_TEST(r.destination_requests > 0u);
        BOOST_TEST(r.destination_requests <= 2u * 2000u + 20u);
    } else {
        const std::uint64_t per_id = to_kind == kind::s3 ? 5 : 4;
        BOOST_TEST(r.destination_requests >= per_id * 2000u);
        BOOST_TEST(r.destination_requests <= per_id * 2000u + 200u);
    }
    BOOST_TEST(progress_calls >= 1u);
    BOOST_TEST(last.done == 2000u, "the final progress call carries the final counts");
    BOOST_TEST(last.total == 2000u);

    const auto destination = dump(io, *to);
    BOOST_TEST(destination.size() == source.size());
    BOOST_TEST((destination == source), "destination documents are byte-identical");
    if (to_kind == kind::file) {
        // The stored files themselves are json.dumps bytes of the source documents.
        for (const auto& id : awkward_ids())
            BOOST_TEST(slurp(dst.where / id / "state.json") == source.at(id), id);
    }

    // Run again: nothing to upload.
    migrate_options again;
    again.policy = if_exists::skip_identical;
    const migrate_report r2 = run_migrate(io, *from, *to, again);
    BOOST_TEST(r2.identical_skipped == 2000u);
    BOOST_TEST(r2.copied == 0u);
    BOOST_TEST(r2.failed == 0u);
    // The re-run costs one read per id at the destination (PostgreSQL: concurrent reads share
    // a round trip) and writes nothing.
    if (to_kind != kind::postgres)
        BOOST_TEST(r2.destination_requests >= 2000u);
    BOOST_TEST(r2.destination_requests < 2u * 2000u);
}

} // namespace

// --- the pairs: one line each; cloud ones are skipped unless their URI variable is set ---
#define MIGRATE_PAIR(from, to)                                                                \
    BOOST_AUTO_TEST_CASE(from##_to_##to, *boost::unit_test::precondition(needs{kind::from,     \
                                                                               kind::to}))    \
    {                                                                                          \
        migrate_direction(kind::from, kind::to);                                               \
    }
MIGRATE_PAIR(systemdb, file)
MIGRATE_PAIR(file, systemdb)
MIGRATE_PAIR(file, file)
MIGRATE_PAIR(systemdb, systemdb)
MIGRATE_PAIR(file, s3)
MIGRATE_PAIR(s3, file)
MIGRATE_PAIR(systemdb, s3)
MIGRATE_PAIR(s3, systemdb)
MIGRATE_PAIR(file, postgres)
MIGRATE_PAIR(postgres, file)
MIGRATE_PAIR(systemdb, postgres)
MIGRATE_PAIR(postgres, systemdb)
MIGRATE_PAIR(postgres, postgres)
MIGRATE_PAIR(postgres, s3)
MIGRATE_PAIR(s3, postgres)
MIGRATE_PAIR(azure, postgres)
MIGRATE_PAIR(postgres, gcs)
MIGRATE_PAIR(s3, s3)
MIGRATE_PAIR(file, azure)
MIGRATE_PAIR(azure, file)
MIGRATE_PAIR(file, gcs)
MIGRATE_PAIR(gcs, file)
MIGRATE_PAIR(s3, azure)
MIGRATE_PAIR(azure, gcs)
MIGRATE_PAIR(gcs, s3)
#undef MIGRATE_PAIR

BOOST_AUTO_TEST_CASE(null_halves_into_systemdb_verify_as_empty_objects)
{
    temp_dir dir;
    side src(kind::file, dir.path, "src");
    side dst(kind::systemdb, dir.path, "dst");
    asio::io_context io;
    auto from = src.open(io);
    auto to = dst.open(io);
    seed(io, *from, make_entries(10, true));
    const migrate_report r = run_migrate(io, *from, *to, {});
    BOOST_TEST(r.copied == 10u);
    BOOST_TEST(r.verified == 10u);
    BOOST_TEST(r.failed == 0u);
}

BOOST_AUTO_TEST_CASE(policies_overwrite_skip_skip_identical)
{
    temp_dir dir;
    side src(kind::systemdb, dir.path, "src");
    side dst(kind::file, dir.path, "dst");
    asio::io_context io;
    auto from = src.open(io);
    auto to = dst.open(io);
    const auto entries = make_entries(30, false);
    seed(io, *from, entries);
    // At the destination: ids 0-9 identical, 10-19 different, 20-29 absent.
    std::vector<state_entry> existing;
    for (std::size_t i = 0; i < 20; ++i)
        existing.emplace_back(entries[i].first, i < 10 ? entries[i].second
                                                       : document_for(i + 1000, false));
    auto reset = [&] {
        run_coro(io, to->clear_all());
        seed(io, *to, existing);
    };

    reset();
    migrate_options skip;
    skip.policy = if_exists::skip;
    migrate_report r = run_migrate(io, *from, *to, skip);
    BOOST_TEST(r.copied == 10u);
    BOOST_TEST(r.identical_skipped == 10u);
    BOOST_TEST(r.skipped == 10u);
    BOOST_TEST(dump(io, *to).at(entries[15].first) == document_for(1015, false).serialize());

    for (auto policy : {if_exists::overwrite, if_exists::skip_identical}) {
        reset();
        migrate_options o;
        o.policy = policy;
        r = run_migrate(io, *from, *to, o);
        BOOST_TEST(r.copied == 20u);
        BOOST_TEST(r.overwritten == 10u);
        BOOST_TEST(r.identical_skipped == 10u, "identical bytes are not rewritten");
        BOOST_TEST(r.verified == 20u);
        BOOST_TEST((dump(io, *to) == dump(io, *from)));
    }

    // Without locks (offline): same result, no lock files appear.
    reset();
    migrate_options unlocked;
    unlocked.lock = false;
    r = run_migrate(io, *from, *to, unlocked);
    BOOST_TEST(r.copied == 20u);
    BOOST_TEST(r.verified == 20u);
    BOOST_TEST((dump(io, *to) == dump(io, *from)));

    // A pattern selects source ids (fnmatch over the whole id).
    run_coro(io, to->clear_all());
    migrate_options some;
    some.pattern = "dev:tap-2?-*";
    r = run_migrate(io, *from, *to, some);
    BOOST_TEST(r.total == 10u);
    BOOST_TEST(r.copied == 10u);
}

BOOST_AUTO_TEST_CASE(dry_run_touches_nothing)
{
    temp_dir dir;
    side src(kind::systemdb, dir.path, "src");
    side dst(kind::file, dir.path, "dst");
    asio::io_context io;
    auto from = src.open(io);
    auto to = dst.open(io);
    const auto entries = make_entries(100, false);
    seed(io, *from, entries);
    std::vector<state_entry> existing;
    for (std::size_t i = 0; i < 20; ++i)
        existing.emplace_back(entries[i].first, i < 10 ? entries[i].second
                                                       : document_for(i + 1000, false));
    seed(io, *to, existing);
    const auto before = tree_snapshot(dst.where);
    const auto source_before = slurp(src.where);

    migrate_options o;
    o.dry_run = true;
    o.policy = if_exists::skip_identical;
    const migrate_report r = run_migrate(io, *from, *to, o);
    BOOST_TEST(r.dry_run);
    BOOST_TEST(r.plan.size() == 100u);
    std::map<std::string, int> actions;
    std::size_t identical = 0;
    for (const auto& p : r.plan) {
        ++actions[to_string(p.action)];
        identical += p.identical;
    }
    BOOST_TEST(actions["copy"] == 80);
    BOOST_TEST(actions["overwrite"] == 10);
    BOOST_TEST(actions["skip"] == 10);
    BOOST_TEST(identical == 10u);
    BOOST_TEST(r.verified == 0u);
    BOOST_TEST((tree_snapshot(dst.where) == before), "the destination is untouched");
    BOOST_TEST(slurp(src.where) == source_before, "the source database is untouched");

    // Into a destination directory that does not exist: it is not created.
    side fresh(kind::file, dir.path, "fresh");
    auto to_fresh = fresh.open(io);
    const migrate_report r2 = run_migrate(io, *from, *to_fresh, o);
    BOOST_TEST(r2.plan.size() == 100u);
    BOOST_TEST(r2.copied == 100u);
    BOOST_TEST(!fs::exists(fresh.where / entries[0].first));
}

BOOST_AUTO_TEST_CASE(corrupt_source_documents_fail_alone)
{
    temp_dir dir;
    asio::io_context io;
    // A file source with one unparsable state.json.
    {
        side src(kind::file, dir.path, "src");
        side dst(kind::systemdb, dir.path, "dst");
        auto from = src.open(io);
        auto to = dst.open(io);
        seed(io, *from, make_entries(50, false));
        spit(src.where / "dev:broken" / "state.json", "{\"completed\": {\"singer_state\": ");
        const migrate_report r = run_migrate(io, *from, *to, {});
        BOOST_TEST(r.total == 51u);
        BOOST_TEST(r.copied == 50u);
        BOOST_TEST(r.failed == 1u);
        BOOST_REQUIRE(r.failures.size() == 1u);
        BOOST_TEST(r.failures[0].id == "dev:broken");
        BOOST_TEST(r.failures[0].message.find("dev:broken") != std::string::npos,
                   r.failures[0].message);
        BOOST_TEST(r.failures[0].message.find("corrupt") != std::string::npos,
                   r.failures[0].message);
        BOOST_TEST(!run_coro(io, to->get("dev:broken")).has_value());
    }
    // A systemdb source with a column that is not JSON.
    {
        side src(kind::systemdb, dir.path, "src2");
        side dst(kind::file, dir.path, "dst2");
        auto from = src.open(io);
        auto to = dst.open(io);
        seed(io, *from, make_entries(50, false));
        sqlite3* db = nullptr;
        BOOST_REQUIRE(sqlite3_open(src.where.c_str(), &db) == SQLITE_OK);
        BOOST_REQUIRE(sqlite3_exec(db,
                                   "INSERT INTO state (state_id, partial_state, completed_state) "
                                   "VALUES ('dev:bad-json', '{}', '{not json')",
                                   nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(db);
        const migrate_report r = run_migrate(io, *from, *to, {});
        BOOST_TEST(r.copied == 50u);
        BOOST_TEST(r.failed == 1u);
        BOOST_REQUIRE(r.failures.size() == 1u);
        BOOST_TEST(r.failures[0].id == "dev:bad-json");
        BOOST_TEST(r.failures[0].message.find("dev:bad-json") != std::string::npos,
                   r.failures[0].message);
        BOOST_TEST(!fs::exists(dst.where / "dev:bad-json"));
    }
}

BOOST_AUTO_TEST_CASE(cancellation_finishes_in_flight_and_resumes)
{
    temp_dir dir;
    side src(kind::systemdb, dir.path, "src");
    side dst(kind::file, dir.path, "dst");
    asio::io_context io;
    auto from = src.open(io);
    auto to = dst.open(io);
    seed(io, *from, make_entries(600, false));
    auto cancel = std::make_shared<migrate_cancel>();
    migrate_options o;
    o.concurrency = 4;
    o.cancel = cancel;
    o.progress_interval = 1ms;
    o.on_progress = [cancel](const migrate_progress& p) {
        if (p.done >= 50)
            cancel->request();
    };
    const migrate_report r = run_migrate(io, *from, *to, o);
    BOOST_TEST(r.cancelled);
    BOOST_TEST(r.done() < 600u);
    BOOST_TEST(r.done() >= 50u);
    BOOST_TEST(r.failed == 0u);
    BOOST_TEST(count_file_states(dst.where) == r.copied, "in-flight ids finished");

    migrate_options resume;
    const migrate_report r2 = run_migrate(io, *from, *to, resume);
    BOOST_TEST(!r2.cancelled);
    BOOST_TEST(r2.identical_skipped == r.copied);
    BOOST_TEST(r2.copied == 600u - r.copied);
    BOOST_TEST((dump(io, *to) == dump(io, *from)));
}

// --- multi-process ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(sigkilled_cli_run_completes_when_rerun)
{
    // Cloud pairs run when their URI variable is set (see the top of this file).
    for (auto [from_kind, to_kind] :
         {std::pair{kind::systemdb, kind::file}, std::pair{kind::file, kind::systemdb},
          std::pair{kind::file, kind::s3}, std::pair{kind::file, kind::azure},
          std::pair{kind::file, kind::gcs}}) {
        if (!available(from_kind) || !available(to_kind))
            continue;
        BOOST_TEST_CONTEXT(name_of(from_kind) << " -> " << name_of(to_kind))
        {
            temp_dir dir;
            side src(from_kind, dir.path, "src");
            side dst(to_kind, dir.path, "dst");
            asio::io_context io;
            auto from = src.open(io);
            seed(io, *from, make_entries(2000, false));
            const auto source = dump(io, *from);

            std::mt19937 rng(std::random_device{}());
            const std::size_t kill_after = std::uniform_int_distribution<std::size_t>(50, 1200)(rng);
            std::vector<std::string> args{cli_path(), "migrate"};
            for (auto& a : src.cli_args("from"))
                args.push_back(a);
            for (auto& a : dst.cli_args("to"))
                args.push_back(a);
            args.insert(args.end(), {"--concurrency", "4", "--progress-seconds", "0"});
            auto child = test::spawn_process(args, clean_env(), false);
            // Kill once at least `kill_after` states have landed (bounded wait).
            auto written = [&]() -> std::size_t {
                if (to_kind == kind::file)
                    return count_file_states(dst.where);
                if (to_kind != kind::systemdb) {
                    asio::io_context probe;
                    auto listed = dst.open(probe);
                    return run_coro(probe, listed->list(""), 30s).size();
                }
                sqlite3* db = nullptr;
                std::size_t n = 0;
                if (sqlite3_open_v2(dst.where.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
                    SQLITE_OK) {
                    sqlite3_busy_timeout(db, 1000);
                    sqlite3_stmt* st = nullptr;
                    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM state", -1, &st, nullptr) ==
                            SQLITE_OK &&
                        sqlite3_step(st) == SQLITE_ROW)
                        n = static_cast<std::size_t>(sqlite3_column_int64(st, 0));
                    sqlite3_finalize(st);
                }
                sqlite3_close(db);
                return n;
            };
            const auto deadline = std::chrono::steady_clock::now() + 60s;
            std::size_t seen = 0;
            while (std::chrono::steady_clock::now() < deadline) {
                seen = written();
                if (seen >= kill_after)
                    break;
                std::this_thread::sleep_for(2ms);
            }
            test::kill_process(child, SIGKILL);
            const int status = test::wait_process(child, 30s);
            BOOST_TEST_MESSAGE("killed after " << seen << " states (target " << kill_after
                                               << "), exit " << status);
            BOOST_TEST(seen >= kill_after, "the first run made progress before the kill");

            // Re-run: leftover locks of the killed run expire after 1 s.
            const fs::path report = dir.path / "report.json";
            std::vector<std::string> rerun = args;
            rerun.insert(rerun.end(), {"--report", report.string(), "--lock-timeout-seconds", "1",
                                       "--if-exists", "skip-identical"});
            auto second = test::spawn_process(rerun, clean_env(), false);
            BOOST_TEST(test::wait_process(second, 120s) == 0);
            const json::object r = read_report(report);
            BOOST_TEST(count_of(r, "total") == 2000u);
            BOOST_TEST(count_of(r, "failed") == 0u);
            BOOST_TEST(count_of(r, "identical_skipped") + count_of(r, "copied") == 2000u);
            BOOST_TEST(count_of(r, "copied") < 2000u, "only what was missing is uploaded");
            BOOST_TEST(count_of(r, "identical_skipped") >= seen - 4,
                       "everything the first run wrote is kept");

            auto to = dst.open(io);
            BOOST_TEST((dump(io, *to) == source), "complete and identical after the re-run");
        }
    }
}

BOOST_AUTO_TEST_CASE(destination_locks_held_by_another_process)
{
    temp_dir dir;
    side src(kind::systemdb, dir.path, "src");
    side dst(kind::file, dir.path, "dst");
    asio::io_context io;
    auto from = src.open(io);
    const auto entries = make_entries(200, false);
    seed(io, *from, entries);
    const std::vector<std::string> held = {entries[3].first, entries[50].first,
                                           entries[150].first};
    std::map<std::string, std::string> worker_env = clean_env();
    worker_env["MELTANO_STATE_BACKEND_URI"] = dst.config.uri;

    auto hold = [&](double seconds) {
        std::vector<test::child_process> workers;
        for (const auto& id : held) {
            workers.push_back(test::spawn_process(
                {worker_path(), "hold-lock", id, std::to_string(seconds)}, worker_env));
            BOOST_REQUIRE(test::read_line(workers.back(), 20s) ==
                          std::optional<std::string>("locked"));
        }
        return workers;
    };

    // 1. They wait for the locks, then succeed.
    {
        auto workers = hold(1.5);
        const auto start = std::chrono::steady_clock::now();
        auto to = dst.open(io);
        const migrate_report r = run_migrate(io, *from, *to, {});
        const auto took = std::chrono::steady_clock::now() - start;
        BOOST_TEST(r.copied == 200u);
        BOOST_TEST(r.failed == 0u);
        BOOST_TEST(took >= 1s, "the held ids waited for their locks");
        for (auto& w : workers) {
            BOOST_TEST(test::read_line(w, 20s) == std::optional<std::string>("released"));
            BOOST_TEST(test::wait_process(w, 20s) == 0);
        }
        BOOST_TEST((dump(io, *to) == dump(io, *from)));
        run_coro(io, to->clear_all());
    }

    // 2. With a maximum wait (through the CLI): the held ids fail and are reported.
    {
        auto workers = hold(6);
        const fs::path report = dir.path / "locks.json";
        std::vector<std::string> args{cli_path(), "migrate"};
        for (auto& a : src.cli_args("from"))
            args.push_back(a);
        for (auto& a : dst.cli_args("to"))
            args.push_back(a);
        args.insert(args.end(), {"--lock-max-wait-seconds", "0.3", "--report", report.string(),
                                 "--progress-seconds", "0"});
        auto child = test::spawn_process(args, clean_env(), false);
        BOOST_TEST(test::wait_process(child, 60s) == 1, "exit 1: some ids failed");
        const json::object r = read_report(report);
        BOOST_TEST(count_of(r, "copied") == 197u);
        BOOST_TEST(count_of(r, "failed") == 3u);
        std::set<std::string> failed_ids;
        for (const auto& f : r.at("failures").as_array()) {
            const std::string id(f.at("id").as_string());
            const std::string message(f.at("error").as_string());
            failed_ids.insert(id);
            BOOST_TEST(message.find("timed out") != std::string::npos, message);
            BOOST_TEST(message.find(id) != std::string::npos, message);
        }
        BOOST_TEST((failed_ids == std::set<std::string>(held.begin(), held.end())));
        for (auto& w : workers)
            BOOST_TEST(test::wait_process(w, 20s) == 0);
        auto to = dst.open(io);
        const auto copied = dump(io, *to);
        BOOST_TEST(copied.size() == 197u);
        for (const auto& id : held)
            BOOST_TEST(!copied.contains(id));
    }
}

BOOST_AUTO_TEST_CASE(same_backend_is_refused)
{
    temp_dir dir;
    side s(kind::file, dir.path, "x");
    asio::io_context io;
    auto b = s.open(io);
    BOOST_CHECK_THROW(run_migrate(io, *b, *b, {}), error);
}

// --- streaming listing ------------------------------------------------------------------

namespace {

/// A source that lists `page_size` ids at a time and records, at each page request, how
/// many ids the migration has already finished reading from it: with a streaming listing
/// the copy runs between pages, and at most a bounded number of listed ids wait.
class paged_source final : public state_backend {
public:
    paged_source(state_backend& inner, std::size_t page_size) : inner_(inner), size_(page_size) {}

    std::string describe() const override { return "paged(" + inner_.describe() + ")"; }
    asio::awaitable<std::optional<state_document>> get(std::string id) override
    {
        auto d = co_await inner_.get(std::move(id));
        ++reads;
        max_waiting = std::max(max_waiting, listed - reads);
        co_return d;
    }
    asio::awaitable<void> update(std::string id, state_mutator m) override
    {
        co_await inner_.update(std::move(id), std::move(m));
    }
    asio::awaitable<bool> erase(std::string id) override
    {
        co_return co_await inner_.erase(std::move(id));
    }
    asio::awaitable<std::vector<std::string>> list(std::string) override
    {
        throw std::logic_error("migrate must use list_page");
    }
    asio::awaitable<state_id_page> list_page(std::string pattern, std::string token) override
    {
        reads_at_page.push_back(reads);
        const std::vector<std::string> all = co_await inner_.list(std::move(pattern));
        auto it = std::upper_bound(all.begin(), all.end(), token);
        if (token.empty())
            it = all.begin();
        state_id_page page;
        for (; it != all.end() && page.ids.size() < size_; ++it)
            page.ids.push_back(*it);
        if (it != all.end())
            page.next_token = page.ids.back();
        listed += page.ids.size();
        co_return page;
    }

    std::size_t reads = 0, listed = 0, max_waiting = 0;
    std::vector<std::size_t> reads_at_page;

private:
    state_backend& inner_;
    std::size_t size_;
};

} // namespace

BOOST_AUTO_TEST_CASE(listing_streams_into_the_workers)
{
    temp_dir dir;
    side src(kind::systemdb, dir.path, "src");
    side dst(kind::file, dir.path, "dst");
    asio::io_context io;
    auto inner = src.open(io);
    auto to = dst.open(io);
    seed(io, *inner, make_entries(500, false));
    paged_source from(*inner, 50);
    migrate_options o;
    o.concurrency = 4;
    std::vector<migrate_progress> seen;
    o.on_progress = [&](const migrate_progress& p) { seen.push_back(p); };
    o.progress_interval = 1ms;
    const migrate_report r = run_migrate(io, from, *to, o);
    BOOST_TEST(r.total == 500u);
    BOOST_TEST(r.copied == 500u);
    BOOST_TEST(r.listing_complete);
    BOOST_REQUIRE(from.reads_at_page.size() == 10u);
    // Page k+1 is only asked for once page k is all handed out: all but the queue (4) and
    // the ids in flight (4) have been read by then. So copying overlaps the listing...
    for (std::size_t k = 1; k < from.reads_at_page.size(); ++k)
        BOOST_TEST(from.reads_at_page[k] + 8 >= 50 * k, "page " << k);
    // ...and listed-but-unread ids never exceed a page plus the queue plus those in flight.
    BOOST_TEST(from.max_waiting <= 50u + 8u);
    bool partial_total = false;
    for (const auto& p : seen)
        partial_total = partial_total || (!p.total_known && p.total < 500);
    BOOST_TEST(partial_total, "progress showed a total still growing");
    BOOST_TEST(seen.back().total_known);
    BOOST_TEST((dump(io, *to) == dump(io, *inner)));
}

BOOST_AUTO_TEST_CASE(id_directories_without_a_state_are_not_states)
{
    // A blob source listed with a delimiter sees "<id>/" for an id that only has a lock
    // (a pipeline creating its first state, or a crash): not a state, not a failure.
    temp_dir dir;
    side src(kind::file, dir.path, "src");
    side dst(kind::systemdb, dir.path, "dst");
    asio::io_context io;
    auto from = src.open(io);
    auto to = dst.open(io);
    seed(io, *from, make_entries(20, false));
    spit(src.where / "dev:only-a-lock" / "lock", "1732535622.12");
    spit(src.where / "dev:deeper" / "sub" / "state.json", "{}");
    const migrate_report r = run_migrate(io, *from, *to, {});
    BOOST_TEST(r.total == 20u);
    BOOST_TEST(r.copied == 20u);
    BOOST_TEST(r.failed == 0u, (r.failures.empty() ? "" : r.failures[0].message));
    BOOST_TEST(r.listing_complete);
    // list_page on its own: ids in order, with the pattern applied.
    const state_id_page page = run_coro(io, from->list_page("dev:tap-1?-*", ""));
    BOOST_TEST(page.ids.size() == 6u); // 14..19 (ids 0-13 are the awkward ones)
    BOOST_TEST(std::is_sorted(page.ids.begin(), page.ids.end()));
    BOOST_TEST(page.next_token.empty());
}
