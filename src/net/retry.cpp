#include "net/retry.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <random>
#include <string>
#include <utility>

namespace statestore {
namespace {

using std::chrono::milliseconds;

bool is_one_of(std::string_view value, std::initializer_list<std::string_view> names) noexcept
{
    return std::find(names.begin(), names.end(), value) != names.end();
}

// Provider codes that mean "too many requests, slow down", whatever status carries them:
// S3's 503 SlowDown, the generic AWS throttling codes (sometimes sent with 400), Azure's
// 503 ServerBusy, and GCS's rateLimitExceeded / userRateLimitExceeded (429, or 403 in
// older JSON API answers). The request was refused before being acted on.
bool is_throttling_code(std::string_view code) noexcept
{
    return is_one_of(code,
                     {"SlowDown", "Throttling", "ThrottlingException", "RequestThrottled",
                      "RequestLimitExceeded", "TooManyRequestsException", "BandwidthLimitExceeded",
                      "ServerBusy", "rateLimitExceeded", "userRateLimitExceeded"});
}

// Codes sent with 400 that are really about credentials: an expired session token, or a
// signature scoped to the wrong region.
bool is_auth_code(std::string_view code) noexcept
{
    return is_one_of(code, {"ExpiredToken", "InvalidToken", "TokenRefreshRequired",
                            "AuthorizationHeaderMalformed"});
}

// ----- Retry-After -------------------------------------------------------------------

bool is_digit(char c) noexcept
{
    return c >= '0' && c <= '9';
}

// A cursor over an HTTP-date. Every token is matched exactly: the grammar is
// case-sensitive and has fixed widths, so there is no need for anything more lenient.
class date_scanner {
public:
    explicit date_scanner(std::string_view text) noexcept : rest_(text) {}

    bool literal(std::string_view token) noexcept
    {
        if (!rest_.starts_with(token)) {
            return false;
        }
        rest_.remove_prefix(token.size());
        return true;
    }

    /// Exactly `count` digits.
    std::optional<int> digits(int count) noexcept
    {
        if (rest_.size() < static_cast<std::size_t>(count)) {
            return std::nullopt;
        }
        int value = 0;
        for (int i = 0; i < count; ++i) {
            if (!is_digit(rest_[static_cast<std::size_t>(i)])) {
                return std::nullopt;
            }
            value = value * 10 + (rest_[static_cast<std::size_t>(i)] - '0');
        }
        rest_.remove_prefix(static_cast<std::size_t>(count));
        return value;
    }

    /// The index of the name that comes next, if any.
    template <std::size_t N>
    std::optional<int> one_of(const std::array<std::string_view, N>& names) noexcept
    {
        for (std::size_t i = 0; i < N; ++i) {
            if (literal(names[i])) {
                return static_cast<int>(i);
            }
        }
        return std::nullopt;
    }

    bool at_end() const noexcept { return rest_.empty(); }

private:
    std::string_view rest_;
};

constexpr std::array<std::string_view, 7> short_days{"Mon", "Tue", "Wed", "Thu",
                                                     "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> long_days{"Monday", "Tuesday",  "Wednesday", "Thursday",
                                                    "Friday", "Saturday", "Sunday"};
constexpr std::array<std::string_view, 12> months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

struct clock_time {
    int hour = 0;
    int minute = 0;
    int second = 0;
};

std::optional<clock_time> scan_time_of_day(date_scanner& in) noexcept
{
    const auto h = in.digits(2);
    if (!h || !in.literal(":")) {
        return std::nullopt;
    }
    const auto m = in.digits(2);
    if (!m || !in.literal(":")) {
        return std::nullopt;
    }
    const auto s = in.digits(2);
    // 60 is allowed for a leap second (RFC 9110 time-of-day); it lands on the next minute.
    if (!s || *h > 23 || *m > 59 || *s > 60) {
        return std::nullopt;
    }
    return clock_time{*h, *m, *s};
}

// The weekday is required by the grammar but not checked against the date: the date is
// what the server means, and a wrong weekday name does not make it less clear.
std::optional<std::chrono::sys_seconds> make_time(int year, int month_index, int day,
                                                  clock_time t) noexcept
{
    const std::chrono::year_month_day ymd{
        std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month_index + 1)},
        std::chrono::day{static_cast<unsigned>(day)}};
    if (!ymd.ok()) {
        return std::nullopt;
    }
    return std::chrono::sys_days{ymd} + std::chrono::hours{t.hour} +
           std::chrono::minutes{t.minute} + std::chrono::seconds{t.second};
}

