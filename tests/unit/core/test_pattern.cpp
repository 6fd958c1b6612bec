// Unit tests for fnmatch_full: Python's fnmatch.fnmatchcase, including its bracket quirks.
//
// The truth table is CPython 3.11's answer:
//   python3: fnmatch.fnmatchcase(name, pattern) for each (pattern, name)

#include "core/pattern.hpp"

#include <sqlite3.h>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <ostream>
#include <string>
#include <string_view>

using namespace std::string_view_literals;
namespace bdata = boost::unit_test::data;

namespace {

struct match_case {
    std::string_view pattern;
    std::string_view name;
    bool matches;
};
std::ostream& operator<<(std::ostream& os, const match_case& c)
{
    return os << "pattern \"" << c.pattern << "\", name \"" << c.name << '"';
}

const match_case python_truth_table[] = {
    {"*"sv, "dev:tap-x-to-target-y"sv, true},
    {"*"sv, ""sv, true},
    {"*"sv, ".hidden"sv, true},
    {"*"sv, "a/b"sv, true},
    {"*"sv, "a\nb"sv, true},
    {""sv, ""sv, true},
    {""sv, "a"sv, false},
    {"dev:*"sv, "dev:tap-x-to-target-y"sv, true},
    {"dev:*"sv, "prod:tap-github-to-target-jsonl"sv, false},
    {"dev:*"sv, "dev:"sv, true},
    {"*:tap-x-*"sv, "dev:tap-x-to-target-y:suffix"sv, true},
    {"*target-y"sv, "dev:tap-x-to-target-y"sv, true},
    {"*target-y"sv, "dev:tap-x-to-target-y:suffix"sv, false},
    {"dev"sv, "dev:tap-x-to-target-y"sv, false},
    {"dev:tap-x-to-target-y"sv, "dev:tap-x-to-target-y"sv, true},
    {"DEV:*"sv, "dev:tap-x-to-target-y"sv, false},
    {"*:*:*"sv, "dev:tap-x-to-target-y:suffix"sv, true},
    {"*:*:*"sv, "dev:tap-x-to-target-y"sv, false},
    {"?"sv, "a"sv, true},
    {"?"sv, ""sv, false},
    {"?"sv, "\303\251"sv, true},
    {"?"sv, "\346\227\245"sv, true},
    {"??"sv, "\346\227\245\346\234\254"sv, true},
    {"?"sv, "\360\237\230\200"sv, true},
    {"a?c"sv, "a/c"sv, true},
    {"a?c"sv, "abbc"sv, false},
    {"[abc]"sv, "b"sv, true},
    {"[abc]"sv, "d"sv, false},
    {"[!abc]"sv, "d"sv, true},
    {"[!abc]"sv, "a"sv, false},
    {"[a-z]*"sv, "dev"sv, true},
    {"[a-z]*"sv, "Dev"sv, false},
    {"[]]"sv, "]"sv, true},
    {"[]a]"sv, "a"sv, true},
    {"[!]]"sv, "]"sv, false},
    {"[!]]"sv, "x"sv, true},
    {"["sv, "["sv, true},
    {"[a"sv, "[a"sv, true},
    {"a["sv, "a["sv, true},
    {"[]"sv, "[]"sv, true},
    {"[!]"sv, "[!]"sv, true},
    {"[a-]"sv, "-"sv, true},
    {"[-a]"sv, "-"sv, true},
    {"[z-a]"sv, "z"sv, false},
    {"[z-a]"sv, "-"sv, false},
    {"[!z-a]"sv, "q"sv, true},
    {"[a-c-e]"sv, "-"sv, true},
    {"[a-c-e]"sv, "d"sv, false},
    {"[\303\251-\303\253]"sv, "\303\252"sv, true},
    {"[!\303\251]"sv, "e"sv, true},
    {R"~(\*)~"sv, R"~(\x)~"sv, true},
    {R"~(\*)~"sv, "*"sv, false},
    {R"~(a\?)~"sv, R"~(a\b)~"sv, true},
    {"*.json"sv, "state.json"sv, true},
    {"*.json"sv, "statexjson"sv, false},
    {"*a*a*a*a*b"sv, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"sv, false},
    {"*a*a*a*a*b"sv, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"sv, true},
    {"**x**"sv, "x"sv, true},
    {"*?"sv, ""sv, false},
    {"*?"sv, "a"sv, true},
    {"[!a-z]*"sv, ".hidden"sv, true},
    {".*"sv, ".hidden"sv, true},
    {"*\303\251*"sv, "\303\251tat"sv, true},
    {"\303\251*"sv, "etat"sv, false},
    {"[[]"sv, "["sv, true},
    {"[^a]"sv, "^"sv, true},
    {"[^a]"sv, "b"sv, false},
    {"[b-a!x]"sv, "!"sv, true},
    {"[b-a!x]"sv, "y"sv, true},
    {"[a-b-c]"sv, "-"sv, true},
    {"[a-b-c]"sv, "c"sv, true},
    {"[a--z]"sv, "z"sv, true},
    {"[a--z]"sv, "-"sv, false},
};

} // namespace

BOOST_AUTO_TEST_SUITE(pattern_tests)

BOOST_DATA_TEST_CASE(matches_python_fnmatchcase, bdata::make(python_truth_table), c)
{
    BOOST_TEST(statestore::fnmatch_full(c.pattern, c.name) == c.matches);
}

BOOST_AUTO_TEST_CASE(no_exponential_backtracking)
{
    // A naive recursive matcher takes ages here; ours is O(pattern * name).
    std::string pattern;
    for (int i = 0; i < 20; ++i) {
        pattern += "*a";
    }
    pattern += "*b";
    const std::string name(20000, 'a');
    BOOST_TEST(!statestore::fnmatch_full(pattern, name));
    BOOST_TEST(statestore::fnmatch_full(pattern, name + "b"));
}

BOOST_AUTO_TEST_CASE(invalid_utf8_falls_back_to_bytes)
{
    // "\303\251" is one code point in UTF-8 text; with a stray byte the whole name is
    // compared byte by byte, so it is three "characters".
    BOOST_TEST(statestore::fnmatch_full("?", "\303\251"));
    BOOST_TEST(!statestore::fnmatch_full("?", "\303\251\377"));
    BOOST_TEST(statestore::fnmatch_full("???", "\303\251\377"));
    BOOST_TEST(statestore::fnmatch_full("a*", "a\377"));
    BOOST_TEST(statestore::fnmatch_full("[\377]", "\377"));
    BOOST_TEST(!statestore::fnmatch_full("[\377]", "\376"));
}

BOOST_AUTO_TEST_CASE(case_sensitive)
{
    BOOST_TEST(!statestore::fnmatch_full("dev:*", "DEV:tap"));
    BOOST_TEST(!statestore::fnmatch_full("\303\211*", "\303\251t\303\251"));  // É* vs été
}

BOOST_AUTO_TEST_SUITE_END()

// like_superset: the SQL LIKE prefilter of the system-database backends. Every name fnmatch
// matches must match the LIKE pattern (SQLite's LIKE here: a real engine; its ASCII case
// folding only widens the superset), and the translation itself is checked where it matters.
BOOST_DATA_TEST_CASE(like_superset_keeps_every_fnmatch_match, bdata::make(python_truth_table), c)
{
    const auto like = statestore::like_superset(c.pattern);
    if (!like) {
        BOOST_TEST(!c.matches, "nullopt only for a pattern that matches nothing");
        return;
    }
    if (!c.matches)
        return;
    sqlite3* db = nullptr;
    BOOST_REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    BOOST_REQUIRE(sqlite3_prepare_v2(db, "SELECT ?1 LIKE ?2 ESCAPE '\\'", -1, &st, nullptr) ==
                  SQLITE_OK);
    sqlite3_bind_text(st, 1, c.name.data(), static_cast<int>(c.name.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, like->data(), static_cast<int>(like->size()), SQLITE_TRANSIENT);
    BOOST_REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    BOOST_TEST(sqlite3_column_int(st, 0) == 1, "LIKE " << *like);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

BOOST_AUTO_TEST_CASE(like_superset_translation)
{
    using statestore::like_superset;
    BOOST_TEST(*like_superset("") == "%");
    BOOST_TEST(*like_superset("*") == "%");
    BOOST_TEST(*like_superset("dev:*") == "dev:%");
    BOOST_TEST(*like_superset("a_b%c") == "a\\_b\\%c");       // literal, escaped
    BOOST_TEST(*like_superset("a\\b") == "a\\\\b");           // a backslash, escaped
    BOOST_TEST(*like_superset("a?[xyz][!_]**z") == "a___%z"); // one char each; ** is one %
    BOOST_TEST(*like_superset("[unclosed") == "[unclosed");   // a literal '['
    BOOST_TEST(*like_superset("\xc3\xa9t\xc3\xa9?") == "\xc3\xa9t\xc3\xa9_");
    BOOST_TEST(*like_superset("bad\xff*") == "%");    // not UTF-8: fnmatch_full alone decides
    BOOST_TEST(!like_superset("a[z-a]").has_value()); // an emptied set matches nothing
}
