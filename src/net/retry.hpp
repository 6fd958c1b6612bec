#pragma once
// When to try an HTTP request again, and how long to wait first: pure decisions shared by
// every cloud store (S3, Azure, GCS), with no I/O, clocks or timers of their own.
//
// Three separate pieces, so each is tested and configured on its own:
//   - retry_policy:   how many attempts and how much total time an operation may use;
//   - backoff_policy: how long to wait before the next attempt (exponential, full jitter,
//                     at least what the server asked for with Retry-After);
//   - may_retry():    whether the request may be sent twice at all (idempotency).
// classify() turns what went wrong into a failure_class, and decide() combines the three.
//
// Typical use in the HTTP layer, once per failed attempt:
//   auto cls = classify(status, provider_code);          // or classify(transport_failure)
//   bool safe = may_retry(method, has_precondition, naturally_idempotent);
//   auto d = decide(retry, backoff, attempts_made, elapsed, cls, retry_after, safe);
//   if (!d.retry) report(d.reason, to_errc(...)); else wait d.delay, sign afresh, resend.

#include "statestore/error.hpp"

#include <chrono>
#include <functional>
#include <optional>
#include <string_view>

namespace statestore {

// ---------------------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------------------

/// What kind of failure an attempt ended in. Only the class decides whether to retry;
/// the errc reported to the caller is chosen separately (to_errc), because it also
/// depends on the exact status and provider code.
enum class failure_class {
    success,   ///< the attempt got a final answer the caller wanted (2xx, 304)
    transient, ///< the connection failed or timed out; the service itself may be fine
    throttled, ///< the service asked us to slow down (429, 503 SlowDown, ServerBusy, ...)
    server,    ///< the service failed (500, 502, 503, 504, ...); it may work next time
    client,    ///< the request itself was refused (4xx, redirects); repeating cannot help
};

/// The step of an HTTP exchange at which the transport failed (refused, reset, EOF,
/// truncated stream, or a step timer firing). A timer that fires during a step is reported
/// as that step; `timeout` is for a timer whose step is not known (an operation deadline).
enum class transport_failure {
    resolve,      ///< host name lookup
    connect,      ///< TCP connect
    handshake,    ///< TLS handshake failed for a transient reason (reset, EOF, timer)
    certificate,  ///< TLS peer or host-name verification failed: never retried
    write,        ///< sending the request
    read_headers, ///< waiting for or reading the status line and headers
    read_body,    ///< reading the response body
    timeout,      ///< a timer fired at an unknown step
};

/// Transport failures are transient, except `certificate`: a certificate that does not
/// verify will not verify on the next attempt either, so it is classed as `client`.
failure_class classify(transport_failure failure) noexcept;

/// Classifies a final HTTP answer by status and the provider's error code (the S3/Azure
/// `<Code>`, the GCS `error.errors[].reason`); never by message text, which is not a
/// stable interface. An empty code is fine.
///   2xx, 304                                            -> success
///   429; a throttling code with any 4xx/5xx status
///     (SlowDown, ServerBusy, rateLimitExceeded, ...)    -> throttled
///   408; S3's 400 RequestTimeout (the server gave up
///     waiting for our bytes: RFC 9110 lets a client repeat) -> transient
///   501, 505 (the server will never support it)         -> client
///   other 5xx (500, 502, 503, 504, ...)                 -> server
///   other 1xx/3xx/4xx                                   -> client
///
/// Note for the S3 store: Ceph RGW answers the loser of a compare-and-swap race
/// (If-Match) with 500 UnknownError as well as with 412. This function says `server`,
/// because nothing in a status and code distinguishes that from a real server fault. The
/// store must therefore treat a 5xx to a conditional write as "possibly lost the race":
/// never report it as success, and re-read rather than spin on retries of the same CAS.
/// (A retry is still safe, because the precondition guards it: a race that was really lost
/// comes back as 412. But a create that was really applied by the first attempt also comes
/// back as 412 on the retry, so the caller must compare before reporting contention.)
failure_class classify(unsigned status, std::string_view provider_code) noexcept;

/// The errc to report when an attempt with this answer is the final one. nullopt for a
/// success answer (2xx, 304).
///   401, 403, and auth codes on 400 (ExpiredToken, InvalidToken,
///     AuthorizationHeaderMalformed)                      -> auth_failed
///   404                                                  -> not_found, except that a
///     missing bucket or container (NoSuchBucket, ContainerNotFound) is invalid_setting:
///     it is a configuration error, and must never read as "no state stored"
///   409, 412                                             -> precondition_failed
///   throttled class                                      -> throttled
///   anything else (server, transient, other client errors) -> backend_unavailable
std::optional<errc> to_errc(unsigned status, std::string_view provider_code) noexcept;

/// The errc to report when a transport failure is the final outcome: backend_unavailable.
errc to_errc(transport_failure failure) noexcept;

/// Whether the request may have reached the server and been acted on. False when the
/// failure happened before any byte of the request was sent (resolve, connect, handshake,
/// certificate): such a request may be resent even when it is not idempotent. After a
/// write has started the answer is true, because the server may have applied the request
/// and only the response was lost.
bool request_may_have_been_processed(transport_failure failure) noexcept;

// ---------------------------------------------------------------------------------------
// Idempotency
// ---------------------------------------------------------------------------------------

/// Whether a request may be sent again after an attempt whose outcome is unknown.
/// Reads (GET, HEAD, OPTIONS) always may. Anything else (PUT, POST, DELETE, unknown
/// methods) only when it carries a precondition (If-Match, If-None-Match,
/// ifGenerationMatch: a duplicate then fails the precondition instead of changing data
/// twice) or when the caller declares the operation naturally idempotent (for example a
/// lease renewal). Methods are compared case-sensitively, as HTTP defines them.
bool may_retry(std::string_view method, bool has_precondition, bool naturally_idempotent) noexcept;

// ---------------------------------------------------------------------------------------
// Retry policy: attempt count and total time
// ---------------------------------------------------------------------------------------

struct retry_options {
    int maximum_attempts = 5;                         ///< including the first attempt
    /// Over all attempts and waits. Several times http_timeouts::first_byte, so that one
    /// stalled attempt does not use up the whole budget.
    std::chrono::milliseconds maximum_elapsed{60000};
};

class retry_policy {
public:
    /// Throws statestore::error(errc::invalid_setting) when maximum_attempts < 1 or
    /// maximum_elapsed is negative.
    explicit retry_policy(retry_options options = {});

