// Unit tests of the Azure pure pieces: connection strings (valid and every malformed form,
// never echoing the key), SharedKey string-to-sign and signature, List Blobs / error XML.

#include "cloud/azure/azure_connection_string.hpp"
#include "cloud/azure/azure_shared_key.hpp"
#include "cloud/azure/azure_xml.hpp"
#include "statestore/error.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <vector>

using namespace statestore;
using namespace statestore::azure;

namespace {

const std::string dev_key(development_key);

// Expects invalid_setting whose message mentions `needle` and never contains `secret`.
void expect_bad(const std::string& text, const std::string& needle, const std::string& secret = "")
{
    try {
        (void)parse_connection_string(text);
        BOOST_ERROR("accepted: " << needle);
    } catch (const statestore::error& e) {
        BOOST_TEST(static_cast<int>(e.value()) == static_cast<int>(errc::invalid_setting));
        BOOST_TEST(std::string(e.what()).find(needle) != std::string::npos, e.what());
        if (!secret.empty())
            BOOST_TEST(std::string(e.what()).find(secret) == std::string::npos, "secret leaked");
    }
}

} // namespace

BOOST_AUTO_TEST_SUITE(azure_connection_string_tests)

BOOST_AUTO_TEST_CASE(azurite_string_with_explicit_endpoint)
{
    const auto cs = parse_connection_string(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + dev_key +
        ";BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;");
    BOOST_TEST(cs.account_name == "devstoreaccount1");
    BOOST_TEST(cs.account_key.reveal() == dev_key);
    BOOST_TEST(!cs.uses_sas());
    BOOST_TEST(cs.blob_endpoint.scheme == "http");
    BOOST_TEST(cs.blob_endpoint.authority == "127.0.0.1:10000");
    BOOST_TEST(cs.blob_endpoint.base_path == "/devstoreaccount1");
}

BOOST_AUTO_TEST_CASE(development_storage_is_azurite_well_known_account)
{
    const auto cs = parse_connection_string("UseDevelopmentStorage=true");
    BOOST_TEST(cs.development_storage);
    BOOST_TEST(cs.account_name == "devstoreaccount1");
    BOOST_TEST(cs.blob_endpoint.to_string() == "http://127.0.0.1:10000/devstoreaccount1");
    BOOST_TEST(cs.account_key.reveal() == dev_key);
}

BOOST_AUTO_TEST_CASE(endpoint_derived_from_account_and_suffix)
{
    const auto cs = parse_connection_string("accountname=acme;ACCOUNTKEY=" + dev_key +
                                            ";EndpointSuffix=core.chinacloudapi.cn");
    BOOST_TEST(cs.blob_endpoint.to_string() == "https://acme.blob.core.chinacloudapi.cn");
    const auto plain = parse_connection_string("DefaultEndpointsProtocol=http;AccountName=acme;AccountKey=" + dev_key);
    BOOST_TEST(plain.blob_endpoint.to_string() == "http://acme.blob.core.windows.net");
    BOOST_TEST(plain.blob_endpoint.base_path == "");
}

BOOST_AUTO_TEST_CASE(sas_connection_string_takes_the_token_untouched)
{
    const auto cs = parse_connection_string(
        "BlobEndpoint=https://acme.blob.core.windows.net/;SharedAccessSignature=?sv=2021-12-02&ss=b&sig=ab%2Bc%3D");
    BOOST_TEST(cs.uses_sas());
    BOOST_TEST(cs.sas.reveal() == "sv=2021-12-02&ss=b&sig=ab%2Bc%3D");
    BOOST_TEST(cs.account_name == "acme"); // from the host
    BOOST_TEST(cs.blob_endpoint.base_path == "");
}

BOOST_AUTO_TEST_CASE(every_malformed_form_is_invalid_setting)
{
    const std::string key = ";AccountKey=" + dev_key;
    expect_bad("", "empty");
    expect_bad("AccountName=a" + key + ";garbage", "no '='", dev_key);
    expect_bad("=x;AccountName=a" + key, "empty key", dev_key);
    expect_bad("AccountName=a" + key + ";Foo=bar", "unknown key 'Foo'", dev_key);
    expect_bad("AccountName=a" + key + ";AccountName=b", "given twice", dev_key);
    expect_bad("AccountName=" + key, "AccountName has an empty value", dev_key);
    expect_bad("DefaultEndpointsProtocol=ftp;AccountName=a" + key, "DefaultEndpointsProtocol", dev_key);
    expect_bad("AccountName=a;AccountKey=not*base64", "AccountKey is not valid base64", "not*base64");
    expect_bad("AccountName=a;AccountKey=abc", "AccountKey is not valid base64", "abc");
    expect_bad("AccountName=a", "neither AccountKey nor SharedAccessSignature");
    expect_bad("AccountKey=" + dev_key, "AccountKey is given without AccountName", dev_key);
    expect_bad("SharedAccessSignature=sv=1&sig=SECRETSIG", "neither BlobEndpoint nor AccountName", "SECRETSIG");
    expect_bad("AccountName=a" + key + ";BlobEndpoint=ftp://x/y", "http:// or https://", dev_key);
    expect_bad("AccountName=a" + key + ";BlobEndpoint=http:///a", "no host", dev_key);
    expect_bad("AccountName=a" + key + ";BlobEndpoint=http://h/a/../b", "'..'", dev_key);
    expect_bad("UseDevelopmentStorage=yes", "must be 'true'");
    expect_bad("UseDevelopmentStorage=true;AccountName=a", "cannot be combined");
    // A missing ';' glues the key onto the name: the message must not print the name then.
    expect_bad("AccountName=devstoreaccount1AccountKey=" + dev_key, "AccountName may contain only", dev_key);
}

