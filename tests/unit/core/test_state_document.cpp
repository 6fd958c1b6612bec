// Unit tests for state_document: Meltano's MeltanoState parsing, bytes, and update rule.
//
// Expected documents are json.dumps({"completed": c, "partial": p}) from CPython, and the
// vectors of spec sections 5.4, 5.5 and 12 (Meltano's own integration tests).

#include "statestore/error.hpp"
#include "statestore/json_text.hpp"
#include "statestore/state_document.hpp"

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
using statestore::json_style;
using statestore::apply_update;
using statestore::state_document;

namespace {

using statestore::test::is_error;

json::value js(std::string_view text) { return statestore::parse_json(text); }

// What `meltano state set` (a complete write) and `meltano state merge` (a partial write)
// hand to update(), from payload text.
state_document set_of(std::string_view payload) { return state_document::complete(js(payload)); }
state_document merge_of(std::string_view payload)
{
    return state_document::incomplete(js(payload));
}

std::string effective_compact(const state_document& doc)
{
    return statestore::to_python_json(doc.effective(), json_style::compact);
}

struct text_case {
    std::string_view input;
    std::string_view expected;
};
std::ostream& operator<<(std::ostream& os, const text_case& c) { return os << c.input; }

// Stored text -> the bytes Meltano would write back after reading it
// (MeltanoState.from_json(t).json()).
const text_case reserialize_cases[] = {
    {R"({"completed": {"a": 1}, "partial": {}})", R"({"completed": {"a": 1}, "partial": {}})"},
    {R"({"completed": {"a": 1}})", R"({"completed": {"a": 1}, "partial": {}})"},
    {R"({"partial": {"p": [1, 2]}})", R"({"completed": {}, "partial": {"p": [1, 2]}})"},
    {R"({})", R"({"completed": {}, "partial": {}})"},
    {R"({"completed": null, "partial": {"x": 1}})", R"({"completed": null, "partial": {"x": 1}})"},
    {R"({"completed": {}, "partial": null})", R"({"completed": {}, "partial": null})"},
    // Other top-level keys are dropped and the order is always completed, partial.
    {R"({"partial": {"p": 1}, "extra": 5, "completed": {"c": 1}})",
     R"({"completed": {"c": 1}, "partial": {"p": 1}})"},
    // Compact, non-ASCII input comes back in json.dumps spelling.
    {"{\"completed\":{\"singer_state\":{\"\303\251t\303\251\":1.0,\"n\":1e21}},\"partial\":{}}",
     R"({"completed": {"singer_state": {"\u00e9t\u00e9": 1.0, "n": 1e+21}}, "partial": {}})"},
};

const text_case parse_errors[] = {
    {"[]", "state document must be a JSON object, got an array"},
    {R"("x")", "state document must be a JSON object, got a string"},
    {"null", "state document must be a JSON object, got null"},
    {"1.5", "state document must be a JSON object, got a number"},
    {R"({"completed": []})",
     R"(the "completed" half of a state document must be an object or null, got an array)"},
    {R"({"completed": {}, "partial": 5})",
     R"(the "partial" half of a state document must be an object or null, got a number)"},
    {R"({"partial": "x"})",
     R"(the "partial" half of a state document must be an object or null, got a string)"},
    {R"({"completed": {})", "invalid JSON at line 1, column 17: unexpected end of input"},
};

const std::string_view golden_full_run =
    R"({"singer_state": {"bookmarks": {"stream_1": {"created_at": "2023-01-01T00:00:00+00:00"}, )"
    R"("stream_2": {"created_at": "2023-01-01T00:00:00+00:00"}, )"
    R"("stream_3": {"created_at": "2023-01-01T00:00:00+00:00"}}}})";
const std::string_view golden_stream_1_only =
    R"({"singer_state": {"bookmarks": {"stream_1": {"created_at": "2024-01-01T00:00:00+00:00"}}}})";

} // namespace

BOOST_AUTO_TEST_SUITE(state_document_tests)

BOOST_DATA_TEST_CASE(parse_then_serialize_like_meltano, bdata::make(reserialize_cases), c)
{
    BOOST_TEST(state_document::parse(c.input).serialize() == c.expected);
}

BOOST_DATA_TEST_CASE(parse_refuses_what_meltano_cannot_use, bdata::make(parse_errors), c)
{
    BOOST_CHECK_EXCEPTION(state_document::parse(c.input), statestore::error,
                          is_error(statestore::errc::invalid_document, std::string(c.expected)));
}

