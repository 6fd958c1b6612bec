// Unit tests for what the SQLite and PostgreSQL system-database backends share: the rule for
// an existing database, updated_at as Meltano writes it, the per-column json.dumps text, and
// how libpq's connection failures are taken apart.

#include "backend/systemdb/pg_connection.hpp"
#include "backend/systemdb/systemdb_common.hpp"

#include "support/printing.hpp"

#include "statestore/error.hpp"
#include "statestore/json_text.hpp"

#include <boost/test/unit_test.hpp>

#include <cctype>
#include <cstdlib>
#include <ctime>

using namespace statestore;
namespace sdb = statestore::systemdb;

namespace {

std::pair<errc, std::string> plan_failure(const sdb::database_facts& facts)
{
    try {
        sdb::plan_schema(facts, "DB");
    } catch (const error& e) {
        return {e.value(), e.what()};
    }
    BOOST_FAIL("expected plan_schema to refuse");
    return {};
}

/// Sets TZ for the life of the object (localtime_r follows it after tzset).
struct time_zone {
    explicit time_zone(const char* tz)
    {
        if (const char* old = std::getenv("TZ"))
            saved = old;
        setenv("TZ", tz, 1);
        tzset();
    }
    ~time_zone()
    {
        if (saved)
            setenv("TZ", saved->c_str(), 1);
        else
            unsetenv("TZ");
        tzset();
    }
    std::optional<std::string> saved;
};

} // namespace

BOOST_AUTO_TEST_SUITE(systemdb_common)

BOOST_AUTO_TEST_CASE(a_state_table_with_the_columns_is_used_as_is)
{
    sdb::database_facts facts;
    facts.state_columns = {"state_id", "partial_state", "completed_state", "updated_at"};
    BOOST_TEST((sdb::plan_schema(facts, "DB") == sdb::schema_plan::use_existing));
    facts.other_tables_found = {"alembic_version", "runs"};
    facts.state_columns.push_back("extra_column_someone_added");
    BOOST_TEST((sdb::plan_schema(facts, "DB") == sdb::schema_plan::use_existing));
}

BOOST_AUTO_TEST_CASE(an_empty_database_gets_the_schema_at_head)
{
    BOOST_TEST((sdb::plan_schema({}, "DB") == sdb::schema_plan::create_at_head));
    BOOST_TEST(sdb::alembic_head == "c0efb3c314eb");
}

