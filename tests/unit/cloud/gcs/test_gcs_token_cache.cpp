// The token cache with an injected clock: refresh before expiry, exactly one fetch in flight
// however many coroutines wait, errors to every waiter. And gcs_store's requests, checked on the
// wire against the in-process test server (a fake: only to see exact targets, headers and the
// 401 path; the real behaviour is tested against the emulator in the gcs tests).
#include "statestore/error.hpp"
#include "cloud/gcs/gcs_store.hpp"
#include "cloud/gcs/gcs_token_cache.hpp"

#include "support/run_coro.hpp"
#include "support/test_http_server.hpp"

#include <boost/algorithm/string/predicate.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <mutex>
#include <string>
#include <vector>

using namespace statestore;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

/// A fake clock the test moves by hand.
struct manual_clock {
    std::chrono::steady_clock::time_point now{std::chrono::hours(1000)};
    gcs::token_cache::clock_fn fn()
    {
        return [this] { return now; };
    }
};

/// A fetch that takes a little while (so that others pile up behind it) and numbers its tokens.
struct counting_fetch {
    asio::io_context* io;
    int calls = 0;
    bool fail = false;
    std::chrono::seconds lifetime{3600};

    asio::awaitable<gcs::token_response> operator()()
    {
        const int n = ++calls;
        asio::steady_timer t(*io, 5ms);
        co_await t.async_wait(asio::use_awaitable);
        if (fail)
            throw_error(errc::auth_failed, "token endpoint said no");
        gcs::token_response r;
        r.access_token = "token-" + std::to_string(n);
        r.expires_in = lifetime;
        co_return r;
    }
};

} // namespace

BOOST_AUTO_TEST_SUITE(gcs_token_cache)

BOOST_AUTO_TEST_CASE(many_waiters_one_fetch)
{
    asio::io_context io;
    counting_fetch f{&io};
    manual_clock c;
    gcs::token_cache cache(io.get_executor(), [&f] { return f(); }, c.fn());
    std::vector<std::string> got;
    for (int i = 0; i < 1000; ++i)
        asio::co_spawn(io, cache.token(), [&](std::exception_ptr e, std::string t) {
            BOOST_REQUIRE(!e);
            got.push_back(t);
        });
    io.run();
    BOOST_TEST(got.size() == 1000u);
    BOOST_TEST(f.calls == 1);
    BOOST_TEST(cache.fetch_count() == 1u);
    for (const auto& t : got)
        BOOST_TEST(t == "token-1");
}

BOOST_AUTO_TEST_CASE(refreshes_before_expiry_not_earlier)
{
    asio::io_context io;
    counting_fetch f{&io};
    manual_clock c;
    gcs::token_cache cache(io.get_executor(), [&f] { return f(); }, c.fn());
    BOOST_TEST(test::run_coro(io, cache.token()) == "token-1");
    // A 3600 s token is stale 60 s before it expires.
    c.now += 3539s;
    BOOST_TEST(test::run_coro(io, cache.token()) == "token-1");
    BOOST_TEST(*cache.current() == "token-1");
    c.now += 1s;
    BOOST_TEST(!cache.current());
    BOOST_TEST(test::run_coro(io, cache.token()) == "token-2");
    BOOST_TEST(f.calls == 2);

    // Short-lived tokens: stale after three quarters of their life.
    f.lifetime = 4s;
    cache.invalidate();
    BOOST_TEST(test::run_coro(io, cache.token()) == "token-3");
    c.now += 2999ms;
    BOOST_TEST(test::run_coro(io, cache.token()) == "token-3");
    c.now += 1ms;
    BOOST_TEST(test::run_coro(io, cache.token()) == "token-4");
    BOOST_TEST(gcs::token_cache::refresh_margin(3600s) == 60s);
    BOOST_TEST(gcs::token_cache::refresh_margin(2s) == 500ms);
}

