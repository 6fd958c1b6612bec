#pragma once
// An in-process HTTP/1.1 server (plain or TLS) on 127.0.0.1 with an ephemeral port, running on
// its own thread, for testing the HTTP client: it counts connections, answers through a
// handler, and injects faults at every step of an exchange.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace statestore::test {

/// A fault, consumed by the next connection (accept-level faults) or the next request
/// (request-level faults) that reaches the point where it applies.
enum class server_fault {
    close_at_accept,        ///< accept, then close at once (accept level)
    close_during_handshake, ///< TLS only: read the ClientHello, then close (accept level)
    close_after_request,    ///< read the request, close without answering
    close_after_headers,    ///< send the headers (with Content-Length), then close
    close_mid_body,         ///< send the headers and half the body, then close
    never_answer,           ///< read the request and hold the connection silently
};

struct received_request {
    std::string method;
    std::string target;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
};

struct server_response {
    unsigned status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    bool close = false; ///< answer with Connection: close and close afterwards
    /// Answer as keep-alive, then close anyway (as a server's idle timeout does).
    bool drop_after = false;
    bool http10 = false; ///< answer as HTTP/1.0 without keep-alive (and close)
};

struct server_tls_files {
    std::string certificate_chain; ///< PEM file
    std::string private_key;       ///< PEM file
};

class test_http_server {
public:
    /// Starts listening and serving at once. Without a handler the server answers 200 with
    /// the request body, or "ok <target>" when that is empty.
    explicit test_http_server(std::optional<server_tls_files> tls = std::nullopt);
    ~test_http_server();
    test_http_server(const test_http_server&) = delete;
    test_http_server& operator=(const test_http_server&) = delete;

    std::uint16_t port() const noexcept;

    void push_fault(server_fault fault);
    void set_handler(std::function<server_response(const received_request&)> handler);
    void set_response_delay(std::chrono::milliseconds delay);

    int connections_accepted() const noexcept;
    int open_connections() const noexcept;
    int max_open_connections() const noexcept;
    int requests_received() const noexcept;

    struct impl;

private:
    std::unique_ptr<impl> impl_;
};

/// A throw-away PKI made with the openssl command line in a temporary directory: a CA, a
/// server certificate for DNS:localhost and IP:127.0.0.1 signed by it, a second server
/// certificate for DNS:wrong.example signed by the same CA, and an unrelated CA.
struct test_pki {
    std::string dir;
    std::string ca_cert;
    std::string server_cert;
    std::string server_key;
    std::string wrong_name_cert;
    std::string wrong_name_key;
    std::string other_ca_cert;

    /// Created once per process (RSA key generation is slow); removed at exit.
    static const test_pki& get();
};

} // namespace statestore::test
