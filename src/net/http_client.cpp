// http_client: Beast over plain TCP or ssl::stream<beast::tcp_stream>, with one keep-alive pool
// per endpoint. Beast and Asio's SSL are compiled once in src/asio_impl.cpp.
//
// g++ 12 rule (toolchain.md section 0): no brace-initialised aggregate or capturing lambda as a
// temporary in a full-expression that contains co_await. Everything is bound to named locals.
#include "net/http.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <sys/socket.h>

#include <cerrno>
#include <deque>
#include <list>
#include <map>

namespace statestore {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
using boost::system::error_code;

namespace {

constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

struct connection {
    connection(const asio::any_io_executor& ex, ssl::context* ctx)
    {
        if (ctx)
            tls.emplace(ex, *ctx);
        else
            plain.emplace(ex);
    }
    beast::tcp_stream& tcp_layer() { return tls ? tls->next_layer() : *plain; }
    void close()
    {
        error_code ignored;
        tcp_layer().socket().close(ignored);
    }
    /// Whether the peer has closed (or sent something unasked for, on plain HTTP) while the
    /// connection was idle. Non-blocking peek; TLS may legitimately have pending records
    /// (session tickets), so only EOF or an error count there.
    bool stale()
    {
        auto& sock = tcp_layer().socket();
        if (!sock.is_open())
            return true;
        if (buffer.size() != 0)
            return true;
        char byte;
        ssize_t n = ::recv(sock.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0)
            return true;
        if (n < 0)
            return !(errno == EAGAIN || errno == EWOULDBLOCK);
        return !tls;
    }

    std::optional<beast::tcp_stream> plain;
    std::optional<ssl::stream<beast::tcp_stream>> tls;
    beast::flat_buffer buffer;
    clock_type::time_point idle_since{};
};

/// The connections of one endpoint. Slots = idle + busy + connecting.
struct pool {
    std::deque<std::unique_ptr<connection>> idle; // back = most recently used
    std::size_t slots = 0;
    /// Coroutines waiting for a slot, woken one at a time (an async semaphore built from
    /// timers that expire at the operation deadline and are cancelled to wake).
    struct waiter {
        asio::steady_timer timer;
        bool woken = false;
    };
    std::list<waiter*> waiters;

    void wake_one()
    {
        if (!waiters.empty()) {
            waiter* w = waiters.front();
            waiters.pop_front();
            w->woken = true;
            w->timer.cancel();
        }
    }
    void evict(clock_type::time_point now, std::chrono::milliseconds idle_timeout)
    {
        while (!idle.empty() && now - idle.front()->idle_since >= idle_timeout) {
            idle.front()->close();
            idle.pop_front();
            --slots;
            wake_one();
        }
    }
};

std::string_view step_text(transport_failure step)
{
    switch (step) {
    case transport_failure::resolve: return "while resolving the host name";
    case transport_failure::connect: return "while connecting";
    case transport_failure::handshake: return "during the TLS handshake";
    case transport_failure::certificate: return "verifying the TLS certificate";
    case transport_failure::write: return "while sending the request";
    case transport_failure::read_headers: return "while reading the response headers";
    case transport_failure::read_body: return "while reading the response body";
    case transport_failure::timeout: return "while waiting for a free connection";
    }
    return "?";
}

bool is_ip_address(const std::string& host)
{
    error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

bool has_crlf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

} // namespace

struct http_client::impl : std::enable_shared_from_this<impl> {
    impl(asio::any_io_executor ex, http_client_options opts)
        : executor(std::move(ex)), options(std::move(opts)), tls_context(ssl::context::tls_client)
    {
        if (options.max_connections_per_endpoint == 0)
            throw_error(errc::invalid_setting, "max_connections_per_endpoint must be at least 1");
        tls_context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                                ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                                ssl::context::no_tlsv1_1);
        error_code ec;
        if (!options.tls.ca_file.empty()) {
            tls_context.load_verify_file(options.tls.ca_file, ec);
            if (ec)
                throw_error(errc::invalid_setting, "cannot load the CA file '" +
                                                       options.tls.ca_file + "': " + ec.message());
        }
    }
    ~impl()
    {
        for (auto& [key, p] : pools)
            for (auto& c : p.idle)
                c->close();
    }

    pool& pool_for(const http_endpoint& ep)
    {
        return pools[ep.to_string()];
    }

    asio::awaitable<http_response> send(http_endpoint ep, http_request req);

