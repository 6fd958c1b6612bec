#pragma once
// The HTTP/1.1 client shared by the cloud stores (S3, Azure, GCS): plain structs in, plain
// structs out, no Beast or OpenSSL in this header. Beast and TLS live in src/http/.
//
//   http_client client(executor, options);
//   http_response r = co_await client.send(endpoint, request);        // one attempt
//   http_response r = co_await send_with_retry(client, endpoint, make_request, retry, idem);
//
// Failures of the transport (refused, reset, EOF, truncated TLS stream, a certificate that does
// not verify, a timer) throw transport_error, which names the method, the endpoint, the target
// and the step that failed, and exposes that step as a transport_failure (retry.hpp) so that
// retry loops can classify it. Any HTTP status, 4xx and 5xx included, is an answer, not an
// exception: callers map statuses themselves (retry.hpp's to_errc).

#include "statestore/error.hpp"
#include "net/retry.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace statestore {

/// Where to connect: scheme, host and port. No path.
struct http_endpoint {
    bool tls = false;
    std::string host; ///< a DNS name or an IP address (IPv6 without brackets)
    std::uint16_t port = 0;

    /// Parses "http://host[:port]" or "https://host[:port]" (a trailing "/" is accepted; IPv6
    /// literals in brackets). The port defaults to 80 or 443. Throws
    /// statestore::error(errc::invalid_uri) for another scheme, a path, or a bad port.
    static http_endpoint parse(std::string_view url);

    /// "host" or "host:port" as the Host header wants it (port omitted when it is the
    /// scheme's default; IPv6 literals bracketed).
    std::string authority() const;
    /// "https://host:port", for messages.
    std::string to_string() const;

    friend bool operator==(const http_endpoint&, const http_endpoint&) = default;
};

struct http_header {
    std::string name;
    std::string value;
};
using http_headers = std::vector<http_header>;

/// The value of the first header called `name` (compared case-insensitively), or nullopt.
std::optional<std::string_view> find_header(const http_headers& headers, std::string_view name);

/// Whether a header's value must never be printed (Authorization, Proxy-Authorization,
/// x-amz-security-token, Cookie, x-ms-copy-source-authorization, ...).
bool is_sensitive_header(std::string_view name) noexcept;

/// "Name: value" lines for diagnostics, with the value of every sensitive header replaced by
/// "***".
std::string redacted(const http_headers& headers);

struct http_request {
    std::string method = "GET"; ///< sent as is: "GET", "PUT", "DELETE", ...
    std::string target = "/";   ///< origin-form: path and query, already percent-encoded
    /// Sent as given. A Host header is added when absent (from the endpoint), and
    /// Content-Length is set from the body (except for a GET/HEAD without a body).
    http_headers headers;
    std::string body;
    /// Overrides http_timeouts::operation for this request (e.g. a short deadline for a lock
    /// request).
    std::optional<std::chrono::milliseconds> timeout;
};

struct http_response {
    unsigned status = 0;
    std::string reason;
    http_headers headers;
    std::string body;
    /// How many attempts produced this answer (set by send_with_retry; 1 from send()).
    int attempts = 1;
};

/// Per-step timeouts. A step timer that fires fails the attempt at that step; `operation`
/// bounds the whole send() (pool wait, resolve, connect, handshake, write and read).
struct http_timeouts {
    std::chrono::milliseconds connect{5000};    ///< resolve + TCP connect
    std::chrono::milliseconds handshake{5000};  ///< TLS handshake
    std::chrono::milliseconds write{10000};     ///< sending the whole request
    /// From end of write to complete headers. A state store answers in milliseconds; a
    /// request still unanswered after 15 s is on a stalled connection or server, and is
    /// abandoned so that the retry policy (60 s overall) can try again on a new connection.
    std::chrono::milliseconds first_byte{15000};
    std::chrono::milliseconds body_stall{10000}; ///< longest pause between body reads
    std::chrono::milliseconds operation{60000};  ///< the whole attempt
};

struct tls_options {
    /// Peer and host-name verification. Turning it off is for tests against self-signed
    /// servers only; it is never turned off implicitly.
    bool verify = true;
    /// A PEM file of extra trusted CAs, added to the system trust store. Environment
    /// overrides (AWS_CA_BUNDLE, SSL_CERT_FILE) are the caller's business: resolve them into
    /// this field. Note that OpenSSL's default paths themselves honour SSL_CERT_FILE and
    /// SSL_CERT_DIR.
    std::string ca_file;
};

