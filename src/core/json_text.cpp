#include "statestore/json_text.hpp"

#include "statestore/error.hpp"
#include "core/text_util.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>

namespace statestore {
namespace {

namespace json = boost::json;

// ---------------------------------------------------------------------------------------
// Serialisation

// Appends `s` as a JSON string literal the way Python's json.dumps(ensure_ascii=True)
// does (the C encoder's encode_basestring_ascii): only ' '..'~' pass through unescaped,
// so DEL and everything non-ASCII become \uXXXX.
void append_python_string(std::string& out, std::string_view s)
{
    out.push_back('"');
    std::size_t pos = 0;
    while (pos < s.size()) {
        const unsigned char c = static_cast<unsigned char>(s[pos]);
        if (c >= 0x20 && c <= 0x7E && c != '"' && c != '\\') {
            // Copy a whole run of plain characters at once.
            std::size_t end = pos + 1;
            while (end < s.size()) {
                const unsigned char d = static_cast<unsigned char>(s[end]);
                if (d < 0x20 || d > 0x7E || d == '"' || d == '\\') {
                    break;
                }
                ++end;
            }
            out.append(s.substr(pos, end - pos));
            pos = end;
            continue;
        }
        switch (c) {
        case '"': out += "\\\""; ++pos; continue;
        case '\\': out += "\\\\"; ++pos; continue;
        case '\n': out += "\\n"; ++pos; continue;
        case '\r': out += "\\r"; ++pos; continue;
        case '\t': out += "\\t"; ++pos; continue;
        case '\b': out += "\\b"; ++pos; continue;
        case '\f': out += "\\f"; ++pos; continue;
        default: break;
        }
        const detail::utf8_step step = detail::decode_utf8_at(s, pos);
        if (step.length == 0) {
            // A Python str cannot hold such bytes, so there is no byte-compatible output.
            throw_error(errc::invalid_document,
                        "cannot write JSON: a string is not valid UTF-8 (" +
                            detail::quote_for_message(s, 60) + ")");
        }
        const char32_t cp = step.code_point;
        if (cp <= 0xFFFF) {
            out += "\\u";
            detail::append_hex(out, static_cast<std::uint32_t>(cp), 4);
        } else {
            const std::uint32_t v = static_cast<std::uint32_t>(cp) - 0x10000;
            out += "\\u";
            detail::append_hex(out, 0xD800 + (v >> 10), 4);
            out += "\\u";
            detail::append_hex(out, 0xDC00 + (v & 0x3FF), 4);
        }
        pos += step.length;
    }
    out.push_back('"');
}

template <class Integer>
void append_integer(std::string& out, Integer v)
{
    std::array<char, 24> buf{};
    const auto result = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    out.append(buf.data(), result.ptr);
}

class python_writer {
public:
    python_writer(std::string& out, json_style style) : out_(out), style_(style) {}

    void write(const json::value& v, std::size_t depth)
    {
        switch (v.kind()) {
        case json::kind::null: out_ += "null"; break;
        case json::kind::bool_: out_ += v.get_bool() ? "true" : "false"; break;
        case json::kind::int64: append_integer(out_, v.get_int64()); break;
        case json::kind::uint64: append_integer(out_, v.get_uint64()); break;
        case json::kind::double_: out_ += python_float_repr(v.get_double()); break;
        case json::kind::string: append_python_string(out_, v.get_string()); break;
        case json::kind::array: write_array(v.get_array(), depth); break;
        case json::kind::object: write_object(v.get_object(), depth); break;
        }
    }

private:
    void write_array(const json::array& a, std::size_t depth)
    {
        if (a.empty()) {
            out_ += "[]";
            return;
        }
        out_.push_back('[');
        bool first = true;
        for (const json::value& item : a) {
            separate(first, depth + 1);
            write(item, depth + 1);
        }
        close(depth);
        out_.push_back(']');
    }

    void write_object(const json::object& o, std::size_t depth)
    {
        if (o.empty()) {
            out_ += "{}";
            return;
        }
        out_.push_back('{');
        bool first = true;
        for (const json::key_value_pair& kv : o) {
            separate(first, depth + 1);
            append_python_string(out_, kv.key());
            out_ += style_ == json_style::compact ? ":" : ": ";
            write(kv.value(), depth + 1);
        }
        close(depth);
        out_.push_back('}');
    }

