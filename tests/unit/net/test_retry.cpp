// Unit tests for the retry pieces: classification, idempotency, retry policy, backoff with
// full jitter and Retry-After, and the combined decision. Randomness and time are injected,
// so nothing sleeps and every number is exact.

#include "net/retry.hpp"

#include "support/error_matchers.hpp"
#include "support/printing.hpp"

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace statestore {

inline std::ostream& boost_test_print_type(std::ostream& os, failure_class v)
{
    return os << to_string(v);
}
inline std::ostream& boost_test_print_type(std::ostream& os, transport_failure v)
{
    return os << to_string(v);
}
inline std::ostream& boost_test_print_type(std::ostream& os, decision_reason v)
{
    return os << to_string(v);
}
inline std::ostream& boost_test_print_type(std::ostream& os, const std::optional<errc>& v)
{
    if (!v) {
        return os << "nullopt";
    }
    return boost_test_print_type(os, *v);
}

} // namespace statestore

using namespace std::chrono_literals;
using namespace std::string_view_literals;
namespace bdata = boost::unit_test::data;
using statestore::backoff_options;
using statestore::backoff_policy;
using statestore::decision_reason;
using statestore::errc;
using statestore::failure_class;
using statestore::retry_options;
using statestore::retry_policy;
using statestore::transport_failure;
using std::chrono::milliseconds;
using std::chrono::system_clock;

namespace {

// A random source that replays fixed values, then repeats the last one.
statestore::uniform_random replay(std::vector<double> values)
{
    return [values = std::move(values), next = std::size_t{0}]() mutable {
        const double v = values[std::min(next, values.size() - 1)];
        ++next;
        return v;
    };
}

statestore::uniform_random fixed(double value)
{
    return replay({value});
}

// 1994-11-06 08:49:37 UTC, the date in RFC 9110's examples, plus `offset`.
system_clock::time_point rfc_example_time(system_clock::duration offset = {})
{
    using namespace std::chrono;
    return sys_days{year{1994} / November / day{6}} + hours{8} + minutes{49} + seconds{37} + offset;
}

const backoff_options small_backoff{100ms, 2.0, 1000ms, 20000ms};

// parse_retry_after() as a plain count of milliseconds, so failures print readably.
std::optional<long long> retry_after_ms(std::string_view value, system_clock::time_point now)
{
    const auto parsed = statestore::parse_retry_after(value, now);
    if (!parsed) {
        return std::nullopt;
    }
    return static_cast<long long>(parsed->count());
}

} // namespace

BOOST_AUTO_TEST_SUITE(retry)

// ----- backoff: exponential growth and cap ---------------------------------------------

BOOST_AUTO_TEST_CASE(ceiling_grows_exponentially_then_stays_at_the_cap)
{
    const backoff_policy b(small_backoff, fixed(0.5));
    BOOST_TEST(b.ceiling(1).count() == 100);
    BOOST_TEST(b.ceiling(2).count() == 200);
    BOOST_TEST(b.ceiling(3).count() == 400);
    BOOST_TEST(b.ceiling(4).count() == 800);
    BOOST_TEST(b.ceiling(5).count() == 1000);
    BOOST_TEST(b.ceiling(6).count() == 1000);
    // Far beyond where initial * 2^n overflows any integer: saturates, no UB.
    BOOST_TEST(b.ceiling(5000).count() == 1000);
    BOOST_TEST(b.ceiling(std::numeric_limits<int>::max()).count() == 1000);
    // Nonsense retry numbers are treated as the first retry.
    BOOST_TEST(b.ceiling(0).count() == 100);
    BOOST_TEST(b.ceiling(-3).count() == 100);
}

BOOST_AUTO_TEST_CASE(non_integer_multiplier_and_zero_initial_delay)
{
    const backoff_policy b({1000ms, 1.5, 10000ms, 20000ms}, fixed(0.5));
    BOOST_TEST(b.ceiling(1).count() == 1000);
    BOOST_TEST(b.ceiling(2).count() == 1500);
    BOOST_TEST(b.ceiling(3).count() == 2250);
    BOOST_TEST(b.ceiling(4).count() == 3375);

    const backoff_policy zero({0ms, 2.0, 0ms, 20000ms}, fixed(0.999));
    BOOST_TEST(zero.ceiling(7).count() == 0);
    BOOST_TEST(zero.delay(7).count() == 0);
}

// ----- backoff: full jitter ---------------------------------------------------------------

