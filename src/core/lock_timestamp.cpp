#include "core/lock_timestamp.hpp"

#include "core/text_util.hpp"

#include <cstdint>
#include <string>

namespace statestore {
namespace {

// Python datetimes have microsecond resolution, and Meltano's lock content is
// datetime.timestamp(): the microsecond count divided by 10^6 as a float.
std::int64_t epoch_microseconds(std::chrono::system_clock::time_point t)
{
    // duration_cast truncates toward zero: sub-microsecond parts are dropped.
    return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

bool is_python_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Scans a run of digits in which single underscores may separate digits (PEP 515, which
// float() accepts: "1_000.5"), appending the digits alone to `out`. Returns the number of
// digits, or -1 when an underscore is misplaced.
int scan_digits(std::string_view s, std::size_t& pos, std::string& out)
{
    int count = 0;
    while (pos < s.size()) {
        if (is_digit(s[pos])) {
            out.push_back(s[pos]);
            ++count;
            ++pos;
        } else if (s[pos] == '_') {
            if (count == 0 || pos + 1 >= s.size() || !is_digit(s[pos + 1])) {
                return -1;
            }
            ++pos;
        } else {
            break;
        }
    }
    return count;
}

} // namespace

std::string format_lock_timestamp(std::chrono::system_clock::time_point t)
{
    const std::int64_t us = epoch_microseconds(t);
    // Work on the magnitude in unsigned arithmetic so that even the most negative value
    // cannot overflow; times before 1970 print with a leading '-', as Python would.
    const bool negative = us < 0;
    const std::uint64_t bits = static_cast<std::uint64_t>(us);
    const std::uint64_t magnitude = negative ? std::uint64_t{0} - bits : bits;
    const std::uint64_t seconds = magnitude / 1'000'000;
    std::uint64_t fraction = magnitude % 1'000'000;

    std::string digits(6, '0');
    for (int i = 5; i >= 0; --i) {
        digits[static_cast<std::size_t>(i)] = static_cast<char>('0' + fraction % 10);
        fraction /= 10;
    }
    // Python's repr drops trailing zeros but always keeps one digit after the point.
    const std::size_t last = digits.find_last_not_of('0');
    digits.resize(last == std::string::npos ? 1 : last + 1);

    std::string out;
    if (negative) {
        out.push_back('-');
    }
    out += std::to_string(seconds);
    out.push_back('.');
    out += digits;
    return out;
}

std::optional<double> parse_lock_timestamp(std::string_view text)
{
    std::size_t begin = 0;
    std::size_t end = text.size();
    while (begin < end && is_python_space(text[begin])) {
        ++begin;
    }
    while (end > begin && is_python_space(text[end - 1])) {
        --end;
    }
    const std::string_view s = text.substr(begin, end - begin);

    // Rebuild the number without '+' and underscores, which from_chars does not take.
    // inf/infinity/nan are valid for float() but never a usable lock time, so they fall
    // through to the "not a number" answer like any other word.
    std::string number;
    std::size_t pos = 0;
    if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
        if (s[pos] == '-') {
            number.push_back('-');
        }
        ++pos;
    }
    const int integer_digits = scan_digits(s, pos, number);
    if (integer_digits < 0) {
        return std::nullopt;
    }
    int fraction_digits = 0;
    if (pos < s.size() && s[pos] == '.') {
        number.push_back('.');
        ++pos;
        // An underscore may not follow the point directly ("1._5" is refused).
        if (pos < s.size() && s[pos] == '_') {
            return std::nullopt;
        }
        fraction_digits = scan_digits(s, pos, number);
        if (fraction_digits < 0) {
            return std::nullopt;
        }
    }
    if (integer_digits + fraction_digits == 0) {
        return std::nullopt;
    }
    if (pos < s.size() && (s[pos] == 'e' || s[pos] == 'E')) {
        number.push_back('e');
        ++pos;
        if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
            number.push_back(s[pos]);
            ++pos;
        }
        if (pos < s.size() && s[pos] == '_') {
            return std::nullopt;
        }
        if (scan_digits(s, pos, number) <= 0) {
            return std::nullopt;
        }
    }
    if (pos != s.size()) {
        return std::nullopt;
    }
    // Correctly rounded, locale independent; too large (Python: inf) gives nullopt.
    return detail::decimal_to_double(number);
}

bool lock_is_stale(double locked_at, double now, double timeout_seconds)
{
    return locked_at + timeout_seconds < now;
}

double to_epoch_seconds(std::chrono::system_clock::time_point t)
{
    // Same value Python's datetime.timestamp() gives for the same microsecond.
    return static_cast<double>(epoch_microseconds(t)) / 1e6;
}

} // namespace statestore
