#pragma once
// One pattern language for `list --pattern` on every backend: Python's fnmatch.fnmatchcase,
// i.e. an anchored, case-sensitive full match over Unicode code points.

#include <string_view>

namespace statestore {

/// `*` matches any run (including '/', ':' and a leading '.'), `?` one code point,
/// `[abc]`, `[a-z]`, `[!abc]` a set; a `[` with no closing `]` is a literal. An empty
/// pattern matches only the empty string; callers treat "" as "*".
bool fnmatch_full(std::string_view pattern, std::string_view name);

} // namespace statestore
