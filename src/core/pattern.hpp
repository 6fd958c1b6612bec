#pragma once
// One pattern language for `list --pattern` on every backend: Python's fnmatch.fnmatchcase,
// i.e. an anchored, case-sensitive full match over Unicode code points.

#include <optional>
#include <string>
#include <string_view>

namespace statestore {

/// `*` matches any run (including '/', ':' and a leading '.'), `?` one code point,
/// `[abc]`, `[a-z]`, `[!abc]` a set; a `[` with no closing `]` is a literal. An empty
/// pattern matches only the empty string; callers treat "" as "*".
bool fnmatch_full(std::string_view pattern, std::string_view name);

/// A SQL LIKE pattern, with the backslash as its ESCAPE character, that matches every name
/// fnmatch_full(pattern, name) matches and possibly more: `*` becomes `%`, `?` and every set
/// `[...]` become `_` (any one character), and a literal `%`, `_` or backslash is escaped.
/// The system-database backends filter in SQL with it, then with fnmatch_full, so the
/// result is exact whatever the database's LIKE does with case. nullopt when the pattern
/// can match nothing (a set that translate() empties); "%" for "" and for a pattern that
/// is not UTF-8 (then fnmatch_full alone filters).
std::optional<std::string> like_superset(std::string_view pattern);

} // namespace statestore
