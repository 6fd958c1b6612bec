#include "statestore/merge.hpp"

#include "statestore/error.hpp"
#include "core/text_util.hpp"

#include <boost/json/object.hpp>

#include <string>
#include <vector>

namespace statestore {
namespace {

namespace json = boost::json;

// The keys from the top of the document down to the value being merged, for messages.
using key_path = std::vector<std::string_view>;

[[noreturn]] void throw_clash(const json::value& destination, const key_path& path)
{
    std::string where;
    if (path.empty()) {
        where = "at the top level";
    } else {
        std::string joined;
        for (const std::string_view key : path) {
            if (!joined.empty()) {
                joined.push_back('.');
            }
            joined.append(key);
        }
        where = "at key '" + detail::escape_for_message(joined) + "'";
    }
    throw_error(errc::invalid_document, std::string("cannot merge an object into ") +
                                            detail::kind_phrase(destination.kind()) + " " +
                                            where);
}

// Meltano's merge(src, dest) for an object `source`. Python iterates src.items(), which
// for an empty src does nothing at all, so an empty source object never touches (or
// complains about) the destination, whatever its kind.
void merge_object(const json::object& source, json::value& destination, key_path& path)
{
    if (source.empty()) {
        return;
    }
    if (!destination.is_object()) {
        // Python: dest.setdefault(...) on a non-dict raises.
        throw_clash(destination, path);
    }
    json::object& dest = destination.get_object();
    for (const json::key_value_pair& kv : source) {
        if (kv.value().is_object()) {
            // dest.setdefault(key, {}): a missing key is appended at the end, even when
            // the source object is empty.
            auto it = dest.find(kv.key());
            if (it == dest.end()) {
                it = dest.emplace(kv.key(), json::object()).first;
            }
            // Merging below only changes the node's own members, never `dest`, so the
            // reference stays valid.
            json::value& node = it->value();
            path.push_back(kv.key());
            merge_object(kv.value().get_object(), node, path);
            path.pop_back();
        } else {
            // dest[key] = value: replaces in place (position kept) or appends.
            dest[kv.key()] = kv.value();
        }
    }
}

} // namespace

void deep_merge(const json::value& source, json::value& destination)
{
    if (!source.is_object()) {
        throw_error(errc::invalid_document,
                    std::string("cannot merge ") + detail::kind_phrase(source.kind()) +
                        " into a state: the merge source must be an object");
    }
    if (&source == &destination) {
        return; // merge(d, d) leaves d as it is
    }
    key_path path;
    merge_object(source.get_object(), destination, path);
}

json::value merged(const json::value& source, const json::value& destination)
{
    json::value result = destination;
    deep_merge(source, result);
    return result;
}

} // namespace statestore
