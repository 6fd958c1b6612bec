// Unit tests for pg_uri: MELTANO_DATABASE_URI for PostgreSQL read as SQLAlchemy reads it
// (sqlalchemy.engine.url._parse_url and the psycopg2 dialect's create_connect_args), turned
// into libpq keywords, and never printing a password.

#include "backend/systemdb/pg_uri.hpp"

#include "support/printing.hpp"

#include "statestore/error.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <map>
#include <string>

using namespace statestore;
using statestore::pg::parse_postgres_uri;

namespace {

std::map<std::string, std::string> keywords_of(std::string_view uri)
{
    std::map<std::string, std::string> out;
    for (const auto& [k, v] : parse_postgres_uri(uri).keywords) {
        BOOST_TEST_INFO("keyword " << k);
        BOOST_TEST(!out.contains(k)); // each keyword once
        out[k] = v;
    }
    return out;
}

/// The error a parse throws (what() and code); fails the test if none.
std::pair<errc, std::string> failure_of(std::string_view uri)
{
    try {
        parse_postgres_uri(uri);
    } catch (const error& e) {
        return {e.value(), e.what()};
    }
    BOOST_FAIL("expected an error for a URI");
    return {};
}

} // namespace

BOOST_AUTO_TEST_SUITE(pg_uri)

