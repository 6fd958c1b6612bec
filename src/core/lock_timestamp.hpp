#pragma once
// The lock object's content, exactly as Meltano writes and reads it: Python's str() of the
// POSIX time as a float, e.g. "1732535622.12" (no newline).

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace statestore {

/// "<seconds>.<1-6 digits>": microsecond precision (finer parts truncated), trailing zeros
/// dropped, at least one fractional digit ("1732535622.0"). Times before 1970 get a '-'.
std::string format_lock_timestamp(std::chrono::system_clock::time_point t);

/// Parses lock content the way Python's float() does (surrounding ASCII whitespace, sign,
/// exponent, '_' between digits), correctly rounded and locale independent; nullopt for
/// anything else, and for NaN, infinities and values too large to be finite.
std::optional<double> parse_lock_timestamp(std::string_view text);

/// Meltano's rule: stale when locked_at + timeout < now (strictly).
bool lock_is_stale(double locked_at, double now, double timeout_seconds);

/// Seconds since the epoch as a double, at microsecond precision like Python's
/// datetime.timestamp(), so it equals parse_lock_timestamp(format_lock_timestamp(t)).
double to_epoch_seconds(std::chrono::system_clock::time_point t);

} // namespace statestore
