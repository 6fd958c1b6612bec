#include "cloud/s3/s3_xml.hpp"

#include "statestore/error.hpp"
#include "core/text_util.hpp"

#include <pugixml.hpp>

#include <charconv>
#include <string>
#include <system_error>

namespace statestore {
namespace {

constexpr std::string_view list_what = "S3 ListObjectsV2 response";

[[noreturn]] void fail_list(const std::string& detail)
{
    throw_error(errc::backend_unavailable, std::string(list_what) + ": " + detail);
}

// pugixml does not expand DTDs or external entities (parse_doctype is off), so a hostile
// body cannot make it fetch files or blow up memory. parse_ws_pcdata_single keeps the text
// of an element that holds whitespace only, so a key that is " " is not read as "".
constexpr unsigned parse_options = pugi::parse_default | pugi::parse_ws_pcdata_single;

pugi::xml_parse_result load(pugi::xml_document& doc, std::string_view body)
{
    return doc.load_buffer(body.data(), body.size(), parse_options, pugi::encoding_auto);
}

// The element name without a namespace prefix ("s3:Key" -> "Key").
std::string_view local_name(const pugi::xml_node& node)
{
    std::string_view name = node.name();
    if (const auto colon = name.find(':'); colon != std::string_view::npos) {
        name.remove_prefix(colon + 1);
    }
    return name;
}

pugi::xml_node child(const pugi::xml_node& parent, std::string_view name)
{
    for (pugi::xml_node node : parent.children()) {
        if (node.type() == pugi::node_element && local_name(node) == name) {
            return node;
        }
    }
    return {};
}

// All character data directly inside the element, CDATA sections included, untrimmed:
// leading and trailing spaces are part of a key.
std::string text_of(const pugi::xml_node& node)
{
    std::string out;
    for (pugi::xml_node part : node.children()) {
        if (part.type() == pugi::node_pcdata || part.type() == pugi::node_cdata) {
            out += part.value();
        }
    }
    return out;
}

std::string child_text(const pugi::xml_node& parent, std::string_view name)
{
    const pugi::xml_node node = child(parent, name);
    return node ? text_of(node) : std::string();
}

std::string_view trim_xml_space(std::string_view s)
{
    const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    while (!s.empty() && is_space(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_space(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

// Numbers and booleans may be surrounded by formatting whitespace; keys may not, so only
// these scalar fields are trimmed.
std::optional<std::uint64_t> optional_count(const pugi::xml_node& parent, std::string_view name)
{
    const pugi::xml_node node = child(parent, name);
    if (!node) {
        return std::nullopt;
    }
    const std::string raw = text_of(node);
    const std::string_view text = trim_xml_space(raw);
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
        fail_list(std::string(name) +
                  " is not a non-negative integer: " + detail::quote_for_message(raw, 40));
    }
    return value;
}

int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

// EncodingType=url is form encoding: "%XX" for a byte and '+' for a space (S3 encodes a
// literal '+' as %2B), which is how the AWS SDKs decode it too.
std::string url_decode(std::string_view text, std::string_view field)
{
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '+') {
            out.push_back(' ');
        } else if (c != '%') {
            out.push_back(c);
        } else {
            const int hi = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
            const int lo = hi >= 0 ? hex_value(text[i + 2]) : -1;
            if (lo < 0) {
                fail_list("invalid percent-encoding in " + std::string(field) + ": " +
                          detail::quote_for_message(text, 80));
            }
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        }
    }
    return out;
}

} // namespace

std::string unquote_etag(std::string_view etag)
{
    if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
        etag.remove_prefix(1);
        etag.remove_suffix(1);
    }
    return std::string(etag);
}

s3_list_result parse_list_objects_v2(std::string_view body)
{
    if (trim_xml_space(body).empty()) {
        fail_list("the body is empty");
    }
    pugi::xml_document doc;
    const pugi::xml_parse_result parsed = load(doc, body);
    if (!parsed) {
        fail_list("not well-formed XML (" + std::string(parsed.description()) + " at byte " +
                  std::to_string(parsed.offset) + "); the body starts " +
                  detail::quote_for_message(body, 80));
    }
    const pugi::xml_node root = doc.document_element();
    if (local_name(root) == "Error") {
        fail_list("got an error document (Code " +
                  detail::quote_for_message(child_text(root, "Code"), 80) +
                  ") instead of a ListBucketResult");
    }
    if (local_name(root) != "ListBucketResult") {
        fail_list("the root element is " + detail::quote_for_message(root.name(), 80) +
                  ", not ListBucketResult");
    }

    s3_list_result result;
    if (const pugi::xml_node node = child(root, "EncodingType")) {
        const std::string raw = text_of(node);
        const std::string_view type = trim_xml_space(raw);
        if (type == "url") {
            result.url_encoded = true;
        } else if (!type.empty()) {
            fail_list("unknown EncodingType " + detail::quote_for_message(raw, 40));
        }
    }
    const auto decoded = [&](const std::string& text, std::string_view field) {
        return result.url_encoded ? url_decode(text, field) : text;
    };

    result.bucket = child_text(root, "Name");
    result.prefix = decoded(child_text(root, "Prefix"), "Prefix");
    result.delimiter = decoded(child_text(root, "Delimiter"), "Delimiter");
    result.start_after = decoded(child_text(root, "StartAfter"), "StartAfter");
    result.continuation_token = child_text(root, "ContinuationToken");
    result.next_continuation_token = child_text(root, "NextContinuationToken");
    result.key_count = optional_count(root, "KeyCount");
    result.max_keys = optional_count(root, "MaxKeys");

    if (const pugi::xml_node node = child(root, "IsTruncated")) {
        const std::string raw = text_of(node);
        const std::string_view flag = trim_xml_space(raw);
        if (flag == "true") {
            result.is_truncated = true;
        } else if (flag != "false") {
            fail_list("IsTruncated is neither true nor false: " +
                      detail::quote_for_message(raw, 40));
        }
    }
    if (result.is_truncated && result.next_continuation_token.empty()) {
        fail_list("the listing is truncated but has no NextContinuationToken");
    }

    for (pugi::xml_node node : root.children()) {
        if (node.type() != pugi::node_element) {
            continue;
        }
        const std::string_view name = local_name(node);
        if (name == "Contents") {
            const pugi::xml_node key = child(node, "Key");
            if (!key) {
                fail_list("a Contents entry has no Key");
            }
            s3_object object;
            object.key = decoded(text_of(key), "Key");
            object.raw_etag = child_text(node, "ETag");
            object.etag = unquote_etag(object.raw_etag);
            object.size = optional_count(node, "Size").value_or(0);
            object.last_modified = child_text(node, "LastModified");
            result.contents.push_back(std::move(object));
        } else if (name == "CommonPrefixes") {
            // One <Prefix> per <CommonPrefixes> is what S3 sends; accept several anyway.
            for (pugi::xml_node prefix : node.children()) {
                if (prefix.type() == pugi::node_element && local_name(prefix) == "Prefix") {
                    result.common_prefixes.push_back(decoded(text_of(prefix), "Prefix"));
                }
            }
        }
    }
    return result;
}

std::optional<s3_error> parse_s3_error(std::string_view body)
{
    if (trim_xml_space(body).empty()) {
        return std::nullopt;
    }
    pugi::xml_document doc;
    if (!load(doc, body)) {
        return std::nullopt;
    }
    const pugi::xml_node root = doc.document_element();
    if (local_name(root) != "Error") {
        return std::nullopt;
    }
    s3_error error;
    error.code = std::string(trim_xml_space(child_text(root, "Code")));
    error.message = child_text(root, "Message");
    error.request_id = child_text(root, "RequestId");
    error.host_id = child_text(root, "HostId");
    error.resource = child_text(root, "Resource");
    error.bucket_name = child_text(root, "BucketName");
    error.key = child_text(root, "Key");
    return error;
}

} // namespace statestore