// "Sun, 06 Nov 1994 08:49:37 GMT"
std::optional<std::chrono::sys_seconds> parse_imf_fixdate(std::string_view text) noexcept
{
    date_scanner in(text);
    if (!in.one_of(short_days) || !in.literal(", ")) {
        return std::nullopt;
    }
    const auto day = in.digits(2);
    if (!day || !in.literal(" ")) {
        return std::nullopt;
    }
    const auto month = in.one_of(months);
    if (!month || !in.literal(" ")) {
        return std::nullopt;
    }
    const auto year = in.digits(4);
    if (!year || !in.literal(" ")) {
        return std::nullopt;
    }
    const auto t = scan_time_of_day(in);
    if (!t || !in.literal(" GMT") || !in.at_end()) {
        return std::nullopt;
    }
    return make_time(*year, *month, *day, *t);
}

// "Sunday, 06-Nov-94 08:49:37 GMT" (obsolete). The two-digit year is read as the year
// closest to `now_year` with those digits, within 50 years ahead (RFC 9110 5.6.7).
std::optional<std::chrono::sys_seconds> parse_rfc850_date(std::string_view text,
                                                          int now_year) noexcept
{
    date_scanner in(text);
    if (!in.one_of(long_days) || !in.literal(", ")) {
        return std::nullopt;
    }
    const auto day = in.digits(2);
    if (!day || !in.literal("-")) {
        return std::nullopt;
    }
    const auto month = in.one_of(months);
    if (!month || !in.literal("-")) {
        return std::nullopt;
    }
    const auto yy = in.digits(2);
    if (!yy || !in.literal(" ")) {
        return std::nullopt;
    }
    const auto t = scan_time_of_day(in);
    if (!t || !in.literal(" GMT") || !in.at_end()) {
        return std::nullopt;
    }
    int year = now_year - now_year % 100 + *yy;
    if (year > now_year + 50) {
        year -= 100;
    } else if (year <= now_year - 50) {
        year += 100;
    }
    return make_time(year, *month, *day, *t);
}

// "Sun Nov  6 08:49:37 1994" (obsolete C asctime(); a one-digit day is space-padded).
std::optional<std::chrono::sys_seconds> parse_asctime_date(std::string_view text) noexcept
{
    date_scanner in(text);
    if (!in.one_of(short_days) || !in.literal(" ")) {
        return std::nullopt;
    }
    const auto month = in.one_of(months);
    if (!month || !in.literal(" ")) {
        return std::nullopt;
    }
    std::optional<int> day;
    if (in.literal(" ")) {
        day = in.digits(1);
    } else {
        day = in.digits(2);
    }
    if (!day || !in.literal(" ")) {
        return std::nullopt;
    }
    const auto t = scan_time_of_day(in);
    if (!t || !in.literal(" ")) {
        return std::nullopt;
    }
    const auto year = in.digits(4);
    if (!year || !in.at_end()) {
        return std::nullopt;
    }
    return make_time(*year, *month, *day, *t);
}

// Long enough to be "never" for any caller (about 31 years) and far from overflowing
// milliseconds arithmetic.
constexpr std::int64_t max_delta_seconds = 1'000'000'000;

double default_uniform()
{
    // One engine per thread: no locking, and two threads (or two copies of a policy) never
    // draw the same jitter sequence, which would defeat the point of jitter.
    thread_local std::mt19937_64 engine = [] {
        std::random_device device;
        std::seed_seq seed{device(), device(), device(), device()};
        return std::mt19937_64(seed);
    }();
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

} // namespace

// ----- classification -----------------------------------------------------------------

failure_class classify(transport_failure failure) noexcept
{
    return failure == transport_failure::certificate ? failure_class::client
                                                     : failure_class::transient;
}

failure_class classify(unsigned status, std::string_view provider_code) noexcept
{
    if ((status >= 200 && status < 300) || status == 304) {
        return failure_class::success;
    }
    if (status == 429 || (status >= 400 && is_throttling_code(provider_code))) {
        return failure_class::throttled;
    }
    if (status == 408 || (status == 400 && provider_code == "RequestTimeout")) {
        return failure_class::transient;
    }
    if (status == 501 || status == 505) {
        return failure_class::client;
    }
    if (status >= 500) {
        return failure_class::server;
    }
    return failure_class::client;
}

