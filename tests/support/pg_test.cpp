#include "support/pg_test.hpp"

#include <libpq-fe.h>

#include <cstdlib>
#include <memory>
#include <random>

namespace statestore::test {
namespace {

// libpq's PGconn is `struct pg_conn`, which the header declares without including libpq.
PGconn* raw(pg_conn* c)
{
    return c;
}

struct result_closer {
    void operator()(PGresult* r) const { PQclear(r); }
};
using result = std::unique_ptr<PGresult, result_closer>;

std::string env_or_empty(const char* name)
{
    const char* v = std::getenv(name);
    return v ? v : "";
}

result check(PGresult* r, PGconn* c)
{
    result held(r);
    const ExecStatusType status = held ? PQresultStatus(held.get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
        return held;
    const char* state = held ? PQresultErrorField(held.get(), PG_DIAG_SQLSTATE) : nullptr;
    throw pg_failure(state ? state : "",
                     held ? PQresultErrorMessage(held.get()) : PQerrorMessage(c));
}

} // namespace

pg_session::pg_session(const std::string& uri)
{
    PGconn* c = PQconnectdb(uri.c_str());
    conn_ = c;
    if (PQstatus(c) != CONNECTION_OK) {
        const std::string message = PQerrorMessage(c);
        PQfinish(c);
        throw std::runtime_error("test connection failed: " + message);
    }
    PQsetNoticeProcessor(
        c, [](void*, const char*) {}, nullptr);
}

pg_session::~pg_session()
{
    PQfinish(raw(conn_));
}

std::vector<pg_row> pg_session::query(const std::string& sql,
                                      const std::vector<std::optional<std::string>>& params)
{
    std::vector<const char*> values;
    for (const auto& p : params)
        values.push_back(p ? p->c_str() : nullptr);
    result r = check(PQexecParams(raw(conn_), sql.c_str(), static_cast<int>(values.size()), nullptr,
                                  values.data(), nullptr, nullptr, 0),
                     raw(conn_));
    std::vector<pg_row> rows;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        pg_row row;
        for (int j = 0; j < PQnfields(r.get()); ++j)
            row.push_back(PQgetisnull(r.get(), i, j)
                              ? std::nullopt
                              : std::optional<std::string>(std::string(
                                    PQgetvalue(r.get(), i, j),
                                    static_cast<std::size_t>(PQgetlength(r.get(), i, j)))));
        rows.push_back(std::move(row));
    }
    return rows;
}

std::string pg_session::scalar(const std::string& sql,
                               const std::vector<std::optional<std::string>>& params)
{
    const auto rows = query(sql, params);
    if (rows.empty() || rows[0].empty() || !rows[0][0])
        throw std::runtime_error("no value from: " + sql);
    return *rows[0][0];
}

void pg_session::exec(const std::string& sql)
{
    check(PQexec(raw(conn_), sql.c_str()), raw(conn_));
}

int pg_session::backend_pid() const
{
    return PQbackendPID(raw(conn_));
}

std::string pg_base_uri()
{
    return env_or_empty("STATESTORE_TEST_PG_URI");
}

std::string pg_super_uri()
{
    return env_or_empty("STATESTORE_TEST_PG_SUPER_URI");
}

std::string with_search_path(const std::string& uri, const std::string& schema)
{
    return uri + (uri.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" +
           schema;
}

pg_schema::pg_schema(const std::string& label)
{
    static std::mt19937_64 rng(std::random_device{}());
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    name = "ss_" + label + "_";
    for (int i = 0; i < 10; ++i)
        name += digits[rng() % 36];
    const std::string base = pg_base_uri();
    if (base.empty())
        throw std::runtime_error("STATESTORE_TEST_PG_URI is not set");
    pg_session(base).exec("CREATE SCHEMA " + name);
    uri = with_search_path(base, name);
}

pg_schema::~pg_schema()
{
    try {
        pg_session(pg_base_uri()).exec("DROP SCHEMA IF EXISTS " + name + " CASCADE");
    } catch (...) {
    }
}

} // namespace statestore::test