    /// Whether another attempt is allowed after `attempts_made` attempts (>= 1) have used
    /// `elapsed` since the operation began: fewer than maximum_attempts made and less than
    /// maximum_elapsed used.
    bool allows(int attempts_made, std::chrono::nanoseconds elapsed) const noexcept;

    const retry_options& options() const noexcept { return options_; }

private:
    retry_options options_;
};

// ---------------------------------------------------------------------------------------
// Backoff policy: exponential, full jitter, Retry-After
// ---------------------------------------------------------------------------------------

struct backoff_options {
    std::chrono::milliseconds initial_delay{100};  ///< ceiling before the first retry
    double multiplier = 2.0;                       ///< ceiling growth per retry, >= 1
    std::chrono::milliseconds maximum_delay{5000}; ///< the ceiling never exceeds this
    /// A server's Retry-After is honoured up to this much, so a misconfigured or hostile
    /// server cannot park an operation for hours; the retry policy's time limit still
    /// applies on top.
    std::chrono::milliseconds maximum_retry_after{20000};
};

/// A source of numbers uniformly distributed in [0, 1). Values outside that range are
/// clamped (NaN counts as 0), so a faulty source cannot produce a negative or huge delay.
using uniform_random = std::function<double()>;

class backoff_policy {
public:
    /// Throws statestore::error(errc::invalid_setting) for a negative delay, a multiplier
    /// below 1 (or not finite), or maximum_delay < initial_delay. Without `random`, a
    /// per-thread engine seeded from std::random_device is used, so copies of a policy on
    /// different threads neither share state nor produce the same sequence.
    explicit backoff_policy(backoff_options options = {}, uniform_random random = {});

    /// The un-jittered ceiling before retry number `retry` (1 for the first retry, i.e.
    /// after the first attempt failed): min(maximum_delay, initial * multiplier^(retry-1)).
    std::chrono::milliseconds ceiling(int retry) const noexcept;

    /// The wait before retry number `retry`: full jitter, uniform in [0, ceiling(retry)]
    /// (spreading clients out is what keeps a recovering server from being stampeded),
    /// and at least `retry_after` (capped at maximum_retry_after) when the server sent one.
    /// Calls the random source once; it is as thread-safe as that source.
    std::chrono::milliseconds
    delay(int retry, std::optional<std::chrono::milliseconds> retry_after = {}) const;

    const backoff_options& options() const noexcept { return options_; }

private:
    backoff_options options_;
    uniform_random random_;
};

/// Parses a Retry-After field value: delta-seconds ("120") or an HTTP-date, in the
/// preferred IMF-fixdate form ("Sun, 06 Nov 1994 08:49:37 GMT") or the two obsolete forms
/// RFC 9110 requires recipients to accept (RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" and
/// asctime "Sun Nov  6 08:49:37 1994"). A date is turned into a wait relative to `now`
/// (rounded up to whole milliseconds); a date in the past gives 0. Anything else (empty,
/// negative, fractional, bad date) gives nullopt: a garbled hint is ignored, not an error.
/// Very large delta-seconds saturate rather than overflow.
std::optional<std::chrono::milliseconds>
parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now);

// ---------------------------------------------------------------------------------------
// The decision
// ---------------------------------------------------------------------------------------

enum class decision_reason {
    will_retry,         ///< retry after `delay`
    succeeded,          ///< nothing to retry
    permanent,          ///< the failure is of the client class: repeating cannot help
    not_idempotent,     ///< the request might have been applied and must not be sent twice
    attempts_exhausted, ///< maximum_attempts reached
    time_exhausted,     ///< maximum_elapsed reached, or the wait would go past it
};

struct retry_decision {
    bool retry = false;
    std::chrono::milliseconds delay{0}; ///< the wait before the next attempt, if retrying
    decision_reason reason = decision_reason::succeeded;
};

/// Combines the three pieces after attempt number `attempts_made` (>= 1) ended in
/// `failure`, `elapsed` after the operation began. `idempotent` is the caller's verdict:
/// may_retry(...), or'ed with !request_may_have_been_processed(step) for a transport
/// failure (a request that never left may always be sent). Checked in this order: success,
/// client class, idempotency, attempt and time limits; then the backoff delay is drawn,
/// and if waiting it would reach maximum_elapsed the operation stops now instead of
/// sleeping into a deadline it cannot meet. A throttled answer skips the idempotency
/// check: the service refused the request without acting on it, so sending it again
/// cannot apply it twice.
retry_decision decide(const retry_policy& retry, const backoff_policy& backoff, int attempts_made,
                      std::chrono::nanoseconds elapsed, failure_class failure,
                      std::optional<std::chrono::milliseconds> retry_after, bool idempotent);

/// Short lower-case names for diagnostics ("throttled", "read_headers", ...).
std::string_view to_string(failure_class value) noexcept;
std::string_view to_string(transport_failure value) noexcept;
std::string_view to_string(decision_reason value) noexcept;

} // namespace statestore