std::optional<errc> to_errc(unsigned status, std::string_view provider_code) noexcept
{
    switch (classify(status, provider_code)) {
    case failure_class::success:
        return std::nullopt;
    case failure_class::throttled:
        return errc::throttled;
    case failure_class::transient:
    case failure_class::server:
        return errc::backend_unavailable;
    case failure_class::client:
        break;
    }
    if (status == 401 || status == 403 || is_auth_code(provider_code)) {
        return errc::auth_failed;
    }
    if (status == 404) {
        if (provider_code == "NoSuchBucket" || provider_code == "ContainerNotFound") {
            return errc::invalid_setting;
        }
        return errc::not_found;
    }
    if (status == 409 || status == 412) {
        return errc::precondition_failed;
    }
    return errc::backend_unavailable;
}

errc to_errc(transport_failure) noexcept
{
    return errc::backend_unavailable;
}

bool request_may_have_been_processed(transport_failure failure) noexcept
{
    switch (failure) {
    case transport_failure::resolve:
    case transport_failure::connect:
    case transport_failure::handshake:
    case transport_failure::certificate:
        return false;
    case transport_failure::write:
    case transport_failure::read_headers:
    case transport_failure::read_body:
    case transport_failure::timeout:
        return true;
    }
    return true;
}

// ----- idempotency ---------------------------------------------------------------------

bool may_retry(std::string_view method, bool has_precondition, bool naturally_idempotent) noexcept
{
    if (method == "GET" || method == "HEAD" || method == "OPTIONS") {
        return true;
    }
    return has_precondition || naturally_idempotent;
}

// ----- retry policy --------------------------------------------------------------------

retry_policy::retry_policy(retry_options options) : options_(options)
{
    if (options_.maximum_attempts < 1) {
        throw_error(errc::invalid_setting, "retry: maximum_attempts must be at least 1, not " +
                                               std::to_string(options_.maximum_attempts));
    }
    if (options_.maximum_elapsed.count() < 0) {
        throw_error(errc::invalid_setting, "retry: maximum_elapsed must not be negative");
    }
}

bool retry_policy::allows(int attempts_made, std::chrono::nanoseconds elapsed) const noexcept
{
    return attempts_made < options_.maximum_attempts && elapsed < options_.maximum_elapsed;
}

// ----- backoff policy ------------------------------------------------------------------

backoff_policy::backoff_policy(backoff_options options, uniform_random random)
    : options_(options), random_(std::move(random))
{
    if (options_.initial_delay.count() < 0 || options_.maximum_delay.count() < 0 ||
        options_.maximum_retry_after.count() < 0) {
        throw_error(errc::invalid_setting, "backoff: delays must not be negative");
    }
    if (!std::isfinite(options_.multiplier) || options_.multiplier < 1.0) {
        throw_error(errc::invalid_setting,
                    "backoff: multiplier must be a finite number of at least 1");
    }
    if (options_.maximum_delay < options_.initial_delay) {
        throw_error(errc::invalid_setting,
                    "backoff: maximum_delay must not be less than initial_delay");
    }
    if (!random_) {
        random_ = default_uniform;
    }
}

milliseconds backoff_policy::ceiling(int retry) const noexcept
{
    const auto cap = options_.maximum_delay;
    if (options_.initial_delay.count() == 0) {
        return milliseconds{0};
    }
    // In floating point, so a long run of retries saturates at the cap instead of
    // overflowing; pow() may return infinity, which the comparison also catches.
    const double grown = static_cast<double>(options_.initial_delay.count()) *
                         std::pow(options_.multiplier, std::max(retry, 1) - 1);
    if (!(grown < static_cast<double>(cap.count()))) {
        return cap;
    }
    return milliseconds{static_cast<milliseconds::rep>(grown)};
}

milliseconds backoff_policy::delay(int retry, std::optional<milliseconds> retry_after) const
{
    double u = random_();
    if (!(u >= 0.0)) { // also NaN
        u = 0.0;
    } else if (u > 1.0) {
        u = 1.0;
    }
    const auto top = ceiling(retry);
    auto wait = milliseconds{static_cast<milliseconds::rep>(u * static_cast<double>(top.count()))};
    if (retry_after) {
        const auto asked = std::clamp(*retry_after, milliseconds{0}, options_.maximum_retry_after);
        wait = std::max(wait, asked);
    }
    return wait;
}