    // Before each item: the item separator (not before the first), then for pretty output
    // a newline and the item's indentation. Python's indent mode uses "," plus newline.
    void separate(bool& first, std::size_t depth)
    {
        if (!first) {
            out_ += style_ == json_style::python_default ? ", " : ",";
        }
        first = false;
        if (style_ == json_style::pretty) {
            newline(depth);
        }
    }

    void close(std::size_t depth)
    {
        if (style_ == json_style::pretty) {
            newline(depth);
        }
    }

    void newline(std::size_t depth)
    {
        out_.push_back('\n');
        out_.append(depth * 2, ' ');
    }

    std::string& out_;
    json_style style_;
};

// ---------------------------------------------------------------------------------------
// Parsing

constexpr std::size_t max_parse_depth = 1000;
constexpr std::size_t max_number_in_message = 40;

// The parser's handler: builds the value on a value_stack like Boost's own parser, but
// sees each number's source text, so integers beyond 64 bits are refused instead of being
// silently turned into doubles, and doubles are converted with a correctly rounded
// algorithm (Boost 1.81's own conversion can be off by one ULP, which would change the
// digits Python's repr prints).
struct strict_handler {
    static constexpr std::size_t max_object_size = json::object::max_size();
    static constexpr std::size_t max_array_size = json::array::max_size();
    static constexpr std::size_t max_key_size = json::string::max_size();
    static constexpr std::size_t max_string_size = json::string::max_size();

    json::value_stack st;
    // Source text of the number being parsed (only needed if the parser ever splits a
    // number across buffers; with one complete buffer it arrives in one piece).
    std::string number_text;
    // Why the handler stopped the parser, and the text of the offending number.
    std::optional<std::string> failure;
    std::size_t failure_token_length = 0;

