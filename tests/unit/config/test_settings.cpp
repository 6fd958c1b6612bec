// Settings, URIs and backend selection: Meltano's names and rules.

#include <boost/test/unit_test.hpp>

#include "support/error_matchers.hpp"

#include "statestore/backend_factory.hpp"
#include "statestore/error.hpp"
#include "statestore/settings.hpp"

#include <boost/asio/io_context.hpp>

#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <utility>

using statestore::errc;
using statestore::test::is_error;

namespace {

/// Sets environment variables for one scope and restores what was there.
class scoped_env {
public:
    explicit scoped_env(std::map<std::string, std::optional<std::string>> values)
    {
        for (const auto& [name, value] : values) {
            const char* old = std::getenv(name.c_str());
            saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
            set(name, value);
        }
    }
    ~scoped_env()
    {
        for (const auto& [name, value] : saved_)
            set(name, value);
    }

private:
    static void set(const std::string& name, const std::optional<std::string>& value)
    {
        if (value)
            ::setenv(name.c_str(), value->c_str(), 1);
        else
            ::unsetenv(name.c_str());
    }
    std::map<std::string, std::optional<std::string>> saved_;
};

const std::map<std::string, std::optional<std::string>> clean_env = {
    {"MELTANO_STATE_BACKEND_URI", std::nullopt},
    {"MELTANO_STATE_BACKEND_LOCK_TIMEOUT_SECONDS", std::nullopt},
    {"MELTANO_STATE_BACKEND_LOCK_RETRY_SECONDS", std::nullopt},
    {"STATESTORE_LOCK_MAX_WAIT_SECONDS", std::nullopt},
    {"MELTANO_DATABASE_URI", std::nullopt},
    {"MELTANO_SYS_DIR_ROOT", std::nullopt},
    {"STATESTORE_HTTP_MAX_CONNECTIONS", std::nullopt},
    {"STATESTORE_IO_THREADS", std::nullopt},
    {"MELTANO_DATABASE_MAX_RETRIES", std::nullopt},
    {"MELTANO_DATABASE_RETRY_TIMEOUT", std::nullopt},
    {"STATESTORE_DATABASE_MAX_CONNECTIONS", std::nullopt},
};

} // namespace

BOOST_AUTO_TEST_SUITE(settings_tests)

BOOST_AUTO_TEST_CASE(defaults_are_meltanos)
{
    scoped_env env(clean_env);
    const auto s = statestore::settings::from_env();
    BOOST_TEST(s.uri == "systemdb");
    BOOST_TEST(s.lock_timeout_seconds == 10.0);
    BOOST_TEST(s.lock_retry_seconds == 1.0);
    BOOST_TEST(!s.lock_max_wait_seconds.has_value());
    BOOST_TEST(statestore::effective_database_uri(s) == "sqlite:///.meltano/meltano.db");
}

BOOST_AUTO_TEST_CASE(environment_overrides_defaults)
{
    auto values = clean_env;
    values["MELTANO_STATE_BACKEND_URI"] = "file:///srv/state";
    values["MELTANO_STATE_BACKEND_LOCK_TIMEOUT_SECONDS"] = "30";
    values["MELTANO_STATE_BACKEND_LOCK_RETRY_SECONDS"] = " 0.25 ";
    values["STATESTORE_LOCK_MAX_WAIT_SECONDS"] = "5";
    values["MELTANO_SYS_DIR_ROOT"] = "/proj/.meltano";
    scoped_env env(values);
    const auto s = statestore::settings::from_env();
    BOOST_TEST(s.uri == "file:///srv/state");
    BOOST_TEST(s.lock_timeout_seconds == 30.0);
    BOOST_TEST(s.lock_retry_seconds == 0.25);
    BOOST_TEST(s.lock_max_wait_seconds.value_or(-1) == 5.0);
    BOOST_TEST(statestore::effective_database_uri(s) == "sqlite:////proj/.meltano/meltano.db");
    statestore::settings explicit_wins = s;
    explicit_wins.database_uri = "sqlite:///x.db";
    BOOST_TEST(statestore::effective_database_uri(explicit_wins) == "sqlite:///x.db");
}

