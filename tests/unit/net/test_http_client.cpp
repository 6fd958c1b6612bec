// http_client, its pool, TLS, timeouts and send_with_retry against an in-process server
// (tests/support/test_http_server) that injects faults at every step of an exchange.
#include "net/http.hpp"

#include "support/printing.hpp"
#include "support/run_coro.hpp"
#include "support/test_http_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <thread>

namespace statestore {
// Identical to the definitions in test_retry.cpp (inline, so the ODR allows both).
inline std::ostream& boost_test_print_type(std::ostream& os, failure_class v)
{
    return os << to_string(v);
}
inline std::ostream& boost_test_print_type(std::ostream& os, transport_failure v)
{
    return os << to_string(v);
}
} // namespace statestore

namespace asio = boost::asio;
using namespace std::chrono_literals;
using statestore::http_client;
using statestore::http_client_options;
using statestore::http_endpoint;
using statestore::http_request;
using statestore::http_response;
using statestore::transport_error;
using statestore::transport_failure;
using statestore::test::run_coro;
using statestore::test::server_fault;
using statestore::test::test_http_server;
using statestore::test::test_pki;

namespace {

http_endpoint local(std::uint16_t port, bool tls = false, std::string host = "127.0.0.1")
{
    http_endpoint ep;
    ep.tls = tls;
    ep.host = std::move(host);
    ep.port = port;
    return ep;
}

http_request make(std::string method, std::string target, std::string body = "")
{
    http_request r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.body = std::move(body);
    return r;
}

http_client_options fast_options()
{
    http_client_options o;
    o.timeouts.connect = 2s;
    o.timeouts.handshake = 2s;
    o.timeouts.write = 2s;
    o.timeouts.first_byte = 2s;
    o.timeouts.body_stall = 2s;
    o.timeouts.operation = 5s;
    return o;
}

http_client_options tls_options(std::string ca)
{
    auto o = fast_options();
    o.tls.ca_file = std::move(ca);
    return o;
}

asio::awaitable<http_response> send_once(http_client& c, http_endpoint ep, http_request r)
{
    co_return co_await c.send(ep, std::move(r));
}

asio::awaitable<int> send_n(http_client& c, http_endpoint ep, int n)
{
    int ok = 0;
    for (int i = 0; i < n; ++i) {
        http_request r = make("GET", "/n/" + std::to_string(i));
        http_response res = co_await c.send(ep, std::move(r));
        if (res.status == 200 && res.body == "ok /n/" + std::to_string(i))
            ++ok;
    }
    co_return ok;
}

statestore::http_retry_config retry_config(int attempts)
{
    statestore::retry_options ro;
    ro.maximum_attempts = attempts;
    ro.maximum_elapsed = 10s;
    statestore::backoff_options bo;
    bo.initial_delay = 1ms;
    bo.maximum_delay = 5ms;
    statestore::http_retry_config cfg{statestore::retry_policy(ro),
                                      statestore::backoff_policy(bo, [] { return 0.5; })};
    return cfg;
}

asio::awaitable<http_response> send_retry(http_client& c, http_endpoint ep, std::string method,
                                          statestore::http_retry_config cfg, bool idempotent,
                                          std::shared_ptr<int> made)
{
    statestore::http_request_factory factory = [method, made](int attempt) {
        *made = attempt;
        http_request r = make(method, "/retry", method == "PUT" ? "payload" : "");
        r.headers.push_back(statestore::http_header{"x-attempt", std::to_string(attempt)});
        r.headers.push_back(statestore::http_header{"Authorization", "AWS4-HMAC-SHA256 sig=s3cr3t"});
        r.headers.push_back(statestore::http_header{"x-amz-security-token", "t0k3n"});
        return r;
    };
    co_return co_await statestore::send_with_retry(c, ep, factory, cfg, idempotent);
}

bool contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != hay.npos; }

/// Runs `f`, expecting a transport_error, and returns it.
template <class F>
transport_error expect_transport_error(F f)
{
    try {
        f();
    } catch (const transport_error& e) {
        BOOST_TEST_MESSAGE("got: " << e.what());
        BOOST_TEST(!contains(e.what(), "s3cr3t"));
        BOOST_TEST(!contains(e.what(), "t0k3n"));
        return e;
    }
    BOOST_FAIL("expected a transport_error");
    throw std::logic_error("unreachable");
}

