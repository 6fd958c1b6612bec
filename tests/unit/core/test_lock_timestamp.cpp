// Unit tests for the lock content: Meltano writes str(datetime.timestamp()) and reads it
// back with float(); expected values come from CPython 3.11.

#include "core/lock_timestamp.hpp"

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <bit>
#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

using namespace std::string_view_literals;
namespace bdata = boost::unit_test::data;
using std::chrono::system_clock;

namespace {

system_clock::time_point at_microseconds(std::int64_t us)
{
    return system_clock::time_point(
        std::chrono::duration_cast<system_clock::duration>(std::chrono::microseconds(us)));
}

struct format_case {
    std::int64_t microseconds;
    std::string_view text;
};
std::ostream& operator<<(std::ostream& os, const format_case& c) { return os << c.text; }

// Spec 7.2: 1732535622 s (2024-11-25T11:53:42Z) plus a number of microseconds.
const format_case spec_table[] = {
    {1732535622'000000LL, "1732535622.0"sv},
    {1732535622'120000LL, "1732535622.12"sv},
    {1732535622'337096LL, "1732535622.337096"sv},
    {1732535622'000001LL, "1732535622.000001"sv},
    {1732535622'000100LL, "1732535622.0001"sv},
};

// python3: random.seed(42); us = random.randint(0, 4102444800 * 10**6); repr(us / 10**6)
// (which is what datetime.timestamp() gives), plus a few times before 1970.
const format_case python_table[] = {
    {501392933484957LL, "501392933.484957"sv},   {3339646417705681LL, "3339646417.705681"sv},
    {1102892948279895LL, "1102892948.279895"sv}, {628423393564382LL, "628423393.564382"sv},
    {461596183322793LL, "461596183.322793"sv},   {3335672076971373LL, "3335672076.971373"sv},
    {2456115239838032LL, "2456115239.838032"sv}, {2659341043867522LL, "2659341043.867522"sv},
    {143135892246937LL, "143135892.246937"sv},   {421963484940910LL, "421963484.94091"sv},
    {1047809750509707LL, "1047809750.509707"sv}, {2711251815691985LL, "2711251815.691985"sv},
    {2527622727405491LL, "2527622727.405491"sv}, {3224662299837993LL, "3224662299.837993"sv},
    {3158487380972425LL, "3158487380.972425"sv}, {1889349864081654LL, "1889349864.081654"sv},
    {2023055097252832LL, "2023055097.252832"sv}, {1252861670989228LL, "1252861670.989228"sv},
    {3914982130898315LL, "3914982130.898315"sv}, {3417363771418399LL, "3417363771.418399"sv},
    {-1500000LL, "-1.5"sv},
    {-1000000LL, "-1.0"sv},
    {-123456789LL, "-123.456789"sv},
};

struct parse_case {
    std::string_view text;
    std::optional<double> value;
};
std::ostream& operator<<(std::ostream& os, const parse_case& c) { return os << c.text; }

// python3: float(t), with None for ValueError and for non-finite results.
const parse_case parse_table[] = {
    {"1732535622.12"sv, 1732535622.12},
    {" 1732535622.12\n"sv, 1732535622.12},
    {"\t+1.5e3 \r\v\f"sv, 1500.0},
    {"-0"sv, -0.0},
    {"-0.0"sv, -0.0},
    {"1_000.5"sv, 1000.5},
    {"1e1_0"sv, 10000000000.0},
    {".5"sv, 0.5},
    {"5."sv, 5.0},
    {"1E5"sv, 100000.0},
    {"1e-400"sv, 0.0},
    {"-1e-400"sv, -0.0},
    {"0001.50"sv, 1.5},
    {"1732535622"sv, 1732535622.0},
    {"1732535622.337096"sv, 1732535622.337096},
    {""sv, std::nullopt},
    {" "sv, std::nullopt},
    {"abc"sv, std::nullopt},
    {"1.2.3"sv, std::nullopt},
    {"0x10"sv, std::nullopt},
    {"1.5x"sv, std::nullopt},
    {"inf"sv, std::nullopt},
    {"-inf"sv, std::nullopt},
    {"nan"sv, std::nullopt},
    {"Infinity"sv, std::nullopt},
    {"+nan"sv, std::nullopt},
    {"1e400"sv, std::nullopt},
    {"1__0"sv, std::nullopt},
    {"_1"sv, std::nullopt},
    {"1_"sv, std::nullopt},
    {"1_.5"sv, std::nullopt},
    {"1._5"sv, std::nullopt},
    {"."sv, std::nullopt},
    {"e5"sv, std::nullopt},
    {"1e"sv, std::nullopt},
    {"1e+"sv, std::nullopt},
    {"+-1"sv, std::nullopt},
    {"1 2"sv, std::nullopt},
    {"1,5"sv, std::nullopt},
    {"--1"sv, std::nullopt},
    {"1e_5"sv, std::nullopt},
    {"0b1"sv, std::nullopt},
};

} // namespace

BOOST_AUTO_TEST_SUITE(lock_timestamp_tests)

BOOST_DATA_TEST_CASE(format_spec_7_2_table, bdata::make(spec_table), c)
{
    BOOST_TEST(statestore::format_lock_timestamp(at_microseconds(c.microseconds)) == c.text);
}

BOOST_DATA_TEST_CASE(format_matches_python_timestamp_repr, bdata::make(python_table), c)
{
    BOOST_TEST(statestore::format_lock_timestamp(at_microseconds(c.microseconds)) == c.text);
}

BOOST_AUTO_TEST_CASE(format_truncates_below_a_microsecond)
{
    using namespace std::chrono;
    const system_clock::time_point t =
        system_clock::time_point(duration_cast<system_clock::duration>(seconds(1732535622))) +
        duration_cast<system_clock::duration>(nanoseconds(999'999'999));
    BOOST_TEST(statestore::format_lock_timestamp(t) == "1732535622.999999");
    BOOST_TEST(statestore::to_epoch_seconds(t) == 1732535622.999999);
}

BOOST_AUTO_TEST_CASE(format_near_and_before_the_epoch)
{
    BOOST_TEST(statestore::format_lock_timestamp(system_clock::time_point{}) == "0.0");
    // Always "<seconds>.<digits>", even where Python's repr would switch to "-1e-06".
    BOOST_TEST(statestore::format_lock_timestamp(at_microseconds(-1)) == "-0.000001");
    BOOST_TEST(statestore::format_lock_timestamp(at_microseconds(1)) == "0.000001");
    // Less than a microsecond before the epoch truncates to zero, without a sign.
    const auto just_before = system_clock::time_point{} -
                             std::chrono::duration_cast<system_clock::duration>(
                                 std::chrono::nanoseconds(500));
    BOOST_TEST(statestore::format_lock_timestamp(just_before) == "0.0");
    // The extremes of the clock do not crash or overflow.
    BOOST_TEST(!statestore::format_lock_timestamp(system_clock::time_point::min()).empty());
    BOOST_TEST(!statestore::format_lock_timestamp(system_clock::time_point::max()).empty());
}

BOOST_DATA_TEST_CASE(parse_like_python_float, bdata::make(parse_table), c)
{
    const std::optional<double> got = statestore::parse_lock_timestamp(c.text);
    BOOST_TEST(got.has_value() == c.value.has_value());
    if (got && c.value) {
        // Bit comparison, so -0.0 and 0.0 are told apart.
        BOOST_TEST(std::bit_cast<std::uint64_t>(*got) == std::bit_cast<std::uint64_t>(*c.value));
    }
}

BOOST_AUTO_TEST_CASE(format_then_parse_round_trips)
{
    for (const format_case& c : python_table) {
        const system_clock::time_point t = at_microseconds(c.microseconds);
        const std::optional<double> parsed =
            statestore::parse_lock_timestamp(statestore::format_lock_timestamp(t));
        BOOST_REQUIRE(parsed.has_value());
        BOOST_TEST(*parsed == statestore::to_epoch_seconds(t));
    }
}

BOOST_AUTO_TEST_CASE(to_epoch_seconds_values)
{
    BOOST_TEST(statestore::to_epoch_seconds(at_microseconds(1732535622'120000LL)) ==
               1732535622.12);
    BOOST_TEST(statestore::to_epoch_seconds(system_clock::time_point{}) == 0.0);
    BOOST_TEST(statestore::to_epoch_seconds(at_microseconds(-1500000)) == -1.5);
}

BOOST_AUTO_TEST_CASE(spec_12_staleness_vector)
{
    // A lock written at 2024-11-25T11:53:42.120000Z with the default 10 s timeout.
    const double locked_at = *statestore::parse_lock_timestamp("1732535622.12");
    const double now_equal = *statestore::parse_lock_timestamp("1732535632.12");
    const double now_later = *statestore::parse_lock_timestamp("1732535632.13");
    BOOST_TEST(!statestore::lock_is_stale(locked_at, now_equal, 10));
    BOOST_TEST(statestore::lock_is_stale(locked_at, now_later, 10));
    BOOST_TEST(!statestore::lock_is_stale(locked_at, locked_at, 10));
    BOOST_TEST(!statestore::lock_is_stale(locked_at, 1732535622.0, 10));  // clock behind
    BOOST_TEST(statestore::lock_is_stale(locked_at, 1732535632.2, 10));
}

BOOST_AUTO_TEST_SUITE_END()
