// s3_store against a real S3 server (Ceph RGW started by tests/s3/fixture.sh): the request
// formats, the server quirks the store must absorb (unquoted If-Match, 500 for a lost
// compare-and-swap race, DELETE ignoring If-Match), listing with delimiters and paging,
// TLS, and the errors a user sees. The server comes from the environment:
//   S3_ENDPOINT, S3_TLS_ENDPOINT, S3_CA_FILE, S3_KEY, S3_SECRET (bucket statestore-ci).
#define BOOST_TEST_MODULE statestore_s3_store
#include <boost/test/unit_test.hpp>

#include "support/error_matchers.hpp"
#include "support/printing.hpp"
#include "support/run_coro.hpp"

#include "statestore/error.hpp"
#include "cloud/s3/s3_store.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdlib>
#include <random>
#include <set>

namespace asio = boost::asio;
using namespace statestore;
using statestore::test::error_of;
using statestore::test::run_coro;

namespace {

std::string env_or_fail(const char* name)
{
    const char* v = std::getenv(name);
    if (!v || !*v)
        throw std::runtime_error(std::string(name) + " is not set (run under the s3 fixture)");
    return v;
}

std::string unique(const std::string& stem)
{
    static std::mt19937_64 rng(std::random_device{}());
    return stem + "-" + std::to_string(rng() % 1000000000);
}

struct s3_fixture {
    asio::io_context io;
    std::vector<std::string> warnings;

    s3_store_options options(bool tls = false)
    {
        s3_settings s;
        s.aws_access_key_id = env_or_fail("S3_KEY");
        s.aws_secret_access_key = env_or_fail("S3_SECRET");
        s.endpoint_url = env_or_fail(tls ? "S3_TLS_ENDPOINT" : "S3_ENDPOINT");
        if (tls)
            s.ca_file = env_or_fail("S3_CA_FILE");
        const env_lookup no_env = [](const std::string&) { return std::optional<std::string>(); };
        const file_lookup no_files = [](const std::string&) {
            return std::optional<std::string>();
        };
        s3_store_options o;
        o.config = resolve_s3_config(s, "statestore-ci", "", no_env, no_files);
        o.http.tls.ca_file = o.config.ca_file;
        o.warn = [this](const std::string& m) { warnings.push_back(m); };
        return o;
    }
    std::unique_ptr<s3_store> open(bool tls = false)
    {
        return std::make_unique<s3_store>(io.get_executor(), options(tls));
    }
};


} // namespace

BOOST_FIXTURE_TEST_SUITE(s3_store_on_rgw, s3_fixture)

BOOST_AUTO_TEST_CASE(round_trip_versions_and_missing_keys)
{
    auto store = open();
    const std::string key = unique("rt") + "/state.json";
    BOOST_TEST(!run_coro(io, store->read(key)).has_value());
    const auto v1 = run_coro(io, store->write(key, R"({"a": 1})", precondition::if_absent()));
    BOOST_REQUIRE(v1.has_value());
    BOOST_TEST(v1->find('"') == std::string::npos); // versions are unquoted ETags
    const auto got = run_coro(io, store->read(key));
    BOOST_REQUIRE(got.has_value());
    BOOST_TEST(got->bytes == R"({"a": 1})");
    BOOST_TEST(got->version == *v1);
    // create-only on an existing key: refused, nothing changed
    BOOST_TEST(!run_coro(io, store->write(key, "x", precondition::if_absent())).has_value());
    // compare-and-swap: the current version wins, a stale one is refused
    const auto v2 = run_coro(io, store->write(key, R"({"a": 2})", precondition::if_version(*v1)));
    BOOST_REQUIRE(v2.has_value());
    BOOST_TEST(!run_coro(io, store->write(key, "stale", precondition::if_version(*v1))).has_value());
    BOOST_TEST(run_coro(io, store->read(key))->bytes == R"({"a": 2})");
    // conditional remove: stale version refused, current removes, then not_found
    BOOST_TEST((run_coro(io, store->remove(key, precondition::if_version(*v1))) ==
                remove_result::precondition_failed));
    BOOST_TEST(run_coro(io, store->read(key)).has_value());
    BOOST_TEST((run_coro(io, store->remove(key, precondition::if_version(*v2))) ==
                remove_result::removed));
    BOOST_TEST((run_coro(io, store->remove(key, precondition::none())) ==
                remove_result::not_found));
}