    asio::any_io_executor executor;
    http_client_options options;
    ssl::context tls_context;
    /// The system trust store is loaded on the first TLS connection, not here: parsing the
    /// bundle costs ~25 ms of CPU, which a process talking plain HTTP (or a short CLI run)
    /// should not pay.
    bool system_store_loaded = false;
    std::map<std::string, pool> pools;
    std::uint64_t requests_sent = 0;

    ssl::context& tls()
    {
        if (!system_store_loaded) {
            error_code ec;
            tls_context.set_default_verify_paths(ec); // a missing system store is not fatal
            system_store_loaded = true;
        }
        return tls_context;
    }
};

namespace {

/// Everything one attempt needs for its messages and timers. Messages carry the method,
/// endpoint and target; never headers (Authorization, tokens) or bodies.
struct attempt_context {
    const http_endpoint& ep;
    const http_request& req;
    const http_timeouts& timeouts;
    clock_type::time_point deadline;
    std::size_t body_limit;
    std::chrono::milliseconds operation; ///< the operation timeout in force

    [[noreturn]] void fail(transport_failure step, bool timed_out, const std::string& detail) const
    {
        std::string msg = "HTTP " + req.method + " " + ep.to_string() + req.target + " failed";
        msg += step == transport_failure::certificate ? ": " : " " + std::string(step_text(step)) + ": ";
        msg += detail;
        throw transport_error(step, timed_out, std::move(msg));
    }

    /// The timeout for a step: the step's own, or what is left of the operation.
    std::chrono::milliseconds budget(transport_failure step, std::chrono::milliseconds own) const
    {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
        if (left <= std::chrono::milliseconds(0))
            fail(step, true, "operation timeout of " + std::to_string(operation.count()) +
                                 " ms exceeded");
        return std::min(own, left);
    }