BOOST_AUTO_TEST_CASE(parse_keeps_null_halves_as_null)
{
    const state_document doc = state_document::parse(R"({"completed": null, "partial": null})");
    BOOST_TEST(doc.completed.is_null());
    BOOST_TEST(doc.partial.is_null());
    BOOST_TEST(!doc.is_complete());
    BOOST_TEST(effective_compact(doc) == "{}");
}

BOOST_AUTO_TEST_CASE(default_document_is_two_empty_objects)
{
    const state_document doc;
    BOOST_TEST(doc.serialize() == R"({"completed": {}, "partial": {}})");
    BOOST_TEST(!doc.is_complete());
}

BOOST_AUTO_TEST_CASE(is_complete_needs_a_non_empty_completed_object)
{
    BOOST_TEST(state_document::parse(R"({"completed": {"a": 1}})").is_complete());
    BOOST_TEST(!state_document::parse(R"({"completed": {}, "partial": {"a": 1}})").is_complete());
    BOOST_TEST(!state_document::parse(R"({"completed": null})").is_complete());
    BOOST_TEST(set_of(R"({"singer_state": {}})").is_complete());
    BOOST_TEST(!set_of("{}").is_complete());
    BOOST_TEST(!merge_of(R"({"a": 1})").is_complete());
}

BOOST_AUTO_TEST_CASE(complete_and_incomplete_payloads)
{
    const json::value payload = js(R"({"singer_state": {"bookmark-1": 0}})");
    BOOST_TEST(state_document::complete(payload).serialize() ==
               R"({"completed": {"singer_state": {"bookmark-1": 0}}, "partial": {}})");
    BOOST_TEST(state_document::incomplete(payload).serialize() ==
               R"({"completed": {}, "partial": {"singer_state": {"bookmark-1": 0}}})");
    BOOST_CHECK_EXCEPTION(state_document::complete(json::array{1}), statestore::error,
                          is_error(statestore::errc::invalid_document,
                                   "a state payload must be a JSON object, got an array"));
    BOOST_CHECK_EXCEPTION(state_document::incomplete(json::value("s")), statestore::error,
                          is_error(statestore::errc::invalid_document,
                                   "a state payload must be a JSON object, got a string"));
}

BOOST_AUTO_TEST_CASE(effective_state_is_partial_over_completed)
{
    const state_document doc = state_document::parse(
        R"({"completed": {"singer_state": {"a": 1, "b": {"x": 1}}}, )"
        R"("partial": {"singer_state": {"b": {"y": 2}, "a": 5, "c": [1]}}})");
    BOOST_TEST(effective_compact(doc) == R"({"singer_state":{"a":5,"b":{"x":1,"y":2},"c":[1]}})");
    // The halves themselves are untouched.
    BOOST_TEST(doc.serialize() ==
               R"({"completed": {"singer_state": {"a": 1, "b": {"x": 1}}}, )"
               R"("partial": {"singer_state": {"b": {"y": 2}, "a": 5, "c": [1]}}})");
}

BOOST_AUTO_TEST_CASE(effective_state_type_clash_throws)
{
    const state_document doc =
        state_document::parse(R"({"completed": {"a": 3}, "partial": {"a": {"b": 1}}})");
    BOOST_CHECK_EXCEPTION(doc.effective(), statestore::error,
                          is_error(statestore::errc::invalid_document,
                                   "cannot merge an object into a number at key 'a'"));
}

BOOST_AUTO_TEST_CASE(spec_12_set_then_merge)
{
    // meltano state set --force ID '{"singer_state": {"bookmark-1": 0}}'
    const state_document set =
        apply_update(nullptr, set_of(R"({"singer_state": {"bookmark-1": 0}})"));
    BOOST_TEST(set.serialize() ==
               R"({"completed": {"singer_state": {"bookmark-1": 0}}, "partial": {}})");
    BOOST_TEST(effective_compact(set) == R"({"singer_state":{"bookmark-1":0}})");

    // meltano state merge ID '{"singer_state": {"x": 1}}'
    const state_document merged = apply_update(&set, merge_of(R"({"singer_state": {"x": 1}})"));
    BOOST_TEST(merged.serialize() == R"({"completed": {"singer_state": {"bookmark-1": 0}}, )"
                                     R"("partial": {"singer_state": {"x": 1}}})");
    BOOST_TEST(effective_compact(merged) == R"({"singer_state":{"bookmark-1":0,"x":1}})");

    // Reading the stored bytes back gives the same document.
    BOOST_TEST((state_document::parse(merged.serialize()) == merged));
}

