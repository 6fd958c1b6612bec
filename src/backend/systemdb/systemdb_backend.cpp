#include "backend/systemdb/systemdb_backend.hpp"

#include "async/blocking_pool.hpp"
#include "statestore/error.hpp"
#include "statestore/json_text.hpp"
#include "core/pattern.hpp"
#include "statestore/state_id.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace asio = boost::asio;

namespace statestore {
namespace {

// The table exactly as Meltano's alembic migration (6828cc5b1a4f) creates it. SQLAlchemy's DDL
// compiler separates items with ", \n\t" (note the trailing space) and SQLite stores the text
// verbatim minus "IF NOT EXISTS", so a table we create is byte-identical in sqlite_master to
// one Meltano created. (We write no alembic_version: see README, compatibility notes.)
constexpr const char* create_state_table_sql = "CREATE TABLE IF NOT EXISTS state (\n"
                                               "\tstate_id VARCHAR(900) NOT NULL, \n"
                                               "\tpartial_state VARCHAR, \n"
                                               "\tcompleted_state VARCHAR, \n"
                                               "\tupdated_at DATETIME, \n"
                                               "\tPRIMARY KEY (state_id), \n"
                                               "\tUNIQUE (state_id)\n"
                                               ")";

constexpr const char* required_columns[] = {"state_id", "partial_state", "completed_state",
                                            "updated_at"};

struct database_closer {
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct statement_finalizer {
    void operator()(sqlite3_stmt* statement) const noexcept { sqlite3_finalize(statement); }
};
using database_handle = std::unique_ptr<sqlite3, database_closer>;
using statement = std::unique_ptr<sqlite3_stmt, statement_finalizer>;

bool is_memory_path(std::string_view path) { return path == ":memory:"; }

// The local, naive wall-clock time in the text form SQLAlchemy's SQLite DATETIME type stores
// for Python's datetime.now(): "YYYY-MM-DD HH:MM:SS.ffffff", always six fractional digits.
std::string local_timestamp()
{
    const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    const auto micros = std::chrono::floor<std::chrono::microseconds>(since_epoch).count();
    const auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch).count();
    const std::time_t whole = static_cast<std::time_t>(seconds);
    const long fraction = static_cast<long>(micros - seconds * 1'000'000);
    std::tm local{};
    localtime_r(&whole, &local);
    char text[64];
    std::snprintf(text, sizeof text, "%04d-%02d-%02d %02d:%02d:%02d.%06ld", local.tm_year + 1900,
                  local.tm_mon + 1, local.tm_mday, local.tm_hour, local.tm_min, local.tm_sec,
                  fraction);
    return text;
}

// One half as the column text. A null half is written as "{}": Meltano's get and merge fail on
// a NULL (None) half (spec 13), so a compatible writer must never store one.
std::string half_text(const boost::json::value& half)
{
    if (half.is_null())
        return "{}";
    return to_python_json(half, json_style::python_default);
}

std::string format_seconds(double seconds)
{
    char text[32];
    std::snprintf(text, sizeof text, "%g", seconds);
    return text;
}

// Runs `work` on the pool from non-coroutine code (constructor, destructor) and waits for it,
// so that even opening and closing the connection happen on the SQLite thread.
void run_and_wait(blocking_pool& pool, std::function<void()> work)
{
    asio::io_context io;
    std::exception_ptr failure;
    auto finished = [&failure](std::exception_ptr e) { failure = std::move(e); };
    asio::co_spawn(io, pool.run(std::move(work)), std::move(finished));
    io.run();
    if (failure)
        std::rethrow_exception(failure);
}

} // namespace

// The connection and everything done with it live on the pool's single thread; path and the
// timeout are fixed at construction and only read elsewhere (describe()).
struct systemdb_backend::impl {
    std::string path;
    double busy_timeout_seconds;
    database_handle db;
    std::shared_ptr<blocking_pool> pool = std::make_shared<blocking_pool>(1);

    impl(std::string database_path, double busy_timeout)
        : path(std::move(database_path)), busy_timeout_seconds(busy_timeout)
    {
        if (!std::isfinite(busy_timeout_seconds) || busy_timeout_seconds < 0)
            busy_timeout_seconds = 0;
    }