std::uint16_t closed_port()
{
    asio::io_context io;
    asio::ip::tcp::acceptor a(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    auto port = a.local_endpoint().port();
    a.close();
    return port;
}

} // namespace

BOOST_AUTO_TEST_SUITE(http_client_suite)

BOOST_AUTO_TEST_CASE(endpoint_parse_and_authority)
{
    auto a = http_endpoint::parse("http://127.0.0.1:9000");
    BOOST_TEST(!a.tls);
    BOOST_TEST(a.host == "127.0.0.1");
    BOOST_TEST(a.port == 9000);
    BOOST_TEST(a.authority() == "127.0.0.1:9000");
    auto b = http_endpoint::parse("https://s3.example.com/");
    BOOST_TEST(b.tls);
    BOOST_TEST(b.port == 443);
    BOOST_TEST(b.authority() == "s3.example.com");
    auto c = http_endpoint::parse("http://[::1]:8080");
    BOOST_TEST(c.host == "::1");
    BOOST_TEST(c.authority() == "[::1]:8080");
    BOOST_CHECK_THROW(http_endpoint::parse("ftp://x"), statestore::error);
    BOOST_CHECK_THROW(http_endpoint::parse("http://x:0"), statestore::error);
    BOOST_CHECK_THROW(http_endpoint::parse("http://x:70000"), statestore::error);
    BOOST_CHECK_THROW(http_endpoint::parse("http://x/path"), statestore::error);
    BOOST_CHECK_THROW(http_endpoint::parse("http://"), statestore::error);
}

BOOST_AUTO_TEST_CASE(redaction)
{
    statestore::http_headers h;
    h.push_back({"Authorization", "AWS4-HMAC-SHA256 Credential=AKIA/secret"});
    h.push_back({"X-Amz-Security-Token", "tok"});
    h.push_back({"Content-Type", "application/json"});
    auto text = statestore::redacted(h);
    BOOST_TEST(!contains(text, "secret"));
    BOOST_TEST(!contains(text, "tok\n"));
    BOOST_TEST(contains(text, "Authorization: ***"));
    BOOST_TEST(contains(text, "Content-Type: application/json"));
    BOOST_TEST(*statestore::find_header(h, "content-type") == "application/json");
}

BOOST_AUTO_TEST_CASE(get_put_round_trip)
{
    test_http_server server;
    asio::io_context io;
    http_client client(io.get_executor(), fast_options());
    auto ep = local(server.port());
    auto got = run_coro(io, send_once(client, ep, make("GET", "/a/b?x=1")), 10s);
    BOOST_TEST(got.status == 200u);
    BOOST_TEST(got.body == "ok /a/b?x=1");
    std::string big(300000, 'z');
    auto put = run_coro(io, send_once(client, ep, make("PUT", "/obj", big)), 10s);
    BOOST_TEST(put.status == 200u);
    BOOST_TEST(put.body == big);
    BOOST_TEST(server.connections_accepted() == 1);
    BOOST_TEST(client.requests_sent() == 2u);
}

BOOST_AUTO_TEST_CASE(keep_alive_reuse)
{
    test_http_server server;
    asio::io_context io;
    http_client client(io.get_executor(), fast_options());
    BOOST_TEST(run_coro(io, send_n(client, local(server.port()), 20), 10s) == 20);
    BOOST_TEST(server.connections_accepted() == 1);
    BOOST_TEST(client.idle_connections(local(server.port())) == 1u);
}

BOOST_AUTO_TEST_CASE(connection_close_is_not_reused)
{
    test_http_server server;
    server.set_handler([](const statestore::test::received_request& r) {
        statestore::test::server_response a;
        a.body = "ok " + r.target;
        a.close = true;
        return a;
    });
    asio::io_context io;
    http_client client(io.get_executor(), fast_options());
    BOOST_TEST(run_coro(io, send_n(client, local(server.port()), 3), 10s) == 3);
    BOOST_TEST(server.connections_accepted() == 3);
    BOOST_TEST(client.idle_connections(local(server.port())) == 0u);
}

