#pragma once
// Internal helpers shared by the pure-logic layer (json_text, state_id, pattern,
// lock_timestamp, merge): strict UTF-8 decoding, safe quoting of untrusted text in error
// messages, JSON kind names, and correctly rounded decimal-to-double conversion.
// Not installed; include only from src/.

#include <boost/json/kind.hpp>

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace statestore::detail {

/// One decoded code point and the number of bytes it used; `length == 0` means the bytes
/// at that position are not valid UTF-8.
struct utf8_step {
    char32_t code_point = 0;
    std::size_t length = 0;
};

/// Decodes the code point starting at text[pos] with the same strictness as Python's
/// UTF-8 codec: no overlong forms, no surrogates (U+D800-U+DFFF), nothing above U+10FFFF,
/// no truncated sequences.
inline utf8_step decode_utf8_at(std::string_view text, std::size_t pos) noexcept
{
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned char lead = byte(pos);
    if (lead < 0x80) {
        return {lead, 1};
    }
    std::size_t length = 0;
    char32_t cp = 0;
    // Allowed range of the second byte; narrower than 80..BF for a few leads, which is
    // what excludes overlong forms, surrogates and code points above U+10FFFF.
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
        cp = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        cp = lead & 0x0F;
        if (lead == 0xE0) {
            lo = 0xA0;
        } else if (lead == 0xED) {
            hi = 0x9F;
        }
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        cp = lead & 0x07;
        if (lead == 0xF0) {
            lo = 0x90;
        } else if (lead == 0xF4) {
            hi = 0x8F;
        }
    } else {
        return {};
    }
    if (text.size() - pos < length) {
        return {};
    }
    for (std::size_t i = 1; i < length; ++i) {
        const unsigned char b = byte(pos + i);
        const unsigned char min = i == 1 ? lo : 0x80;
        const unsigned char max = i == 1 ? hi : 0xBF;
        if (b < min || b > max) {
            return {};
        }
        cp = (cp << 6) | (b & 0x3F);
    }
    return {cp, length};
}

/// Decodes all of `text`, or nullopt if any part of it is not valid UTF-8.
inline std::optional<std::vector<char32_t>> decode_utf8(std::string_view text)
{
    std::vector<char32_t> out;
    out.reserve(text.size());
    for (std::size_t pos = 0; pos < text.size();) {
        const utf8_step step = decode_utf8_at(text, pos);
        if (step.length == 0) {
            return std::nullopt;
        }
        out.push_back(step.code_point);
        pos += step.length;
    }
    return out;
}

/// Byte offset of the first invalid UTF-8 sequence, or nullopt when all of `text` is valid.
inline std::optional<std::size_t> find_invalid_utf8(std::string_view text) noexcept
{
    for (std::size_t pos = 0; pos < text.size();) {
        const utf8_step step = decode_utf8_at(text, pos);
        if (step.length == 0) {
            return pos;
        }
        pos += step.length;
    }
    return std::nullopt;
}

inline void append_hex(std::string& out, std::uint32_t value, int digits)
{
    static constexpr char hex[] = "0123456789abcdef";
    for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) {
        out.push_back(hex[(value >> shift) & 0xF]);
    }
}

/// "U+001B" style name of a code point (upper-case hex, as Unicode writes it).
inline std::string code_point_name(char32_t cp)
{
    std::string hex;
    append_hex(hex, static_cast<std::uint32_t>(cp), cp > 0xFFFF ? 6 : 4);
    for (char& c : hex) {
        if (c >= 'a' && c <= 'f') {
            c = static_cast<char>(c - 'a' + 'A');
        }
    }
    return "U+" + hex;
}

