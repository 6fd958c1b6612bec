#pragma once
// Which state ids are accepted. Meltano's own ids (dev:tap-x-to-target-y[:suffix]),
// unicode and spaces are fine; anything that could escape or confuse a directory or key
// layout is refused on every backend.

#include <optional>
#include <string>
#include <string_view>

namespace statestore {

inline constexpr std::size_t max_state_id_bytes = 900; // VARCHAR(900) in Meltano's schema

/// Why `id` is refused, or nullopt if it is acceptable. Refused: empty, "." or "..",
/// longer than 900 bytes, not valid UTF-8, or containing '/', '\\', NUL or a control
/// character (U+0000-U+001F, U+007F-U+009F). The reason is a complete sentence that quotes
/// the id with control characters and stray bytes escaped, e.g.
/// `state id "a/b" is invalid: it contains '/'`.
std::optional<std::string> state_id_problem(std::string_view id);

/// Throws statestore::error(invalid_state_id) with a message quoting the id safely.
void validate_state_id(std::string_view id);

} // namespace statestore
