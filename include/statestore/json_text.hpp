#pragma once
// JSON text exactly as Python's json module writes it, and a strict parser.
//
// Meltano stores documents with json.dumps() defaults; `meltano state get` prints with
// separators (",", ":"); `--format pretty` uses indent=2. All three use ensure_ascii=True.
// Boost.JSON's own serializer differs (doubles, escapes), so this is written over json::value.

#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace statestore {

enum class json_style {
    python_default, ///< json.dumps(v): ", " and ": " separators, one line
    compact,        ///< json.dumps(v, separators=(",", ":"))
    pretty,         ///< json.dumps(v, indent=2)
};

/// Serialises like Python: insertion order kept, non-ASCII as \uXXXX (lower-case hex,
/// surrogate pairs above the BMP), integers exact, doubles in Python's repr spelling
/// (1.0, 1e-07, 1e+16, -0.0). Only ' '..'~' are written raw: like Python, DEL is \u007f.
/// Throws statestore::error(invalid_document) for non-finite doubles, which JSON cannot
/// represent, and for strings that are not valid UTF-8, which a Python str cannot hold.
std::string to_python_json(const boost::json::value& value,
                           json_style style = json_style::python_default);

/// Python's repr() of a finite double, e.g. 1.0, 0.1, 1e-07, 1e+16, 123456789.123.
std::string python_float_repr(double value);

/// Parses one JSON text (RFC 8259, UTF-8). Throws statestore::error(invalid_document) with
/// a message naming the line, column and cause ("invalid JSON at line L, column C: ...",
/// columns counted in code points); NaN/Infinity tokens, integers outside the 64-bit range
/// and doubles too large to be finite get their own explicit messages. Doubles are rounded
/// correctly (as Python does); too-small ones become a signed zero. Duplicate keys: the last
/// value wins and the key keeps its first position (as a Python dict does). Nesting is
/// limited to 1000 levels.
boost::json::value parse_json(std::string_view text);

} // namespace statestore
