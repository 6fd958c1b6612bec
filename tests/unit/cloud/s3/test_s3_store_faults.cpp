// s3_store's handling of outcomes no real server produces on demand (fault injection, with
// the fake of support/fake_s3.hpp): a conditional write that was applied but answered 500, a
// lost race answered 500 (as Ceph RGW does), a server that keeps failing; and the exact
// shape of the requests it sends. Behaviour against a real server: tests/s3/.
#include <boost/test/unit_test.hpp>

#include "support/fake_s3.hpp"
#include "support/run_coro.hpp"
#include "support/test_http_server.hpp"

#include "statestore/error.hpp"
#include "cloud/s3/s3_store.hpp"

#include <boost/asio/io_context.hpp>

#include <mutex>

namespace asio = boost::asio;
using namespace statestore;
using statestore::test::run_coro;

namespace {

struct faulty_s3 {
    test::fake_s3 fake;
    test::test_http_server server;
    std::mutex seen_mutex;
    std::vector<test::received_request> seen;
    asio::io_context io;

    faulty_s3()
    {
        server.set_handler([this](const test::received_request& r) {
            {
                const std::lock_guard<std::mutex> lock(seen_mutex);
                seen.push_back(r);
            }
            return fake.handle(r);
        });
    }

    std::unique_ptr<s3_store> open(int attempts = 4)
    {
        s3_settings s;
        s.aws_access_key_id = "AKFAKE";
        s.aws_secret_access_key = "fake-secret";
        s.endpoint_url = "http://127.0.0.1:" + std::to_string(server.port());
        const env_lookup no_env = [](const std::string&) { return std::optional<std::string>(); };
        const file_lookup no_files = [](const std::string&) {
            return std::optional<std::string>();
        };
        s3_store_options o;
        o.config = resolve_s3_config(s, "bkt", "", no_env, no_files);
        o.probe_preconditions = false;
        retry_options r;
        r.maximum_attempts = attempts;
        o.retry.policy = retry_policy(r);
        backoff_options b;
        b.initial_delay = std::chrono::milliseconds(1);
        b.maximum_delay = std::chrono::milliseconds(5);
        o.retry.backoff = backoff_policy(b);
        return std::make_unique<s3_store>(io.get_executor(), o);
    }

