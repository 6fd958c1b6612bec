// Unit tests for deep_merge / merged: Meltano's merge(src, dest), rule for rule.
//
// Expected results come from CPython running a copy of meltano.core.utils.merge:
//   def merge(src, dest):
//       for k, v in src.items():
//           if isinstance(v, dict): merge(v, dest.setdefault(k, {}))
//           else: dest[k] = v
//       return dest
//   json.dumps(merge(json.loads(src), json.loads(dest)))
// Where Python raises TypeError, we throw invalid_document with the message shown.

#include "statestore/error.hpp"
#include "statestore/json_text.hpp"
#include "statestore/merge.hpp"

#include <boost/json.hpp>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "support/error_matchers.hpp"

#include <ostream>
#include <string>
#include <string_view>

using namespace std::string_view_literals;
namespace bdata = boost::unit_test::data;
namespace json = boost::json;

namespace {

using statestore::test::is_error;

struct merge_case {
    std::string_view source;
    std::string_view destination;
    std::string_view result;  // json.dumps of the merged destination, or the error message
    bool fails;
};
std::ostream& operator<<(std::ostream& os, const merge_case& c)
{
    return os << c.source << " onto " << c.destination;
}

const merge_case merge_cases[] = {
    // The table of spec section 5.3, row by row.
    {R"({"a": {"x": 1}})", R"({"a": {"y": 2}})", R"({"a": {"y": 2, "x": 1}})", false},
    {R"({"a": [1]})", R"({"a": [2, 3]})", R"({"a": [1]})", false},
    {R"({"a": null})", R"({"a": {"y": 2}})", R"({"a": null})", false},
    {R"({"a": 5})", R"({"a": {"y": 2}})", R"({"a": 5})", false},
    {R"({"a": {}})", R"({"a": 3})", R"({"a": 3})", false},
    {R"({"a": {"b": 1}})", R"({"a": 3})", "cannot merge an object into a number at key 'a'",
     true},
    {R"({"a": {"b": 1}})", R"({"a": [1]})", "cannot merge an object into an array at key 'a'",
     true},
    // Further cases.
    {R"({"a": {"b": 1}})", R"({"a": null})", "cannot merge an object into null at key 'a'",
     true},
    {R"({"a": {"b": {"c": 1}}})", R"({"a": {"b": "s"}})",
     "cannot merge an object into a string at key 'a.b'", true},
    {R"({"a": {"b": {"c": 1}}})", R"({"a": {"b": false}})",
     "cannot merge an object into a boolean at key 'a.b'", true},
    {R"({"z": 1, "a": {"n": 1}})", R"({"a": {"m": 0}, "b": 2})",
     R"({"a": {"m": 0, "n": 1}, "b": 2, "z": 1})", false},
    {R"({"new": {"x": {}}})", R"({"a": 1})", R"({"a": 1, "new": {"x": {}}})", false},
    {R"({"new": {}})", R"({})", R"({"new": {}})", false},
    {R"({})", R"({"a": 1})", R"({"a": 1})", false},
    {R"({"b": 1, "a": 2})", R"({"a": 0, "b": 0, "c": 0})", R"({"a": 2, "b": 1, "c": 0})", false},
    {R"({"a": {"b": true, "c": {"d": 1.5}}})", R"({"a": {"c": {"e": []}, "b": false}})",
     R"({"a": {"c": {"e": [], "d": 1.5}, "b": true}})", false},
    // Spec 5.5 golden vector: a merge-strategy run of stream_1 onto a full run.
    {R"({"singer_state": {"bookmarks": {)"
     R"("stream_1": {"created_at": "2024-01-01T00:00:00+00:00"}}}})",
     R"({"singer_state": {"bookmarks": {"stream_1": {"created_at": "2023-01-01T00:00:00+00:00"}, )"
     R"("stream_2": {"created_at": "2023-01-01T00:00:00+00:00"}, )"
     R"("stream_3": {"created_at": "2023-01-01T00:00:00+00:00"}}}})",
     R"({"singer_state": {"bookmarks": {"stream_1": {"created_at": "2024-01-01T00:00:00+00:00"}, )"
     R"("stream_2": {"created_at": "2023-01-01T00:00:00+00:00"}, )"
     R"("stream_3": {"created_at": "2023-01-01T00:00:00+00:00"}}}})",
     false},
};

} // namespace