BOOST_AUTO_TEST_CASE(awkward_keys_round_trip)
{
    auto store = open();
    const std::string dir = unique("awk");
    const std::vector<std::string> ids = {"with space", "100%", "plus+sign", "quote\"d",
                                          "q?mark#hash", "\u65e5\u672c\u8a9e", "colon:s:",
                                          "tilde~star*", "a&b=c", std::string(200, 'z')};
    for (const auto& id : ids) {
        const std::string key = dir + "/" + id + "/state.json";
        BOOST_TEST_CONTEXT(id) {
            BOOST_REQUIRE(run_coro(io, store->write(key, id, precondition::none())).has_value());
            const auto got = run_coro(io, store->read(key));
            BOOST_REQUIRE(got.has_value());
            BOOST_TEST(got->bytes == id);
        }
    }
    const auto page = run_coro(io, store->list(dir + "/", "/", ""));
    std::set<std::string> listed(page.common_prefixes.begin(), page.common_prefixes.end());
    for (const auto& id : ids)
        BOOST_TEST(listed.count(dir + "/" + id + "/") == 1u, id);
}

BOOST_AUTO_TEST_CASE(listing_pages_and_common_prefixes)
{
    // 1,100 ids (over RGW's 1,000-key page) with a lock beside some documents.
    auto store = open();
    const std::string dir = unique("list");
    constexpr int count = 1100;
    std::vector<std::string> keys;
    for (int i = 0; i < count; ++i) {
        keys.push_back(dir + "/id-" + std::to_string(i) + "/state.json");
        if (i % 10 == 0)
            keys.push_back(dir + "/id-" + std::to_string(i) + "/lock");
    }
    int written = 0;
    auto writer = [&](std::size_t first) -> asio::awaitable<void> {
        for (std::size_t k = first; k < keys.size(); k += 32) {
            co_await store->write(keys[k], "{}", precondition::none());
            ++written;
        }
    };
    for (std::size_t lane = 0; lane < 32; ++lane)
        asio::co_spawn(io, writer(lane), asio::detached);
    io.restart();
    io.run();
    BOOST_REQUIRE_EQUAL(written, static_cast<int>(keys.size()));

    std::set<std::string> prefixes;
    std::string token;
    int pages = 0;
    do {
        auto page = run_coro(io, store->list(dir + "/", "/", token));
        BOOST_TEST(page.keys.empty()); // everything is one level deeper
        prefixes.insert(page.common_prefixes.begin(), page.common_prefixes.end());
        token = page.next_token;
        ++pages;
    } while (!token.empty() && pages < 10);
    BOOST_TEST(prefixes.size() == static_cast<std::size_t>(count));
    BOOST_TEST(pages >= 2);
    // A flat listing sees every object.
    std::size_t flat = 0;
    token.clear();
    pages = 0;
    do {
        auto page = run_coro(io, store->list(dir + "/", "", token));
        flat += page.keys.size();
        token = page.next_token;
    } while (!token.empty() && ++pages < 10);
    BOOST_TEST(flat == keys.size());
}

BOOST_AUTO_TEST_CASE(create_race_has_exactly_one_winner)
{
    auto store = open();
    const std::string key = unique("race-create") + "/lock";
    int won = 0, lost = 0, failed = 0;
    auto contender = [&](int i) -> asio::awaitable<void> {
        try {
            const auto v = co_await store->write(key, "c" + std::to_string(i),
                                                 precondition::if_absent());
            (v ? won : lost)++;
        } catch (const std::exception&) {
            ++failed;
        }
    };
    for (int i = 0; i < 32; ++i)
        asio::co_spawn(io, contender(i), asio::detached);
    io.restart();
    io.run();
    BOOST_TEST(won == 1);
    BOOST_TEST(lost == 31);
    BOOST_TEST(failed == 0);
}