BOOST_AUTO_TEST_CASE(base64_is_strict)
{
    std::string out;
    BOOST_TEST(base64_decode("aGVsbG8=", out));
    BOOST_TEST(out == "hello");
    BOOST_TEST(base64_encode("hello") == "aGVsbG8=");
    BOOST_TEST(base64_encode("") == "");
    BOOST_TEST(base64_encode("he") == "aGU=");
    BOOST_TEST(!base64_decode("aGVsbG8", out));    // no padding
    BOOST_TEST(!base64_decode("aGVs bG8=", out));  // whitespace
    BOOST_TEST(!base64_decode("aGVsbG9=", out));   // non-canonical trailing bits
    BOOST_TEST(!base64_decode("a=Vs", out));       // padding in the middle
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(azure_shared_key_tests)

const http_headers put_headers = {
    {"x-ms-version", "2021-12-02"},
    {"X-MS-Date", "Tue, 25 Nov 2026 10:00:00 GMT"},
    {"x-ms-blob-type", "BlockBlob"},
    {"Content-Type", "application/json"},
    {"If-None-Match", "*"},
};

BOOST_AUTO_TEST_CASE(put_blob_string_to_sign_without_query)
{
    shared_key_request r;
    r.method = "PUT";
    r.path = "/devstoreaccount1/statestore-ci/ci/dev%3Atap/state.json";
    r.headers = put_headers;
    r.content_length = 11;
    // Account twice: Azurite's URL path already starts with it.
    BOOST_TEST(string_to_sign("devstoreaccount1", r) ==
               "PUT\n\n\n11\n\napplication/json\n\n\n\n*\n\n\n"
               "x-ms-blob-type:BlockBlob\n"
               "x-ms-date:Tue, 25 Nov 2026 10:00:00 GMT\n"
               "x-ms-version:2021-12-02\n"
               "/devstoreaccount1/devstoreaccount1/statestore-ci/ci/dev%3Atap/state.json");
}

BOOST_AUTO_TEST_CASE(list_string_to_sign_with_sorted_decoded_query)
{
    shared_key_request r;
    r.method = "GET";
    r.path = "/acct/c";
    r.query = {{"restype", "container"}, {"comp", "list"}, {"Prefix", "a b/"}, {"marker", "2!x"}};
    r.headers = {{"x-ms-date", "D"}, {"x-ms-version", "V"}, {"If-Match", "\"0x1\""}};
    BOOST_TEST(string_to_sign("acct", r) ==
               "GET\n\n\n\n\n\n\n\n\"0x1\"\n\n\n\n"
               "x-ms-date:D\nx-ms-version:V\n"
               "/acct/acct/c\ncomp:list\nmarker:2!x\nprefix:a b/\nrestype:container");
}

BOOST_AUTO_TEST_CASE(repeated_query_names_are_joined_sorted)
{
    BOOST_TEST(canonicalized_resource("a", "/a/c", {{"include", "snapshots"}, {"include", "metadata"}}) ==
               "/a/a/c\ninclude:metadata,snapshots");
    BOOST_TEST(canonicalized_resource("a", "", {}) == "/a/");
}

BOOST_AUTO_TEST_CASE(header_order_is_the_service_collation_not_bytes)
{
    // Bytewise '-' (0x2D) < 'b' (0x62), so "x-ms-meta-a-c" would come first; the service
    // ignores hyphens at the first level: "xmsmetaab" < "xmsmetaac".
    BOOST_TEST(header_name_less("x-ms-meta-ab", "x-ms-meta-a-c"));
    BOOST_TEST(!header_name_less("x-ms-meta-a-c", "x-ms-meta-ab"));
    // '_' sorts before letters and digits in the collation, after them in bytes.
    BOOST_TEST(header_name_less("x-ms-meta-_z", "x-ms-meta-a"));
    BOOST_TEST(header_name_less("x-ms-meta-_z", "x-ms-meta-1"));
    // Equal without hyphens: the tie is broken by hyphen position (later hyphen first).
    BOOST_TEST(header_name_less("x-ms-meta-ab-", "x-ms-meta-a-b"));
    BOOST_TEST(!header_name_less("x-ms-meta-a", "x-ms-meta-a"));
    // Prefix first.
    BOOST_TEST(header_name_less("x-ms-meta-a", "x-ms-meta-ab"));

    const http_headers h = {{"x-ms-meta-a-c", "1"}, {"X-Ms-Meta-Ab", " 2"}, {"x-ms-date", "D"},
                            {"x-ms-meta-ab", "3"}, {"Content-Type", "t"}};
    BOOST_TEST(canonicalized_headers(h) == "x-ms-date:D\nx-ms-meta-ab:2,3\nx-ms-meta-a-c:1\n");
}

BOOST_AUTO_TEST_CASE(signature_is_base64_hmac_sha256_of_decoded_key)
{
    // HMAC-SHA256(key = "key", "The quick brown fox jumps over the lazy dog") is the
    // well-known f7bc83f4...; base64 of it:
    const aws::secret key(base64_encode("key"));
    BOOST_TEST(signature(key, "The quick brown fox jumps over the lazy dog") ==
               "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg=");
    BOOST_TEST(authorization("acct", "SIG") == "SharedKey acct:SIG");
    BOOST_CHECK_THROW(signature(aws::secret("***"), "x"), statestore::error);
}

BOOST_AUTO_TEST_CASE(dates_and_encodings)
{
    using namespace std::chrono;
    BOOST_TEST(rfc1123_date(sys_days{year{1994} / 11 / 6} + hours{8} + minutes{49} + seconds{37}) ==
               "Sun, 06 Nov 1994 08:49:37 GMT");
    BOOST_TEST(encode_blob_path("ci/dev:tap to/state.json") == "ci/dev%3Atap%20to/state.json");
    BOOST_TEST(encode_query_value("a/b c") == "a%2Fb%20c");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(azure_xml_tests)

BOOST_AUTO_TEST_CASE(list_with_blobs_prefixes_and_marker)
{
    const auto r = parse_list_blobs(R"(<?xml version="1.0" encoding="utf-8"?>
<EnumerationResults ServiceEndpoint="http://127.0.0.1:10000/devstoreaccount1" ContainerName="c">
  <Prefix>ci/</Prefix><Marker/><MaxResults>2</MaxResults><Delimiter>/</Delimiter>
  <Blobs>
    <Blob><Name>ci/a &amp; b.json</Name><Properties><Etag>0x8D1</Etag></Properties></Blob>
    <BlobPrefix><Name>ci/dev/</Name></BlobPrefix>
    <Blob><Name><![CDATA[ci/ spaced ]]></Name></Blob>
  </Blobs>
  <NextMarker>2!76!MDAwMDE</NextMarker>
</EnumerationResults>)");
    BOOST_TEST(r.names == (std::vector<std::string>{"ci/a & b.json", "ci/ spaced "}),
               boost::test_tools::per_element());
    BOOST_TEST(r.prefixes == std::vector<std::string>{"ci/dev/"}, boost::test_tools::per_element());
    BOOST_TEST(r.next_marker == "2!76!MDAwMDE");
}

BOOST_AUTO_TEST_CASE(last_page_and_bad_bodies)
{
    const auto r = parse_list_blobs("<EnumerationResults><Blobs/><NextMarker/></EnumerationResults>");
    BOOST_TEST(r.names.empty());
    BOOST_TEST(r.next_marker.empty());
    BOOST_CHECK_THROW(parse_list_blobs("<EnumerationResults><Blobs><Blob>"), statestore::error);
    BOOST_CHECK_THROW(parse_list_blobs("<EnumerationResults/>"), statestore::error);
    BOOST_CHECK_THROW(parse_list_blobs("<EnumerationResults><Blobs><Blob/></Blobs></EnumerationResults>"),
                      statestore::error);
    BOOST_CHECK_THROW(parse_list_blobs("<Error><Code>X</Code></Error>"), statestore::error);
}

BOOST_AUTO_TEST_CASE(error_bodies)
{
    const auto e = parse_error("\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>ContainerNotFound</Code>"
                               "<Message>The specified container does not exist.\nRequestId:1</Message></Error>");
    BOOST_REQUIRE(e);
    BOOST_TEST(e->code == "ContainerNotFound");
    BOOST_TEST(e->message.rfind("The specified container does not exist.", 0) == 0);
    BOOST_TEST(!parse_error(""));
    BOOST_TEST(!parse_error("<html>bad gateway</html>"));
    BOOST_TEST(!parse_error("not xml"));
}

BOOST_AUTO_TEST_SUITE_END()