BOOST_AUTO_TEST_SUITE(merge_tests)

BOOST_DATA_TEST_CASE(merge_matches_meltano, bdata::make(merge_cases), c)
{
    const json::value source = statestore::parse_json(c.source);
    const json::value destination = statestore::parse_json(c.destination);
    if (c.fails) {
        json::value target = destination;
        BOOST_CHECK_EXCEPTION(statestore::deep_merge(source, target), statestore::error,
                              is_error(statestore::errc::invalid_document, std::string(c.result)));
        BOOST_CHECK_EXCEPTION(statestore::merged(source, destination), statestore::error,
                              is_error(statestore::errc::invalid_document, std::string(c.result)));
        return;
    }
    json::value target = destination;
    statestore::deep_merge(source, target);
    BOOST_TEST(statestore::to_python_json(target) == c.result);

    const json::value copy = statestore::merged(source, destination);
    BOOST_TEST(statestore::to_python_json(copy) == c.result);
    // merged() leaves its inputs alone.
    BOOST_TEST(statestore::to_python_json(destination) ==
               statestore::to_python_json(statestore::parse_json(c.destination)));
}

BOOST_AUTO_TEST_CASE(destination_that_is_not_an_object)
{
    // A non-empty object cannot go into a scalar; an empty one leaves it as it is.
    json::value number = 3;
    BOOST_CHECK_EXCEPTION(
        statestore::deep_merge(json::object{{"a", 1}}, number), statestore::error,
        is_error(statestore::errc::invalid_document,
                 "cannot merge an object into a number at the top level"));
    BOOST_TEST(number.as_int64() == 3);

    json::value array = json::array{1, 2};
    statestore::deep_merge(json::object{}, array);
    BOOST_TEST(statestore::to_python_json(array) == "[1, 2]");
}

BOOST_AUTO_TEST_CASE(source_must_be_an_object)
{
    json::value destination = json::object{{"a", 1}};
    BOOST_CHECK_EXCEPTION(
        statestore::deep_merge(json::value(nullptr), destination), statestore::error,
        is_error(statestore::errc::invalid_document,
                 "cannot merge null into a state: the merge source must be an object"));
    BOOST_CHECK_EXCEPTION(
        statestore::deep_merge(json::array{1}, destination), statestore::error,
        is_error(statestore::errc::invalid_document,
                 "cannot merge an array into a state: the merge source must be an object"));
    BOOST_TEST(statestore::to_python_json(destination) == R"({"a": 1})");
}

BOOST_AUTO_TEST_CASE(clash_may_leave_destination_partly_updated)
{
    // Like Meltano's in-place merge: keys before the clash are already written. This is why
    // callers use merged() (or merge into a copy) and discard the result on error.
    json::value destination = statestore::parse_json(R"({"a": 0, "b": 3})");
    const json::value source = statestore::parse_json(R"({"a": 1, "b": {"x": 1}})");
    BOOST_CHECK_THROW(statestore::deep_merge(source, destination), statestore::error);
    BOOST_TEST(statestore::to_python_json(destination) == R"({"a": 1, "b": 3})");
}

BOOST_AUTO_TEST_CASE(merging_a_value_into_itself_changes_nothing)
{
    json::value v = statestore::parse_json(R"({"a": {"b": [1]}, "c": null})");
    statestore::deep_merge(v, v);
    BOOST_TEST(statestore::to_python_json(v) == R"({"a": {"b": [1]}, "c": null})");
}

BOOST_AUTO_TEST_CASE(key_path_in_message_is_escaped)
{
    json::value destination = statestore::parse_json(R"({"a\nb": {"c\"d": 1}})");
    const json::value source = statestore::parse_json(R"({"a\nb": {"c\"d": {"e": 1}}})");
    BOOST_CHECK_EXCEPTION(
        statestore::deep_merge(source, destination), statestore::error,
        is_error(statestore::errc::invalid_document,
                 R"(cannot merge an object into a number at key 'a\nb.c\"d')"));
}

BOOST_AUTO_TEST_SUITE_END()
