#include "support/test_http_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace statestore::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

bool accept_level(server_fault f)
{
    return f == server_fault::close_at_accept || f == server_fault::close_during_handshake;
}
} // namespace

struct test_http_server::impl {
    asio::io_context io;
    std::optional<ssl::context> tls;
    tcp::acceptor acceptor{io};
    std::thread thread;

    std::mutex mutex;
    std::deque<server_fault> faults;
    std::function<server_response(const received_request&)> handler;
    std::chrono::milliseconds delay{0};

    std::atomic<int> accepted{0}, open{0}, max_open{0}, requests{0};

    std::optional<server_fault> take_fault(bool at_accept)
    {
        std::lock_guard lock(mutex);
        if (faults.empty() || accept_level(faults.front()) != at_accept)
            return std::nullopt;
        auto f = faults.front();
        faults.pop_front();
        return f;
    }

    asio::awaitable<void> accept_loop()
    {
        for (;;) {
            auto [ec, sock] = co_await acceptor.async_accept(tuple_awaitable);
            if (ec) {
                if (!acceptor.is_open() || ec == asio::error::operation_aborted)
                    co_return;
                continue;
            }
            ++accepted;
            int now_open = ++open;
            int prev = max_open.load();
            while (now_open > prev && !max_open.compare_exchange_weak(prev, now_open)) {
            }
            asio::co_spawn(io, session(std::move(sock)), asio::detached);
        }
    }

    asio::awaitable<void> session(tcp::socket sock)
    {
        struct open_guard {
            std::atomic<int>& n;
            ~open_guard() { --n; }
        } guard{open};
        auto fault = take_fault(true);
        if (fault == server_fault::close_at_accept) {
            boost::system::error_code ignored;
            sock.close(ignored);
            co_return;
        }
        beast::tcp_stream stream(std::move(sock));
        if (!tls) {
            co_await serve(stream, stream);
            co_return;
        }
        ssl::stream<beast::tcp_stream> s(std::move(stream), *tls);
        if (fault == server_fault::close_during_handshake) {
            char hello[512];
            auto [rec, n] = co_await s.next_layer().async_read_some(asio::buffer(hello), tuple_awaitable);
            (void)rec;
            (void)n;
            s.next_layer().close();
            co_return;
        }
        auto [hec] = co_await s.async_handshake(ssl::stream_base::server, tuple_awaitable);
        if (hec)
            co_return;
        co_await serve(s, s.next_layer());
    }

    template <class Stream>
    asio::awaitable<void> serve(Stream& s, beast::tcp_stream& tcp)
    {
        beast::flat_buffer buffer;
        for (;;) {
            http::request<http::string_body> req;
            auto [ec, n] = co_await http::async_read(s, buffer, req, tuple_awaitable);
            (void)n;
            if (ec)
                co_return;
            ++requests;
            auto fault = take_fault(false);
            if (fault == server_fault::close_after_request) {
                tcp.close();
                co_return;
            }
            if (fault == server_fault::never_answer) {
                asio::steady_timer forever(io, std::chrono::hours(1));
                auto [tec] = co_await forever.async_wait(tuple_awaitable);
                (void)tec;
                co_return;
            }
            received_request rr;
            rr.method = std::string(req.method_string());
            rr.target = std::string(req.target());
            for (const auto& f : req)
                rr.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
            rr.body = req.body();
            server_response answer;
            std::chrono::milliseconds wait{0};
            {
                std::lock_guard lock(mutex);
                wait = delay;
                if (handler)
                    answer = handler(rr);
                else
                    answer.body = rr.body.empty() ? "ok " + rr.target : rr.body;
            }
            if (wait.count() > 0) {
                asio::steady_timer t(io, wait);
                auto [tec] = co_await t.async_wait(tuple_awaitable);
                (void)tec;
            }
            http::response<http::string_body> res;
            res.result(answer.status);
            res.version(req.version());
            for (auto& [name, value] : answer.headers)
                res.insert(name, value);
            res.body() = answer.body;
            res.keep_alive(req.keep_alive() && !answer.close);
            if (answer.http10) {
                res.version(10);
                res.keep_alive(false);
            }
            res.prepare_payload();
            if (fault == server_fault::close_after_headers || fault == server_fault::close_mid_body) {
                if (res.body().empty())
                    res.body() = "some body that will be cut";
                res.prepare_payload();
                http::response_serializer<http::string_body> sr(res);
                auto [wec, wn] = co_await http::async_write_header(s, sr, tuple_awaitable);
                (void)wn;
                if (!wec && fault == server_fault::close_mid_body) {
                    auto half = asio::buffer(res.body().data(), res.body().size() / 2);
                    auto [bec, bn] = co_await asio::async_write(s, half, tuple_awaitable);
                    (void)bec;
                    (void)bn;
                }
                tcp.close();
                co_return;
            }
            auto [wec, wn] = co_await http::async_write(s, res, tuple_awaitable);
            (void)wn;
            if (wec || !res.keep_alive() || answer.drop_after) {
                tcp.close();
                co_return;
            }
        }
    }
};