BOOST_AUTO_TEST_CASE(malformed_environment_names_the_variable)
{
    for (const char* bad : {"ten", "-1", "1e999", "", "1.5s"}) {
        auto values = clean_env;
        values["MELTANO_STATE_BACKEND_LOCK_RETRY_SECONDS"] = std::string(bad);
        scoped_env env(values);
        if (std::string(bad).empty()) { // an empty variable counts as unset
            BOOST_TEST(statestore::settings::from_env().lock_retry_seconds == 1.0);
            continue;
        }
        BOOST_CHECK_EXCEPTION(statestore::settings::from_env(), statestore::error,
                              [](const statestore::error& e) {
                                  return e.value() == errc::invalid_setting &&
                                         std::string(e.what()).find(
                                             "MELTANO_STATE_BACKEND_LOCK_RETRY_SECONDS") !=
                                             std::string::npos;
                              });
    }
}

BOOST_AUTO_TEST_CASE(counts_from_the_environment_are_checked)
{
    {
        auto values = clean_env;
        values["STATESTORE_HTTP_MAX_CONNECTIONS"] = "256";
        values["STATESTORE_IO_THREADS"] = "16";
        scoped_env env(values);
        const auto s = statestore::settings::from_env();
        BOOST_TEST(s.http_max_connections == 256u);
        BOOST_TEST(s.io_threads == 16u);
    }
    {
        scoped_env env(clean_env);
        BOOST_TEST(statestore::settings::from_env().io_threads == 4u);
    }
    const std::pair<const char*, const char*> bad_values[] = {
        {"STATESTORE_IO_THREADS", "0"},        {"STATESTORE_IO_THREADS", "257"},
        {"STATESTORE_IO_THREADS", "four"},     {"STATESTORE_IO_THREADS", "4 "},
        {"STATESTORE_HTTP_MAX_CONNECTIONS", "0"}, {"STATESTORE_HTTP_MAX_CONNECTIONS", "-3"},
        {"STATESTORE_HTTP_MAX_CONNECTIONS", "100001"},
    };
    for (const auto& [name, value] : bad_values) {
        auto values = clean_env;
        values[name] = std::string(value);
        scoped_env env(values);
        const std::string variable = name;
        const std::string expected = "got \"" + std::string(value) + "\"";
        BOOST_CHECK_EXCEPTION(statestore::settings::from_env(), statestore::error,
                              [&](const statestore::error& e) {
                                  const std::string what = e.what();
                                  return e.value() == errc::invalid_setting &&
                                         what.find(variable + " must be a whole number from 1 to") !=
                                             std::string::npos &&
                                         what.find(expected) != std::string::npos;
                              });
    }
}

BOOST_AUTO_TEST_CASE(database_settings_from_the_environment)
{
    {
        scoped_env env(clean_env);
        const auto s = statestore::settings::from_env();
        BOOST_TEST(s.database_max_retries == 3); // Meltano's defaults
        BOOST_TEST(s.database_retry_timeout_seconds == 5.0);
        BOOST_TEST(s.database_max_connections == 8u);
    }
    auto values = clean_env;
    values["MELTANO_DATABASE_MAX_RETRIES"] = "0";
    values["MELTANO_DATABASE_RETRY_TIMEOUT"] = "0.5";
    values["STATESTORE_DATABASE_MAX_CONNECTIONS"] = "32";
    {
        scoped_env env(values);
        const auto s = statestore::settings::from_env();
        BOOST_TEST(s.database_max_retries == 0);
        BOOST_TEST(s.database_retry_timeout_seconds == 0.5);
        BOOST_TEST(s.database_max_connections == 32u);
    }
    values["STATESTORE_DATABASE_MAX_CONNECTIONS"] = "0";
    scoped_env env(values);
    BOOST_CHECK_EXCEPTION(
        statestore::settings::from_env(), statestore::error, [](const statestore::error& e) {
            return e.value() == errc::invalid_setting &&
                   std::string(e.what()).find("STATESTORE_DATABASE_MAX_CONNECTIONS must be a whole "
                                              "number from 1 to 1000") != std::string::npos;
        });
}