BOOST_AUTO_TEST_CASE(full_jitter_spans_zero_to_the_ceiling)
{
    // Retry 3 has ceiling 400 ms; the delay is u * 400, rounded down.
    const backoff_policy b(small_backoff, replay({0.0, 0.5, 0.999, 0.25}));
    BOOST_TEST(b.delay(3).count() == 0);
    BOOST_TEST(b.delay(3).count() == 200);
    BOOST_TEST(b.delay(3).count() == 399);
    BOOST_TEST(b.delay(3).count() == 100);
    // At the cap the jitter is over [0, maximum_delay].
    const backoff_policy capped(small_backoff, replay({0.0, 0.5, 0.999}));
    BOOST_TEST(capped.delay(40).count() == 0);
    BOOST_TEST(capped.delay(40).count() == 500);
    BOOST_TEST(capped.delay(40).count() == 999);
}

BOOST_AUTO_TEST_CASE(a_faulty_random_source_is_clamped)
{
    const backoff_policy b(small_backoff,
                           replay({-0.5, 1.0, 7.0, std::numeric_limits<double>::quiet_NaN(),
                                   std::numeric_limits<double>::infinity()}));
    BOOST_TEST(b.delay(2).count() == 0);   // below 0
    BOOST_TEST(b.delay(2).count() == 200); // exactly 1: the ceiling itself
    BOOST_TEST(b.delay(2).count() == 200); // above 1
    BOOST_TEST(b.delay(2).count() == 0);   // NaN
    BOOST_TEST(b.delay(2).count() == 200); // +inf
}

BOOST_AUTO_TEST_CASE(default_random_source_stays_in_bounds_and_varies)
{
    const backoff_policy b(small_backoff);
    std::set<milliseconds::rep> seen;
    for (int i = 0; i < 2000; ++i) {
        const auto d = b.delay(4); // ceiling 800
        BOOST_TEST_REQUIRE(d.count() >= 0);
        BOOST_TEST_REQUIRE(d.count() <= 800);
        seen.insert(d.count());
    }
    // 2000 draws over 801 values: a working uniform source hits a good part of them.
    BOOST_TEST(seen.size() > 400u);
    BOOST_TEST(*seen.begin() < 100);
    BOOST_TEST(*seen.rbegin() > 700);
}

// ----- backoff: Retry-After ---------------------------------------------------------------

BOOST_AUTO_TEST_CASE(delay_is_at_least_retry_after_and_capped)
{
    const backoff_policy b(small_backoff, fixed(0.5)); // retry 2: jitter 100 of ceiling 200
    BOOST_TEST(b.delay(2).count() == 100);
    BOOST_TEST(b.delay(2, 3000ms).count() == 3000); // server asked for more: honoured
    BOOST_TEST(b.delay(2, 50ms).count() == 100);    // asked for less: jitter wins
    BOOST_TEST(b.delay(2, 0ms).count() == 100);
    BOOST_TEST(b.delay(2, 20000ms).count() == 20000);        // exactly the cap
    BOOST_TEST(b.delay(2, 3600000ms).count() == 20000);      // an hour: capped
    BOOST_TEST(b.delay(2, milliseconds{-5}).count() == 100); // nonsense: ignored
}

BOOST_AUTO_TEST_CASE(retry_after_delta_seconds)
{
    const auto now = rfc_example_time();
    BOOST_TEST(retry_after_ms("120", now) == std::optional<long long>(120000));
    BOOST_TEST(retry_after_ms("0", now) == std::optional<long long>(0));
    BOOST_TEST(retry_after_ms(" \t5 ", now) == std::optional<long long>(5000));
    BOOST_TEST(retry_after_ms("007", now) == std::optional<long long>(7000));
    // Absurdly large values saturate (about 31 years) instead of overflowing.
    BOOST_TEST(retry_after_ms("99999999999999999999999999999", now) ==
               std::optional<long long>(1'000'000'000'000));
}