    bool on_document_begin(json::error_code&) { return true; }
    bool on_document_end(json::error_code&) { return true; }
    bool on_object_begin(json::error_code&) { return true; }
    bool on_object_end(std::size_t n, json::error_code&)
    {
        // value_stack keeps the last value of a duplicated key at the key's first
        // position, which is what a Python dict does; the unit tests pin this down.
        st.push_object(n);
        return true;
    }
    bool on_array_begin(json::error_code&) { return true; }
    bool on_array_end(std::size_t n, json::error_code&)
    {
        st.push_array(n);
        return true;
    }
    bool on_key_part(json::string_view s, std::size_t, json::error_code&)
    {
        st.push_chars(s);
        return true;
    }
    bool on_key(json::string_view s, std::size_t, json::error_code&)
    {
        st.push_key(s);
        return true;
    }
    bool on_string_part(json::string_view s, std::size_t, json::error_code&)
    {
        st.push_chars(s);
        return true;
    }
    bool on_string(json::string_view s, std::size_t, json::error_code&)
    {
        st.push_string(s);
        return true;
    }
    bool on_number_part(json::string_view s, json::error_code&)
    {
        number_text.append(s.data(), s.size());
        return true;
    }
    bool on_int64(std::int64_t i, json::string_view, json::error_code&)
    {
        number_text.clear();
        st.push_int64(i);
        return true;
    }
    bool on_uint64(std::uint64_t u, json::string_view, json::error_code&)
    {
        number_text.clear();
        st.push_uint64(u);
        return true;
    }
    bool on_double(double, json::string_view s, json::error_code& ec)
    {
        number_text.append(s.data(), s.size());
        const std::string text = std::move(number_text);
        number_text.clear();
        if (text.find_first_of(".eE") == std::string::npos) {
            // Boost falls back to a double when an integer overflows 64 bits; Python
            // would keep it exact, so refuse rather than lose digits.
            return fail(ec, text,
                        "integer " + text.substr(0, max_number_in_message) +
                            " does not fit in 64 bits");
        }
        const std::optional<double> d = detail::decimal_to_double(text);
        if (!d) {
            return fail(ec, text,
                        "number " + text.substr(0, max_number_in_message) +
                            " is too large for a double");
        }
        st.push_double(*d);
        return true;
    }
    bool on_bool(bool b, json::error_code&)
    {
        st.push_bool(b);
        return true;
    }
    bool on_null(json::error_code&)
    {
        st.push_null();
        return true;
    }
    bool on_comment_part(json::string_view, json::error_code&) { return true; }
    bool on_comment(json::string_view, json::error_code&) { return true; }

private:
    bool fail(json::error_code& ec, const std::string& token, std::string message)
    {
        failure = std::move(message);
        failure_token_length = token.size();
        // Any error code will do; it only makes the parser stop. The message is ours.
        ec = make_error_code(json::error::exception);
        return false;
    }
};

struct text_position {
    std::size_t line = 1;
    std::size_t column = 1;
};

// 1-based line and column of a byte offset. Columns count code points, like Python's
// JSONDecodeError (which counts characters of the decoded str).
text_position position_of(std::string_view text, std::size_t offset)
{
    text_position p;
    for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        if (c == '\n') {
            ++p.line;
            p.column = 1;
        } else if ((c & 0xC0) != 0x80) {
            ++p.column;
        }
    }
    return p;
}

std::string where(std::string_view text, std::size_t offset)
{
    const text_position p = position_of(text, offset);
    return "line " + std::to_string(p.line) + ", column " + std::to_string(p.column);
}

[[noreturn]] void throw_syntax(std::string_view text, std::size_t offset, const std::string& why)
{
    throw_error(errc::invalid_document,
                "invalid JSON at " + where(text, offset) + ": " + why);
}

// What the character at `offset` is, for "unexpected character" messages.
std::string describe_character(std::string_view text, std::size_t offset)
{
    if (offset >= text.size()) {
        return "unexpected end of input";
    }
    const unsigned char c = static_cast<unsigned char>(text[offset]);
    if (c >= 0x21 && c <= 0x7E) {
        return std::string("unexpected character '") + static_cast<char>(c) + "'";
    }
    const detail::utf8_step step = detail::decode_utf8_at(text, offset);
    if (step.code_point == 0xFEFF && step.length != 0) {
        return "unexpected UTF-8 byte order mark";
    }
    if (step.code_point < 0x20) {
        return "unexpected control character " + detail::code_point_name(step.code_point);
    }
    return "unexpected character " + detail::code_point_name(step.code_point);
}

// Boost leaves a NaN or Infinity token where it stopped: at its first letter (for
// "-Infinity" the '-' is just before). Returns the token's offset if that is the case.
std::optional<std::size_t> non_finite_token_at(std::string_view text, std::size_t offset)
{
    const std::string_view rest = text.substr(std::min(offset, text.size()));
    if (rest.starts_with("NaN")) {
        return offset;
    }
    if (rest.starts_with("Infinity")) {
        return offset > 0 && text[offset - 1] == '-' ? offset - 1 : offset;
    }
    if (rest.starts_with("-Infinity")) {
        return offset;
    }
    return std::nullopt;
}

// Python's str can hold a lone UTF-16 surrogate from "\ud800"; UTF-8 cannot, and Boost
// reports one only as a syntax error at the character after the escape.
bool follows_high_surrogate_escape(std::string_view text, std::size_t offset)
{
    if (offset < 6 || offset > text.size()) {
        return false;
    }
    const std::string_view esc = text.substr(offset - 6, 6);
    const auto hex = [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    };
    return esc[0] == '\\' && esc[1] == 'u' && (esc[2] == 'd' || esc[2] == 'D') &&
           std::string_view("89abAB").find(esc[3]) != std::string_view::npos && hex(esc[4]) &&
           hex(esc[5]);
}

std::string describe_boost_error(const json::error_code& ec, std::string_view text,
                                 std::size_t offset)
{
    if (ec == json::error::syntax) {
        if (follows_high_surrogate_escape(text, offset)) {
            return "unpaired UTF-16 surrogate in a \\u escape";
        }
        return describe_character(text, offset);
    }
    if (ec == json::error::incomplete) {
        return "unexpected end of input";
    }
    if (ec == json::error::exponent_overflow) {
        return "number is too large for a double";
    }
    if (ec == json::error::too_deep) {
        return "nesting deeper than " + std::to_string(max_parse_depth) + " levels";
    }
    if (ec == json::error::illegal_leading_surrogate ||
        ec == json::error::illegal_trailing_surrogate) {
        return "unpaired UTF-16 surrogate in a \\u escape";
    }
    if (ec == json::error::expected_hex_digit || ec == json::error::expected_utf16_escape) {
        return "invalid \\u escape";
    }
    return ec.message();
}

bool is_json_whitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

} // namespace

