#include "statestore/state_id.hpp"

#include "statestore/error.hpp"
#include "core/text_util.hpp"

#include <string>

namespace statestore {
namespace {

// Long ids are cut in messages; the reason says how long they really are.
constexpr std::size_t max_id_bytes_in_message = 80;

std::string refused(std::string_view id, const std::string& reason)
{
    return "state id " + detail::quote_for_message(id, max_id_bytes_in_message) +
           " is invalid: " + reason;
}

} // namespace

std::optional<std::string> state_id_problem(std::string_view id)
{
    if (id.empty()) {
        return refused(id, "it is empty");
    }
    if (id.size() > max_state_id_bytes) {
        return refused(id, "it is " + std::to_string(id.size()) + " bytes long, more than " +
                               std::to_string(max_state_id_bytes));
    }
    if (id == "." || id == "..") {
        // They name a directory itself or its parent in every path layout.
        return refused(id, "\".\" and \"..\" are not allowed");
    }
    for (std::size_t pos = 0; pos < id.size();) {
        const detail::utf8_step step = detail::decode_utf8_at(id, pos);
        if (step.length == 0) {
            return refused(id, "it is not valid UTF-8");
        }
        const char32_t cp = step.code_point;
        if (cp == U'/') {
            return refused(id, "it contains '/'");
        }
        if (cp == U'\\') {
            return refused(id, "it contains '\\'");
        }
        if (cp == 0) {
            return refused(id, "it contains a NUL character");
        }
        if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
            return refused(id, "it contains the control character " +
                                   detail::code_point_name(cp));
        }
        pos += step.length;
    }
    return std::nullopt;
}

void validate_state_id(std::string_view id)
{
    if (auto problem = state_id_problem(id)) {
        throw_error(errc::invalid_state_id, *problem);
    }
}

} // namespace statestore