    [[noreturn]] void fail(int rc, std::string_view doing) const
    {
        const int primary = rc & 0xff;
        if (primary == SQLITE_BUSY) {
            // The busy handler has already waited the whole timeout for the other writer.
            throw_error(errc::lock_timeout, "database " + path +
                                                " is locked by another writer (waited " +
                                                format_seconds(busy_timeout_seconds) + " s)");
        }
        if (primary == SQLITE_NOTADB)
            throw_error(errc::database_error,
                        path + " is not a SQLite database (" + sqlite3_errstr(rc) + ")");
        const char* detail = db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc);
        throw_error(errc::database_error,
                    "SQLite error on " + path + " while " + std::string(doing) + ": " + detail);
    }

    statement prepare(std::string_view sql)
    {
        sqlite3_stmt* raw = nullptr;
        const int rc =
            sqlite3_prepare_v2(db.get(), sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
        statement prepared(raw);
        if (rc != SQLITE_OK)
            fail(rc, "preparing \"" + std::string(sql) + "\"");
        return prepared;
    }

    void bind(sqlite3_stmt* st, int index, std::string_view text)
    {
        const int rc =
            sqlite3_bind_text64(st, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
        if (rc != SQLITE_OK)
            fail(rc, "binding a parameter");
    }

    /// Steps once; true if a row is available, false when done.
    bool step(sqlite3_stmt* st, std::string_view doing)
    {
        const int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            return true;
        if (rc == SQLITE_DONE)
            return false;
        fail(rc, doing);
    }

    void exec(std::string_view sql)
    {
        statement st = prepare(sql);
        while (step(st.get(), sql)) {
        }
    }

    std::string column_string(sqlite3_stmt* st, int column)
    {
        const unsigned char* text = sqlite3_column_text(st, column);
        if (text == nullptr) {
            if (sqlite3_errcode(db.get()) == SQLITE_NOMEM)
                fail(SQLITE_NOMEM, "reading a column");
            return {};
        }
        return std::string(reinterpret_cast<const char*>(text),
                           static_cast<std::size_t>(sqlite3_column_bytes(st, column)));
    }

    // --- the transaction that serialises writers across processes -----------------------------

    /// BEGIN IMMEDIATE takes SQLite's write lock up front, waiting up to the busy timeout for
    /// other connections (and other processes) to commit, so the read that follows cannot go
    /// stale before our write: that is what makes read-modify-write safe between processes.
    /// Destruction without commit() rolls back.
    class write_transaction {
    public:
        explicit write_transaction(impl& owner) : owner_(owner) { owner_.exec("BEGIN IMMEDIATE"); }
        write_transaction(const write_transaction&) = delete;
        write_transaction& operator=(const write_transaction&) = delete;
        ~write_transaction()
        {
            if (sqlite3_get_autocommit(owner_.db.get()) == 0)
                sqlite3_exec(owner_.db.get(), "ROLLBACK", nullptr, nullptr, nullptr);
        }
        void commit() { owner_.exec("COMMIT"); }

    private:
        impl& owner_;
    };

    // --- opening ----------------------------------------------------------------------------

    void open()
    {
        if (path.empty())
            throw_error(errc::invalid_setting, "systemdb: the database path is empty");
        if (!is_memory_path(path)) {
            const std::filesystem::path parent = std::filesystem::path(path).parent_path();
            std::error_code ec;
            if (!parent.empty())
                std::filesystem::create_directories(parent, ec);
            if (ec)
                throw_error(errc::io_error, "cannot create directory " + parent.string() +
                                                " for database " + path + ": " + ec.message());
        }

        sqlite3* raw = nullptr;
        const int rc = sqlite3_open_v2(
            path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
            nullptr);
        db.reset(raw);
        if (rc != SQLITE_OK) {
            const std::string detail = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
            db.reset();
            throw_error(errc::database_error,
                        "cannot open SQLite database " + path + ": " + detail);
        }
        const double millis = std::min(busy_timeout_seconds * 1000.0, double(INT_MAX));
        sqlite3_busy_timeout(db.get(), static_cast<int>(std::lround(millis)));

        // The first read of the header: a file that is not a database fails here with
        // SQLITE_NOTADB, before anything (WAL files included) is written next to it.
        exec("PRAGMA schema_version");

        // Meltano runs this on every connection. The mode is persistent in the file; a memory
        // database answers "memory", which is fine.
        {
            statement st = prepare("PRAGMA journal_mode=WAL");
            const int step_rc = sqlite3_step(st.get());
            if (step_rc != SQLITE_ROW && step_rc != SQLITE_DONE && !is_memory_path(path))
                fail(step_rc, "enabling WAL journal mode");
        }
        // FULL (SQLAlchemy's default too): each commit is fsynced, so a finished update
        // survives power loss, not just a crash of this process.
        exec("PRAGMA synchronous=FULL");

        ensure_state_table();
    }

    /// Creates Meltano's table if it is missing; checks an existing one has the columns we use.
    /// Nothing else in the database is touched.
    void ensure_state_table()
    {
        std::vector<std::string> columns = state_columns();
        if (columns.empty()) {
            // Under the write lock, so two processes opening a fresh file at once do not race.
            write_transaction transaction(*this);
            exec(create_state_table_sql);
            transaction.commit();
            return;
        }
        std::string missing;
        for (const char* required : required_columns) {
            if (std::find(columns.begin(), columns.end(), required) == columns.end())
                missing += std::string(missing.empty() ? "" : ", ") + required;
        }
        if (missing.empty())
            return;
        std::string message = "table `state` in " + path + " lacks column(s) " + missing;
        if (std::find(columns.begin(), columns.end(), "job_name") != columns.end())
            message += "; it has Meltano's pre-v2.7.1 schema (job_name): run `meltano upgrade`"
                       " on this project first";
        throw_error(errc::database_error, message);
    }

    std::vector<std::string> state_columns()
    {
        statement st = prepare("PRAGMA main.table_info(state)");
        std::vector<std::string> columns;
        while (step(st.get(), "reading the schema of table state"))
            columns.push_back(column_string(st.get(), 1));
        return columns;
    }

    // --- rows --------------------------------------------------------------------------------

    boost::json::value read_half(sqlite3_stmt* st, int column, const std::string& id)
    {
        if (sqlite3_column_type(st, column) == SQLITE_NULL)
            return nullptr; // written by Meltano as None: an explicit null half
        const char* name = sqlite3_column_name(st, column);
        const std::string text = column_string(st, column);
        boost::json::value half;
        try {
            half = parse_json(text);
        } catch (const error& e) {
            throw_error(errc::invalid_document, "state " + id + " in " + path + ": column " + name +
                                                    " is not valid JSON: " + e.what());
        }
        if (!half.is_object() && !half.is_null())
            throw_error(errc::invalid_document, "state " + id + " in " + path + ": column " + name +
                                                    " is not a JSON object");
        return half;
    }

    std::optional<state_document> read_row(const std::string& id)
    {
        statement st =
            prepare("SELECT completed_state, partial_state FROM state WHERE state_id = ?1");
        bind(st.get(), 1, id);
        if (!step(st.get(), "reading state " + id))
            return std::nullopt;
        state_document document;
        document.completed = read_half(st.get(), 0, id);
        document.partial = read_half(st.get(), 1, id);
        return document;
    }

    // --- group commit ---------------------------------------------------------------------
    //
    // Each update() is queued, then a job for it is posted to the SQLite thread. A job takes
    // every update queued so far and runs them in one BEGIN IMMEDIATE transaction, each in its
    // own SAVEPOINT (a mutator that throws, or a row that cannot be written, rolls back only
    // its own change), then commits once: concurrent writers share one fsync instead of paying
    // one each. Each read-modify-write still happens entirely under SQLite's write lock, so the
    // cross-process guarantee is unchanged. Jobs run in order on the one thread, so by the time
    // an update's own job has run, some job (its own or an earlier one) has settled it.
    struct pending_update {
        std::string id;
        state_mutator mutate;
        std::exception_ptr failure;
    };
    /// Updates per transaction at most: bounds how long other processes wait for the lock.
    static constexpr std::size_t max_group = 512;
    std::mutex queue_mutex;
    std::vector<std::shared_ptr<pending_update>> queued_updates; // guarded by queue_mutex
    /// Transactions run (reads included), for requests_sent().
    std::atomic<std::uint64_t> transactions{0};

    /// Runs one transaction's work on the SQLite thread, counted for requests_sent(). Not a
    /// coroutine: it hands back the pool's awaitable, so no extra frame per call.
    asio::awaitable<void> run_transaction(std::function<void()> job)
    {
        transactions.fetch_add(1, std::memory_order_relaxed);
        return pool->run(std::move(job));
    }

    void enqueue(std::shared_ptr<pending_update> item)
    {
        const std::lock_guard<std::mutex> guard(queue_mutex);
        queued_updates.push_back(std::move(item));
    }

    void run_queued_updates()
    {
        std::vector<std::shared_ptr<pending_update>> group;
        {
            const std::lock_guard<std::mutex> guard(queue_mutex);
            group.swap(queued_updates);
        }
        for (std::size_t first = 0; first < group.size(); first += max_group) {
            const std::size_t last = std::min(group.size(), first + max_group);
            transactions.fetch_add(1, std::memory_order_relaxed);
            try {
                write_transaction transaction(*this);
                for (std::size_t i = first; i < last; ++i) {
                    pending_update& item = *group[i];
                    exec("SAVEPOINT one_update");
                    try {
                        apply_update(item.id, item.mutate);
                        exec("RELEASE one_update");
                    } catch (...) {
                        item.failure = std::current_exception();
                        exec("ROLLBACK TO one_update");
                        exec("RELEASE one_update");
                    }
                }
                transaction.commit();
            } catch (...) {
                // BEGIN or COMMIT failed (another writer held the lock past the busy timeout,
                // a full disk, ...): nothing of this group was written.
                const std::exception_ptr failure = std::current_exception();
                for (std::size_t i = first; i < last; ++i)
                    if (!group[i]->failure)
                        group[i]->failure = failure;
            }
        }
    }

    /// One read-modify-write inside the caller's transaction.
    void apply_update(const std::string& id, const state_mutator& mutate)
    {
        const std::optional<state_document> current = read_row(id);
        const std::optional<state_document> next = mutate(current);
        if (next) {
            const std::string partial = half_text(next->partial);
            const std::string completed = half_text(next->completed);
            // SQLAlchemy's pattern: updated_at (onupdate=datetime.now) stays NULL on INSERT and
            // is set on every UPDATE.
            statement st =
                current ? prepare("UPDATE state SET partial_state = ?2, completed_state = ?3, "
                                  "updated_at = ?4 WHERE state_id = ?1")
                        : prepare("INSERT INTO state (state_id, partial_state, completed_state) "
                                  "VALUES (?1, ?2, ?3)");
            bind(st.get(), 1, id);
            bind(st.get(), 2, partial);
            bind(st.get(), 3, completed);
            if (current)
                bind(st.get(), 4, local_timestamp());
            step(st.get(), "writing state " + id);
        }
    }

    bool erase(const std::string& id)
    {
        write_transaction transaction(*this);
        statement st = prepare("DELETE FROM state WHERE state_id = ?1");
        bind(st.get(), 1, id);
        step(st.get(), "deleting state " + id);
        const bool deleted = sqlite3_changes(db.get()) > 0;
        transaction.commit();
        return deleted;
    }

    std::vector<std::string> list(const std::string& pattern)
    {
        // Filtered here, not with LIKE as Meltano does: one fnmatch semantics on every backend,
        // so '_' and '%' in ids are literal and matching is case-sensitive.
        statement st = prepare("SELECT state_id FROM state");
        std::vector<std::string> ids;
        while (step(st.get(), "listing states")) {
            std::string id = column_string(st.get(), 0);
            if (pattern.empty() || fnmatch_full(pattern, id))
                ids.push_back(std::move(id));
        }
        std::sort(ids.begin(), ids.end());
        return ids;
    }

    /// Up to `rows` ids after `after` in the primary key's order (BINARY collation: byte
    /// order, as std::string sorts), filtered by the pattern here as in list().
    state_id_page list_page(const std::string& pattern, const std::string& after, int rows)
    {
        statement st = prepare(
            "SELECT state_id FROM state WHERE state_id > ?1 ORDER BY state_id LIMIT ?2");
        bind(st.get(), 1, after);
        sqlite3_bind_int(st.get(), 2, rows);
        state_id_page page;
        int scanned = 0;
        std::string last;
        while (step(st.get(), "listing states")) {
            ++scanned;
            last = column_string(st.get(), 0);
            if (pattern.empty() || fnmatch_full(pattern, last))
                page.ids.push_back(last);
        }
        if (scanned == rows)
            page.next_token = std::move(last);
        return page;
    }

    std::size_t import_all(const std::vector<state_entry>& entries)
    {
        const std::string now = local_timestamp();
        write_transaction transaction(*this);
        statement st = prepare(
            "INSERT INTO state (state_id, partial_state, completed_state) VALUES (?1, ?2, ?3) "
            "ON CONFLICT (state_id) DO UPDATE SET partial_state = excluded.partial_state, "
            "completed_state = excluded.completed_state, updated_at = ?4");
        for (const auto& [id, document] : entries) {
            sqlite3_reset(st.get());
            bind(st.get(), 1, id);
            bind(st.get(), 2, half_text(document.partial));
            bind(st.get(), 3, half_text(document.completed));
            bind(st.get(), 4, now);
            step(st.get(), "importing state " + id);
        }
        transaction.commit();
        return entries.size(); // an id given twice counts twice; the last one given wins
    }

    std::size_t clear_all()
    {
        write_transaction transaction(*this);
        exec("DELETE FROM state");
        const auto deleted = static_cast<std::size_t>(sqlite3_changes64(db.get()));
        transaction.commit();
        return deleted;
    }
};

systemdb_backend::systemdb_backend(systemdb_options options)
    : impl_(std::make_unique<impl>(std::move(options.database_path), options.busy_timeout_seconds))
{
    impl* self = impl_.get();
    std::function<void()> job = [self] {
        try {
            self->open();
        } catch (...) {
            self->db.reset(); // close on the SQLite thread, as every other call
            throw;
        }
    };
    run_and_wait(*impl_->pool, std::move(job));
}

systemdb_backend::~systemdb_backend()
{
    impl* self = impl_.get();
    std::function<void()> job = [self] { self->db.reset(); };
    try {
        run_and_wait(*impl_->pool, std::move(job));
    } catch (...) {
        // The pool could not run the close; the pool is joined below, so closing here is
        // still never concurrent with another use of the connection.
    }
    impl_->pool.reset(); // joins the SQLite thread
    impl_->db.reset();
}

std::uint64_t systemdb_backend::requests_sent() const noexcept
{
    return impl_->transactions.load(std::memory_order_relaxed);
}

std::string systemdb_backend::describe() const
{
    return "systemdb (sqlite:///" + impl_->path + ")";
}

asio::awaitable<std::optional<state_document>> systemdb_backend::get(std::string id)
{
    validate_state_id(id);
    std::optional<state_document> found;
    impl* self = impl_.get();
    std::function<void()> job = [self, &id, &found] { found = self->read_row(id); };
    co_await self->run_transaction(std::move(job));
    co_return found;
}

asio::awaitable<void> systemdb_backend::update(std::string id, state_mutator mutate)
{
    validate_state_id(id);
    impl* self = impl_.get();
    // The mutator is pure (state_backend.hpp), so running it on the SQLite thread, inside the
    // transaction, is safe and keeps the whole read-modify-write under one write lock.
    auto item = std::make_shared<impl::pending_update>();
    item->id = std::move(id);
    item->mutate = std::move(mutate);
    self->enqueue(item);
    std::function<void()> job = [self] { self->run_queued_updates(); };
    co_await impl_->pool->run(std::move(job));
    if (item->failure)
        std::rethrow_exception(item->failure);
}

asio::awaitable<bool> systemdb_backend::erase(std::string id)
{
    validate_state_id(id);
    bool deleted = false;
    impl* self = impl_.get();
    std::function<void()> job = [self, &id, &deleted] { deleted = self->erase(id); };
    co_await self->run_transaction(std::move(job));
    co_return deleted;
}

asio::awaitable<std::vector<std::string>> systemdb_backend::list(std::string pattern)
{
    std::vector<std::string> ids;
    impl* self = impl_.get();
    std::function<void()> job = [self, &pattern, &ids] { ids = self->list(pattern); };
    co_await self->run_transaction(std::move(job));
    co_return ids;
}

asio::awaitable<state_id_page> systemdb_backend::list_page(std::string pattern, std::string token)
{
    // Small pages: each one is a short read transaction, so writers (this process's
    // migration into the same database included) are never held up by a long listing.
    constexpr int rows = 1000;
    state_id_page page;
    impl* self = impl_.get();
    std::function<void()> job = [self, &pattern, &token, &page] {
        page = self->list_page(pattern, token, rows);
    };
    co_await self->run_transaction(std::move(job));
    co_return page;
}

asio::awaitable<std::size_t> systemdb_backend::import_all(std::vector<state_entry> entries)
{
    // Every id is checked before anything is written: an import is all or nothing.
    for (const auto& entry : entries)
        validate_state_id(entry.first);
    std::size_t imported = 0;
    impl* self = impl_.get();
    std::function<void()> job = [self, &entries, &imported] {
        imported = self->import_all(entries);
    };
    co_await self->run_transaction(std::move(job));
    co_return imported;
}

asio::awaitable<std::size_t> systemdb_backend::clear_all()
{
    std::size_t cleared = 0;
    impl* self = impl_.get();
    std::function<void()> job = [self, &cleared] { cleared = self->clear_all(); };
    co_await self->run_transaction(std::move(job));
    co_return cleared;
}

} // namespace statestore