BOOST_AUTO_TEST_CASE(http10_without_keep_alive_is_not_reused)
{
    test_http_server server;
    server.set_handler([](const statestore::test::received_request& r) {
        statestore::test::server_response a;
        a.body = "ok " + r.target;
        a.http10 = true;
        return a;
    });
    asio::io_context io;
    http_client client(io.get_executor(), fast_options());
    BOOST_TEST(run_coro(io, send_n(client, local(server.port()), 3), 10s) == 3);
    BOOST_TEST(server.connections_accepted() == 3);
}

BOOST_AUTO_TEST_CASE(body_over_the_limit_is_an_error_not_retried)
{
    test_http_server server;
    asio::io_context io;
    auto opts = fast_options();
    opts.max_body_size = 1000;
    http_client client(io.get_executor(), opts);
    std::string big(5000, 'b');
    try {
        run_coro(io, send_once(client, local(server.port()), make("PUT", "/big", big)), 10s);
        BOOST_FAIL("expected an error");
    } catch (const transport_error&) {
        BOOST_FAIL("must not be a (retryable) transport_error");
    } catch (const statestore::error& e) {
        BOOST_TEST(e.value() == statestore::errc::backend_unavailable);
        BOOST_TEST(contains(e.what(), "larger than the limit of 1000 bytes"));
    }
}

asio::awaitable<std::string> send_expect_failure(http_client& c, http_endpoint ep,
                                                 std::chrono::milliseconds timeout)
{
    http_request r = make("GET", "/t");
    r.timeout = timeout;
    try {
        co_await c.send(ep, std::move(r));
    } catch (const transport_error& e) {
        co_return std::string(statestore::to_string(e.step())) + ": " + e.what();
    }
    co_return "no error";
}

BOOST_AUTO_TEST_CASE(waiting_for_a_slot_is_bounded_by_the_operation_timeout)
{
    test_http_server server;
    server.push_fault(server_fault::never_answer);
    asio::io_context io;
    auto opts = fast_options();
    opts.max_connections_per_endpoint = 1;
    opts.timeouts.first_byte = 800ms;
    http_client client(io.get_executor(), opts);
    auto ep = local(server.port());
    std::string holder, waiter;
    std::chrono::steady_clock::duration waiter_took{};
    auto start = std::chrono::steady_clock::now();
    // The first takes the only slot and hangs (never answered) until its first-byte timeout;
    // the second waits for the slot and gives up at its own 200 ms operation timeout.
    asio::co_spawn(io, send_expect_failure(client, ep, 5s),
                   [&](std::exception_ptr, std::string s) { holder = std::move(s); });
    asio::co_spawn(io, send_expect_failure(client, ep, 200ms), [&](std::exception_ptr, std::string s) {
        waiter = std::move(s);
        waiter_took = std::chrono::steady_clock::now() - start;
    });
    io.run_for(10s);
    BOOST_TEST_MESSAGE("holder: " << holder << "\nwaiter: " << waiter);
    BOOST_TEST(holder.rfind("read_headers: ", 0) == 0u);
    BOOST_TEST(contains(holder, "first byte timeout"));
    BOOST_TEST(waiter.rfind("timeout: ", 0) == 0u);
    BOOST_TEST(contains(waiter, "no free connection within the operation timeout of 200 ms"));
    BOOST_TEST((waiter_took < 700ms));
    BOOST_TEST(server.connections_accepted() == 1);
}

BOOST_AUTO_TEST_CASE(pool_maximum_under_concurrency)
{
    test_http_server server;
    server.set_response_delay(5ms);
    asio::io_context io;
    auto opts = fast_options();
    opts.max_connections_per_endpoint = 4;
    http_client client(io.get_executor(), opts);
    auto ep = local(server.port());
    int done = 0, ok = 0;
    for (int i = 0; i < 50; ++i) {
        asio::co_spawn(io, send_n(client, ep, 1), [&](std::exception_ptr e, int n) {
            ++done;
            if (!e)
                ok += n;
        });
    }
    io.run_for(20s);
    BOOST_TEST(done == 50);
    BOOST_TEST(ok == 50);
    BOOST_TEST(server.max_open_connections() <= 4);
    BOOST_TEST(server.connections_accepted() <= 4);
    BOOST_TEST(server.max_open_connections() >= 2); // it really ran concurrently
}