BOOST_AUTO_TEST_CASE(cas_race_has_exactly_one_winner_despite_rgw_500s)
{
    // RGW answers most losers of this race with 500 UnknownError, not 412: the store must
    // settle each one by reading back, and report exactly one success.
    auto store = open();
    const std::string key = unique("race-cas") + "/state.json";
    const auto base = run_coro(io, store->write(key, "base", precondition::if_absent()));
    BOOST_REQUIRE(base.has_value());
    int won = 0, lost = 0, failed = 0;
    std::string winner;
    auto contender = [&](int i) -> asio::awaitable<void> {
        const std::string mine = "v" + std::to_string(i);
        try {
            const auto v = co_await store->write(key, mine, precondition::if_version(*base));
            if (v) {
                ++won;
                winner = mine;
            } else {
                ++lost;
            }
        } catch (const std::exception&) {
            ++failed;
        }
    };
    for (int i = 0; i < 32; ++i)
        asio::co_spawn(io, contender(i), asio::detached);
    io.restart();
    io.run();
    BOOST_TEST(won == 1);
    BOOST_TEST(lost == 31);
    BOOST_TEST(failed == 0);
    BOOST_TEST(run_coro(io, store->read(key))->bytes == winner);
}

BOOST_AUTO_TEST_CASE(probe_finds_what_rgw_enforces_and_warns_once)
{
    auto store = open();
    const auto support = run_coro(io, store->precondition_support());
    BOOST_TEST(support.probed);
    BOOST_TEST(support.put_if_none_match);
    BOOST_TEST(support.put_if_match);
    BOOST_TEST(!support.delete_if_match); // Ceph 16 ignores If-Match on DELETE
    // Warned at most once per server and process (an earlier test case may have warned).
    auto again = open();
    run_coro(io, again->precondition_support());
    BOOST_TEST(warnings.size() <= 1u);
}

BOOST_AUTO_TEST_CASE(tls_round_trip_and_unknown_ca)
{
    auto store = open(true);
    const std::string key = unique("tls") + "/state.json";
    BOOST_REQUIRE(run_coro(io, store->write(key, "over tls", precondition::none())).has_value());
    BOOST_TEST(run_coro(io, store->read(key))->bytes == "over tls");

    auto opts = options(true);
    opts.http.tls.ca_file.clear(); // only the system trust store: our test CA is unknown
    s3_store untrusted(io.get_executor(), opts);
    std::string message;
    BOOST_TEST((error_of([&] { run_coro(io, untrusted.read(key)); }, &message) ==
                errc::backend_unavailable));
    BOOST_TEST(message.find("127.0.0.1") != std::string::npos, message);
    BOOST_TEST(message.find("certificate") != std::string::npos, message);
}

BOOST_AUTO_TEST_CASE(wrong_secret_and_missing_bucket_are_clear_errors)
{
    auto opts = options();
    opts.config.credentials.secret_access_key = aws::secret("WRONG-secret-value-123");
    s3_store wrong(io.get_executor(), opts);
    std::string message;
    BOOST_TEST((error_of([&] { run_coro(io, wrong.read("x/state.json")); }, &message) ==
                errc::auth_failed));
    BOOST_TEST(message.find("SignatureDoesNotMatch") != std::string::npos, message);
    BOOST_TEST(message.find("statestore-ci") != std::string::npos, message);
    const std::string endpoint = env_or_fail("S3_ENDPOINT"); // the server's host:port, after "//"
    BOOST_TEST(message.find(endpoint.substr(endpoint.find("//") + 2)) != std::string::npos, message);
    BOOST_TEST(message.find("WRONG-secret-value-123") == std::string::npos);

    auto missing = options();
    missing.config.bucket = "no-such-bucket-here";
    s3_store nobucket(io.get_executor(), missing);
    BOOST_TEST((error_of([&] { run_coro(io, nobucket.read("x/state.json")); }, &message) ==
                errc::invalid_setting));
    BOOST_TEST(message.find("no-such-bucket-here") != std::string::npos, message);
    BOOST_TEST(message.find("does not exist") != std::string::npos, message);
    BOOST_TEST((error_of([&] {
                    run_coro(io, nobucket.write("x/state.json", "{}", precondition::none()));
                }) == errc::invalid_setting));
}

BOOST_AUTO_TEST_SUITE_END()