BOOST_AUTO_TEST_CASE(spec_5_5_golden_vector_merge_strategy)
{
    // Full run at T1 writes a complete state; the --full-refresh --state-strategy=merge run
    // of stream_1 at T2 writes a partial one.
    const state_document t1 = apply_update(nullptr, set_of(golden_full_run));
    const state_document t2 = apply_update(&t1, merge_of(golden_stream_1_only));
    BOOST_TEST(effective_compact(t2) ==
               R"({"singer_state":{"bookmarks":{)"
               R"("stream_1":{"created_at":"2024-01-01T00:00:00+00:00"},)"
               R"("stream_2":{"created_at":"2023-01-01T00:00:00+00:00"},)"
               R"("stream_3":{"created_at":"2023-01-01T00:00:00+00:00"}}}})");
    // Completed is kept as written at T1.
    BOOST_TEST(statestore::to_python_json(t2.completed) == golden_full_run);
}

BOOST_AUTO_TEST_CASE(spec_5_5_golden_vector_overwrite_strategy)
{
    const state_document t1 = apply_update(nullptr, set_of(golden_full_run));
    const state_document t2 = apply_update(&t1, set_of(golden_stream_1_only));
    BOOST_TEST(effective_compact(t2) ==
               R"({"singer_state":{"bookmarks":{)"
               R"("stream_1":{"created_at":"2024-01-01T00:00:00+00:00"}}}})");
    BOOST_TEST(t2.serialize() == std::string(R"({"completed": )") +
                                     std::string(golden_stream_1_only) + R"(, "partial": {}})");
}

BOOST_AUTO_TEST_CASE(apply_update_rules)
{
    const state_document stored = state_document::parse(
        R"({"completed": {"c": 1}, "partial": {"p": {"a": 1}, "q": 1}})");

    // Nothing stored: the incoming state as it is, even a partial one.
    const state_document first = apply_update(nullptr, merge_of(R"({"x": 1})"));
    BOOST_TEST(first.serialize() == R"({"completed": {}, "partial": {"x": 1}})");

    // A complete state replaces both halves.
    const state_document replaced = apply_update(&stored, set_of(R"({"n": 2})"));
    BOOST_TEST(replaced.serialize() == R"({"completed": {"n": 2}, "partial": {}})");

    // A partial state merges onto the stored partial; completed is kept.
    const state_document merged = apply_update(&stored, merge_of(R"({"p": {"b": 2}, "r": 3})"));
    BOOST_TEST(merged.serialize() ==
               R"({"completed": {"c": 1}, "partial": {"p": {"a": 1, "b": 2}, "q": 1, "r": 3}})");

    // "set" with an empty payload is not complete, so it is a no-op merge (spec 5.4).
    const state_document empty_set = apply_update(&stored, set_of("{}"));
    BOOST_TEST((empty_set == stored));
}

BOOST_AUTO_TEST_CASE(apply_update_with_null_halves)
{
    // A null stored partial (possible after an import) counts as {}; the result holds {}
    // rather than null, since Meltano cannot read a null partial back.
    const state_document stored =
        state_document::parse(R"({"completed": {"c": 1}, "partial": null})");
    const state_document merged = apply_update(&stored, merge_of(R"({"x": 1})"));
    BOOST_TEST(merged.serialize() == R"({"completed": {"c": 1}, "partial": {"x": 1}})");

    state_document null_incoming;
    null_incoming.completed = nullptr;
    null_incoming.partial = nullptr;
    const state_document unchanged = apply_update(&stored, null_incoming);
    BOOST_TEST(unchanged.serialize() == R"({"completed": {"c": 1}, "partial": {}})");
}

BOOST_AUTO_TEST_CASE(apply_update_clash_leaves_stored_alone)
{
    const state_document stored =
        state_document::parse(R"({"completed": {}, "partial": {"a": 3, "b": 1}})");
    const state_document before = stored;
    BOOST_CHECK_EXCEPTION(
        apply_update(&stored, merge_of(R"({"b": 2, "a": {"x": 1}})")),
        statestore::error,
        is_error(statestore::errc::invalid_document,
                 "cannot merge an object into a number at key 'a'"));
    BOOST_TEST((stored == before));
}

BOOST_AUTO_TEST_SUITE_END()