std::string python_float_repr(double value)
{
    if (!std::isfinite(value)) {
        throw_error(errc::invalid_document, "NaN/Infinity cannot be stored as JSON");
    }
    // Shortest round-trip digits in scientific form, e.g. "-1.2345e+02" or "5e-324".
    std::array<char, 40> buf{};
    const auto result =
        std::to_chars(buf.data(), buf.data() + buf.size(), value, std::chars_format::scientific);
    const std::string_view sci(buf.data(), static_cast<std::size_t>(result.ptr - buf.data()));

    const bool negative = sci.front() == '-';
    const std::size_t e_pos = sci.find('e');
    std::string digits;
    for (const char c : sci.substr(negative ? 1 : 0, e_pos - (negative ? 1 : 0))) {
        if (c != '.') {
            digits.push_back(c);
        }
    }
    int exponent = 0;
    const std::string_view exp_text = sci.substr(e_pos + 1);
    // from_chars does not accept a leading '+'.
    const std::string_view exp_digits = exp_text.front() == '+' ? exp_text.substr(1) : exp_text;
    std::from_chars(exp_digits.data(), exp_digits.data() + exp_digits.size(), exponent);

    // Python's float_repr_style 'short' (mode 'r'): with value = 0.d1d2...dn * 10^decpt,
    // exponent notation is used when decpt <= -4 or decpt > 16.
    const int decpt = exponent + 1;
    const int n = static_cast<int>(digits.size());
    std::string out;
    if (negative) {
        out.push_back('-');
    }
    if (decpt <= -4 || decpt > 16) {
        out.push_back(digits[0]);
        if (n > 1) {
            out.push_back('.');
            out.append(digits, 1);
        }
        out.push_back('e');
        const int e = decpt - 1;
        out.push_back(e < 0 ? '-' : '+');
        const std::string magnitude = std::to_string(e < 0 ? -e : e);
        if (magnitude.size() < 2) {
            out.push_back('0');
        }
        out += magnitude;
    } else if (decpt <= 0) {
        out += "0.";
        out.append(static_cast<std::size_t>(-decpt), '0');
        out += digits;
    } else if (decpt >= n) {
        out += digits;
        out.append(static_cast<std::size_t>(decpt - n), '0');
        out += ".0";
    } else {
        out.append(digits, 0, static_cast<std::size_t>(decpt));
        out.push_back('.');
        out.append(digits, static_cast<std::size_t>(decpt));
    }
    return out;
}

std::string to_python_json(const json::value& value, json_style style)
{
    std::string out;
    python_writer(out, style).write(value, 0);
    return out;
}

json::value parse_json(std::string_view text)
{
    if (std::all_of(text.begin(), text.end(), is_json_whitespace)) {
        throw_error(errc::invalid_document, "invalid JSON: empty input");
    }
    // Outside strings JSON is pure ASCII, so checking the whole text up front is the same
    // as checking strings, and Boost's own check then never fires with a vaguer message.
    if (const auto bad = detail::find_invalid_utf8(text)) {
        throw_syntax(text, *bad, "invalid UTF-8");
    }

    json::parse_options options;
    options.max_depth = max_parse_depth;
    json::basic_parser<strict_handler> parser(options);
    parser.handler().st.reset();

    json::error_code ec;
    const std::size_t consumed = parser.write_some(false, text.data(), text.size(), ec);
    if (ec) {
        // On failure write_some returns the offset where parsing stopped.
        if (const auto& failure = parser.handler().failure) {
            const std::size_t start = consumed - parser.handler().failure_token_length;
            throw_error(errc::invalid_document, *failure + " (" + where(text, start) + ")");
        }
        if (const auto token = non_finite_token_at(text, consumed)) {
            throw_error(errc::invalid_document,
                        "NaN and Infinity are not valid JSON (" + where(text, *token) + ")");
        }
        throw_syntax(text, consumed, describe_boost_error(ec, text, consumed));
    }
    if (consumed != text.size()) {
        // write_some stops after one complete value and the whitespace following it.
        throw_syntax(text, consumed, "unexpected data after the JSON value");
    }
    return parser.handler().st.release();
}

} // namespace statestore
