#include "cloud/azure/azure_xml.hpp"

#include "statestore/error.hpp"
#include "cloud/s3/s3_xml.hpp"

#include <pugixml.hpp>

namespace statestore::azure {
namespace {

[[noreturn]] void fail(const std::string& detail)
{
    throw_error(errc::backend_unavailable, "Azure List Blobs response: " + detail);
}

// Character data directly inside the element (CDATA included), untrimmed: a blob name may
// begin or end with spaces.
std::string text_of(const pugi::xml_node& node)
{
    std::string out;
    for (pugi::xml_node part : node.children())
        if (part.type() == pugi::node_pcdata || part.type() == pugi::node_cdata)
            out += part.value();
    return out;
}

std::string required_name(const pugi::xml_node& entry, const char* what)
{
    const pugi::xml_node name = entry.child("Name");
    if (!name)
        fail(std::string("a <") + what + "> has no <Name>");
    return text_of(name);
}

} // namespace

list_blobs_result parse_list_blobs(std::string_view body)
{
    pugi::xml_document doc;
    // No DTDs or external entities are processed; keep whitespace-only names intact.
    const auto parsed = doc.load_buffer(body.data(), body.size(),
                                        pugi::parse_default | pugi::parse_ws_pcdata_single,
                                        pugi::encoding_auto);
    if (!parsed)
        fail(std::string("not well-formed XML (") + parsed.description() + " at byte " +
             std::to_string(parsed.offset) + ")");
    const pugi::xml_node root = doc.document_element();
    if (std::string_view(root.name()) != "EnumerationResults") {
        if (std::string_view(root.name()) == "Error")
            fail("an <Error> document with code '" + text_of(root.child("Code")) + "'");
        fail(std::string("unexpected root element <") + root.name() + ">");
    }
    const pugi::xml_node blobs = root.child("Blobs");
    if (!blobs)
        fail("no <Blobs> element");
    list_blobs_result out;
    for (pugi::xml_node entry : blobs.children()) {
        if (entry.type() != pugi::node_element)
            continue;
        const std::string_view kind = entry.name();
        if (kind == "Blob")
            out.names.push_back(required_name(entry, "Blob"));
        else if (kind == "BlobPrefix")
            out.prefixes.push_back(required_name(entry, "BlobPrefix"));
    }
    out.next_marker = text_of(root.child("NextMarker"));
    return out;
}

std::optional<error_body> parse_error(std::string_view body)
{
    // Azure's error document has the same shape as S3's (<Error><Code/><Message/>...).
    auto parsed = parse_s3_error(body);
    if (!parsed)
        return std::nullopt;
    return error_body{std::move(parsed->code), std::move(parsed->message)};
}

} // namespace statestore::azure