BOOST_AUTO_TEST_CASE(schemes_meltano_accepts)
{
    for (const char* uri : {"postgresql://h/db", "postgresql+psycopg://h/db",
                            "postgresql+psycopg2://h/db", "postgres://h/db", "PostgreSQL://h/db"}) {
        BOOST_TEST_INFO(uri);
        BOOST_TEST(pg::is_postgres_uri(uri));
        BOOST_TEST(keywords_of(uri).at("host") == "h");
    }
    for (const char* uri : {"sqlite:///x.db", "systemdb", "postgresqlx://h", "mysql://h/db", ""})
        BOOST_TEST(!pg::is_postgres_uri(uri), uri);
    const auto [code, message] = failure_of("postgresql+asyncpg://u:secretpw@h/db");
    BOOST_TEST(code == errc::unsupported_backend);
    BOOST_TEST(message.find("asyncpg") != std::string::npos);
    BOOST_TEST(message.find("secretpw") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(every_part_becomes_a_libpq_keyword)
{
    const auto k = keywords_of("postgresql+psycopg://meltano:p%40ss%2Fw%3Ard@db.example:6543/"
                               "meltano_db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem"
                               "&connect_timeout=7&options=-csearch_path%3Dmeltano"
                               "&application_name=my+app");
    BOOST_TEST(k.at("user") == "meltano");
    BOOST_TEST(k.at("password") == "p@ss/w:rd"); // percent-decoded, as SQLAlchemy does
    BOOST_TEST(k.at("host") == "db.example");
    BOOST_TEST(k.at("port") == "6543");
    BOOST_TEST(k.at("dbname") == "meltano_db");
    BOOST_TEST(k.at("sslmode") == "verify-full");
    BOOST_TEST(k.at("sslrootcert") == "/etc/ca.pem");
    BOOST_TEST(k.at("connect_timeout") == "7");
    BOOST_TEST(k.at("options") == "-csearch_path=meltano");
    BOOST_TEST(k.at("application_name") == "my app"); // form decoding: '+' is a space
    BOOST_TEST(k.at("client_encoding") == "UTF8");
    BOOST_TEST(k.at("fallback_application_name") == "statestore");
    BOOST_TEST(k.size() == 12u);
}

BOOST_AUTO_TEST_CASE(only_what_the_uri_says_is_passed)
{
    // No user, password, host, port or database: libpq's defaults (PGHOST, PGUSER, PGPASSWORD,
    // ~/.pgpass, the socket directory...) apply, so nothing is invented here.
    const auto k = keywords_of("postgresql://");
    BOOST_TEST(k.size() == 2u);
    BOOST_TEST(k.contains("client_encoding"));
    BOOST_TEST(k.contains("fallback_application_name"));
    const auto db_only = keywords_of("postgresql:///meltano");
    BOOST_TEST(db_only.at("dbname") == "meltano");
    BOOST_TEST(!db_only.contains("host"));
    BOOST_TEST(keywords_of("postgresql://h:/db").count("port") == 0u); // empty port: none
}

BOOST_AUTO_TEST_CASE(userinfo_split_as_sqlalchemys_pattern_does)
{
    // The user part runs to the first ':' or '/'; the password to the first '@' after it.
    auto k = keywords_of("postgresql://us@er:pa@host/db");
    BOOST_TEST(k.at("user") == "us@er");
    BOOST_TEST(k.at("password") == "pa");
    BOOST_TEST(k.at("host") == "host");
    // A password may hold '/' unescaped (it ends at '@'), not '@'.
    k = keywords_of("postgresql://u:a/b@host/db");
    BOOST_TEST(k.at("password") == "a/b");
    BOOST_TEST(k.at("host") == "host");
    // Without a password, the last '@' before '/' ends the user.
    k = keywords_of("postgresql://u@x@host/db");
    BOOST_TEST(k.at("user") == "u@x");
    BOOST_TEST(!k.contains("password"));
    BOOST_TEST(k.at("host") == "host");
    // An empty password is still a password keyword.
    k = keywords_of("postgresql://u:@host/db");
    BOOST_TEST(k.at("password") == "");
    // No userinfo: a ':' is the port.
    k = keywords_of("postgresql://host:5432/db");
    BOOST_TEST(!k.contains("user"));
    BOOST_TEST(k.at("port") == "5432");
}

BOOST_AUTO_TEST_CASE(host_and_database_are_taken_verbatim)
{
    // SQLAlchemy decodes only user and password.
    const auto k = keywords_of("postgresql://u@h/my%20db");
    BOOST_TEST(k.at("dbname") == "my%20db");
    const auto v6 = keywords_of("postgresql://u@[::1]:5433/db");
    BOOST_TEST(v6.at("host") == "::1");
    BOOST_TEST(v6.at("port") == "5433");
}

BOOST_AUTO_TEST_CASE(several_hosts)
{
    auto k = keywords_of("postgresql://u@/db?host=h1:5432&host=h2:5433&host=h3");
    BOOST_TEST(k.at("host") == "h1,h2,h3");
    BOOST_TEST(k.at("port") == "5432,5433,");
    BOOST_TEST(parse_postgres_uri("postgresql://u@/db?host=h1:5432&host=h2:5433").host_count == 2u);
    // libpq's own list form in one value is passed on as is.
    k = keywords_of("postgresql://u@/db?host=h1,h2&port=1,2");
    BOOST_TEST(k.at("host") == "h1,h2");
    BOOST_TEST(k.at("port") == "1,2");
    BOOST_TEST(parse_postgres_uri("postgresql://u@/db?host=h1,h2&port=1,2").host_count == 2u);
    // A socket directory.
    BOOST_TEST(keywords_of("postgresql:///db?host=/var/run/postgresql").at("host") ==
               "/var/run/postgresql");
    const auto [code, message] = failure_of("postgresql://u@/db?host=h1:1&host=h2:2&port=3");
    BOOST_TEST(code == errc::invalid_uri);
    BOOST_TEST(message.find("?host=h1:p1&host=h2:p2") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(query_wins_over_the_authority_and_empty_values_are_dropped)
{
    const auto k = keywords_of("postgresql://u@h:1/db?host=other&port=2&sslmode=&flag&x=");
    BOOST_TEST(k.at("host") == "other");
    BOOST_TEST(k.at("port") == "2");
    BOOST_TEST(!k.contains("sslmode")); // parse_qsl drops blank values
    BOOST_TEST(!k.contains("flag"));
    BOOST_TEST(!k.contains("x"));
}

BOOST_AUTO_TEST_CASE(client_encoding_must_be_utf8)
{
    BOOST_TEST(keywords_of("postgresql://h/db?client_encoding=utf8").at("client_encoding") ==
               "UTF8");
    BOOST_TEST(failure_of("postgresql://h/db?client_encoding=LATIN1").first == errc::invalid_uri);
}

BOOST_AUTO_TEST_CASE(malformed_uris_are_refused_without_their_password)
{
    for (const char* uri :
         {"postgresql://u:topsecret1@h:0/db", "postgresql://u:topsecret1@h:65536/db",
          "postgresql://u:topsecret1@h:54x/db", "postgresql://u:topsecret1@[::1/db",
          "postgresql://u:topsecret1@h/db?sslmode=a&sslmode=b"}) {
        const auto [code, message] = failure_of(uri);
        BOOST_TEST_INFO(uri << " -> " << message);
        BOOST_TEST(code == errc::invalid_uri);
        BOOST_TEST(message.find("topsecret1") == std::string::npos);
        BOOST_TEST((message.find("postgresql://u@h") != std::string::npos ||
                    message.find("postgresql://u@[") != std::string::npos));
    }
}

BOOST_AUTO_TEST_CASE(display_and_secrets)
{
    const auto t = parse_postgres_uri(
        "postgresql+psycopg2://meltano:s3cr%23t@db:5432/m?sslmode=require&password=other&"
        "sslpassword=keypass&application_name=a");
    BOOST_TEST(t.display == "postgresql+psycopg2://meltano@db:5432/m?sslmode=require&password=***&"
                            "sslpassword=***&application_name=a");
    BOOST_TEST(t.secrets.size() == 3u); // the query's password wins; both are scrubbed
    BOOST_TEST((std::find(t.secrets.begin(), t.secrets.end(), "s3cr#t") != t.secrets.end()));
    BOOST_TEST((std::find(t.secrets.begin(), t.secrets.end(), "other") != t.secrets.end()));
    BOOST_TEST((std::find(t.secrets.begin(), t.secrets.end(), "keypass") != t.secrets.end()));
    const auto plain = parse_postgres_uri("postgresql://meltano:s3cr%23t@db/m");
    BOOST_TEST(plain.display == "postgresql://meltano@db/m");
    BOOST_TEST(plain.secrets == std::vector<std::string>{"s3cr#t"});
    BOOST_TEST(plain.host_count == 1u);
}

BOOST_AUTO_TEST_CASE(host_names_are_resolved_before_libpq_sees_them)
{
    const auto k = parse_postgres_uri("postgresql://u@db.example:6543/m").keywords;
    BOOST_TEST(pg::host_to_resolve(k) == "db.example");
    for (const char* none :
         {"postgresql://u@127.0.0.1/m", "postgresql://u@[::1]/m", "postgresql:///m",
          "postgresql:///m?host=/var/run/postgresql", "postgresql://u@/m?host=h1,h2",
          "postgresql://u@h/m?hostaddr=10.0.0.1"})
        BOOST_TEST(pg::host_to_resolve(parse_postgres_uri(none).keywords).empty(), none);
    std::map<std::string, std::string> out;
    for (const auto& [key, value] : pg::with_addresses(k, {"10.0.0.1", "fd00::1"}))
        out[key] = value;
    BOOST_TEST(out.at("host") == "db.example,db.example"); // TLS and .pgpass still see the name
    BOOST_TEST(out.at("hostaddr") == "10.0.0.1,fd00::1");
    BOOST_TEST(out.at("port") == "6543,6543");
    const auto no_port = pg::with_addresses(parse_postgres_uri("postgresql://u@db/m").keywords,
                                            {"10.0.0.1", "10.0.0.2"});
    BOOST_TEST(std::count_if(no_port.begin(), no_port.end(),
                             [](const auto& kv) { return kv.first == "port"; }) == 0);
}

BOOST_AUTO_TEST_CASE(scrubbing)
{
    BOOST_TEST(pg::scrub_secrets("a hunter2x b hunter2x", {"hunter2x"}) == "a *** b ***");
    BOOST_TEST(pg::scrub_secrets("role abc", {"abc"}) == "role abc"); // too short to matter
    BOOST_TEST(pg::scrub_secrets("nothing", {}) == "nothing");
}

BOOST_AUTO_TEST_SUITE_END()