BOOST_AUTO_TEST_CASE(retry_after_http_dates)
{
    const auto now = rfc_example_time();
    // IMF-fixdate, 90 s ahead.
    BOOST_TEST(retry_after_ms("Sun, 06 Nov 1994 08:51:07 GMT", now) ==
               std::optional<long long>(90000));
    // Exactly now, and in the past: no wait.
    BOOST_TEST(retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", now) == std::optional<long long>(0));
    BOOST_TEST(retry_after_ms("Sat, 05 Nov 1994 08:49:37 GMT", now) == std::optional<long long>(0));
    BOOST_TEST(retry_after_ms("Thu, 01 Jan 1970 00:00:00 GMT", now) == std::optional<long long>(0));
    // A sub-second "now" rounds the wait up, so we never come back early.
    BOOST_TEST(retry_after_ms("Sun, 06 Nov 1994 08:49:38 GMT", rfc_example_time(250us)) ==
               std::optional<long long>(1000));
    // Across a month and a year boundary, and a leap day.
    BOOST_TEST(retry_after_ms("Sun, 01 Jan 1995 00:00:00 GMT", rfc_example_time()) ==
               std::optional<long long>((55LL * 86400 + 15 * 3600 + 10 * 60 + 23) * 1000));
    BOOST_TEST(retry_after_ms("Thu, 29 Feb 1996 00:00:01 GMT",
                              std::chrono::sys_days{std::chrono::year{1996} / 2 / 29}) ==
               std::optional<long long>(1000));
    // Far future dates do not overflow nanosecond clocks.
    const auto far = retry_after_ms("Fri, 31 Dec 9999 23:59:59 GMT", now);
    BOOST_TEST_REQUIRE(far.has_value());
    BOOST_TEST(*far > 0);
    // The obsolete forms RFC 9110 requires recipients to accept.
    BOOST_TEST(retry_after_ms("Sunday, 06-Nov-94 08:51:07 GMT", now) ==
               std::optional<long long>(90000));
    BOOST_TEST(retry_after_ms("Sun Nov  6 08:51:07 1994", now) == std::optional<long long>(90000));
    BOOST_TEST(retry_after_ms("Sun Nov 16 08:49:37 1994", now) ==
               std::optional<long long>(10LL * 86400 * 1000));
}

BOOST_AUTO_TEST_CASE(rfc850_two_digit_years_use_a_sliding_window)
{
    using namespace std::chrono;
    const system_clock::time_point in_2026 = sys_days{year{2026} / 1 / 1};
    // 2070 is 44 years ahead: kept. 2080 would be 54 ahead: read as 1980, in the past.
    const auto y70 = retry_after_ms("Tuesday, 01-Jan-70 00:00:00 GMT", in_2026);
    BOOST_TEST_REQUIRE(y70.has_value());
    BOOST_TEST(*y70 == duration_cast<milliseconds>(sys_days{year{2070} / 1 / 1} -
                                                   sys_days{year{2026} / 1 / 1})
                           .count());
    BOOST_TEST(retry_after_ms("Tuesday, 01-Jan-80 00:00:00 GMT", in_2026) ==
               std::optional<long long>(0));
    const auto y27 = retry_after_ms("Friday, 01-Jan-27 00:00:00 GMT", in_2026);
    BOOST_TEST(y27 == std::optional<long long>(365LL * 86400 * 1000));
}

BOOST_DATA_TEST_CASE(garbage_retry_after_is_ignored,
                     bdata::make({""sv,
                                  "   "sv,
                                  "abc"sv,
                                  "-5"sv,
                                  "+5"sv,
                                  "1.5"sv,
                                  "5s"sv,
                                  "1e3"sv,
                                  "0x10"sv,
                                  "5 5"sv,
                                  "Sun, 06 Nov 1994 08:49:37 UTC"sv, // zone must be GMT
                                  "Sun, 06 Nov 1994 08:49:37"sv,     // no zone
                                  "sun, 06 nov 1994 08:49:37 GMT"sv, // names are case-sensitive
                                  "Sun, 6 Nov 1994 08:49:37 GMT"sv,  // day must have 2 digits
                                  "Sun, 06 Nov 94 08:49:37 GMT"sv,   // year must have 4
                                  "Sun, 31 Feb 1994 08:49:37 GMT"sv, // no such date
                                  "Sun, 00 Nov 1994 08:49:37 GMT"sv,
                                  "Sun, 06 Nov 1994 24:00:00 GMT"sv, // hour out of range
                                  "Sun, 06 Nov 1994 08:60:00 GMT"sv,
                                  "Sun, 06 Nov 1994 08:49:61 GMT"sv,
                                  "Sun, 06 Xyz 1994 08:49:37 GMT"sv,
                                  "Sun, 06 Nov 1994 08:49:37 GMT extra"sv,
                                  "Sun 06 Nov 1994 08:49:37 GMT"sv,
                                  "Sunday, 06-Nov-1994 08:49:37 GMT"sv,
                                  "Sun Nov 6 08:49:37 1994"sv, // asctime pads with space
                                  "2024-01-01T00:00:00Z"sv}),
                     value)
{
    BOOST_TEST(!retry_after_ms(value, rfc_example_time()).has_value());
}

BOOST_AUTO_TEST_CASE(leap_second_is_accepted)
{
    BOOST_TEST(retry_after_ms("Sat, 31 Dec 2016 23:59:60 GMT",
                              std::chrono::sys_days{std::chrono::year{2017} / 1 / 1}) ==
               std::optional<long long>(0));
}

// ----- option validation ------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(invalid_options_are_refused)
{
    using statestore::test::is_error;
    BOOST_CHECK_EXCEPTION(
        retry_policy(retry_options{0, 1000ms}), statestore::error,
        is_error(errc::invalid_setting, "retry: maximum_attempts must be at least 1, not 0"));
    BOOST_CHECK_EXCEPTION(
        retry_policy(retry_options{3, -1ms}), statestore::error,
        is_error(errc::invalid_setting, "retry: maximum_elapsed must not be negative"));
    BOOST_CHECK_EXCEPTION(backoff_policy(backoff_options{-1ms, 2.0, 1000ms, 1000ms}),
                          statestore::error,
                          is_error(errc::invalid_setting, "backoff: delays must not be negative"));
    BOOST_CHECK_EXCEPTION(backoff_policy(backoff_options{100ms, 0.5, 1000ms, 1000ms}),
                          statestore::error,
                          is_error(errc::invalid_setting,
                                   "backoff: multiplier must be a finite number of at least 1"));
    BOOST_CHECK_EXCEPTION(backoff_policy(backoff_options{
                              100ms, std::numeric_limits<double>::quiet_NaN(), 1000ms, 1000ms}),
                          statestore::error,
                          is_error(errc::invalid_setting,
                                   "backoff: multiplier must be a finite number of at least 1"));
    BOOST_CHECK_EXCEPTION(backoff_policy(backoff_options{2000ms, 2.0, 1000ms, 1000ms}),
                          statestore::error,
                          is_error(errc::invalid_setting,
                                   "backoff: maximum_delay must not be less than initial_delay"));
    // Defaults are valid.
    BOOST_CHECK_NO_THROW(retry_policy{});
    BOOST_CHECK_NO_THROW(backoff_policy{});
}

// ----- retry policy -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(retry_policy_limits_attempts_and_total_time)
{
    const retry_policy p(retry_options{3, 10000ms});
    BOOST_TEST(p.allows(1, 0ms));
    BOOST_TEST(p.allows(2, 9999ms));
    BOOST_TEST(!p.allows(3, 0ms));     // three attempts made: that was the last
    BOOST_TEST(!p.allows(2, 10000ms)); // time is up
    BOOST_TEST(!p.allows(1, std::chrono::hours{5}));
    BOOST_TEST(p.allows(1, std::chrono::nanoseconds{9'999'999'999}));
    const retry_policy once(retry_options{1, 10000ms});
    BOOST_TEST(!once.allows(1, 0ms));
}

// ----- idempotency --------------------------------------------------------------------------

struct idempotency_case {
    std::string_view method;
    bool has_precondition;
    bool naturally_idempotent;
    bool may_retry;
};
std::ostream& operator<<(std::ostream& os, const idempotency_case& c)
{
    return os << c.method << " precondition=" << c.has_precondition
              << " naturally_idempotent=" << c.naturally_idempotent;
}

const idempotency_case idempotency_table[] = {
    {"GET", false, false, true},     {"GET", true, false, true},
    {"HEAD", false, false, true},    {"OPTIONS", false, false, true},
    {"PUT", false, false, false}, // a blind overwrite may clobber a newer write
    {"PUT", true, false, true},   // If-Match / If-None-Match / ifGenerationMatch
    {"PUT", false, true, true},   // declared naturally idempotent
    {"DELETE", false, false, false}, {"DELETE", true, false, true},
    {"DELETE", false, true, true},   {"POST", false, false, false},
    {"POST", true, false, true}, // GCS upload with ifGenerationMatch
    {"POST", false, true, true},     {"PATCH", false, false, false},
    {"get", false, false, false}, // methods are case-sensitive: unknown = a write
    {"", false, false, false},
};

BOOST_DATA_TEST_CASE(idempotency_rule, bdata::make(idempotency_table), c)
{
    BOOST_TEST(statestore::may_retry(c.method, c.has_precondition, c.naturally_idempotent) ==
               c.may_retry);
}

// ----- classification -----------------------------------------------------------------------

struct status_case {
    unsigned status;
    std::string_view code;
    failure_class expected_class;
    std::optional<errc> expected_errc;
};
std::ostream& operator<<(std::ostream& os, const status_case& c)
{
    return os << c.status << " \"" << c.code << '"';
}

const status_case status_table[] = {
    {200, ""sv, failure_class::success, std::nullopt},
    {204, ""sv, failure_class::success, std::nullopt},
    {206, ""sv, failure_class::success, std::nullopt},
    {304, ""sv, failure_class::success, std::nullopt}, // answer to a conditional read
    // Throttling: by status, or by provider code whatever the status.
    {429, ""sv, failure_class::throttled, errc::throttled},
    {429, "rateLimitExceeded"sv, failure_class::throttled, errc::throttled}, // GCS
    {403, "rateLimitExceeded"sv, failure_class::throttled, errc::throttled}, // GCS, older
    {403, "userRateLimitExceeded"sv, failure_class::throttled, errc::throttled},
    {503, "SlowDown"sv, failure_class::throttled, errc::throttled},   // S3, RGW
    {503, "ServerBusy"sv, failure_class::throttled, errc::throttled}, // Azure
    {400, "Throttling"sv, failure_class::throttled, errc::throttled}, // AWS generic
    {400, "RequestLimitExceeded"sv, failure_class::throttled, errc::throttled},
    {200, "SlowDown"sv, failure_class::success, std::nullopt}, // a code never overrides 2xx
    // Server faults.
    {500, ""sv, failure_class::server, errc::backend_unavailable},
    {500, "InternalError"sv, failure_class::server, errc::backend_unavailable},
    {500, "OperationTimedOut"sv, failure_class::server, errc::backend_unavailable}, // Azure
    // Ceph RGW's answer to the loser of an If-Match race (-ECANCELED): server class.
    // The S3 store must read it as "possibly lost the race" on a conditional write.
    {500, "UnknownError"sv, failure_class::server, errc::backend_unavailable},
    {502, ""sv, failure_class::server, errc::backend_unavailable},
    {503, ""sv, failure_class::server, errc::backend_unavailable},
    {503, "ServiceUnavailable"sv, failure_class::server, errc::backend_unavailable},
    {504, ""sv, failure_class::server, errc::backend_unavailable},
    {507, ""sv, failure_class::server, errc::backend_unavailable},
    {501, "NotImplemented"sv, failure_class::client, errc::backend_unavailable},
    {505, ""sv, failure_class::client, errc::backend_unavailable},
    // Timeouts the server reports: the request was not processed.
    {408, ""sv, failure_class::transient, errc::backend_unavailable},
    {400, "RequestTimeout"sv, failure_class::transient, errc::backend_unavailable}, // S3
    // Client errors: never retried.
    {400, ""sv, failure_class::client, errc::backend_unavailable},
    {400, "InvalidBucketName"sv, failure_class::client, errc::backend_unavailable},
    {400, "XAmzContentSHA256Mismatch"sv, failure_class::client, errc::backend_unavailable},
    {400, "ExpiredToken"sv, failure_class::client, errc::auth_failed},
    {400, "AuthorizationHeaderMalformed"sv, failure_class::client, errc::auth_failed},
    {401, ""sv, failure_class::client, errc::auth_failed},
    {403, "SignatureDoesNotMatch"sv, failure_class::client, errc::auth_failed},
    {403, "AccessDenied"sv, failure_class::client, errc::auth_failed},
    {403, "InvalidAccessKeyId"sv, failure_class::client, errc::auth_failed},
    {403, "AuthorizationFailure"sv, failure_class::client, errc::auth_failed}, // Azure
    {404, ""sv, failure_class::client, errc::not_found}, // HEAD: no body, no code
    {404, "NoSuchKey"sv, failure_class::client, errc::not_found},
    {404, "BlobNotFound"sv, failure_class::client, errc::not_found},
    {404, "NoSuchBucket"sv, failure_class::client, errc::invalid_setting},
    {404, "ContainerNotFound"sv, failure_class::client, errc::invalid_setting},
    {409, "BlobAlreadyExists"sv, failure_class::client, errc::precondition_failed}, // Azure
    {409, "ConditionalRequestConflict"sv, failure_class::client, errc::precondition_failed},
    {412, "PreconditionFailed"sv, failure_class::client, errc::precondition_failed}, // S3/RGW
    {412, "ConditionNotMet"sv, failure_class::client, errc::precondition_failed},    // Azure
    {412, "conditionNotMet"sv, failure_class::client, errc::precondition_failed},    // GCS
    {405, "MethodNotAllowed"sv, failure_class::client, errc::backend_unavailable},
    {301, "PermanentRedirect"sv, failure_class::client, errc::backend_unavailable},
    {307, "TemporaryRedirect"sv, failure_class::client, errc::backend_unavailable},
    {100, ""sv, failure_class::client, errc::backend_unavailable},
};

BOOST_DATA_TEST_CASE(classification_by_status_and_code, bdata::make(status_table), c)
{
    BOOST_TEST(statestore::classify(c.status, c.code) == c.expected_class);
    BOOST_TEST(statestore::to_errc(c.status, c.code) == c.expected_errc);
}

// ----- the decision -------------------------------------------------------------------------

namespace {

const retry_policy default_limits(retry_options{5, 30000ms});

statestore::retry_decision decide_now(failure_class cls, bool idempotent, int attempts = 1,
                                      std::chrono::nanoseconds elapsed = 0ms,
                                      std::optional<milliseconds> retry_after = {})
{
    const backoff_policy b(small_backoff, fixed(0.5));
    return statestore::decide(default_limits, b, attempts, elapsed, cls, retry_after, idempotent);
}

} // namespace

BOOST_AUTO_TEST_CASE(decide_combines_class_idempotency_and_limits)
{
    auto d = decide_now(failure_class::success, true);
    BOOST_TEST(!d.retry);
    BOOST_TEST(d.reason == decision_reason::succeeded);

    d = decide_now(failure_class::client, true);
    BOOST_TEST(!d.retry);
    BOOST_TEST(d.reason == decision_reason::permanent);

    d = decide_now(failure_class::server, true);
    BOOST_TEST(d.retry);
    BOOST_TEST(d.reason == decision_reason::will_retry);
    BOOST_TEST(d.delay.count() == 50); // retry 1: ceiling 100, u = 0.5

    d = decide_now(failure_class::transient, true, 3);
    BOOST_TEST(d.retry);
    BOOST_TEST(d.delay.count() == 200); // retry 3: ceiling 400

    d = decide_now(failure_class::server, false);
    BOOST_TEST(!d.retry);
    BOOST_TEST(d.reason == decision_reason::not_idempotent);

    d = decide_now(failure_class::transient, false);
    BOOST_TEST(!d.retry);
    BOOST_TEST(d.reason == decision_reason::not_idempotent);

    // Throttling refused the request outright, so even a blind write may be resent.
    d = decide_now(failure_class::throttled, false);
    BOOST_TEST(d.retry);
    BOOST_TEST(d.reason == decision_reason::will_retry);
}

BOOST_AUTO_TEST_CASE(decide_stops_at_the_attempt_limit)
{
    BOOST_TEST(decide_now(failure_class::server, true, 4).retry);
    const auto d = decide_now(failure_class::server, true, 5);
    BOOST_TEST(!d.retry);
    BOOST_TEST(d.reason == decision_reason::attempts_exhausted);
    BOOST_TEST(decide_now(failure_class::throttled, true, 99).reason ==
               decision_reason::attempts_exhausted);
}

BOOST_AUTO_TEST_CASE(decide_stops_at_the_time_limit)
{
    auto d = decide_now(failure_class::server, true, 1, 30000ms);
    BOOST_TEST(!d.retry);
    BOOST_TEST(d.reason == decision_reason::time_exhausted);
    // 29.96 s used, and the 50 ms wait would end past 30 s: stop now rather than sleep.
    d = decide_now(failure_class::server, true, 1, 29950ms);
    BOOST_TEST(!d.retry);
    BOOST_TEST(d.reason == decision_reason::time_exhausted);
    d = decide_now(failure_class::server, true, 1, 29949ms);
    BOOST_TEST(d.retry);
    // A Retry-After longer than what is left also ends it.
    d = decide_now(failure_class::throttled, true, 1, 25000ms, 10000ms);
    BOOST_TEST(!d.retry);
    BOOST_TEST(d.reason == decision_reason::time_exhausted);
}

BOOST_AUTO_TEST_CASE(decide_honours_retry_after)
{
    const auto hint =
        statestore::parse_retry_after("Sun, 06 Nov 1994 08:49:40 GMT", rfc_example_time());
    const auto d = decide_now(failure_class::throttled, true, 1, 0ms, hint);
    BOOST_TEST(d.retry);
    BOOST_TEST(d.delay.count() == 3000);
    // Garbage parses to nullopt, so only the backoff applies.
    const auto none = statestore::parse_retry_after("soon", rfc_example_time());
    BOOST_TEST(decide_now(failure_class::throttled, true, 1, 0ms, none).delay.count() == 50);
}

// Ceph RGW answers a lost If-Match race with 500 (or 412). The class is server; a CAS
// carries a precondition, so the rule allows a retry, which is safe because the same
// precondition guards it: a race that was really lost then comes back as 412. What the S3
// store must not do is report the 500 as success or retry a CAS without its precondition.
BOOST_AUTO_TEST_CASE(rgw_lost_cas_race_is_server_class_and_guarded_by_its_precondition)
{
    const auto cls = statestore::classify(500, "UnknownError");
    BOOST_TEST(cls == failure_class::server);
    BOOST_TEST(statestore::to_errc(500, "UnknownError") ==
               std::optional(errc::backend_unavailable));
    const bool cas = statestore::may_retry("PUT", true, false);
    BOOST_TEST(decide_now(cls, cas).retry);
    const bool blind = statestore::may_retry("PUT", false, false);
    BOOST_TEST(decide_now(cls, blind).reason == decision_reason::not_idempotent);
    // The retry's 412 is a lost precondition, never success.
    BOOST_TEST(statestore::to_errc(412, "PreconditionFailed") ==
               std::optional(errc::precondition_failed));
}

// ----- transport failures at every step -----------------------------------------------------

struct transport_case {
    transport_failure step;
    failure_class expected_class;
    bool may_have_been_processed;
};
std::ostream& operator<<(std::ostream& os, const transport_case& c)
{
    return os << statestore::to_string(c.step);
}

const transport_case transport_table[] = {
    {transport_failure::resolve, failure_class::transient, false},
    {transport_failure::connect, failure_class::transient, false},
    {transport_failure::handshake, failure_class::transient, false},
    {transport_failure::certificate, failure_class::client, false},
    {transport_failure::write, failure_class::transient, true},
    {transport_failure::read_headers, failure_class::transient, true},
    {transport_failure::read_body, failure_class::transient, true},
    {transport_failure::timeout, failure_class::transient, true},
};

// The request kinds the HTTP layer sends, and how it computes `idempotent` for decide().
struct request_kind {
    std::string_view method;
    bool has_precondition;
};
constexpr request_kind get_request{"GET", false};
constexpr request_kind conditional_put{"PUT", true}; // If-Match / If-None-Match
constexpr request_kind blind_put{"PUT", false};

bool idempotent_after(const request_kind& r, transport_failure step)
{
    return statestore::may_retry(r.method, r.has_precondition, false) ||
           !statestore::request_may_have_been_processed(step);
}

BOOST_DATA_TEST_CASE(transport_failure_at_every_step, bdata::make(transport_table), c)
{
    BOOST_TEST(statestore::classify(c.step) == c.expected_class);
    BOOST_TEST(statestore::to_errc(c.step) == errc::backend_unavailable);
    BOOST_TEST(statestore::request_may_have_been_processed(c.step) == c.may_have_been_processed);

    const auto outcome = [&](const request_kind& r) {
        return decide_now(statestore::classify(c.step), idempotent_after(r, c.step));
    };
    if (c.step == transport_failure::certificate) {
        // A certificate that does not verify is final, whatever the request.
        for (const auto& r : {get_request, conditional_put, blind_put}) {
            BOOST_TEST(!outcome(r).retry);
            BOOST_TEST(outcome(r).reason == decision_reason::permanent);
        }
        return;
    }
    BOOST_TEST(outcome(get_request).retry);
    BOOST_TEST(outcome(conditional_put).retry);
    if (c.may_have_been_processed) {
        // The PUT may have been applied and only the answer lost: never send it twice.
        BOOST_TEST(!outcome(blind_put).retry);
        BOOST_TEST(outcome(blind_put).reason == decision_reason::not_idempotent);
    } else {
        // Nothing left this machine, so even a blind PUT can be sent again.
        BOOST_TEST(outcome(blind_put).retry);
    }
}

// A fake transport replays scripted outcomes through the decision loop the HTTP layer will
// run, on a fake clock: every step's failure once, then success.
namespace {

struct scripted_outcome {
    std::optional<transport_failure> transport; // or else an HTTP answer
    unsigned status = 200;
    std::string_view code;
    std::optional<milliseconds> retry_after;
};

scripted_outcome fails_at(transport_failure step)
{
    scripted_outcome o;
    o.transport = step;
    return o;
}

scripted_outcome answers(unsigned status, std::string_view code = {},
                         std::optional<milliseconds> retry_after = {})
{
    scripted_outcome o;
    o.status = status;
    o.code = code;
    o.retry_after = retry_after;
    return o;
}

struct loop_result {
    int attempts = 0;
    bool succeeded = false;
    decision_reason last_reason = decision_reason::succeeded;
    milliseconds slept{0};
};

loop_result run_loop(const std::vector<scripted_outcome>& script, const request_kind& r,
                     retry_options limits = {5, 30000ms})
{
    const retry_policy policy(limits);
    const backoff_policy backoff(small_backoff, fixed(0.5));
    loop_result out;
    milliseconds clock{0};
    for (std::size_t i = 0;; ++i) {
        const scripted_outcome& o = script.at(std::min(i, script.size() - 1));
        ++out.attempts;
        clock += 10ms; // each attempt takes a little time
        failure_class cls;
        bool idempotent = statestore::may_retry(r.method, r.has_precondition, false);
        if (o.transport) {
            cls = statestore::classify(*o.transport);
            idempotent = idempotent || !statestore::request_may_have_been_processed(*o.transport);
        } else {
            cls = statestore::classify(o.status, o.code);
        }
        const auto d = statestore::decide(policy, backoff, out.attempts, clock, cls, o.retry_after,
                                          idempotent);
        out.last_reason = d.reason;
        if (!d.retry) {
            out.succeeded = cls == failure_class::success;
            return out;
        }
        clock += d.delay;
        out.slept += d.delay;
    }
}

} // namespace

BOOST_DATA_TEST_CASE(fake_transport_recovers_after_a_failure_at_each_step,
                     bdata::make(transport_table), c)
{
    const std::vector<scripted_outcome> script{fails_at(c.step), answers(200)};
    const auto get = run_loop(script, get_request);
    const auto put = run_loop(script, blind_put);
    if (c.step == transport_failure::certificate) {
        BOOST_TEST(!get.succeeded);
        BOOST_TEST(get.attempts == 1);
        return;
    }
    BOOST_TEST(get.succeeded);
    BOOST_TEST(get.attempts == 2);
    BOOST_TEST(get.slept.count() == 50);
    BOOST_TEST(put.succeeded == !c.may_have_been_processed);
    BOOST_TEST(put.attempts == (c.may_have_been_processed ? 1 : 2));
}

BOOST_AUTO_TEST_CASE(fake_transport_mixed_failures_then_success)
{
    const std::vector<scripted_outcome> script{
        fails_at(transport_failure::connect),
        answers(503, "SlowDown", 2000ms),
        answers(500, "InternalError"),
        answers(200),
    };
    const auto r = run_loop(script, conditional_put);
    BOOST_TEST(r.succeeded);
    BOOST_TEST(r.attempts == 4);
    BOOST_TEST(r.last_reason == decision_reason::succeeded);
    BOOST_TEST(r.slept.count() == 50 + 2000 + 200);
}

BOOST_AUTO_TEST_CASE(fake_transport_server_down_gives_up_after_bounded_attempts)
{
    const std::vector<scripted_outcome> script{fails_at(transport_failure::connect)};
    const auto r = run_loop(script, get_request);
    BOOST_TEST(!r.succeeded);
    BOOST_TEST(r.attempts == 5);
    BOOST_TEST(r.last_reason == decision_reason::attempts_exhausted);
    BOOST_TEST(r.slept.count() == 50 + 100 + 200 + 400);

    // With a tight time budget the time limit ends it first.
    const auto t = run_loop(script, get_request, {100, 1000ms});
    BOOST_TEST(!t.succeeded);
    BOOST_TEST(t.last_reason == decision_reason::time_exhausted);
    BOOST_TEST(t.attempts < 100);
}

BOOST_AUTO_TEST_CASE(fake_transport_client_error_is_final_at_once)
{
    const std::vector<scripted_outcome> script{answers(403, "SignatureDoesNotMatch")};
    const auto r = run_loop(script, get_request);
    BOOST_TEST(!r.succeeded);
    BOOST_TEST(r.attempts == 1);
    BOOST_TEST(r.last_reason == decision_reason::permanent);
}

BOOST_AUTO_TEST_CASE(names_for_diagnostics)
{
    BOOST_TEST(statestore::to_string(failure_class::throttled) == "throttled");
    BOOST_TEST(statestore::to_string(transport_failure::read_headers) == "read_headers");
    BOOST_TEST(statestore::to_string(decision_reason::attempts_exhausted) == "attempts exhausted");
}

BOOST_AUTO_TEST_SUITE_END()