BOOST_AUTO_TEST_CASE(idle_eviction)
{
    test_http_server server;
    asio::io_context io;
    auto opts = fast_options();
    opts.idle_timeout = 100ms;
    http_client client(io.get_executor(), opts);
    auto ep = local(server.port());
    BOOST_TEST(run_coro(io, send_n(client, ep, 2), 10s) == 2);
    BOOST_TEST(server.connections_accepted() == 1);
    std::this_thread::sleep_for(200ms);
    BOOST_TEST(client.idle_connections(ep) == 0u);
    BOOST_TEST(run_coro(io, send_n(client, ep, 1), 10s) == 1);
    BOOST_TEST(server.connections_accepted() == 2);
}

BOOST_AUTO_TEST_CASE(server_closed_idle_connection_is_not_used)
{
    test_http_server server;
    server.set_handler([](const statestore::test::received_request& r) {
        statestore::test::server_response a;
        a.body = "ok " + r.target;
        a.drop_after = true; // keep-alive answer, then the server closes (its idle timeout)
        return a;
    });
    asio::io_context io;
    http_client client(io.get_executor(), fast_options());
    auto ep = local(server.port());
    for (int i = 0; i < 3; ++i) {
        std::this_thread::sleep_for(50ms); // let the server's close arrive
        BOOST_TEST(run_coro(io, send_n(client, ep, 1), 10s) == 1);
    }
    BOOST_TEST(server.connections_accepted() == 3);
}

BOOST_AUTO_TEST_CASE(tls_with_the_right_ca)
{
    const auto& pki = test_pki::get();
    test_http_server server(statestore::test::server_tls_files{pki.server_cert, pki.server_key});
    asio::io_context io;
    http_client client(io.get_executor(), tls_options(pki.ca_cert));
    auto by_name = local(server.port(), true, "localhost");
    BOOST_TEST(run_coro(io, send_n(client, by_name, 5), 10s) == 5);
    auto by_ip = local(server.port(), true, "127.0.0.1");
    BOOST_TEST(run_coro(io, send_n(client, by_ip, 2), 10s) == 2);
    BOOST_TEST(server.connections_accepted() == 2);
}

BOOST_AUTO_TEST_CASE(tls_unknown_ca_is_refused)
{
    const auto& pki = test_pki::get();
    test_http_server server(statestore::test::server_tls_files{pki.server_cert, pki.server_key});
    asio::io_context io;
    http_client client(io.get_executor(), tls_options(pki.other_ca_cert));
    auto ep = local(server.port(), true, "localhost");
    auto e = expect_transport_error([&] { run_coro(io, send_once(client, ep, make("GET", "/")), 10s); });
    BOOST_TEST(e.step() == transport_failure::certificate);
    BOOST_TEST(e.value() == statestore::errc::backend_unavailable);
    BOOST_TEST(contains(e.what(), "'localhost'"));
    BOOST_TEST(contains(e.what(), "did not verify"));
    BOOST_TEST(contains(e.what(), "unable to get local issuer certificate"));
    BOOST_TEST(classify(e.step()) == statestore::failure_class::client);
}

BOOST_AUTO_TEST_CASE(tls_host_name_mismatch_is_refused)
{
    const auto& pki = test_pki::get();
    test_http_server server(statestore::test::server_tls_files{pki.wrong_name_cert, pki.wrong_name_key});
    asio::io_context io;
    http_client client(io.get_executor(), tls_options(pki.ca_cert));
    auto ep = local(server.port(), true, "localhost");
    auto e = expect_transport_error([&] { run_coro(io, send_once(client, ep, make("GET", "/")), 10s); });
    BOOST_TEST(e.step() == transport_failure::certificate);
    BOOST_TEST(contains(e.what(), "hostname mismatch"));
    // And an IP address not in the certificate.
    auto ip = local(server.port(), true, "127.0.0.1");
    auto e2 = expect_transport_error([&] { run_coro(io, send_once(client, ip, make("GET", "/")), 10s); });
    BOOST_TEST(e2.step() == transport_failure::certificate);
}