BOOST_AUTO_TEST_CASE(refusals_name_what_is_wrong)
{
    sdb::database_facts old;
    old.state_columns = {"id", "job_name", "partial_state", "completed_state", "updated_at"};
    auto [code, message] = plan_failure(old);
    BOOST_TEST(code == errc::database_error);
    BOOST_TEST(message == "table `state` in DB lacks column(s) state_id; it has Meltano's "
                          "pre-v2.7.1 schema (job_name): run `meltano upgrade` on this project "
                          "first");

    sdb::database_facts partial;
    partial.other_tables_found = {"alembic_version", "runs"};
    partial.alembic_revision = "5b43800443d1";
    std::tie(code, message) = plan_failure(partial);
    BOOST_TEST(code == errc::database_error);
    BOOST_TEST(message.find("alembic_version, runs") != std::string::npos);
    BOOST_TEST(message.find("alembic revision 5b43800443d1") != std::string::npos);
    BOOST_TEST(message.find("meltano upgrade") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(updated_at_is_the_local_naive_time_with_microseconds)
{
    // 2024-11-25 11:53:42.337096 UTC, seen from a writer at UTC+05:30 (POSIX TZ: sign reversed).
    const time_zone india("IST-5:30");
    const auto when =
        std::chrono::system_clock::time_point(std::chrono::microseconds(1732535622337096LL));
    BOOST_TEST(sdb::local_timestamp(when) == "2024-11-25 17:23:42.337096");
    const auto whole = std::chrono::system_clock::time_point(std::chrono::seconds(1732535622));
    BOOST_TEST(sdb::local_timestamp(whole) == "2024-11-25 17:23:42.000000");
    // The shape "dddd-dd-dd dd:dd:dd.dddddd" (no std::regex: GCC 12 warns inside it at -O1).
    const std::string now = sdb::local_timestamp();
    const std::string shape = "dddd-dd-dd dd:dd:dd.dddddd";
    BOOST_REQUIRE_EQUAL(now.size(), shape.size());
    for (std::size_t i = 0; i < shape.size(); ++i)
        BOOST_TEST((shape[i] == 'd' ? std::isdigit(static_cast<unsigned char>(now[i])) != 0
                                    : now[i] == shape[i]),
                   now);
}

BOOST_AUTO_TEST_CASE(column_text_is_json_dumps_and_never_null)
{
    BOOST_TEST(sdb::column_text(nullptr) == "{}");
    BOOST_TEST(sdb::column_text(parse_json(R"({"singer_state":{"a":[1,2.5,"\u00e9"]}})")) ==
               R"({"singer_state": {"a": [1, 2.5, "\u00e9"]}})");
}

BOOST_AUTO_TEST_CASE(columns_read_back)
{
    BOOST_TEST(sdb::parse_column(std::nullopt, "partial_state", "id", "DB").is_null());
    BOOST_TEST(sdb::parse_column(std::string_view("null"), "partial_state", "id", "DB").is_null());
    BOOST_TEST(sdb::parse_column(std::string_view(R"({"a":1})"), "c", "id", "DB").is_object());
    try {
        sdb::parse_column(std::string_view("[1]"), "completed_state", "dev:x", "DB");
        BOOST_FAIL("expected invalid_document");
    } catch (const error& e) {
        BOOST_TEST(e.value() == errc::invalid_document);
        BOOST_TEST(std::string(e.what()) ==
                   "state dev:x in DB: column completed_state is not a JSON object");
    }
    try {
        sdb::parse_column(std::string_view("{\"a\": "), "partial_state", "dev:x", "DB");
        BOOST_FAIL("expected invalid_document");
    } catch (const error& e) {
        BOOST_TEST(e.value() == errc::invalid_document);
        BOOST_TEST(std::string(e.what()).find("state dev:x in DB: column partial_state is not "
                                              "valid JSON") == 0u);
    }
}

// Messages as libpq 15 writes them with PQERRORS_VERBOSE (captured from Debian's
// postgresql-15 through tests/servers/postgres.sh).
BOOST_AUTO_TEST_CASE(connect_failures_are_taken_apart)
{
    auto e = pg::parse_connect_error(
        "connection to server at \"127.0.0.1\", port 5433 failed: FATAL:  28P01: password "
        "authentication failed for user \"ss_pw\"\nLOCATION:  auth_failed, auth.c:323\n");
    BOOST_TEST(e.sqlstate == "28P01");
    BOOST_TEST(e.message == "connection to server at \"127.0.0.1\", port 5433 failed: FATAL:  "
                            "password authentication failed for user \"ss_pw\"");
    e = pg::parse_connect_error(
        "connection to server at \"127.0.0.1\", port 1 failed: Connection refused\n"
        "\tIs the server running on that host and accepting TCP/IP connections?\n");
    BOOST_TEST(e.sqlstate == "");
    BOOST_TEST(e.message ==
               "connection to server at \"127.0.0.1\", port 1 failed: Connection refused");
    // Several hosts: each failure on its own line; a server's verdict wins over a refusal.
    e = pg::parse_connect_error(
        "connection to server at \"h1\" (10.0.0.1), port 5432 failed: FATAL:  57P03: the "
        "database system is starting up\nconnection to server at \"h2\" (10.0.0.2), port 5432 "
        "failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP "
        "connections?\n");
    BOOST_TEST(e.sqlstate == "57P03");
    BOOST_TEST(e.message.find("starting up") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