BOOST_AUTO_TEST_CASE(an_error_reaches_every_waiter_and_the_next_call_retries)
{
    asio::io_context io;
    counting_fetch f{&io};
    f.fail = true;
    manual_clock c;
    gcs::token_cache cache(io.get_executor(), [&f] { return f(); }, c.fn());
    int errors = 0;
    for (int i = 0; i < 50; ++i)
        asio::co_spawn(io, cache.token(), [&](std::exception_ptr e, std::string) {
            try {
                if (e)
                    std::rethrow_exception(e);
            } catch (const error& err) {
                if (err.value() == errc::auth_failed)
                    ++errors;
            }
        });
    io.run();
    BOOST_TEST(errors == 50);
    BOOST_TEST(f.calls == 1);
    f.fail = false;
    BOOST_TEST(test::run_coro(io, cache.token()) == "token-2");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(gcs_store_wire)

namespace {
struct recorded {
    std::mutex m;
    std::vector<test::received_request> requests;
};

std::string header_of(const test::received_request& r, const std::string& name)
{
    for (const auto& [k, v] : r.headers)
        if (boost::iequals(k, name))
            return v;
    return {};
}
} // namespace

BOOST_AUTO_TEST_CASE(requests_on_the_wire_and_answers)
{
    test::test_http_server server;
    recorded rec;
    int unauthorized_left = 1;
    server.set_handler([&](const test::received_request& r) {
        std::lock_guard lock(rec.m);
        rec.requests.push_back(r);
        test::server_response a;
        if (r.target.find("/o/first") != std::string::npos && unauthorized_left-- > 0) {
            a.status = 401;
            a.body = R"({"error":{"code":401,"errors":[{"reason":"authError"}]}})";
        } else if (r.method == "POST" && r.target.find("ifGenerationMatch=0") != std::string::npos) {
            a.status = 412;
            a.body = R"({"error":{"code":412,"errors":[{"reason":"conditionNotMet"}]}})";
        } else if (r.method == "POST") {
            a.body = R"({"name":"x","generation":"1700000000001"})";
        } else if (r.method == "DELETE") {
            a.status = 412;
        } else if (r.target.find("alt=media") != std::string::npos) {
            a.headers.push_back({"x-goog-generation", "77"});
            a.body = "{\"a\": 1}";
        } else {
            a.body = R"({"prefixes":["ci/a/"],"items":[{"name":"ci/x"}],"nextPageToken":"tok"})";
        }
        return a;
    });

    asio::io_context io;
    int fetches = 0;
    auto tokens = std::make_shared<gcs::token_cache>(
        io.get_executor(), [&fetches]() -> asio::awaitable<gcs::token_response> {
            gcs::token_response r;
            r.access_token = "tok-" + std::to_string(++fetches);
            r.expires_in = 3600s;
            co_return r;
        });
    gcs_store_options o;
    o.endpoint = http_endpoint::parse("http://127.0.0.1:" + std::to_string(server.port()));
    o.bucket = "bkt";
    o.tokens = tokens;
    o.auth_description = "service account sa@p";
    gcs_store store(io.get_executor(), o);
    BOOST_TEST(store.describe().find("tok-") == std::string::npos);

    BOOST_TEST(!test::run_coro(io, store.write("ci/lock", "1.5", precondition::if_absent())));
    BOOST_TEST(*test::run_coro(io, store.write("ci/s", "{}", precondition::if_version("12"))) ==
               "1700000000001");
    auto b = test::run_coro(io, store.read("first"));
    BOOST_REQUIRE(b);
    BOOST_TEST(b->version == "77");
    BOOST_TEST(b->bytes == "{\"a\": 1}");
    BOOST_TEST(static_cast<int>(test::run_coro(io, store.remove("ci/lock", precondition::if_version("5")))) ==
               static_cast<int>(remove_result::precondition_failed));
    auto page = test::run_coro(io, store.list("ci/", "/", "t0"));
    BOOST_TEST(page.keys == std::vector<std::string>{"ci/x"});
    BOOST_TEST(page.common_prefixes == std::vector<std::string>{"ci/a/"});
    BOOST_TEST(page.next_token == "tok");

    std::lock_guard lock(rec.m);
    BOOST_REQUIRE_EQUAL(rec.requests.size(), 6u);
    const auto& up = rec.requests[0];
    BOOST_TEST(up.target == "/upload/storage/v1/b/bkt/o?uploadType=media&name=ci%2Flock&ifGenerationMatch=0");
    BOOST_TEST(header_of(up, "Content-Type") == "application/json");
    BOOST_TEST(header_of(up, "Authorization") == "Bearer tok-1");
    BOOST_TEST(up.body == "1.5");
    BOOST_TEST(rec.requests[1].target ==
               "/upload/storage/v1/b/bkt/o?uploadType=media&name=ci%2Fs&ifGenerationMatch=12");
    // The 401 made the store drop its token and fetch a new one, once.
    BOOST_TEST(rec.requests[2].target == "/storage/v1/b/bkt/o/first?alt=media");
    BOOST_TEST(header_of(rec.requests[2], "Authorization") == "Bearer tok-1");
    BOOST_TEST(header_of(rec.requests[3], "Authorization") == "Bearer tok-2");
    BOOST_TEST(fetches == 2);
    BOOST_TEST(rec.requests[4].method == "DELETE");
    BOOST_TEST(rec.requests[4].target == "/storage/v1/b/bkt/o/ci%2Flock?ifGenerationMatch=5");
    BOOST_TEST(rec.requests[5].target == "/storage/v1/b/bkt/o?prefix=ci%2F&delimiter=%2F&pageToken=t0");
}

BOOST_AUTO_TEST_SUITE_END()