BOOST_AUTO_TEST_CASE(first_byte_timeout)
{
    test_http_server server;
    server.push_fault(server_fault::never_answer);
    asio::io_context io;
    auto opts = fast_options();
    opts.timeouts.first_byte = 300ms;
    http_client client(io.get_executor(), opts);
    auto ep = local(server.port());
    auto start = std::chrono::steady_clock::now();
    auto e = expect_transport_error([&] { run_coro(io, send_once(client, ep, make("GET", "/slow")), 10s); });
    auto took = std::chrono::steady_clock::now() - start;
    BOOST_TEST(e.step() == transport_failure::read_headers);
    BOOST_TEST(e.timed_out());
    BOOST_TEST(contains(e.what(), "GET"));
    BOOST_TEST(contains(e.what(), "/slow"));
    BOOST_TEST(contains(e.what(), "127.0.0.1"));
    BOOST_TEST(contains(e.what(), "first byte timeout"));
    BOOST_TEST(took >= 250ms);
    BOOST_TEST(took < 3s);
    // The timed-out connection was dropped; the next request works on a new one.
    BOOST_TEST(run_coro(io, send_n(client, ep, 1), 10s) == 1);
    BOOST_TEST(server.connections_accepted() == 2);
}

BOOST_AUTO_TEST_CASE(operation_timeout)
{
    test_http_server server;
    server.push_fault(server_fault::never_answer);
    asio::io_context io;
    auto opts = fast_options();
    opts.timeouts.operation = 300ms;
    http_client client(io.get_executor(), opts);
    auto e = expect_transport_error(
        [&] { run_coro(io, send_once(client, local(server.port()), make("GET", "/")), 10s); });
    BOOST_TEST(e.timed_out());
    BOOST_TEST(contains(e.what(), "operation timeout"));
}

BOOST_AUTO_TEST_CASE(connect_refused)
{
    asio::io_context io;
    http_client client(io.get_executor(), fast_options());
    auto ep = local(closed_port());
    auto e = expect_transport_error([&] { run_coro(io, send_once(client, ep, make("GET", "/")), 10s); });
    BOOST_TEST(e.step() == transport_failure::connect);
    auto made = std::make_shared<int>(0);
    auto e2 = expect_transport_error(
        [&] { run_coro(io, send_retry(client, ep, "PUT", retry_config(3), false, made), 10s); });
    BOOST_TEST(*made == 3); // nothing was sent, so even a PUT may be retried
    BOOST_TEST(contains(e2.what(), "3 attempts"));
}

struct fault_case {
    server_fault fault;
    bool tls;
    std::vector<transport_failure> steps; // acceptable steps (a closed socket may show at write)
};

