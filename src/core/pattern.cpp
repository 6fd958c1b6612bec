#include "core/pattern.hpp"

#include "core/text_util.hpp"

#include <cstddef>
#include <optional>
#include <vector>

namespace statestore {
namespace {

// Python's fnmatch.translate() turns a pattern into a regular expression; this file
// reproduces the meaning of that regular expression (including the quirks of how it
// builds character classes) and matches it without a regex engine.

using text = std::vector<char32_t>;

struct class_range {
    char32_t lo;
    char32_t hi;
};

struct token {
    enum class type { literal, any, star, char_class, never };
    type kind = type::literal;
    char32_t ch = 0;                  // type::literal
    bool negated = false;             // type::char_class
    std::vector<class_range> ranges;  // type::char_class (single characters are lo == hi)

    static token of(type kind, char32_t ch = 0)
    {
        token t;
        t.kind = kind;
        t.ch = ch;
        return t;
    }
};

// One element of the text translate() puts between '[' and ']': a literal character, or
// an unescaped '-' that translate() inserted between two chunks to form a range.
struct class_unit {
    char32_t ch;
    bool range_hyphen;
};

// Reads a class body the way Python's regex parser (sre_parse) reads "[...]": an element
// followed by an unescaped '-' and another element is a range; an unescaped '-' at the end
// is literal. Every element translate() produces is a plain literal, and translate() has
// already removed the ranges whose ends are out of order.
token parse_class(const std::vector<class_unit>& units, bool negated)
{
    token t;
    t.kind = token::type::char_class;
    t.negated = negated;
    std::size_t i = 0;
    while (i < units.size()) {
        const char32_t first = units[i].ch;
        ++i;
        if (i < units.size() && units[i].range_hyphen) {
            if (i + 1 >= units.size()) {
                t.ranges.push_back({first, first});
                t.ranges.push_back({U'-', U'-'});
                break;
            }
            const char32_t last = units[i + 1].ch;
            t.ranges.push_back({first, last});
            i += 2;
        } else {
            t.ranges.push_back({first, first});
        }
    }
    return t;
}

// The bracket expression whose body is pat[begin, end) (end is the closing ']'), following
// translate() step for step.
token translate_class(const text& pat, std::size_t begin, std::size_t end)
{
    std::vector<class_unit> units;
    bool has_hyphen = false;
    for (std::size_t k = begin; k < end; ++k) {
        has_hyphen = has_hyphen || pat[k] == U'-';
    }
    if (!has_hyphen) {
        for (std::size_t k = begin; k < end; ++k) {
            units.push_back({pat[k], false});
        }
    } else {
        // Split at the hyphens that form ranges. The search for the next one starts two
        // characters after the previous one, so "a-b-c" splits as "a" | "b-c": the second
        // hyphen is literal, as in a regex class.
        std::vector<text> chunks;
        std::size_t i = begin;
        std::size_t k = pat[begin] == U'!' ? begin + 2 : begin + 1;
        for (;;) {
            while (k < end && pat[k] != U'-') {
                ++k;
            }
            if (k >= end) {
                break;
            }
            chunks.emplace_back(pat.begin() + static_cast<std::ptrdiff_t>(i),
                                pat.begin() + static_cast<std::ptrdiff_t>(k));
            i = k + 1;
            k = k + 3;
        }
        if (i < end) {
            chunks.emplace_back(pat.begin() + static_cast<std::ptrdiff_t>(i),
                                pat.begin() + static_cast<std::ptrdiff_t>(end));
        } else {
            chunks.back().push_back(U'-'); // a trailing '-' is literal
        }
        // Remove empty ranges (x-y with x > y): both ends disappear, the chunks fuse.
        for (std::size_t c = chunks.size() - 1; c > 0; --c) {
            if (chunks[c - 1].back() > chunks[c].front()) {
                chunks[c - 1].pop_back();
                chunks[c - 1].insert(chunks[c - 1].end(), chunks[c].begin() + 1,
                                     chunks[c].end());
                chunks.erase(chunks.begin() + static_cast<std::ptrdiff_t>(c));
            }
        }
        for (std::size_t c = 0; c < chunks.size(); ++c) {
            if (c > 0) {
                units.push_back({U'-', true});
            }
            for (const char32_t ch : chunks[c]) {
                units.push_back({ch, false});
            }
        }
    }

    if (units.empty()) {
        return token::of(token::type::never);  // "(?!)"
    }
    const bool leading_bang = !units.front().range_hyphen && units.front().ch == U'!';
    if (leading_bang && units.size() == 1) {
        return token::of(token::type::any);  // "[!]" after fusing: any character
    }
    if (leading_bang) {
        units.erase(units.begin());  // '!' becomes the regex's '^'
        return parse_class(units, true);
    }
    return parse_class(units, false);
}

std::vector<token> compile(const text& pat)
{
    std::vector<token> tokens;
    const std::size_t n = pat.size();
    std::size_t i = 0;
    while (i < n) {
        const char32_t c = pat[i];
        ++i;
        if (c == U'*') {
            if (tokens.empty() || tokens.back().kind != token::type::star) {
                tokens.push_back(token::of(token::type::star));
            }
        } else if (c == U'?') {
            tokens.push_back(token::of(token::type::any));
        } else if (c == U'[') {
            std::size_t j = i;
            if (j < n && pat[j] == U'!') {
                ++j;
            }
            if (j < n && pat[j] == U']') {
                ++j;
            }
            while (j < n && pat[j] != U']') {
                ++j;
            }
            if (j >= n) {
                tokens.push_back(token::of(token::type::literal, U'['));  // unclosed: literal
            } else {
                tokens.push_back(translate_class(pat, i, j));
                i = j + 1;
            }
        } else {
            tokens.push_back(token::of(token::type::literal, c));
        }
    }
    return tokens;
}

bool matches_one(const token& t, char32_t c)
{
    switch (t.kind) {
    case token::type::literal: return t.ch == c;
    case token::type::any: return true;
    case token::type::never: return false;
    case token::type::star: return false;  // handled by the matcher
    case token::type::char_class:
        for (const class_range& r : t.ranges) {
            if (r.lo <= c && c <= r.hi) {
                return !t.negated;
            }
        }
        return t.negated;
    }
    return false;
}

// Every token but '*' consumes exactly one character, so the classic greedy scan with a
// single backtrack point (the most recent '*') is exact and runs in O(pattern * name)
// time, with no exponential blow-up on patterns such as "*a*a*a*a*b".
bool match(const std::vector<token>& tokens, const text& name)
{
    std::size_t p = 0;
    std::size_t s = 0;
    std::optional<std::size_t> star_token;
    std::size_t star_resume = 0;
    while (s < name.size()) {
        if (p < tokens.size() && tokens[p].kind == token::type::star) {
            star_token = p;
            star_resume = s;
            ++p;
            continue;
        }
        if (p < tokens.size() && matches_one(tokens[p], name[s])) {
            ++p;
            ++s;
            continue;
        }
        if (star_token) {
            // Let the last '*' swallow one more character and retry what follows it.
            p = *star_token + 1;
            s = ++star_resume;
            continue;
        }
        return false;
    }
    while (p < tokens.size() && tokens[p].kind == token::type::star) {
        ++p;
    }
    return p == tokens.size();
}

text bytes_as_text(std::string_view s)
{
    text out;
    out.reserve(s.size());
    for (const char c : s) {
        out.push_back(static_cast<unsigned char>(c));
    }
    return out;
}

} // namespace

bool fnmatch_full(std::string_view pattern, std::string_view name)
{
    auto pat = detail::decode_utf8(pattern);
    auto str = detail::decode_utf8(name);
    if (!pat || !str) {
        // Not text Python could hold; compare byte by byte rather than refuse.
        return match(compile(bytes_as_text(pattern)), bytes_as_text(name));
    }
    return match(compile(*pat), *str);
}

std::optional<std::string> like_superset(std::string_view pattern)
{
    const auto pat = detail::decode_utf8(pattern);
    if (pattern.empty() || !pat)
        return std::string("%");
    std::string like;
    const auto append_code_point = [&like](char32_t cp) {
        if (cp < 0x80) {
            like += static_cast<char>(cp);
        } else if (cp < 0x800) {
            like += static_cast<char>(0xC0 | (cp >> 6));
            like += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            like += static_cast<char>(0xE0 | (cp >> 12));
            like += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            like += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            like += static_cast<char>(0xF0 | (cp >> 18));
            like += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            like += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            like += static_cast<char>(0x80 | (cp & 0x3F));
        }
    };
    for (const token& t : compile(*pat)) {
        switch (t.kind) {
        case token::type::star:
            like += '%';
            break;
        case token::type::any:
        case token::type::char_class:
            like += '_';
            break;
        case token::type::never:
            return std::nullopt;
        case token::type::literal:
            if (t.ch == U'%' || t.ch == U'_' || t.ch == U'\\')
                like += '\\';
            append_code_point(t.ch);
            break;
        }
    }
    return like;
}

} // namespace statestore
