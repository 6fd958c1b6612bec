// Unit tests for the S3 XML documents: ListObjectsV2 results (AWS's documented shape, Ceph
// RGW's, url-encoded keys, awkward keys) and error bodies (AWS, RGW with an empty Message,
// Azure), plus bodies that are cut short or are not XML at all.

#include "cloud/s3/s3_xml.hpp"

#include "statestore/error.hpp"
#include "support/printing.hpp"

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

using namespace std::string_view_literals;
namespace bdata = boost::unit_test::data;
using statestore::errc;
using statestore::parse_list_objects_v2;
using statestore::parse_s3_error;

namespace {

// Modelled on the examples in AWS's ListObjectsV2 API reference: a delimited listing of
// a "photos/2006/" prefix, truncated, with a continuation token, quoted ETags written as
// &quot; entities, and the elements AWS sends that we do not use (Owner, StorageClass).
constexpr std::string_view aws_list_body = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>example-bucket</Name>
  <Prefix>photos/2006/</Prefix>
  <ContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</ContinuationToken>
  <NextContinuationToken>1/xYl2VnrHDb7bnGn/ZdS4iv0DUR+c1rdZPGrbkOfWYk=</NextContinuationToken>
  <KeyCount>3</KeyCount>
  <MaxKeys>3</MaxKeys>
  <Delimiter>/</Delimiter>
  <IsTruncated>true</IsTruncated>
  <Contents>
    <Key>photos/2006/index.html</Key>
    <LastModified>2014-11-21T19:40:05.000Z</LastModified>
    <ETag>&quot;70ee1738b6b21e2c8a43f3a5ab0eee71&quot;</ETag>
    <Size>434234</Size>
    <StorageClass>STANDARD</StorageClass>
    <Owner>
      <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
      <DisplayName>mtd@amazon.com</DisplayName>
    </Owner>
  </Contents>
  <CommonPrefixes>
    <Prefix>photos/2006/February/</Prefix>
  </CommonPrefixes>
  <CommonPrefixes>
    <Prefix>photos/2006/January/</Prefix>
  </CommonPrefixes>
</ListBucketResult>)";

// What Ceph RGW 16 sends for a Meltano-layout listing (prefix "state/", delimiter "/"):
// one line, RGW's element order, no ETag quoting entities.
constexpr std::string_view rgw_list_body =
    R"(<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bkt</Name><Prefix>state/</Prefix><MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter><IsTruncated>false</IsTruncated><Contents><Key>state/stray.json</Key><LastModified>2026-11-25T10:00:00.000Z</LastModified><ETag>"9b2cf535f27731c974343645a3985328"</ETag><Size>2</Size><StorageClass>STANDARD</StorageClass></Contents><CommonPrefixes><Prefix>state/dev:tap-x-to-target-y/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>state/prod:tap-github-to-target-jsonl/</Prefix></CommonPrefixes><KeyCount>3</KeyCount></ListBucketResult>)";

// The listing an S3 server gives when the request said encoding-type=url: form encoding,
// so a space is '+', a literal '+' is %2B, and non-ASCII and control characters are %XX.
constexpr std::string_view url_encoded_list_body = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bkt</Name>
  <Prefix>state%2Fa+b%2F</Prefix>
  <Delimiter>%2F</Delimiter>
  <StartAfter>state%2Fa+b%2F0</StartAfter>
  <EncodingType>url</EncodingType>
  <KeyCount>2</KeyCount>
  <MaxKeys>2</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <NextContinuationToken>token+with%2Fpercent</NextContinuationToken>
  <Contents>
    <Key>state%2Fa+b%2Fx%2By%0Aline%C3%A9.json</Key>
    <ETag>"abc"</ETag>
    <Size>7</Size>
  </Contents>
  <CommonPrefixes>
    <Prefix>state%2Fa+b%2Fdev%3Atap%25%2F</Prefix>
  </CommonPrefixes>
</ListBucketResult>)";