    [[noreturn]] void fail_io(transport_failure step, const error_code& ec,
                              std::chrono::milliseconds budget_used, std::chrono::milliseconds own,
                              std::string_view what) const
    {
        if (ec == asio::error::operation_aborted)
            throw error(errc::cancelled, "HTTP " + req.method + " " + ep.to_string() + req.target +
                                             " was cancelled " + std::string(step_text(step)));
        if (ec == http::error::body_limit)
            throw error(errc::backend_unavailable,
                        "HTTP " + req.method + " " + ep.to_string() + req.target +
                            " failed: the response body is larger than the limit of " +
                            std::to_string(body_limit) + " bytes");
        if (ec == beast::error::timeout) {
            if (budget_used < own)
                fail(step, true, "operation timeout of " + std::to_string(operation.count()) +
                                     " ms exceeded");
            fail(step, true, "timed out after " + std::to_string(own.count()) + " ms (" +
                                 std::string(what) + " timeout)");
        }
        fail(step, false, ec.message());
    }
};

/// Writes the request and reads the answer on an established stream.
template <class Stream>
asio::awaitable<http_response> exchange(Stream& stream, connection& conn, const attempt_context& ctx,
                                        http::request<http::string_body>& request,
                                        std::size_t body_limit, bool& reusable)
{
    beast::tcp_stream& tcp = conn.tcp_layer();
    const http_timeouts& t = ctx.timeouts;

    auto write_budget = ctx.budget(transport_failure::write, t.write);
    tcp.expires_after(write_budget);
    auto [wec, written] = co_await http::async_write(stream, request, tuple_awaitable);
    (void)written;
    if (wec)
        ctx.fail_io(transport_failure::write, wec, write_budget, t.write, "write");

    // Some servers (Ceph RGW's error answers) write headers and body separately with Nagle
    // on: the body then waits for our ACK of the headers, which Linux delays by 40 ms. Quick
    // ACK mode, re-armed before every read because the kernel leaves it on its own, removes
    // that stall (measured: RGW 404s on a kept-alive connection 44 ms -> ~3 ms).
    const auto quick_ack = [&tcp] {
        const int one = 1;
        ::setsockopt(tcp.socket().native_handle(), IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
    };
    quick_ack();
    http::response_parser<http::string_body> parser;
    parser.body_limit(body_limit);
    if (request.method() == http::verb::head)
        parser.skip(true);

    auto header_budget = ctx.budget(transport_failure::read_headers, t.first_byte);
    tcp.expires_after(header_budget);
    auto [hec, hn] = co_await http::async_read_header(stream, conn.buffer, parser, tuple_awaitable);
    (void)hn;
    if (hec)
        ctx.fail_io(transport_failure::read_headers, hec, header_budget, t.first_byte, "first byte");

    while (!parser.is_done()) {
        auto body_budget = ctx.budget(transport_failure::read_body, t.body_stall);
        tcp.expires_after(body_budget);
        quick_ack();
        auto [bec, bn] = co_await http::async_read_some(stream, conn.buffer, parser, tuple_awaitable);
        (void)bn;
        if (bec)
            ctx.fail_io(transport_failure::read_body, bec, body_budget, t.body_stall, "body stall");
    }
    tcp.expires_never();

    auto& msg = parser.get();
    http_response out;
    out.status = msg.result_int();
    out.reason = std::string(msg.reason());
    for (const auto& field : msg)
        out.headers.push_back(http_header{std::string(field.name_string()), std::string(field.value())});
    out.body = std::move(msg.body());
    reusable = msg.keep_alive() && !msg.need_eof();
    co_return out;
}

} // namespace

asio::awaitable<http_response> http_client::impl::send(http_endpoint ep, http_request req)
{
    auto self = shared_from_this(); // keeps the pools alive across suspensions
    const auto now = clock_type::now();
    const std::chrono::milliseconds operation = req.timeout.value_or(options.timeouts.operation);
    attempt_context ctx{ep, req, options.timeouts, now + operation, options.max_body_size, operation};

    // Build the wire request first: a malformed request must not cost a connection.
    http::request<http::string_body> wire;
    wire.method_string(req.method);
    wire.target(req.target);
    wire.version(11);
    if (has_crlf(req.method) || has_crlf(req.target) || req.method.empty())
        throw_error(errc::invalid_setting, "invalid HTTP method or target for " + ep.to_string());
    for (const auto& h : req.headers) {
        if (has_crlf(h.name) || has_crlf(h.value) || h.name.empty())
            throw_error(errc::invalid_setting,
                        "invalid HTTP header '" + h.name + "' in a request to " + ep.to_string());
        wire.insert(h.name, h.value);
    }
    if (wire.find(http::field::host) == wire.end())
        wire.set(http::field::host, ep.authority());
    wire.body() = std::move(req.body);
    wire.prepare_payload(); // HTTP/1.1: keep-alive unless the caller sent Connection: close

    // Take a pooled connection, or a slot for a new one.
    pool& p = pool_for(ep);
    std::unique_ptr<connection> conn;
    bool fresh = false;
    for (;;) {
        p.evict(clock_type::now(), options.idle_timeout);
        while (!p.idle.empty()) {
            auto c = std::move(p.idle.back());
            p.idle.pop_back();
            if (c->stale()) {
                c->close();
                --p.slots;
                continue;
            }
            conn = std::move(c);
            break;
        }
        if (conn)
            break;
        if (p.slots < options.max_connections_per_endpoint) {
            ++p.slots;
            fresh = true;
            break;
        }
        // Registered until woken; unregistered by the guard if the frame dies first.
        struct waiter_registration {
            pool& p;
            pool::waiter w;
            std::list<pool::waiter*>::iterator it{};
            bool resumed = false;
            ~waiter_registration()
            {
                if (!w.woken)
                    p.waiters.erase(it);
                else if (!resumed)
                    p.wake_one(); // woken but never ran: pass the wake-up on
            }
        };
        asio::steady_timer wait_timer(executor, ctx.deadline);
        waiter_registration reg{p, pool::waiter{std::move(wait_timer)}};
        p.waiters.push_back(&reg.w);
        reg.it = std::prev(p.waiters.end());
        auto [wec] = co_await reg.w.timer.async_wait(tuple_awaitable);
        (void)wec;
        reg.resumed = true;
        if (!reg.w.woken || clock_type::now() >= ctx.deadline) { // the deadline passed
            if (reg.w.woken)
                p.wake_one(); // we will not use the slot we were woken for
            ctx.fail(transport_failure::timeout, true,
                     "no free connection within the operation timeout of " +
                         std::to_string(operation.count()) + " ms (" +
                         std::to_string(options.max_connections_per_endpoint) +
                         " connections in use)");
        }
        // Woken by wake_one (which removed us from the list): look again.
    }

    // From here on we own one slot. The guard gives it back: to the idle list only when the
    // exchange completed and the answer allows keep-alive.
    struct slot_guard {
        pool& p;
        std::unique_ptr<connection>& conn;
        bool reusable = false;
        ~slot_guard()
        {
            if (conn && reusable) {
                conn->idle_since = clock_type::now();
                p.idle.push_back(std::move(conn));
            } else {
                if (conn)
                    conn->close();
                --p.slots;
            }
            p.wake_one();
        }
    };
    slot_guard guard{p, conn};

    if (fresh) {
        ssl::context* tls_ctx = ep.tls ? &tls() : nullptr;
        conn = std::make_unique<connection>(executor, tls_ctx);

        // Resolve, bounded by the connect budget (the resolver has no timer of its own).
        auto resolve_budget = ctx.budget(transport_failure::resolve, options.timeouts.connect);
        auto resolver = std::make_shared<tcp::resolver>(executor);
        auto resolve_timer = std::make_shared<asio::steady_timer>(executor, resolve_budget);
        auto on_timer = [resolver](const error_code& ec) {
            if (!ec)
                resolver->cancel();
        };
        resolve_timer->async_wait(on_timer);
        auto port_text = std::to_string(ep.port);
        auto [rec, results] = co_await resolver->async_resolve(ep.host, port_text, tuple_awaitable);
        const bool resolve_timed_out = resolve_timer->expiry() <= clock_type::now();
        resolve_timer->cancel();
        if (rec) {
            if (resolve_timed_out)
                ctx.fail(transport_failure::resolve, true,
                         "timed out after " + std::to_string(resolve_budget.count()) + " ms");
            ctx.fail(transport_failure::resolve, false, rec.message());
        }

        auto connect_budget = ctx.budget(transport_failure::connect, options.timeouts.connect);
        conn->tcp_layer().expires_after(connect_budget);
        auto [cec, connected] = co_await conn->tcp_layer().async_connect(results, tuple_awaitable);
        (void)connected;
        if (cec)
            ctx.fail_io(transport_failure::connect, cec, connect_budget, options.timeouts.connect,
                        "connect");
        error_code nodelay_ec;
        conn->tcp_layer().socket().set_option(tcp::no_delay(true), nodelay_ec);

        if (conn->tls) {
            SSL* native = conn->tls->native_handle();
            const bool ip = is_ip_address(ep.host);
            if (!ip && !SSL_set_tlsext_host_name(native, ep.host.c_str()))
                ctx.fail(transport_failure::handshake, false, "cannot set the TLS server name");
            if (options.tls.verify) {
                conn->tls->set_verify_mode(ssl::verify_peer);
                int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(native), ep.host.c_str())
                            : SSL_set1_host(native, ep.host.c_str());
                if (ok != 1)
                    ctx.fail(transport_failure::certificate, false,
                             "cannot set up host-name verification for '" + ep.host + "'");
            } else {
                conn->tls->set_verify_mode(ssl::verify_none);
            }
            auto hs_budget = ctx.budget(transport_failure::handshake, options.timeouts.handshake);
            conn->tcp_layer().expires_after(hs_budget);
            auto [hec] = co_await conn->tls->async_handshake(ssl::stream_base::client, tuple_awaitable);
            if (hec) {
                long verify = SSL_get_verify_result(native);
                if (options.tls.verify && verify != X509_V_OK)
                    ctx.fail(transport_failure::certificate, false,
                             "the TLS certificate of host '" + ep.host +
                                 "' did not verify: " + X509_verify_cert_error_string(verify));
                ctx.fail_io(transport_failure::handshake, hec, hs_budget, options.timeouts.handshake,
                            "handshake");
            }
        }
    }

    bool reusable = false;
    http_response response;
    ++requests_sent; // counted when it goes on the wire, whatever the answer
    if (conn->tls)
        response = co_await exchange(*conn->tls, *conn, ctx, wire, options.max_body_size, reusable);
    else
        response = co_await exchange(*conn->plain, *conn, ctx, wire, options.max_body_size, reusable);
    guard.reusable = reusable;
    co_return response;
}

http_client::http_client(asio::any_io_executor executor, http_client_options options)
    : impl_(std::make_shared<impl>(std::move(executor), std::move(options)))
{
}

http_client::~http_client() = default;

asio::awaitable<http_response> http_client::send(const http_endpoint& endpoint, http_request request)
{
    std::shared_ptr<impl> keep = impl_;
    http_endpoint ep = endpoint;
    co_return co_await keep->send(std::move(ep), std::move(request));
}

std::size_t http_client::idle_connections(const http_endpoint& endpoint)
{
    pool& p = impl_->pool_for(endpoint);
    p.evict(clock_type::now(), impl_->options.idle_timeout);
    return p.idle.size();
}

const http_client_options& http_client::options() const noexcept { return impl_->options; }

std::uint64_t http_client::requests_sent() const noexcept { return impl_->requests_sent; }

} // namespace statestore