BOOST_AUTO_TEST_CASE(postgres_database_uris_select_postgresql_without_io)
{
    // Opening does no I/O (the first operation connects), so no server is needed here; the
    // description never carries the password.
    boost::asio::io_context io;
    for (const char* scheme :
         {"postgresql", "postgresql+psycopg", "postgresql+psycopg2", "postgres"}) {
        statestore::settings s;
        s.database_uri = std::string(scheme) + "://meltano:pa55word@db.invalid:5432/meltano";
        const auto backend = statestore::open_backend(io.get_executor(), s);
        BOOST_TEST(backend->describe() ==
                   "systemdb (" + std::string(scheme) + "://meltano@db.invalid:5432/meltano)");
    }
    statestore::settings bad;
    bad.database_uri = "postgresql://meltano:pa55word@db:99999/meltano";
    BOOST_CHECK_EXCEPTION(statestore::open_backend(io.get_executor(), bad), statestore::error,
                          [](const statestore::error& e) {
                              return e.value() == errc::invalid_uri &&
                                     std::string(e.what()).find("pa55word") == std::string::npos;
                          });
    statestore::settings mysql;
    mysql.database_uri = "mysql://u@h/db";
    BOOST_CHECK_EXCEPTION(statestore::open_backend(io.get_executor(), mysql), statestore::error,
                          [](const statestore::error& e) {
                              return e.value() == errc::unsupported_backend &&
                                     std::string(e.what()).find("PostgreSQL") != std::string::npos;
                          });
}

BOOST_AUTO_TEST_CASE(sqlite_uris_follow_sqlalchemy)
{
    using statestore::sqlite_path_from_uri;
    BOOST_TEST(sqlite_path_from_uri("sqlite:///.meltano/meltano.db") == ".meltano/meltano.db");
    BOOST_TEST(sqlite_path_from_uri("sqlite:////abs/meltano.db") == "/abs/meltano.db");
    BOOST_TEST(sqlite_path_from_uri("sqlite+pysqlite:///rel.db") == "rel.db");
    BOOST_TEST(sqlite_path_from_uri("sqlite:///rel.db?timeout=20") == "rel.db");
    BOOST_TEST(sqlite_path_from_uri("sqlite://") == ":memory:");
    BOOST_TEST(sqlite_path_from_uri("sqlite:///:memory:") == ":memory:");
    BOOST_CHECK_EXCEPTION(sqlite_path_from_uri("postgresql+psycopg://u@h/db"), statestore::error,
                          [](const statestore::error& e) {
                              return e.value() == errc::unsupported_backend;
                          });
    BOOST_CHECK_EXCEPTION(sqlite_path_from_uri("sqlite://host/db"), statestore::error,
                          [](const statestore::error& e) { return e.value() == errc::invalid_uri; });
    BOOST_CHECK_EXCEPTION(sqlite_path_from_uri("meltano.db"), statestore::error,
                          [](const statestore::error& e) { return e.value() == errc::invalid_uri; });
}

BOOST_AUTO_TEST_CASE(env_vars_expand_like_meltano)
{
    scoped_env env({{"SS_TEST_ROOT", std::string("/p/.meltano")}, {"SS_UNSET", std::nullopt}});
    using statestore::expand_env_vars;
    BOOST_TEST(expand_env_vars("file:///${SS_TEST_ROOT}/state") == "file:////p/.meltano/state");
    BOOST_TEST(expand_env_vars("file://$SS_TEST_ROOT/state") == "file:///p/.meltano/state");
    BOOST_TEST(expand_env_vars("a${SS_UNSET}b$SS_UNSET") == "a${SS_UNSET}b$SS_UNSET");
    BOOST_TEST(expand_env_vars("cost $ 5 and ${unclosed") == "cost $ 5 and ${unclosed");
}

