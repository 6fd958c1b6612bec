// Unit tests for state id validation: Meltano's ids and ordinary text pass; anything that
// could escape or confuse a path or key layout is refused with a safely quoted message.

#include "statestore/error.hpp"
#include "statestore/state_id.hpp"

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <ostream>
#include <string>
#include <string_view>

using namespace std::string_view_literals;
namespace bdata = boost::unit_test::data;

namespace {

struct id_case {
    std::string_view id;
    std::string_view message;
};
std::ostream& operator<<(std::ostream& os, const id_case& c) { return os << c.message; }

const std::string_view accepted[] = {
    "dev:tap-github-to-target-jsonl"sv,
    "dev:tap-x-to-target-y:suffix"sv,
    "dev:tap-mock-to-target-mock:suffix"sv,
    "\303\251tat \303\251t\303\251"sv,     // "état été"
    "a b"sv,
    "\346\227\245\346\234\254"sv,          // "日本"
    "\360\237\230\200 emoji"sv,            // U+1F600
    "\302\240nbsp"sv,                      // U+00A0, just above the C1 range
    ".hidden"sv,
    "a..b"sv,
    "..."sv,
    "a."sv,
    "~user"sv,
    "C:"sv,
    "x"sv,
};

const id_case refused[] = {
    {""sv, R"(state id "" is invalid: it is empty)"sv},
    {"."sv, R"(state id "." is invalid: "." and ".." are not allowed)"sv},
    {".."sv, R"(state id ".." is invalid: "." and ".." are not allowed)"sv},
    {"a/b"sv, R"(state id "a/b" is invalid: it contains '/')"sv},
    {"/.."sv, R"(state id "/.." is invalid: it contains '/')"sv},
    {"../x"sv, R"(state id "../x" is invalid: it contains '/')"sv},
    {"a\\b"sv, R"(state id "a\\b" is invalid: it contains '\')"sv},
    {"a\0b"sv, R"(state id "a\x00b" is invalid: it contains a NUL character)"sv},
    {"a\nb"sv, R"(state id "a\nb" is invalid: it contains the control character U+000A)"sv},
    {"tab\t"sv, R"(state id "tab\t" is invalid: it contains the control character U+0009)"sv},
    {"\033[31mred"sv,
     R"(state id "\x1b[31mred" is invalid: it contains the control character U+001B)"sv},
    {"\037"sv, R"(state id "\x1f" is invalid: it contains the control character U+001F)"sv},
    {"del\177"sv, R"(state id "del\x7f" is invalid: it contains the control character U+007F)"sv},
    {"nel\302\205"sv,
     R"(state id "nel\u0085" is invalid: it contains the control character U+0085)"sv},
    {"\302\200"sv, R"(state id "\u0080" is invalid: it contains the control character U+0080)"sv},
    {"\302\237"sv, R"(state id "\u009f" is invalid: it contains the control character U+009F)"sv},
    // Not UTF-8: a stray byte, an overlong '/', an encoded surrogate, a truncated sequence.
    {"a\377b"sv, R"(state id "a\xffb" is invalid: it is not valid UTF-8)"sv},
    {"\300\257"sv, R"(state id "\xc0\xaf" is invalid: it is not valid UTF-8)"sv},
    {"\355\240\200"sv, R"(state id "\xed\xa0\x80" is invalid: it is not valid UTF-8)"sv},
    {"\346\227"sv, R"(state id "\xe6\x97" is invalid: it is not valid UTF-8)"sv},
    // A quote in a refused id is escaped too, so the quoting stays unambiguous.
    {"say \"hi\"/x"sv, R"(state id "say \"hi\"/x" is invalid: it contains '/')"sv},
};

} // namespace

BOOST_AUTO_TEST_SUITE(state_id_tests)

BOOST_DATA_TEST_CASE(accepted_ids, bdata::make(accepted), id)
{
    BOOST_TEST(!statestore::state_id_problem(id).has_value());
    BOOST_CHECK_NO_THROW(statestore::validate_state_id(id));
}

BOOST_DATA_TEST_CASE(refused_ids, bdata::make(refused), c)
{
    const auto problem = statestore::state_id_problem(c.id);
    BOOST_REQUIRE(problem.has_value());
    BOOST_TEST(*problem == c.message);
    try {
        statestore::validate_state_id(c.id);
        BOOST_ERROR("validate_state_id accepted a refused id");
    } catch (const statestore::error& e) {
        BOOST_TEST(static_cast<int>(e.value()) ==
                   static_cast<int>(statestore::errc::invalid_state_id));
        BOOST_TEST(std::string_view(e.what()) == c.message);
    }
}

BOOST_AUTO_TEST_CASE(length_limit_is_900_bytes)
{
    BOOST_TEST(statestore::max_state_id_bytes == 900u);
    BOOST_TEST(!statestore::state_id_problem(std::string(900, 'a')).has_value());
    // 450 two-byte characters are exactly 900 bytes.
    std::string e_acute;
    for (int i = 0; i < 450; ++i) {
        e_acute += "\303\251";
    }
    BOOST_TEST(!statestore::state_id_problem(e_acute).has_value());

    // The message shows the first 80 bytes only.
    BOOST_TEST(*statestore::state_id_problem(std::string(901, 'a')) ==
               "state id \"" + std::string(80, 'a') +
                   "...\" is invalid: it is 901 bytes long, more than 900");
    BOOST_TEST(*statestore::state_id_problem(e_acute + "x") ==
               "state id \"" + e_acute.substr(0, 80) +
                   "...\" is invalid: it is 901 bytes long, more than 900");
}

BOOST_AUTO_TEST_SUITE_END()