    static std::string header(const test::received_request& r, std::string name)
    {
        for (const auto& [k, v] : r.headers) {
            std::string lower = k;
            for (auto& c : lower)
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (lower == name)
                return v;
        }
        return "<absent>";
    }
};

test::server_response status_only(unsigned status, std::string code)
{
    test::server_response r;
    r.status = status;
    r.body = "<Error><Code>" + code + "</Code></Error>";
    return r;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(s3_store_faults, faulty_s3)

BOOST_AUTO_TEST_CASE(requests_are_path_style_signed_json_puts)
{
    auto store = open();
    const auto v = run_coro(io, store->write("st/a b/state.json", "{}", precondition::if_absent()));
    BOOST_REQUIRE(v.has_value());
    run_coro(io, store->write("st/a b/state.json", "{\"x\": 1}", precondition::if_version(*v)));
    BOOST_REQUIRE_EQUAL(seen.size(), 2u);
    const auto& create = seen[0];
    BOOST_TEST(create.method == "PUT");
    BOOST_TEST(create.target == "/bkt/st/a%20b/state.json");
    BOOST_TEST(header(create, "content-type") == "application/json");
    BOOST_TEST(header(create, "if-none-match") == "*");
    BOOST_TEST(header(create, "host") == "127.0.0.1:" + std::to_string(server.port()));
    BOOST_TEST(header(create, "authorization").rfind("AWS4-HMAC-SHA256 Credential=AKFAKE/", 0) == 0);
    // The payload is signed (RGW checks x-amz-content-sha256 against the body).
    BOOST_TEST(header(create, "x-amz-content-sha256") ==
               "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
    BOOST_TEST(header(seen[1], "if-match") == *v); // unquoted, as RGW needs
    BOOST_TEST(v->find('"') == std::string::npos);
}

BOOST_AUTO_TEST_CASE(applied_write_answered_500_is_recognised_as_ours)
{
    // The first attempt is applied but answered 500; the retry meets its own write (412).
    int puts = 0;
    fake.on_put = [&](const test::received_request&) -> std::optional<test::fake_s3::put_override> {
        if (++puts > 1)
            return std::nullopt;
        test::fake_s3::put_override o;
        o.response = status_only(500, "InternalError");
        o.apply_anyway = true;
        return o;
    };
    auto store = open();
    const auto v = run_coro(io, store->write("k/lock", "1732535622.12", precondition::if_absent()));
    BOOST_REQUIRE(v.has_value()); // not "someone else holds the lock"
    BOOST_TEST(*v == fake.get("/bkt/k/lock")->etag);
    BOOST_TEST(puts == 2);
}

BOOST_AUTO_TEST_CASE(lost_race_answered_500_is_never_success)
{
    // RGW's loser of a compare-and-swap race: 500, and the object is someone else's.
    fake.put("/bkt/k/state.json", "base");
    const std::string base = fake.get("/bkt/k/state.json")->etag;
    int puts = 0;
    fake.on_put = [&](const test::received_request&) -> std::optional<test::fake_s3::put_override> {
        if (++puts > 1)
            return std::nullopt;
        fake.put("/bkt/k/state.json", "winner"); // the race is lost meanwhile
        test::fake_s3::put_override o;
        o.response = status_only(500, "UnknownError");
        return o;
    };
    auto store = open();
    const auto v = run_coro(io, store->write("k/state.json", "mine", precondition::if_version(base)));
    BOOST_TEST(!v.has_value());
    BOOST_TEST(fake.get("/bkt/k/state.json")->body == "winner");
}

BOOST_AUTO_TEST_CASE(a_server_that_keeps_failing_is_an_error_not_success)
{
    fake.put("/bkt/k/state.json", "base");
    const std::string base = fake.get("/bkt/k/state.json")->etag;
    fake.on_put = [&](const test::received_request&) -> std::optional<test::fake_s3::put_override> {
        test::fake_s3::put_override o;
        o.response = status_only(503, "ServiceUnavailable");
        return o;
    };
    auto store = open(3);
    try {
        run_coro(io, store->write("k/state.json", "mine", precondition::if_version(base)));
        BOOST_FAIL("expected an error");
    } catch (const error& e) {
        BOOST_TEST((e.value() == errc::backend_unavailable));
        const std::string what = e.what();
        BOOST_TEST(what.find("HTTP 503 ServiceUnavailable") != std::string::npos, what);
        BOOST_TEST(what.find("3 attempts") != std::string::npos, what);
        BOOST_TEST(what.find("s3://bkt/k/state.json") != std::string::npos, what);
        BOOST_TEST(what.find("fake-secret") == std::string::npos);
    }
    BOOST_TEST(fake.get("/bkt/k/state.json")->body == "base");
}

BOOST_AUTO_TEST_CASE(remove_checks_the_version_before_deleting)
{
    fake.put("/bkt/k/lock", "t1");
    const std::string mine = fake.get("/bkt/k/lock")->etag;
    fake.put("/bkt/k/lock", "t2"); // taken over
    auto store = open();
    BOOST_TEST((run_coro(io, store->remove("k/lock", precondition::if_version(mine))) ==
                remove_result::precondition_failed));
    BOOST_TEST(fake.get("/bkt/k/lock").has_value());
    for (const auto& r : seen)
        BOOST_TEST(r.method != "DELETE");
    BOOST_TEST((run_coro(io, store->remove("k/none", precondition::none())) ==
                remove_result::not_found));
}

BOOST_AUTO_TEST_SUITE_END()