/// Renders untrusted text for an error message: printable text is kept (including
/// non-ASCII letters), while '"', '\\', control characters (C0, DEL, C1) and bytes that
/// are not UTF-8 are escaped, so a message can never carry a raw control character or break
/// its quoting. At most `max_bytes` of input are shown, then "...".
inline std::string escape_for_message(std::string_view text, std::size_t max_bytes = 200)
{
    std::string out;
    std::size_t pos = 0;
    while (pos < text.size()) {
        if (pos >= max_bytes) {
            out += "...";
            break;
        }
        const utf8_step step = decode_utf8_at(text, pos);
        if (step.length == 0) {
            out += "\\x";
            append_hex(out, static_cast<unsigned char>(text[pos]), 2);
            ++pos;
            continue;
        }
        const char32_t cp = step.code_point;
        switch (cp) {
        case U'"': out += "\\\""; break;
        case U'\\': out += "\\\\"; break;
        case U'\n': out += "\\n"; break;
        case U'\r': out += "\\r"; break;
        case U'\t': out += "\\t"; break;
        default:
            if (cp < 0x20 || cp == 0x7F) {
                out += "\\x";
                append_hex(out, static_cast<std::uint32_t>(cp), 2);
            } else if (cp >= 0x80 && cp <= 0x9F) {
                out += "\\u";
                append_hex(out, static_cast<std::uint32_t>(cp), 4);
            } else {
                out.append(text.substr(pos, step.length));
            }
        }
        pos += step.length;
    }
    return out;
}

/// escape_for_message() between double quotes.
inline std::string quote_for_message(std::string_view text, std::size_t max_bytes = 200)
{
    return '"' + escape_for_message(text, max_bytes) + '"';
}

/// A JSON kind as a noun phrase for messages: "an object", "an array", "a string",
/// "a number", "a boolean", "null".
inline const char* kind_phrase(boost::json::kind k) noexcept
{
    switch (k) {
    case boost::json::kind::object: return "an object";
    case boost::json::kind::array: return "an array";
    case boost::json::kind::string: return "a string";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_: return "a number";
    case boost::json::kind::bool_: return "a boolean";
    case boost::json::kind::null: return "null";
    }
    return "an unknown value";
}

/// Converts decimal number text that is already known to be well formed (optional '-',
/// digits with an optional '.', optional exponent; no '+' sign, no inf/nan) to the
/// correctly rounded double, like Python's float(). Values too small for a double become
/// a signed zero (as in Python); values too large give nullopt, since Python would make
/// them infinite and an infinity cannot be stored.
inline std::optional<double> decimal_to_double(std::string_view text)
{
    double value = 0.0;
    const auto [ptr, ec] =
        std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::general);
    if (ec == std::errc() && ptr == text.data() + text.size()) {
        if (!std::isfinite(value)) {
            return std::nullopt;
        }
        return value;
    }
    if (ec != std::errc::result_out_of_range) {
        return std::nullopt;
    }
    // from_chars leaves the value alone when out of range; decide between overflow and
    // underflow from the decimal magnitude: the position of the first significant digit
    // relative to the decimal point, plus the exponent.
    const bool negative = !text.empty() && text.front() == '-';
    long long magnitude = 0;
    bool seen_point = false;
    bool seen_significant = false;
    std::size_t i = negative ? 1 : 0;
    for (; i < text.size() && text[i] != 'e' && text[i] != 'E'; ++i) {
        const char c = text[i];
        if (c == '.') {
            seen_point = true;
        } else if (!seen_significant && c == '0') {
            if (seen_point) {
                --magnitude;
            }
        } else {
            if (!seen_point) {
                ++magnitude;
            }
            seen_significant = true;
        }
    }
    long long exponent = 0;
    if (i < text.size()) {
        ++i;
        bool exponent_negative = false;
        if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
            exponent_negative = text[i] == '-';
            ++i;
        }
        for (; i < text.size(); ++i) {
            // Saturate: anything beyond a few thousand is out of range either way.
            if (exponent < 1'000'000'000) {
                exponent = exponent * 10 + (text[i] - '0');
            }
        }
        if (exponent_negative) {
            exponent = -exponent;
        }
    }
    if (magnitude + exponent > 0) {
        return std::nullopt; // overflow
    }
    return negative ? -0.0 : 0.0;
}

} // namespace statestore::detail