// RGW's error bodies: no Message text (the field is empty), a BucketName, RGW request ids.
constexpr std::string_view rgw_no_such_key =
    R"(<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message></Message><BucketName>bkt</BucketName><RequestId>tx00000a1b2c3d4e5f6071a-0067443b2c-1011-default</RequestId><HostId>1011-default-default</HostId></Error>)";
constexpr std::string_view rgw_precondition_failed =
    R"(<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><BucketName>bkt</BucketName><RequestId>tx00000c4d5e6f708192a3b-0067443b2d-1011-default</RequestId><HostId>1011-default-default</HostId></Error>)";

// AWS's documented error shape.
constexpr std::string_view aws_no_such_key = R"(<?xml version="1.0" encoding="UTF-8"?>
<Error>
  <Code>NoSuchKey</Code>
  <Message>The resource you requested does not exist</Message>
  <Key>state/dev/state.json</Key>
  <Resource>/mybucket/state/dev/state.json</Resource>
  <RequestId>4442587FB7D0A2F9</RequestId>
  <HostId>dGVzdCBob3N0IGlk</HostId>
</Error>)";

bool is_backend_unavailable(const statestore::error& e)
{
    return e.value() == errc::backend_unavailable;
}

// Checks code and that the message contains `fragment` (messages also quote the body).
auto fails_with(std::string fragment)
{
    return [fragment = std::move(fragment)](const statestore::error& e) {
        const std::string what = e.what();
        BOOST_TEST(what.find(fragment) != std::string::npos, "message: " << what);
        BOOST_TEST(what.rfind("S3 ListObjectsV2 response: ", 0) == 0u, "message: " << what);
        return is_backend_unavailable(e) && what.find(fragment) != std::string::npos;
    };
}

std::string list_with(std::string_view inner)
{
    return "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">" +
           std::string(inner) + "</ListBucketResult>";
}

} // namespace

BOOST_AUTO_TEST_SUITE(s3_xml)

