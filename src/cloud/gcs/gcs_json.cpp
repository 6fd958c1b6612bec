#include "cloud/gcs/gcs_json.hpp"

#include "statestore/error.hpp"
#include "cloud/gcs/gcs_oauth.hpp"
#include "core/text_util.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace statestore::gcs {
namespace {

namespace json = boost::json;

json::value parse_or_throw(std::string_view body, std::string_view what)
{
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec || !v.is_object())
        throw_error(errc::backend_unavailable,
                    "the storage service answered " + std::string(what) +
                        " with a body that is not a JSON object");
    return v;
}

std::string bucket_path(std::string_view bucket)
{
    return "/b/" + encode_component(bucket) + "/o";
}

} // namespace

std::string encode_component(std::string_view text)
{
    // The same unreserved set as form values: one encoder for both.
    return form_encode(text);
}

std::string upload_target(std::string_view bucket, std::string_view name,
                          std::optional<std::string_view> if_generation_match)
{
    std::string t = "/upload/storage/v1" + bucket_path(bucket) +
                    "?uploadType=media&name=" + encode_component(name);
    if (if_generation_match)
        t += "&ifGenerationMatch=" + encode_component(*if_generation_match);
    return t;
}

std::string download_target(std::string_view bucket, std::string_view name)
{
    return "/storage/v1" + bucket_path(bucket) + "/" + encode_component(name) + "?alt=media";
}

std::string delete_target(std::string_view bucket, std::string_view name,
                          std::optional<std::string_view> if_generation_match)
{
    std::string t = "/storage/v1" + bucket_path(bucket) + "/" + encode_component(name);
    if (if_generation_match)
        t += "?ifGenerationMatch=" + encode_component(*if_generation_match);
    return t;
}

std::string list_target(std::string_view bucket, std::string_view prefix,
                        std::string_view delimiter, std::string_view page_token)
{
    std::string t = "/storage/v1" + bucket_path(bucket) + "?prefix=" + encode_component(prefix);
    if (!delimiter.empty())
        t += "&delimiter=" + encode_component(delimiter);
    if (!page_token.empty())
        t += "&pageToken=" + encode_component(page_token);
    return t;
}

std::string parse_generation(std::string_view object_resource_json)
{
    const json::value v = parse_or_throw(object_resource_json, "an upload");
    const auto* g = v.get_object().if_contains("generation");
    // The JSON API sends int64 fields as decimal strings; accept a number too.
    if (g && g->is_string() && !g->get_string().empty())
        return std::string(g->get_string());
    if (g && g->is_int64())
        return std::to_string(g->get_int64());
    if (g && g->is_uint64())
        return std::to_string(g->get_uint64());
    throw_error(errc::backend_unavailable,
                "the storage service answered an upload without the object's generation");
}

list_result parse_list(std::string_view body)
{
    const json::value v = parse_or_throw(body, "a listing");
    const auto& o = v.get_object();
    list_result r;
    const auto strings = [&](std::string_view field, auto&& take) {
        const auto* a = o.if_contains(field);
        if (!a)
            return;
        if (!a->is_array())
            throw_error(errc::backend_unavailable, "the storage service answered a listing "
                                                   "whose \"" + std::string(field) +
                                                       "\" is not an array");
        for (const auto& e : a->get_array())
            take(e);
    };
    strings("items", [&](const json::value& item) {
        const auto* n = item.is_object() ? item.get_object().if_contains("name") : nullptr;
        if (!n || !n->is_string())
            throw_error(errc::backend_unavailable,
                        "the storage service answered a listing with an item without a name");
        r.names.emplace_back(n->get_string());
    });
    strings("prefixes", [&](const json::value& p) {
        if (!p.is_string())
            throw_error(errc::backend_unavailable,
                        "the storage service answered a listing with a non-string prefix");
        r.prefixes.emplace_back(p.get_string());
    });
    if (const auto* t = o.if_contains("nextPageToken"); t && t->is_string())
        r.next_page_token = std::string(t->get_string());
    return r;
}

namespace {
/// The "error" member of an error answer, or nullopt when the body is not one.
std::optional<json::object> error_object(std::string_view body)
{
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec || !v.is_object())
        return std::nullopt;
    auto* e = v.get_object().if_contains("error");
    if (!e || !e->is_object())
        return std::nullopt;
    return std::move(e->get_object());
}
} // namespace

std::string error_reason(std::string_view body)
{
    const auto e = error_object(body);
    const auto* errors = e ? e->if_contains("errors") : nullptr;
    if (!errors || !errors->is_array())
        return {};
    for (const auto& item : errors->get_array()) {
        if (!item.is_object())
            continue;
        const auto* r = item.get_object().if_contains("reason");
        if (r && r->is_string() && !r->get_string().empty())
            return std::string(r->get_string());
    }
    return {};
}

std::string error_message(std::string_view body)
{
    const auto e = error_object(body);
    const auto* m = e ? e->if_contains("message") : nullptr;
    if (!m || !m->is_string())
        return {};
    return detail::escape_for_message(m->get_string(), 200);
}

} // namespace statestore::gcs