BOOST_AUTO_TEST_CASE(fault_injection_at_every_step)
{
    const auto& pki = test_pki::get();
    const std::vector<fault_case> cases = {
        {server_fault::close_at_accept, false, {transport_failure::write, transport_failure::read_headers}},
        {server_fault::close_at_accept, true, {transport_failure::handshake}},
        {server_fault::close_during_handshake, true, {transport_failure::handshake}},
        {server_fault::close_after_request, false, {transport_failure::read_headers}},
        {server_fault::close_after_request, true, {transport_failure::read_headers}},
        {server_fault::close_after_headers, false, {transport_failure::read_body}},
        {server_fault::close_after_headers, true, {transport_failure::read_body}},
        {server_fault::close_mid_body, false, {transport_failure::read_body}},
        {server_fault::close_mid_body, true, {transport_failure::read_body}},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT("fault " << static_cast<int>(c.fault) << (c.tls ? " tls" : " plain"))
        {
            std::optional<statestore::test::server_tls_files> files;
            if (c.tls)
                files = statestore::test::server_tls_files{pki.server_cert, pki.server_key};
            test_http_server server(files);
            asio::io_context io;
            // A fresh client (empty pool) for each phase, so accept-level faults apply.
            std::optional<http_client> client_holder;
            client_holder.emplace(io.get_executor(), tls_options(pki.ca_cert));
            auto ep = local(server.port(), c.tls, "localhost");

            // One attempt: the right step.
            http_client& client = *client_holder;
            server.push_fault(c.fault);
            auto e = expect_transport_error(
                [&] { run_coro(io, send_once(client, ep, make("GET", "/x")), 10s); });
            BOOST_TEST((std::find(c.steps.begin(), c.steps.end(), e.step()) != c.steps.end()),
                       "step " << statestore::to_string(e.step()));
            BOOST_TEST(!e.timed_out());

            // An idempotent GET is retried and succeeds once the server behaves.
            client_holder.emplace(io.get_executor(), tls_options(pki.ca_cert));
            server.push_fault(c.fault);
            auto made = std::make_shared<int>(0);
            auto r = run_coro(io, send_retry(client, ep, "GET", retry_config(3), true, made), 10s);
            BOOST_TEST(r.status == 200u);
            BOOST_TEST(r.attempts == 2);
            BOOST_TEST(*made == 2);

            // A PUT without precondition: retried only when it cannot have been processed.
            client_holder.emplace(io.get_executor(), tls_options(pki.ca_cert));
            server.push_fault(c.fault);
            auto made_put = std::make_shared<int>(0);
            const bool never_sent = c.steps.front() == transport_failure::handshake;
            if (never_sent) {
                auto rp = run_coro(io, send_retry(client, ep, "PUT", retry_config(3), false, made_put), 10s);
                BOOST_TEST(rp.status == 200u);
                BOOST_TEST(*made_put == 2);
            } else {
                auto ep2 = expect_transport_error([&] {
                    run_coro(io, send_retry(client, ep, "PUT", retry_config(3), false, made_put), 10s);
                });
                BOOST_TEST(*made_put == 1);
                BOOST_TEST(contains(ep2.what(), "1 attempt;"));
                BOOST_TEST(contains(ep2.what(), "not idempotent"));
                BOOST_TEST(contains(ep2.what(), "PUT"));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(retry_after_is_honoured)
{
    test_http_server server;
    auto calls = std::make_shared<std::atomic<int>>(0);
    server.set_handler([calls](const statestore::test::received_request&) {
        statestore::test::server_response a;
        int n = ++*calls;
        if (n == 1) {
            a.status = 503;
            a.headers.emplace_back("Retry-After", "0");
        } else if (n == 2) {
            a.status = 503;
            a.headers.emplace_back("Retry-After", "1");
        } else {
            a.body = "fine";
        }
        return a;
    });
    asio::io_context io;
    http_client client(io.get_executor(), fast_options());
    auto made = std::make_shared<int>(0);
    auto start = std::chrono::steady_clock::now();
    auto r = run_coro(io, send_retry(client, local(server.port()), "GET", retry_config(5), true, made), 10s);
    auto took = std::chrono::steady_clock::now() - start;
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.body == "fine");
    BOOST_TEST(r.attempts == 3);
    BOOST_TEST(took >= 1s); // the second Retry-After (1 s) was waited, not the 5 ms backoff
    BOOST_TEST(took < 5s);
}

BOOST_AUTO_TEST_CASE(client_errors_are_never_retried)
{
    test_http_server server;
    server.set_handler([](const statestore::test::received_request&) {
        statestore::test::server_response a;
        a.status = 404;
        a.body = "<Error><Code>NoSuchKey</Code></Error>";
        return a;
    });
    asio::io_context io;
    http_client client(io.get_executor(), fast_options());
    auto made = std::make_shared<int>(0);
    auto r = run_coro(io, send_retry(client, local(server.port()), "GET", retry_config(5), true, made), 10s);
    BOOST_TEST(r.status == 404u);
    BOOST_TEST(r.attempts == 1);
    BOOST_TEST(server.requests_received() == 1);
}

BOOST_AUTO_TEST_CASE(server_errors_exhaust_and_return_the_last_answer)
{
    test_http_server server;
    server.set_handler([](const statestore::test::received_request&) {
        statestore::test::server_response a;
        a.status = 500;
        return a;
    });
    asio::io_context io;
    http_client client(io.get_executor(), fast_options());
    auto made = std::make_shared<int>(0);
    auto r = run_coro(io, send_retry(client, local(server.port()), "GET", retry_config(3), true, made), 10s);
    BOOST_TEST(r.status == 500u);
    BOOST_TEST(r.attempts == 3);
    BOOST_TEST(server.requests_received() == 3);
    BOOST_TEST(client.requests_sent() == 3u, "every attempt is a request sent");
    // A PUT without precondition is not resent after a 500: it may have been applied.
    auto made_put = std::make_shared<int>(0);
    auto rp = run_coro(io, send_retry(client, local(server.port()), "PUT", retry_config(3), false, made_put), 10s);
    BOOST_TEST(rp.status == 500u);
    BOOST_TEST(rp.attempts == 1);
    BOOST_TEST(client.requests_sent() == 4u);
}

BOOST_AUTO_TEST_SUITE_END()
