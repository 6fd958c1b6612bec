#include "statestore/state_document.hpp"

#include "statestore/error.hpp"
#include "statestore/json_text.hpp"
#include "statestore/merge.hpp"
#include "core/text_util.hpp"

#include <boost/json/object.hpp>

#include <string>
#include <utility>

namespace statestore {
namespace {

namespace json = boost::json;

// One half as Meltano reads it: dict.get(name, {}), so a missing key is {} and an
// explicit null stays null. Anything else would only crash Meltano later (merge or
// is_complete on a list), so it is refused here, at the boundary.
json::value read_half(const json::object& document, std::string_view name)
{
    const json::value* half = document.if_contains(name);
    if (half == nullptr) {
        return json::object();
    }
    if (!half->is_object() && !half->is_null()) {
        throw_error(errc::invalid_document,
                    std::string("the \"") + std::string(name) +
                        "\" half of a state document must be an object or null, got " +
                        detail::kind_phrase(half->kind()));
    }
    return *half;
}

void check_payload(const json::value& payload)
{
    if (!payload.is_object() && !payload.is_null()) {
        throw_error(errc::invalid_document,
                    std::string("a state payload must be a JSON object, got ") +
                        detail::kind_phrase(payload.kind()));
    }
}

// Null halves read as {} wherever Meltano would have crashed on them.
const json::value& or_empty(const json::value& half)
{
    static const json::value empty = json::object();
    return half.is_null() ? empty : half;
}

} // namespace

state_document state_document::parse(std::string_view text)
{
    return from_json(parse_json(text));
}

state_document state_document::from_json(const json::value& root)
{
    if (!root.is_object()) {
        throw_error(errc::invalid_document,
                    std::string("state document must be a JSON object, got ") +
                        detail::kind_phrase(root.kind()));
    }
    const json::object& document = root.get_object();
    state_document result;
    result.completed = read_half(document, "completed");
    result.partial = read_half(document, "partial");
    return result;
}

std::string state_document::serialize() const
{
    // Same bytes as json.dumps({"completed": c, "partial": p}), without building the
    // wrapper object (which would copy both halves).
    std::string out = "{\"completed\": ";
    out += to_python_json(completed, json_style::python_default);
    out += ", \"partial\": ";
    out += to_python_json(partial, json_style::python_default);
    out += '}';
    return out;
}

bool state_document::is_complete() const
{
    return completed.is_object() && !completed.get_object().empty();
}

json::value state_document::effective() const
{
    return merged(or_empty(partial), or_empty(completed));
}

state_document state_document::complete(json::value payload)
{
    check_payload(payload);
    state_document doc;
    doc.completed = std::move(payload);
    doc.partial = json::object();
    return doc;
}

state_document state_document::incomplete(json::value payload)
{
    check_payload(payload);
    state_document doc;
    doc.completed = json::object();
    doc.partial = std::move(payload);
    return doc;
}

state_document apply_update(const state_document* stored, const state_document& incoming)
{
    if (stored == nullptr || incoming.is_complete()) {
        return incoming;
    }
    // Merge into a copy, so a type clash leaves the caller's stored document untouched.
    state_document result = *stored;
    result.partial = merged(or_empty(incoming.partial), or_empty(stored->partial));
    return result;
}

} // namespace statestore