std::optional<milliseconds> parse_retry_after(std::string_view value,
                                              std::chrono::system_clock::time_point now)
{
    // Optional whitespace around a field value is not part of it (RFC 9110 5.5).
    const auto is_ows = [](char c) { return c == ' ' || c == '\t'; };
    while (!value.empty() && is_ows(value.front())) {
        value.remove_prefix(1);
    }
    while (!value.empty() && is_ows(value.back())) {
        value.remove_suffix(1);
    }
    if (value.empty()) {
        return std::nullopt;
    }

    if (std::all_of(value.begin(), value.end(), is_digit)) {
        std::int64_t seconds = 0;
        for (char c : value) {
            seconds = std::min(seconds * 10 + (c - '0'), max_delta_seconds);
        }
        return std::chrono::duration_cast<milliseconds>(std::chrono::seconds{seconds});
    }

    const auto now_days = std::chrono::floor<std::chrono::days>(now);
    const int now_year = static_cast<int>(std::chrono::year_month_day{now_days}.year());
    auto date = parse_imf_fixdate(value);
    if (!date) {
        date = parse_rfc850_date(value, now_year);
    }
    if (!date) {
        date = parse_asctime_date(value);
    }
    if (!date) {
        return std::nullopt;
    }
    // In milliseconds, not system_clock's nanoseconds: a year-9999 date would overflow
    // those. The date is whole seconds, so subtracting the floor of `now` rounds the wait up.
    const auto until =
        std::chrono::time_point_cast<milliseconds>(*date) - std::chrono::floor<milliseconds>(now);
    return std::max(until, milliseconds{0});
}

// ----- decision --------------------------------------------------------------------------

retry_decision decide(const retry_policy& retry, const backoff_policy& backoff, int attempts_made,
                      std::chrono::nanoseconds elapsed, failure_class failure,
                      std::optional<milliseconds> retry_after, bool idempotent)
{
    if (failure == failure_class::success) {
        return {false, milliseconds{0}, decision_reason::succeeded};
    }
    if (failure == failure_class::client) {
        return {false, milliseconds{0}, decision_reason::permanent};
    }
    // A throttling answer means the service refused the request without acting on it, so
    // even a request that must not be applied twice can be sent again.
    if (!idempotent && failure != failure_class::throttled) {
        return {false, milliseconds{0}, decision_reason::not_idempotent};
    }
    const auto& limits = retry.options();
    if (attempts_made >= limits.maximum_attempts) {
        return {false, milliseconds{0}, decision_reason::attempts_exhausted};
    }
    if (!retry.allows(attempts_made, elapsed)) {
        return {false, milliseconds{0}, decision_reason::time_exhausted};
    }
    const auto wait = backoff.delay(attempts_made, retry_after);
    // elapsed < maximum_elapsed here, so the subtraction cannot go negative or overflow.
    if (wait >= limits.maximum_elapsed - elapsed) {
        return {false, milliseconds{0}, decision_reason::time_exhausted};
    }
    return {true, wait, decision_reason::will_retry};
}

// ----- names ---------------------------------------------------------------------------

std::string_view to_string(failure_class value) noexcept
{
    switch (value) {
    case failure_class::success:
        return "success";
    case failure_class::transient:
        return "transient";
    case failure_class::throttled:
        return "throttled";
    case failure_class::server:
        return "server";
    case failure_class::client:
        return "client";
    }
    return "unknown";
}

std::string_view to_string(transport_failure value) noexcept
{
    switch (value) {
    case transport_failure::resolve:
        return "resolve";
    case transport_failure::connect:
        return "connect";
    case transport_failure::handshake:
        return "handshake";
    case transport_failure::certificate:
        return "certificate";
    case transport_failure::write:
        return "write";
    case transport_failure::read_headers:
        return "read_headers";
    case transport_failure::read_body:
        return "read_body";
    case transport_failure::timeout:
        return "timeout";
    }
    return "unknown";
}

std::string_view to_string(decision_reason value) noexcept
{
    switch (value) {
    case decision_reason::will_retry:
        return "will retry";
    case decision_reason::succeeded:
        return "succeeded";
    case decision_reason::permanent:
        return "not retryable";
    case decision_reason::not_idempotent:
        return "not idempotent";
    case decision_reason::attempts_exhausted:
        return "attempts exhausted";
    case decision_reason::time_exhausted:
        return "time limit reached";
    }
    return "unknown";
}

} // namespace statestore