test_http_server::test_http_server(std::optional<server_tls_files> tls) : impl_(std::make_unique<impl>())
{
    if (tls) {
        impl_->tls.emplace(ssl::context::tls_server);
        impl_->tls->use_certificate_chain_file(tls->certificate_chain);
        impl_->tls->use_private_key_file(tls->private_key, ssl::context::pem);
    }
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    impl_->acceptor.open(ep.protocol());
    impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    impl_->acceptor.bind(ep);
    impl_->acceptor.listen();
    asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
    impl_->thread = std::thread([this] { impl_->io.run(); });
}

test_http_server::~test_http_server()
{
    impl_->io.stop();
    impl_->thread.join();
}

std::uint16_t test_http_server::port() const noexcept { return impl_->acceptor.local_endpoint().port(); }

void test_http_server::push_fault(server_fault fault)
{
    std::lock_guard lock(impl_->mutex);
    impl_->faults.push_back(fault);
}

void test_http_server::set_handler(std::function<server_response(const received_request&)> handler)
{
    std::lock_guard lock(impl_->mutex);
    impl_->handler = std::move(handler);
}

void test_http_server::set_response_delay(std::chrono::milliseconds delay)
{
    std::lock_guard lock(impl_->mutex);
    impl_->delay = delay;
}

int test_http_server::connections_accepted() const noexcept { return impl_->accepted; }
int test_http_server::open_connections() const noexcept { return impl_->open; }
int test_http_server::max_open_connections() const noexcept { return impl_->max_open; }
int test_http_server::requests_received() const noexcept { return impl_->requests; }

namespace {

void run(const std::string& command)
{
    if (std::system((command + " >/dev/null 2>&1").c_str()) != 0)
        throw std::runtime_error("command failed: " + command);
}

struct pki_holder {
    test_pki pki;
    pki_holder()
    {
        char tmpl[] = "/tmp/statestore-pki-XXXXXX";
        if (!::mkdtemp(tmpl))
            throw std::runtime_error("mkdtemp failed");
        const std::string d = tmpl;
        pki.dir = d;
        auto make_ca = [&](const std::string& name) {
            run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " +
                d + "/" + name + ".key -out " + d + "/" + name + ".pem -days 2 -subj /CN=" + name +
                " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign");
        };
        auto make_leaf = [&](const std::string& name, const std::string& san) {
            run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + d +
                "/" + name + ".key -out " + d + "/" + name + ".csr -subj /CN=" + name);
            std::ofstream(d + "/" + name + ".ext")
                << "subjectAltName=" << san
                << "\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n";
            run("openssl x509 -req -in " + d + "/" + name + ".csr -CA " + d + "/ca.pem -CAkey " + d +
                "/ca.key -CAcreateserial -out " + d + "/" + name + ".pem -days 2 -extfile " + d + "/" +
                name + ".ext");
        };
        make_ca("ca");
        make_ca("otherca");
        make_leaf("server", "DNS:localhost,IP:127.0.0.1");
        make_leaf("wrong", "DNS:wrong.example");
        pki.ca_cert = d + "/ca.pem";
        pki.other_ca_cert = d + "/otherca.pem";
        pki.server_cert = d + "/server.pem";
        pki.server_key = d + "/server.key";
        pki.wrong_name_cert = d + "/wrong.pem";
        pki.wrong_name_key = d + "/wrong.key";
    }
    ~pki_holder()
    {
        if (std::getenv("STATESTORE_KEEP_TEST_PKI"))
            return;
        std::error_code ec;
        std::filesystem::remove_all(pki.dir, ec);
    }
};

} // namespace

const test_pki& test_pki::get()
{
    static pki_holder holder;
    return holder.pki;
}

} // namespace statestore::test