BOOST_AUTO_TEST_CASE(backend_uris)
{
    using statestore::parse_backend_uri;
    BOOST_TEST(parse_backend_uri("systemdb").scheme == "systemdb");
    const auto f = parse_backend_uri("file:///srv/state/");
    BOOST_TEST(f.scheme == "file");
    BOOST_TEST(f.path == "/srv/state");
    BOOST_TEST(parse_backend_uri("FILE:///x").scheme == "file"); // urlparse lower-cases
    BOOST_TEST(parse_backend_uri("file://localhost/x").path == "/x");
    BOOST_TEST(parse_backend_uri("file:////double/slash").path == "//double/slash");
    BOOST_TEST(parse_backend_uri("file:///a%20b").path == "/a%20b"); // verbatim, as Meltano

    BOOST_CHECK_EXCEPTION(parse_backend_uri("file://relative/x"), statestore::error,
                          is_error(errc::invalid_uri,
                                   "file state backend URI \"file://relative/x\" must be "
                                   "file:///absolute/directory (\"file://relative/...\" would "
                                   "name a host, not a relative path)"));
    BOOST_CHECK_EXCEPTION(parse_backend_uri("SYSTEMDB"), statestore::error,
                          is_error(errc::unsupported_backend,
                                   "No state backend found for scheme '' (URI \"SYSTEMDB\"), "
                                   "available backends are: systemdb, file, s3, azure, gs"));
    BOOST_CHECK_EXCEPTION(parse_backend_uri("snowflake://acct/db"), statestore::error,
                          is_error(errc::unsupported_backend,
                                   "No state backend found for scheme 'snowflake' (URI "
                                   "\"snowflake://acct/db\"), available backends are: "
                                   "systemdb, file, s3, azure, gs"));
}

BOOST_AUTO_TEST_CASE(cloud_uris_as_meltano_reads_them)
{
    using statestore::parse_backend_uri;
    // Bucket = urlparse hostname (lower-cased); prefix = path without slashes at either end.
    for (const char* uri : {"s3://b/state", "s3://b/state/", "s3://b//state//", "S3://B/state"}) {
        const auto u = parse_backend_uri(uri);
        BOOST_TEST_CONTEXT(uri) {
            BOOST_TEST(u.scheme == "s3");
            BOOST_TEST(u.host == "b");
            BOOST_TEST(u.path == "state");
            BOOST_TEST(u.userinfo.empty());
        }
    }
    BOOST_TEST(parse_backend_uri("s3://bucket").path == "");
    BOOST_TEST(parse_backend_uri("s3://bucket/").path == "");
    BOOST_TEST(parse_backend_uri("s3://bucket/a/b/").path == "a/b");
    const auto creds = parse_backend_uri("s3://AKID:se%2Fcret@my-bucket/p");
    BOOST_TEST(creds.userinfo == "AKID:se%2Fcret"); // decoded by the S3 store, not here
    BOOST_TEST(creds.host == "my-bucket");
    BOOST_TEST(creds.path == "p");
    const auto az = parse_backend_uri("azure://container/some/prefix/");
    BOOST_TEST(az.scheme == "azure");
    BOOST_TEST(az.host == "container");
    BOOST_TEST(az.path == "some/prefix");
    BOOST_TEST(parse_backend_uri("gs://bucket/p").scheme == "gs");

    // A raw '/' in a secret ends the authority early (Meltano silently misreads it).
    try {
        parse_backend_uri("s3://AKID:abc/def@bucket/p");
        BOOST_FAIL("expected invalid_uri");
    } catch (const statestore::error& e) {
        BOOST_TEST((e.value() == errc::invalid_uri));
        const std::string what = e.what();
        BOOST_TEST(what.find("%2F") != std::string::npos);
        BOOST_TEST(what.find("abc") == std::string::npos); // the secret is not echoed
    }
    BOOST_CHECK_EXCEPTION(parse_backend_uri("azure:///prefix"), statestore::error,
                          is_error(errc::invalid_uri,
                                   "no container in the state backend URI; it must be in the "
                                   "form of azure://container[/prefix]"));
    BOOST_CHECK_EXCEPTION(parse_backend_uri("gs:bucket"), statestore::error,
                          is_error(errc::invalid_uri,
                                   "state backend URI must be in the form of gs://bucket[/prefix]"));
    BOOST_CHECK_EXCEPTION(parse_backend_uri("azure://user:pw@c/p"), statestore::error,
                          [](const statestore::error& e) { return e.value() == errc::invalid_uri; });
}

BOOST_AUTO_TEST_SUITE_END()