struct http_client_options {
    http_timeouts timeouts{};
    tls_options tls{};
    /// Connections (idle + busy + connecting) per endpoint; further requests wait for a slot.
    std::size_t max_connections_per_endpoint = 64;
    /// An idle connection unused for this long is closed instead of reused. Eviction is lazy
    /// (checked whenever the endpoint's pool is used, and on destruction), so an idle client
    /// keeps no timer pending on the executor.
    std::chrono::milliseconds idle_timeout{30000};
    /// Larger response bodies fail the attempt at read_body.
    std::size_t max_body_size = 256u * 1024u * 1024u;
};

/// A transport failure: the attempt got no complete HTTP answer. errc is backend_unavailable.
class transport_error : public error {
public:
    transport_error(transport_failure step, bool timed_out, std::string message)
        : error(to_errc(step), std::move(message)), step_(step), timed_out_(timed_out)
    {
    }
    /// The step that failed; `certificate` for a peer certificate that did not verify.
    transport_failure step() const noexcept { return step_; }
    /// Whether a step timer or the operation deadline fired (rather than the peer failing).
    bool timed_out() const noexcept { return timed_out_; }

private:
    transport_failure step_;
    bool timed_out_;
};

/// An HTTP/1.1 client with one keep-alive connection pool per endpoint.
///
/// Concurrency: an http_client and every send() on it must run on one thread at a time (a
/// single-threaded io_context, or a strand); many send()s may be in flight at once. The
/// client may be destroyed while sends are in flight: they keep the shared state alive.
/// A connection goes back to its pool only after a complete answer that allows keep-alive;
/// one that failed, timed out, was cancelled or got `Connection: close` (or HTTP/1.0 without
/// keep-alive, or a body delimited by EOF) is closed.
class http_client {
public:
    /// Throws statestore::error(errc::invalid_setting) when tls.ca_file cannot be loaded or
    /// max_connections_per_endpoint is 0.
    http_client(boost::asio::any_io_executor executor, http_client_options options);
    ~http_client();
    http_client(const http_client&) = delete;
    http_client& operator=(const http_client&) = delete;

    /// One attempt: takes (or opens) a connection, writes the request, reads the answer.
    /// Returns any complete HTTP answer. Throws transport_error for transport failures,
    /// including timeouts; statestore::error(errc::invalid_setting) for an unusable request
    /// (for example a header with a CR/LF); statestore::error(errc::backend_unavailable), not
    /// a transport_error (so not retried), for a body over max_body_size; and
    /// statestore::error(errc::cancelled) when the operation is cancelled (Asio per-operation
    /// cancellation or the executor shutting down). Error messages name the method, endpoint,
    /// target and step, never headers or bodies.
    boost::asio::awaitable<http_response> send(const http_endpoint& endpoint, http_request request);

    /// Connections currently idle in the pool for `endpoint` (after lazy eviction).
    std::size_t idle_connections(const http_endpoint& endpoint);

    const http_client_options& options() const noexcept;

    /// Requests written to a connection so far (every attempt, whatever its answer; not
    /// the ones that failed before a connection was ready). For request-rate figures.
    std::uint64_t requests_sent() const noexcept;

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

/// Retry configuration: retry.hpp's three pieces (the idempotency verdict is per request).
struct http_retry_config {
    retry_policy policy{};
    backoff_policy backoff{};
};

/// Builds the request for attempt number `attempt` (1-based). Called once per attempt so that
/// each attempt is signed afresh (dates, signatures, tokens).
using http_request_factory = std::function<http_request(int attempt)>;
/// Extracts the provider's error code (S3 `<Code>`, GCS reason, ...) from a non-2xx answer;
/// may return "". Used only for classification.
using provider_code_extractor = std::function<std::string(const http_response&)>;

/// Sends with retries, using retry.hpp's classify()/decide(): transport failures and 5xx /
/// throttling answers are retried with backoff (honouring Retry-After) within `config`.
///
/// `idempotent` is the caller's verdict, normally may_retry(method, has_precondition,
/// naturally_idempotent). A non-idempotent request is still retried after a transport failure
/// that happened before any byte was sent (connect, resolve, TLS handshake), and after a
/// throttled answer (the service did not act on it); never after a failure at write or later.
///
/// Returns the last HTTP answer when it is final: a success, a non-retryable status (4xx
/// etc.), or a retryable status once retries are exhausted or not allowed. The caller maps
/// statuses to errors (to_errc) and reads `attempts` for diagnostics. Throws the last
/// transport_error when the final attempt failed in transport, its message extended with the
/// attempt count and why no further attempt was made. The waits use a steady_timer on the
/// client's executor; cancelling the coroutine cancels the wait.
boost::asio::awaitable<http_response>
send_with_retry(http_client& client, const http_endpoint& endpoint, http_request_factory make_request,
                const http_retry_config& config, bool idempotent,
                provider_code_extractor provider_code = {});

} // namespace statestore