// ----- ListObjectsV2 --------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(aws_documented_listing_with_common_prefixes_and_token)
{
    const auto r = parse_list_objects_v2(aws_list_body);
    BOOST_TEST(r.bucket == "example-bucket");
    BOOST_TEST(r.prefix == "photos/2006/");
    BOOST_TEST(r.delimiter == "/");
    BOOST_TEST(r.continuation_token == "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    BOOST_TEST(r.next_continuation_token == "1/xYl2VnrHDb7bnGn/ZdS4iv0DUR+c1rdZPGrbkOfWYk=");
    BOOST_TEST(r.is_truncated);
    BOOST_TEST(!r.url_encoded);
    BOOST_TEST(r.key_count == std::optional<std::uint64_t>(3));
    BOOST_TEST(r.max_keys == std::optional<std::uint64_t>(3));
    BOOST_TEST_REQUIRE(r.contents.size() == 1u);
    BOOST_TEST(r.contents[0].key == "photos/2006/index.html");
    BOOST_TEST(r.contents[0].raw_etag == "\"70ee1738b6b21e2c8a43f3a5ab0eee71\"");
    BOOST_TEST(r.contents[0].etag == "70ee1738b6b21e2c8a43f3a5ab0eee71");
    BOOST_TEST(r.contents[0].size == 434234u);
    BOOST_TEST(r.contents[0].last_modified == "2014-11-21T19:40:05.000Z");
    const std::vector<std::string> prefixes{"photos/2006/February/", "photos/2006/January/"};
    BOOST_TEST(r.common_prefixes == prefixes, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(rgw_listing_of_the_meltano_layout)
{
    const auto r = parse_list_objects_v2(rgw_list_body);
    BOOST_TEST(r.bucket == "bkt");
    BOOST_TEST(r.prefix == "state/");
    BOOST_TEST(!r.is_truncated);
    BOOST_TEST(r.next_continuation_token.empty());
    BOOST_TEST(r.key_count == std::optional<std::uint64_t>(3));
    BOOST_TEST_REQUIRE(r.contents.size() == 1u);
    BOOST_TEST(r.contents[0].key == "state/stray.json");
    BOOST_TEST(r.contents[0].etag == "9b2cf535f27731c974343645a3985328");
    BOOST_TEST(r.contents[0].raw_etag == "\"9b2cf535f27731c974343645a3985328\"");
    BOOST_TEST(r.contents[0].size == 2u);
    const std::vector<std::string> prefixes{"state/dev:tap-x-to-target-y/",
                                            "state/prod:tap-github-to-target-jsonl/"};
    BOOST_TEST(r.common_prefixes == prefixes, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(empty_listing)
{
    const auto r = parse_list_objects_v2(
        R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bkt</Name><Prefix>nothing/</Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>)");
    BOOST_TEST(r.contents.empty());
    BOOST_TEST(r.common_prefixes.empty());
    BOOST_TEST(!r.is_truncated);
    BOOST_TEST(r.key_count == std::optional<std::uint64_t>(0));
    // Minimal: only the root. Optional fields stay empty.
    const auto bare = parse_list_objects_v2("<ListBucketResult/>");
    BOOST_TEST(!bare.is_truncated);
    BOOST_TEST(!bare.key_count.has_value());
    BOOST_TEST(!bare.max_keys.has_value());
    BOOST_TEST(bare.bucket.empty());
}

BOOST_AUTO_TEST_CASE(url_encoded_listing_is_decoded)
{
    const auto r = parse_list_objects_v2(url_encoded_list_body);
    BOOST_TEST(r.url_encoded);
    BOOST_TEST(r.prefix == "state/a b/");
    BOOST_TEST(r.delimiter == "/");
    BOOST_TEST(r.start_after == "state/a b/0");
    // Continuation tokens are opaque: never decoded.
    BOOST_TEST(r.next_continuation_token == "token+with%2Fpercent");
    BOOST_TEST_REQUIRE(r.contents.size() == 1u);
    BOOST_TEST(r.contents[0].key == "state/a b/x+y\nline\xC3\xA9.json");
    BOOST_TEST_REQUIRE(r.common_prefixes.size() == 1u);
    BOOST_TEST(r.common_prefixes[0] == "state/a b/dev:tap%/");
}

BOOST_AUTO_TEST_CASE(keys_are_not_decoded_without_encoding_type)
{
    const auto r = parse_list_objects_v2(
        list_with("<Contents><Key>a+b%2Fc</Key></Contents><CommonPrefixes><Prefix>p%20q/"
                  "</Prefix></CommonPrefixes>"));
    BOOST_TEST_REQUIRE(r.contents.size() == 1u);
    BOOST_TEST(r.contents[0].key == "a+b%2Fc");
    BOOST_TEST(r.common_prefixes.at(0) == "p%20q/");
}

BOOST_AUTO_TEST_CASE(awkward_keys_survive_the_xml_layer)
{
    const auto r = parse_list_objects_v2(
        list_with("<Contents><Key> </Key></Contents>"                  // a single space
                  "<Contents><Key>  lead and trail  </Key></Contents>" // spaces are part of keys
                  "<Contents><Key>a&amp;b&lt;c&gt;d&quot;e&apos;f</Key></Contents>" // entities
                  "<Contents><Key>cr&#13;lf&#10;tab&#9;</Key></Contents>" // escaped control chars
                  "<Contents><Key><![CDATA[x<y>&z]]></Key></Contents>"    // CDATA
                  "<Contents><Key>caf\xC3\xA9 \xE6\x97\xA5</Key></Contents>"    // UTF-8
                  "<Contents><Key>part<![CDATA[<cdata>]]>rest</Key></Contents>" // mixed
                  "<Contents><Key></Key><Size>0</Size></Contents>")); // empty key, present
    const std::vector<std::string> keys{
        " ",      "  lead and trail  ",       "a&b<c>d\"e'f",    "cr\rlf\ntab\t",
        "x<y>&z", "caf\xC3\xA9 \xE6\x97\xA5", "part<cdata>rest", ""};
    BOOST_TEST_REQUIRE(r.contents.size() == keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
        BOOST_TEST(r.contents[i].key == keys[i], "entry " << i);
    }
}

BOOST_AUTO_TEST_CASE(prefixed_namespace_and_surrounding_whitespace_in_scalars)
{
    const auto r = parse_list_objects_v2(
        R"(<s3:ListBucketResult xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/">
  <s3:IsTruncated>
    true
  </s3:IsTruncated>
  <s3:NextContinuationToken>t1</s3:NextContinuationToken>
  <s3:KeyCount> 1 </s3:KeyCount>
  <s3:Contents><s3:Key>k</s3:Key><s3:Size>
    12
  </s3:Size><s3:ETag>"e"</s3:ETag></s3:Contents>
</s3:ListBucketResult>)");
    BOOST_TEST(r.is_truncated);
    BOOST_TEST(r.next_continuation_token == "t1");
    BOOST_TEST(r.key_count == std::optional<std::uint64_t>(1));
    BOOST_TEST_REQUIRE(r.contents.size() == 1u);
    BOOST_TEST(r.contents[0].key == "k");
    BOOST_TEST(r.contents[0].size == 12u);
    BOOST_TEST(r.contents[0].etag == "e");
}

BOOST_AUTO_TEST_CASE(large_sizes_and_a_utf8_bom)
{
    const auto r = parse_list_objects_v2(
        "\xEF\xBB\xBF" +
        list_with("<Contents><Key>big</Key><Size>18446744073709551615</Size></Contents>"));
    BOOST_TEST_REQUIRE(r.contents.size() == 1u);
    BOOST_TEST(r.contents[0].size == 18446744073709551615ull);
}

BOOST_AUTO_TEST_CASE(etag_forms)
{
    const auto r = parse_list_objects_v2(
        list_with("<Contents><Key>a</Key><ETag>\"d41d8cd98f00b204e9800998ecf8427e-2\"</ETag>"
                  "</Contents><Contents><Key>b</Key><ETag>unquoted</ETag></Contents>"
                  "<Contents><Key>c</Key></Contents>"));
    BOOST_TEST_REQUIRE(r.contents.size() == 3u);
    BOOST_TEST(r.contents[0].etag == "d41d8cd98f00b204e9800998ecf8427e-2"); // multipart form
    BOOST_TEST(r.contents[1].etag == "unquoted");
    BOOST_TEST(r.contents[1].raw_etag == "unquoted");
    BOOST_TEST(r.contents[2].etag.empty());
    BOOST_TEST(r.contents[2].size == 0u);

    BOOST_TEST(statestore::unquote_etag("\"abc\"") == "abc");
    BOOST_TEST(statestore::unquote_etag("abc") == "abc");
    BOOST_TEST(statestore::unquote_etag("\"\"") == "");
    BOOST_TEST(statestore::unquote_etag("\"") == "\"");
    BOOST_TEST(statestore::unquote_etag("") == "");
    BOOST_TEST(statestore::unquote_etag("W/\"weak\"") == "W/\"weak\""); // not S3's; kept
    BOOST_TEST(statestore::unquote_etag("\"\"x\"\"") == "\"x\"");       // one pair only
}

// ----- unusable listings ----------------------------------------------------------------

struct bad_list_case {
    std::string body;
    std::string fragment; // expected in the message
};
std::ostream& operator<<(std::ostream& os, const bad_list_case& c)
{
    return os << c.fragment;
}

const bad_list_case bad_lists[] = {
    {"", "the body is empty"},
    {" \r\n\t", "the body is empty"},
    {"not xml at all", "not well-formed XML"},
    {"<html><body><h1>502 Bad Gateway</h1></body>", "not well-formed XML"},
    // The AWS example cut short in the middle of an element, as a dropped connection would.
    {std::string(aws_list_body.substr(0, aws_list_body.size() / 2)), "not well-formed XML"},
    {std::string(aws_list_body.substr(0, aws_list_body.size() - 3)), "not well-formed XML"},
    {"<ListBucketResult><Contents><Key>a</Key></Contents>", "not well-formed XML"},
    {"<ListBucketResult><Key>a</Kee></ListBucketResult>", "not well-formed XML"},
    {"<?xml version=\"1.0\"?>", "not well-formed XML"},
    {"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
     "got an error document (Code \"AccessDenied\") instead of a ListBucketResult"},
    {"<ListAllMyBucketsResult/>",
     "the root element is \"ListAllMyBucketsResult\", not ListBucketResult"},
    {list_with("<Contents><ETag>\"x\"</ETag></Contents>"), "a Contents entry has no Key"},
    {list_with("<Contents><Key>a</Key><Size>-1</Size></Contents>"),
     "Size is not a non-negative integer: \"-1\""},
    {list_with("<Contents><Key>a</Key><Size>1.5</Size></Contents>"),
     "Size is not a non-negative integer: \"1.5\""},
    {list_with("<Contents><Key>a</Key><Size></Size></Contents>"),
     "Size is not a non-negative integer: \"\""},
    {list_with("<Contents><Key>a</Key><Size>18446744073709551616</Size></Contents>"),
     "Size is not a non-negative integer"},
    {list_with("<KeyCount>many</KeyCount>"), "KeyCount is not a non-negative integer"},
    {list_with("<MaxKeys>0x10</MaxKeys>"), "MaxKeys is not a non-negative integer"},
    {list_with("<IsTruncated>yes</IsTruncated>"), "IsTruncated is neither true nor false: \"yes\""},
    {list_with("<IsTruncated>TRUE</IsTruncated><NextContinuationToken>t</NextContinuationToken>"),
     "IsTruncated is neither true nor false"},
    {list_with("<IsTruncated>true</IsTruncated>"),
     "the listing is truncated but has no NextContinuationToken"},
    {list_with("<IsTruncated>true</IsTruncated><NextContinuationToken/>"),
     "the listing is truncated but has no NextContinuationToken"},
    {list_with("<EncodingType>base64</EncodingType>"), "unknown EncodingType \"base64\""},
    {list_with("<EncodingType>url</EncodingType><Contents><Key>a%zz</Key></Contents>"),
     "invalid percent-encoding in Key: \"a%zz\""},
    {list_with("<EncodingType>url</EncodingType><Contents><Key>a%4</Key></Contents>"),
     "invalid percent-encoding in Key"},
    {list_with("<EncodingType>url</EncodingType><Contents><Key>a%</Key></Contents>"),
     "invalid percent-encoding in Key"},
    {list_with("<EncodingType>url</EncodingType><CommonPrefixes><Prefix>%G0/</Prefix>"
               "</CommonPrefixes>"),
     "invalid percent-encoding in Prefix"},
};

BOOST_DATA_TEST_CASE(unusable_listings_throw_backend_unavailable, bdata::make(bad_lists), c)
{
    BOOST_CHECK_EXCEPTION(parse_list_objects_v2(c.body), statestore::error, fails_with(c.fragment));
}

BOOST_AUTO_TEST_CASE(malformed_xml_message_names_the_reason_and_offset)
{
    try {
        parse_list_objects_v2("<ListBucketResult><Name>b</Name>\x01</Oops>");
        BOOST_FAIL("expected an exception");
    } catch (const statestore::error& e) {
        const std::string what = e.what();
        BOOST_TEST(what.find("S3 ListObjectsV2 response: not well-formed XML (") == 0u, what);
        BOOST_TEST(what.find(" at byte ") != std::string::npos, what);
        // The body is quoted with control characters escaped, never raw.
        BOOST_TEST(what.find("the body starts \"<ListBucketResult><Name>b</Name>\\x01") !=
                       std::string::npos,
                   what);
        BOOST_TEST(what.find('\x01') == std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(doctype_entities_are_not_expanded)
{
    // A body that tries an external entity: pugixml never loads DTDs, so the reference is
    // not expanded and nothing outside the body is read.
    const auto r = parse_list_objects_v2(
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY ext SYSTEM \"file:///etc/passwd\">]>" +
        list_with("<Contents><Key>&ext;</Key></Contents>"));
    BOOST_TEST_REQUIRE(r.contents.size() == 1u);
    BOOST_TEST(r.contents[0].key.find("root:") == std::string::npos);
}

// ----- error bodies ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(rgw_no_such_key_with_empty_message)
{
    const auto e = parse_s3_error(rgw_no_such_key);
    BOOST_TEST_REQUIRE(e.has_value());
    BOOST_TEST(e->code == "NoSuchKey");
    BOOST_TEST(e->message.empty());
    BOOST_TEST(e->bucket_name == "bkt");
    BOOST_TEST(e->request_id == "tx00000a1b2c3d4e5f6071a-0067443b2c-1011-default");
    BOOST_TEST(e->host_id == "1011-default-default");
    BOOST_TEST(e->resource.empty());
    BOOST_TEST(e->key.empty());
}

BOOST_AUTO_TEST_CASE(rgw_precondition_failed_without_message_element)
{
    const auto e = parse_s3_error(rgw_precondition_failed);
    BOOST_TEST_REQUIRE(e.has_value());
    BOOST_TEST(e->code == "PreconditionFailed");
    BOOST_TEST(e->message.empty());
    BOOST_TEST(e->request_id == "tx00000c4d5e6f708192a3b-0067443b2d-1011-default");
}

BOOST_AUTO_TEST_CASE(aws_error_with_every_field)
{
    const auto e = parse_s3_error(aws_no_such_key);
    BOOST_TEST_REQUIRE(e.has_value());
    BOOST_TEST(e->code == "NoSuchKey");
    BOOST_TEST(e->message == "The resource you requested does not exist");
    BOOST_TEST(e->key == "state/dev/state.json");
    BOOST_TEST(e->resource == "/mybucket/state/dev/state.json");
    BOOST_TEST(e->request_id == "4442587FB7D0A2F9");
    BOOST_TEST(e->host_id == "dGVzdCBob3N0IGlk");
}

BOOST_AUTO_TEST_CASE(aws_signature_error_and_azure_error_share_the_shape)
{
    const auto aws = parse_s3_error(
        R"(<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your key and signing method.</Message><AWSAccessKeyId>AKIAIOSFODNN7EXAMPLE</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256
20130524T000000Z</StringToSign><RequestId>R1</RequestId><HostId>H1</HostId></Error>)");
    BOOST_TEST_REQUIRE(aws.has_value());
    BOOST_TEST(aws->code == "SignatureDoesNotMatch");
    BOOST_TEST(aws->request_id == "R1");

    const auto azure = parse_s3_error(
        "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>ConditionNotMet"
        "</Code><Message>The condition specified using HTTP conditional header(s) is not "
        "met.\nRequestId:c0ffee00-0000-0000-0000-000000000000\nTime:2026-11-25T10:00:00."
        "0000000Z</Message></Error>");
    BOOST_TEST_REQUIRE(azure.has_value());
    BOOST_TEST(azure->code == "ConditionNotMet");
    BOOST_TEST(azure->message.find("RequestId:c0ffee00") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(error_code_is_trimmed_message_is_not)
{
    const auto e = parse_s3_error("<Error>\n  <Code>\n    SlowDown\n  </Code>\n"
                                  "  <Message> Please reduce your request rate. </Message>\n"
                                  "</Error>");
    BOOST_TEST_REQUIRE(e.has_value());
    BOOST_TEST(e->code == "SlowDown");
    BOOST_TEST(e->message == " Please reduce your request rate. ");
    const auto empty = parse_s3_error("<Error/>");
    BOOST_TEST_REQUIRE(empty.has_value());
    BOOST_TEST(empty->code.empty());
}

BOOST_DATA_TEST_CASE(unusable_error_bodies_give_nullopt,
                     bdata::make({""sv, "  \n"sv, "Internal Server Error"sv,
                                  "<html><head><title>502 Bad Gateway</title></head></html>"sv,
                                  "{\"error\":{\"code\":429}}"sv,
                                  "<Error><Code>NoSuchKey</Code><Message>"sv, // cut short
                                  "<?xml version=\"1.0\"?>"sv, "<ListBucketResult/>"sv}),
                     body)
{
    BOOST_TEST(!parse_s3_error(body).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
