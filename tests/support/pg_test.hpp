#pragma once
// A plain blocking libpq session for tests: set-up, inspection and interference (creating
// schemas, reading raw rows, writing rows the way Meltano would, terminating a backend). Never
// the code under test, which is asynchronous and lives in src/backend/systemdb.
//
// The server comes from STATESTORE_TEST_PG_URI (tests/servers/postgres.sh writes PG_URI;
// tests/postgres/with_pg.sh exports it); STATESTORE_TEST_PG_SUPER_URI is its superuser.

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

struct pg_conn; // libpq's PGconn

namespace statestore::test {

using pg_row = std::vector<std::optional<std::string>>;

class pg_session {
public:
    /// Connects (blocking). Throws std::runtime_error with libpq's message.
    explicit pg_session(const std::string& uri);
    ~pg_session();
    pg_session(const pg_session&) = delete;
    pg_session& operator=(const pg_session&) = delete;

    /// One statement, text parameters ($1...; nullopt is NULL). Throws pg_failure.
    std::vector<pg_row> query(const std::string& sql,
                              const std::vector<std::optional<std::string>>& params = {});
    /// The first column of the first row (throws if there is none, or it is NULL).
    std::string scalar(const std::string& sql,
                       const std::vector<std::optional<std::string>>& params = {});
    /// One or more statements as a simple query (a script).
    void exec(const std::string& sql);
    int backend_pid() const;

private:
    pg_conn* conn_;
};

/// A server error: its SQLSTATE and message.
struct pg_failure : std::runtime_error {
    pg_failure(std::string state, const std::string& message)
        : std::runtime_error(message), sqlstate(std::move(state))
    {
    }
    std::string sqlstate;
};

/// STATESTORE_TEST_PG_URI, or "" when the tests run without a PostgreSQL server.
std::string pg_base_uri();
/// STATESTORE_TEST_PG_SUPER_URI, or "".
std::string pg_super_uri();

/// `uri` with `options=-csearch_path=SCHEMA` added to its query (the form Meltano's users
/// write to put Meltano's tables in a schema of their own).
std::string with_search_path(const std::string& uri, const std::string& schema);

/// A schema of its own in the test database, dropped (with everything in it) on destruction.
struct pg_schema {
    explicit pg_schema(const std::string& label = "t");
    ~pg_schema();
    pg_schema(const pg_schema&) = delete;
    pg_schema& operator=(const pg_schema&) = delete;
    std::string name;
    std::string uri; ///< the base URI selecting this schema
};

} // namespace statestore::test
