// Unit tests for SigV4 signing: each stage on small inputs, every case of the AWS generic test
// suite (generic mode) byte for byte, and S3's own documented examples (S3 mode).

#include "cloud/s3/aws_sigv4.hpp"
#include "statestore/error.hpp"

#include <boost/json.hpp>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace aws = statestore::aws;
namespace bdata = boost::unit_test::data;
namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::string_literals;

namespace statestore::aws {
// Failure messages print these; a secret prints as *** through its own operator<<.
inline std::ostream& boost_test_print_type(std::ostream& os, const header& h)
{
    return os << h.name << ": " << h.value;
}
inline std::ostream& boost_test_print_type(std::ostream& os, const query_param& p)
{
    return os << p.name << "=" << p.value;
}
} // namespace statestore::aws

namespace {

// ---- Shared inputs ---------------------------------------------------------------------

std::chrono::system_clock::time_point utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0,
                                          int s = 0)
{
    using namespace std::chrono;
    return sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s};
}

// The S3 documentation's example account (API reference, "Signature Calculations for the
// Authorization Header: Transferring Payload in a Single Chunk" and "Authenticating Requests:
// Using Query Parameters"). Note the '/' before "bPxRfi": the generic suite's key has '+'.
aws::credentials s3_doc_credentials()
{
    return {"AKIAIOSFODNN7EXAMPLE", aws::secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), {}};
}

aws::signing_options s3_doc_options()
{
    aws::signing_options o;
    o.region = "us-east-1";
    o.service = "s3";
    o.time = utc(2013, 5, 24);
    return o;
}

const aws::header s3_doc_host{"Host", "examplebucket.s3.amazonaws.com"};

const aws::header* find_header(const std::vector<aws::header>& headers, std::string_view name)
{
    for (const aws::header& h : headers) {
        if (h.name == name) {
            return &h;
        }
    }
    return nullptr;
}

// ---- The generic test suite on disk ----------------------------------------------------

// The vectors live in the repository (tests/data, copied from the public suite; see its
// README); STATESTORE_TESTDATA may point elsewhere.
fs::path testdata_root()
{
    if (const char* env = std::getenv("STATESTORE_TESTDATA"); env != nullptr && *env != '\0') {
        return fs::path(env);
    }
    return fs::path(STATESTORE_TEST_DATA_DIR);
}

fs::path suite_dir()
{
    return testdata_root() / "aws-sigv4";
}

// Stands in for the case list when the folder is missing, so that the data-driven test fails
// loudly instead of running zero cases.
const std::string missing_suite = "<aws-sigv4 test suite not found>";

std::vector<std::string> suite_cases()
{
    std::error_code ec;
    std::vector<std::string> names;
    for (const fs::directory_entry& e : fs::directory_iterator(suite_dir(), ec)) {
        if (e.is_directory()) {
            names.push_back(e.path().filename().string());
        }
    }
    if (ec || names.empty()) {
        return {missing_suite};
    }
    std::sort(names.begin(), names.end());
    return names;
}

std::string read_file(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("cannot read " + path.string());
    }
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

// %XX only: the suite's queries contain no '+', and SigV4 would not read one as a space.
std::string percent_decode(std::string_view text)
{
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
            hex_value(text[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])));
            i += 2;
        } else {
            out.push_back(text[i]);
        }
    }
    return out;
}

std::vector<aws::query_param> parse_query(std::string_view query)
{
    std::vector<aws::query_param> params;
    while (!query.empty()) {
        const std::size_t amp = std::min(query.find('&'), query.size());
        const std::string_view pair = query.substr(0, amp);
        query.remove_prefix(std::min(amp + 1, query.size()));
        if (pair.empty()) {
            continue;
        }
        const std::size_t eq = pair.find('=');
        if (eq == std::string_view::npos) {
            params.push_back({percent_decode(pair), ""});
        } else {
            params.push_back(
                {percent_decode(pair.substr(0, eq)), percent_decode(pair.substr(eq + 1))});
        }
    }
    return params;
}

// A request in the suite's text format: "METHOD target HTTP/1.1", then "Name:value" lines (a
// line starting with whitespace continues the previous value), a blank line, the body. The
// target may contain spaces ("/example space/"), so it runs to the last space of the line.
struct http_message {
    std::string method;
    std::string path;
    std::vector<aws::query_param> query;
    std::vector<aws::header> headers;
    std::string body;
};

http_message parse_http(std::string_view text)
{
    http_message m;
    std::size_t pos = 0;
    auto next_line = [&]() -> std::optional<std::string_view> {
        if (pos >= text.size()) {
            return std::nullopt;
        }
        const std::size_t nl = std::min(text.find('\n', pos), text.size());
        std::string_view line = text.substr(pos, nl - pos);
        pos = nl + 1;
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        return line;
    };

    const std::string_view request_line = next_line().value_or("");
    const std::size_t first = request_line.find(' ');
    const std::size_t last = request_line.rfind(' ');
    if (first == std::string_view::npos || last <= first) {
        throw std::runtime_error("malformed request line: " + std::string(request_line));
    }
    m.method = request_line.substr(0, first);
    const std::string_view target = request_line.substr(first + 1, last - first - 1);
    const std::size_t question = target.find('?');
    m.path = target.substr(0, question);
    if (question != std::string_view::npos) {
        m.query = parse_query(target.substr(question + 1));
    }

    while (const auto line = next_line()) {
        if (line->empty()) {
            m.body = pos < text.size() ? text.substr(pos) : std::string_view{};
            break;
        }
        if (line->front() == ' ' || line->front() == '\t') {
            if (m.headers.empty()) {
                throw std::runtime_error("continuation line before any header");
            }
            m.headers.back().value.append("\n").append(*line);
            continue;
        }
        const std::size_t colon = line->find(':');
        if (colon == std::string_view::npos) {
            throw std::runtime_error("malformed header line: " + std::string(*line));
        }
        m.headers.push_back(
            {std::string(line->substr(0, colon)), std::string(line->substr(colon + 1))});
    }
    return m;
}

// "2015-08-30T12:36:00Z"
std::chrono::system_clock::time_point parse_timestamp(std::string_view text)
{
    int y = 0;
    unsigned mo = 0;
    unsigned d = 0;
    int h = 0;
    int mi = 0;
    int s = 0;
    const std::string copy(text);
    if (std::sscanf(copy.c_str(), "%4d-%2u-%2uT%2d:%2d:%2dZ", &y, &mo, &d, &h, &mi, &s) != 6) {
        throw std::runtime_error("malformed timestamp: " + copy);
    }
    return utc(y, mo, d, h, mi, s);
}

struct suite_case {
    aws::request req;
    aws::credentials creds;
    aws::signing_options options;
};

suite_case load_case(const fs::path& dir)
{
    const json::object context = json::parse(read_file(dir / "context.json")).as_object();
    const json::object& cred = context.at("credentials").as_object();

    suite_case c;
    c.creds.access_key_id = json::value_to<std::string>(cred.at("access_key_id"));
    c.creds.secret_access_key =
        aws::secret(json::value_to<std::string>(cred.at("secret_access_key")));
    if (const json::value* token = cred.if_contains("token")) {
        c.creds.session_token = aws::secret(json::value_to<std::string>(*token));
    }

    c.options.region = json::value_to<std::string>(context.at("region"));
    c.options.service = json::value_to<std::string>(context.at("service"));
    c.options.time = parse_timestamp(context.at("timestamp").as_string());
    c.options.mode = context.at("normalize").as_bool() ? aws::signing_mode::generic
                                                       : aws::signing_mode::generic_unnormalized;
    c.options.content_hash = context.at("sign_body").as_bool() ? aws::content_hash_header::always
                                                               : aws::content_hash_header::never;
    if (const json::value* omit = context.if_contains("omit_session_token")) {
        c.options.sign_session_token = !omit->as_bool();
    }
    c.options.expires = std::chrono::seconds(context.at("expiration_in_seconds").to_number<int>());

    http_message m = parse_http(read_file(dir / "request.txt"));
    c.req.method = std::move(m.method);
    c.req.path = std::move(m.path);
    c.req.query = std::move(m.query);
    c.req.headers = std::move(m.headers);
    c.req.payload_hash = aws::sha256_hex(m.body);
    return c;
}

std::string lower(std::string s)
{
    std::transform(s.begin(), s.end(), s.begin(),
                   [](char ch) { return (ch >= 'A' && ch <= 'Z') ? char(ch - 'A' + 'a') : ch; });
    return s;
}

// Header names compare case-insensitively; the suite writes "X-Amz-Date" but
// "x-amz-content-sha256".
std::vector<aws::header> normalized(std::vector<aws::header> headers)
{
    for (aws::header& h : headers) {
        h.name = lower(h.name);
    }
    std::sort(headers.begin(), headers.end(), [](const aws::header& a, const aws::header& b) {
        return std::tie(a.name, a.value) < std::tie(b.name, b.value);
    });
    return headers;
}

std::vector<aws::query_param> sorted(std::vector<aws::query_param> params)
{
    std::sort(params.begin(), params.end(),
              [](const aws::query_param& a, const aws::query_param& b) {
                  return std::tie(a.name, a.value) < std::tie(b.name, b.value);
              });
    return params;
}

// What the signer must have added: the signed request's headers minus the original ones.
std::vector<aws::header> added_headers(const std::vector<aws::header>& original,
                                       const std::vector<aws::header>& signed_request)
{
    std::vector<aws::header> rest = normalized(signed_request);
    for (const aws::header& h : normalized(original)) {
        const auto it = std::find(rest.begin(), rest.end(), h);
        if (it != rest.end()) {
            rest.erase(it);
        }
    }
    return rest;
}

} // namespace

BOOST_AUTO_TEST_SUITE(aws_sigv4)

// ---- Stages -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(sha256_matches_the_standard_vectors)
{
    BOOST_TEST(aws::sha256_hex("") == aws::empty_payload_sha256);
    // FIPS 180-2, appendix B.1.
    BOOST_TEST(aws::sha256_hex("abc") ==
               "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    BOOST_TEST(aws::sha256_hex("Welcome to Amazon S3.") ==
               "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
}

BOOST_AUTO_TEST_CASE(hmac_matches_rfc_4231)
{
    // RFC 4231 test case 2.
    BOOST_TEST(aws::to_hex(aws::hmac_sha256("Jefe"s, "what do ya want for nothing?")) ==
               "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    // An empty key is legal HMAC (the key is zero-padded) and must not crash.
    BOOST_TEST(aws::to_hex(aws::hmac_sha256(""s, "")) ==
               "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

BOOST_AUTO_TEST_CASE(uri_encode_keeps_only_unreserved_characters)
{
    BOOST_TEST(aws::uri_encode("AZaz09-._~", true) == "AZaz09-._~");
    BOOST_TEST(aws::uri_encode("a b+c%d=e*f", true) == "a%20b%2Bc%25d%3De%2Af");
    BOOST_TEST(aws::uri_encode("dir/file", false) == "dir/file");
    BOOST_TEST(aws::uri_encode("dir/file", true) == "dir%2Ffile");
    BOOST_TEST(aws::uri_encode("\xe1\x88\xb4", true) == "%E1%88%B4"); // U+1234, upper-case hex
    BOOST_TEST(aws::uri_encode(std::string_view("\0\xff", 2), true) == "%00%FF");
    BOOST_TEST(aws::uri_encode("", true) == "");
}

BOOST_AUTO_TEST_CASE(normalize_path_removes_dot_segments_and_duplicate_slashes)
{
    BOOST_TEST(aws::normalize_path("") == "/");
    BOOST_TEST(aws::normalize_path("/") == "/");
    BOOST_TEST(aws::normalize_path("//") == "/");
    BOOST_TEST(aws::normalize_path("/./") == "/");
    BOOST_TEST(aws::normalize_path("/./example") == "/example");
    BOOST_TEST(aws::normalize_path("/example/..") == "/");
    BOOST_TEST(aws::normalize_path("/example1/example2/../..") == "/");
    BOOST_TEST(aws::normalize_path("//example//") == "/example/");
    BOOST_TEST(aws::normalize_path("/a/b/../c") == "/a/c");
    BOOST_TEST(aws::normalize_path("/a/b/..") == "/a/");
    BOOST_TEST(aws::normalize_path("/a/.") == "/a/");
    BOOST_TEST(aws::normalize_path("/../../a") == "/a"); // cannot climb above the root
    BOOST_TEST(aws::normalize_path("a/b") == "/a/b");
    BOOST_TEST(aws::normalize_path("/a..b/.c/...") == "/a..b/.c/..."); // not dot segments
}

BOOST_AUTO_TEST_CASE(canonical_uri_follows_the_mode)
{
    using aws::signing_mode;
    BOOST_TEST(aws::canonical_uri("", signing_mode::s3) == "/");
    BOOST_TEST(aws::canonical_uri("", signing_mode::generic) == "/");
    BOOST_TEST(aws::canonical_uri("/a b/", signing_mode::generic) == "/a%20b/");
    BOOST_TEST(aws::canonical_uri("/a%20b/", signing_mode::generic) == "/a%2520b/");
    BOOST_TEST(aws::canonical_uri("/a%20b/", signing_mode::s3) == "/a%20b/");
    BOOST_TEST(aws::canonical_uri("//a/./b/../c", signing_mode::generic) == "/a/c");
    BOOST_TEST(aws::canonical_uri("//a/./b/../c", signing_mode::generic_unnormalized) ==
               "//a/./b/../c");
    BOOST_TEST(aws::canonical_uri("//a/./b/../c", signing_mode::s3) == "//a/./b/../c");
}

BOOST_AUTO_TEST_CASE(canonical_query_sorts_encoded_names_then_values)
{
    const std::vector<aws::query_param> params = {
        {"prefix", "J"}, {"max-keys", "2"}, {"b", "2"},
        {"b", "1"},      {"uploads", ""},   {"a b", "x/y+z"},
    };
    BOOST_TEST(aws::canonical_query(params) ==
               "a%20b=x%2Fy%2Bz&b=1&b=2&max-keys=2&prefix=J&uploads=");
    BOOST_TEST(aws::canonical_query({}) == "");

    // Sorted by the encoded text: "%C3%A9" (é) comes before "~", although the decoded byte
    // 0xC3 is greater than '~'.
    const std::vector<aws::query_param> mixed = {{"~", "1"}, {"\xc3\xa9", "2"}};
    BOOST_TEST(aws::canonical_query(mixed) == "%C3%A9=2&~=1");
}

BOOST_AUTO_TEST_CASE(canonical_headers_lower_trim_collapse_join_and_sort)
{
    const std::vector<aws::header> headers = {
        {"X-Amz-Date", "20150830T123600Z"},
        {"My-Header1", "  value1\n  value2\t\t value3  "},
        {"Host", "example.amazonaws.com"},
        {"my-header2", "\"a   b   c\""},
        {"MY-HEADER1", "again"},
        {"Empty", ""},
    };
    const aws::canonical_header_list list = aws::canonical_headers(headers);
    BOOST_TEST(list.canonical == "empty:\n"
                                 "host:example.amazonaws.com\n"
                                 "my-header1:value1 value2 value3,again\n"
                                 "my-header2:\"a b c\"\n"
                                 "x-amz-date:20150830T123600Z\n");
    BOOST_TEST(list.signed_names == "empty;host;my-header1;my-header2;x-amz-date");
}

BOOST_AUTO_TEST_CASE(canonical_request_puts_one_part_per_line)
{
    const aws::canonical_header_list headers{"host:h\n", "host"};
    BOOST_TEST(aws::canonical_request("GET", "/", "a=1", headers, "UNSIGNED-PAYLOAD") ==
               "GET\n/\na=1\nhost:h\n\nhost\nUNSIGNED-PAYLOAD");
}

BOOST_AUTO_TEST_CASE(dates_are_utc_and_drop_subseconds)
{
    const auto t = utc(2015, 8, 30, 12, 36, 0) + std::chrono::milliseconds(999);
    BOOST_TEST(aws::amz_date(t) == "20150830T123600Z");
    BOOST_TEST(aws::date_stamp(t) == "20150830");
    BOOST_TEST(aws::amz_date(utc(1999, 12, 31, 23, 59, 59)) == "19991231T235959Z");
    BOOST_TEST(aws::amz_date(utc(2024, 2, 29, 0, 0, 7)) == "20240229T000007Z");
}

BOOST_AUTO_TEST_CASE(scope_string_to_sign_and_authorization_layout)
{
    const std::string scope = aws::credential_scope("20150830", "us-east-1", "iam");
    BOOST_TEST(scope == "20150830/us-east-1/iam/aws4_request");
    BOOST_TEST(aws::string_to_sign("20150830T123600Z", scope, "abc") ==
               "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\nabc");
    BOOST_TEST(aws::authorization_header("AKID", scope, "host;x-amz-date", "f00") ==
               "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iam/aws4_request, "
               "SignedHeaders=host;x-amz-date, Signature=f00");
}

BOOST_AUTO_TEST_CASE(signing_key_matches_the_documented_derivation)
{
    // AWS General Reference / IAM user guide, "Examples of how to derive a signing key for
    // Signature Version 4".
    const aws::digest key = aws::signing_key(
        aws::secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), "20120215", "us-east-1", "iam");
    BOOST_TEST(aws::to_hex(key) ==
               "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

// ---- Secrets ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(secret_never_prints_its_value)
{
    const aws::secret s("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    std::ostringstream os;
    os << s;
    BOOST_TEST(os.str() == "***");
    BOOST_TEST(s.reveal() == "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    BOOST_TEST(aws::secret().empty());
}

BOOST_AUTO_TEST_CASE(the_secret_key_appears_in_no_output)
{
    aws::credentials creds = s3_doc_credentials();
    creds.session_token = aws::secret("session-token-value");
    aws::request req;
    req.method = "GET";
    req.path = "/test.txt";
    req.headers = {s3_doc_host};
    const std::string secret_key = creds.secret_access_key.reveal();

    for (const aws::signing_result& r : {aws::sign_headers(req, creds, s3_doc_options()),
                                         aws::presign(req, creds, s3_doc_options())}) {
        BOOST_TEST(r.canonical_request.find(secret_key) == std::string::npos);
        BOOST_TEST(r.string_to_sign.find(secret_key) == std::string::npos);
        for (const aws::header& h : r.headers) {
            BOOST_TEST(h.value.find(secret_key) == std::string::npos);
        }
        for (const aws::query_param& p : r.query) {
            BOOST_TEST(p.value.find(secret_key) == std::string::npos);
        }
    }
}

BOOST_AUTO_TEST_CASE(sensitive_names_are_recognised)
{
    BOOST_TEST(aws::is_sensitive_header("authorization"));
    BOOST_TEST(aws::is_sensitive_header("X-AMZ-SECURITY-TOKEN"));
    BOOST_TEST(aws::is_sensitive_header("x-amz-server-side-encryption-customer-key"));
    BOOST_TEST(!aws::is_sensitive_header("x-amz-server-side-encryption-customer-key-MD5"));
    BOOST_TEST(!aws::is_sensitive_header("Host"));
    BOOST_TEST(aws::is_sensitive_query_param("X-Amz-Signature"));
    BOOST_TEST(aws::is_sensitive_query_param("X-Amz-Security-Token"));
    BOOST_TEST(!aws::is_sensitive_query_param("X-Amz-Credential"));
}

// ---- The generic AWS test suite -------------------------------------------------------------

BOOST_AUTO_TEST_CASE(the_generic_suite_is_present_and_complete)
{
    BOOST_TEST_MESSAGE("SigV4 vectors: " << suite_dir().string());
    BOOST_REQUIRE_MESSAGE(fs::is_directory(suite_dir()),
                          "the SigV4 test suite is missing at "
                              << suite_dir().string()
                              << "; the vectors belong in tests/data/aws-sigv4");
    // The README lists 38 cases; fewer means the checkout lost some.
    BOOST_TEST(suite_cases().size() >= 38u);
}

BOOST_DATA_TEST_CASE(generic_suite_case, bdata::make(suite_cases()), name)
{
    BOOST_REQUIRE_MESSAGE(name != missing_suite,
                          "no SigV4 test cases under " << suite_dir().string());
    const fs::path dir = suite_dir() / name;
    const suite_case c = load_case(dir);

    // Header (Authorization) form.
    const aws::signing_result h = aws::sign_headers(c.req, c.creds, c.options);
    BOOST_TEST(h.canonical_request == read_file(dir / "header-canonical-request.txt"));
    BOOST_TEST(h.string_to_sign == read_file(dir / "header-string-to-sign.txt"));
    BOOST_TEST(h.signature == read_file(dir / "header-signature.txt"));
    const http_message signed_h = parse_http(read_file(dir / "header-signed-request.txt"));
    BOOST_TEST(normalized(h.headers) == added_headers(c.req.headers, signed_h.headers),
               boost::test_tools::per_element());

    // Query (presigned) form.
    const aws::signing_result q = aws::presign(c.req, c.creds, c.options);
    BOOST_TEST(q.canonical_request == read_file(dir / "query-canonical-request.txt"));
    BOOST_TEST(q.string_to_sign == read_file(dir / "query-string-to-sign.txt"));
    BOOST_TEST(q.signature == read_file(dir / "query-signature.txt"));
    BOOST_TEST(q.headers.empty());
    const http_message signed_q = parse_http(read_file(dir / "query-signed-request.txt"));
    std::vector<aws::query_param> sent = c.req.query;
    sent.insert(sent.end(), q.query.begin(), q.query.end());
    BOOST_TEST(sorted(sent) == sorted(signed_q.query), boost::test_tools::per_element());
    BOOST_TEST(signed_q.path == c.req.path);
}

// ---- S3's documented examples (S3 mode) -----------------------------------------------------

// "Example: GET Object": the first 10 bytes of test.txt, payload hash of the empty body.
BOOST_AUTO_TEST_CASE(s3_doc_get_object_with_range)
{
    aws::request req;
    req.method = "GET";
    req.path = "/test.txt";
    req.headers = {s3_doc_host, {"Range", "bytes=0-9"}};
    req.payload_hash = std::string(aws::empty_payload_sha256);

    const aws::signing_result r = aws::sign_headers(req, s3_doc_credentials(), s3_doc_options());
    BOOST_TEST(r.canonical_request ==
               "GET\n"
               "/test.txt\n"
               "\n"
               "host:examplebucket.s3.amazonaws.com\n"
               "range:bytes=0-9\n"
               "x-amz-content-sha256:"
               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
               "x-amz-date:20130524T000000Z\n"
               "\n"
               "host;range;x-amz-content-sha256;x-amz-date\n"
               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    BOOST_TEST(r.string_to_sign ==
               "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
               "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    BOOST_TEST(r.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");

    // The documentation prints the header without spaces after the commas; AWS accepts both
    // and the generic suite uses ", ".
    const aws::header* auth = find_header(r.headers, "Authorization");
    BOOST_REQUIRE(auth != nullptr);
    BOOST_TEST(auth->value ==
               "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
               "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
               "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    const aws::header* date = find_header(r.headers, "X-Amz-Date");
    BOOST_REQUIRE(date != nullptr);
    BOOST_TEST(date->value == "20130524T000000Z");
    const aws::header* content = find_header(r.headers, "X-Amz-Content-SHA256");
    BOOST_REQUIRE(content != nullptr);
    BOOST_TEST(content->value == aws::empty_payload_sha256);
    BOOST_TEST(find_header(r.headers, "X-Amz-Security-Token") == nullptr);
    BOOST_TEST(r.headers.size() == 3u);

    // The short form, with the mode taken from the service, signs the same.
    const aws::signing_result short_form =
        aws::sign_headers(req, s3_doc_credentials(), "us-east-1", "s3", utc(2013, 5, 24));
    BOOST_TEST(short_form.signature == r.signature);
}

// "Example: PUT Object": key test$file.text, sent (and signed) as test%24file.text.
BOOST_AUTO_TEST_CASE(s3_doc_put_object)
{
    aws::request req;
    req.method = "PUT";
    req.path = "/" + aws::uri_encode("test$file.text", false);
    req.headers = {s3_doc_host,
                   {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                   {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
    req.payload_hash = aws::sha256_hex("Welcome to Amazon S3.");

    const aws::signing_result r = aws::sign_headers(req, s3_doc_credentials(), s3_doc_options());
    BOOST_TEST(r.canonical_request ==
               "PUT\n"
               "/test%24file.text\n"
               "\n"
               "date:Fri, 24 May 2013 00:00:00 GMT\n"
               "host:examplebucket.s3.amazonaws.com\n"
               "x-amz-content-sha256:"
               "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
               "x-amz-date:20130524T000000Z\n"
               "x-amz-storage-class:REDUCED_REDUNDANCY\n"
               "\n"
               "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
               "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    BOOST_TEST(r.string_to_sign ==
               "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
               "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
    BOOST_TEST(r.signature == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

// "Example: GET Bucket Lifecycle": a sub-resource without a value signs as "lifecycle=".
BOOST_AUTO_TEST_CASE(s3_doc_get_bucket_lifecycle)
{
    aws::request req;
    req.method = "GET";
    req.path = "/";
    req.query = {{"lifecycle", ""}};
    req.headers = {s3_doc_host};

    const aws::signing_result r = aws::sign_headers(req, s3_doc_credentials(), s3_doc_options());
    BOOST_TEST(r.canonical_request ==
               "GET\n/\nlifecycle=\n"
               "host:examplebucket.s3.amazonaws.com\n"
               "x-amz-content-sha256:"
               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
               "x-amz-date:20130524T000000Z\n"
               "\n"
               "host;x-amz-content-sha256;x-amz-date\n"
               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    BOOST_TEST(r.string_to_sign ==
               "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
               "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca");
    BOOST_TEST(r.signature == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

// "Example: Get Bucket (List Objects)": parameters given out of order are signed sorted.
BOOST_AUTO_TEST_CASE(s3_doc_list_objects)
{
    aws::request req;
    req.method = "GET";
    req.path = "/";
    req.query = {{"prefix", "J"}, {"max-keys", "2"}};
    req.headers = {s3_doc_host};

    const aws::signing_result r = aws::sign_headers(req, s3_doc_credentials(), s3_doc_options());
    BOOST_TEST(r.canonical_request ==
               "GET\n/\nmax-keys=2&prefix=J\n"
               "host:examplebucket.s3.amazonaws.com\n"
               "x-amz-content-sha256:"
               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
               "x-amz-date:20130524T000000Z\n"
               "\n"
               "host;x-amz-content-sha256;x-amz-date\n"
               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    BOOST_TEST(r.string_to_sign ==
               "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
               "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7");
    BOOST_TEST(r.signature == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

// "Authenticating Requests: Using Query Parameters", example GET Object: valid for a day.
BOOST_AUTO_TEST_CASE(s3_doc_presigned_get_object)
{
    aws::request req;
    req.method = "GET";
    req.path = "/test.txt";
    req.headers = {s3_doc_host};
    req.payload_hash = std::string(aws::unsigned_payload);
    aws::signing_options options = s3_doc_options();
    options.expires = std::chrono::hours(24);

    const aws::signing_result r = aws::presign(req, s3_doc_credentials(), options);
    BOOST_TEST(r.canonical_request ==
               "GET\n"
               "/test.txt\n"
               "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524"
               "%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
               "&X-Amz-SignedHeaders=host\n"
               "host:examplebucket.s3.amazonaws.com\n"
               "\n"
               "host\n"
               "UNSIGNED-PAYLOAD");
    BOOST_TEST(r.string_to_sign ==
               "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
               "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04");
    BOOST_TEST(r.signature == "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    BOOST_TEST(r.headers.empty());

    // The URL's query: exactly the documented one, in canonical order.
    BOOST_TEST(aws::canonical_query(r.query) ==
               "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524"
               "%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
               "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
               "&X-Amz-SignedHeaders=host");
}

// ---- S3 object keys: single encoding, slashes and dot segments kept -------------------------

BOOST_AUTO_TEST_CASE(s3_keys_are_encoded_once_and_never_normalised)
{
    // A key with a space, '+', '%', '=', a euro sign (UTF-8) and '/'.
    const std::string key = "state/my dir/a+b%c=d \xe2\x82\xac.json";
    const std::string wire = "/bucket/" + aws::uri_encode(key, false);
    BOOST_TEST(wire == "/bucket/state/my%20dir/a%2Bb%25c%3Dd%20%E2%82%AC.json");

    BOOST_TEST(aws::canonical_uri(wire, aws::signing_mode::s3) == wire);
    BOOST_TEST(aws::canonical_uri(wire, aws::signing_mode::generic) ==
               "/bucket/state/my%2520dir/a%252Bb%2525c%253Dd%2520%25E2%2582%25AC.json");

    // "a//b/./c/../d" is a valid, distinct S3 key; generic rules would sign another path.
    const std::string odd = "/bucket/" + aws::uri_encode("a//b/./c/../d", false);
    BOOST_TEST(aws::canonical_uri(odd, aws::signing_mode::s3) == "/bucket/a//b/./c/../d");
    BOOST_TEST(aws::canonical_uri(odd, aws::signing_mode::generic) == "/bucket/a/b/d");

    // Through the whole signer the canonical URI is the path as sent.
    aws::request req;
    req.method = "PUT";
    req.path = wire;
    req.headers = {{"Host", "127.0.0.1:7480"}, {"Content-Type", "application/json"}};
    req.payload_hash = aws::sha256_hex("{}");
    const aws::signing_result r = aws::sign_headers(req, s3_doc_credentials(), s3_doc_options());
    BOOST_TEST(r.canonical_request.rfind("PUT\n" + wire + "\n\n", 0) == 0u);

    aws::signing_options generic = s3_doc_options();
    generic.mode = aws::signing_mode::generic;
    const aws::signing_result g = aws::sign_headers(req, s3_doc_credentials(), generic);
    BOOST_TEST(g.signature != r.signature);
}

// ---- Session tokens, content hash, misuse -----------------------------------------------

BOOST_AUTO_TEST_CASE(s3_session_token_is_signed_and_sent)
{
    aws::credentials creds = s3_doc_credentials();
    creds.session_token = aws::secret("FQoGZXIvYXdzEXAMPLE");
    aws::request req;
    req.method = "GET";
    req.path = "/test.txt";
    req.headers = {s3_doc_host};

    const aws::signing_result r = aws::sign_headers(req, creds, s3_doc_options());
    const aws::header* token = find_header(r.headers, "X-Amz-Security-Token");
    BOOST_REQUIRE(token != nullptr);
    BOOST_TEST(token->value == "FQoGZXIvYXdzEXAMPLE");
    BOOST_TEST(r.canonical_request.find("\nx-amz-security-token:FQoGZXIvYXdzEXAMPLE\n") !=
               std::string::npos);
    BOOST_TEST(
        r.canonical_request.find("\nhost;x-amz-content-sha256;x-amz-date;x-amz-security-token\n") !=
        std::string::npos);

    const aws::signing_result p = aws::presign(req, creds, s3_doc_options());
    BOOST_TEST(p.canonical_request.find("&X-Amz-Security-Token=FQoGZXIvYXdzEXAMPLE&") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(content_hash_header_follows_the_option)
{
    aws::request req;
    req.method = "GET";
    req.path = "/";
    req.headers = {{"Host", "example.amazonaws.com"}};
    aws::signing_options o = s3_doc_options();
    o.service = "service";

    BOOST_TEST(find_header(aws::sign_headers(req, s3_doc_credentials(), o).headers,
                           "X-Amz-Content-SHA256") == nullptr);
    o.content_hash = aws::content_hash_header::always;
    BOOST_TEST(find_header(aws::sign_headers(req, s3_doc_credentials(), o).headers,
                           "X-Amz-Content-SHA256") != nullptr);
    o.service = "s3";
    o.content_hash = aws::content_hash_header::never;
    BOOST_TEST(find_header(aws::sign_headers(req, s3_doc_credentials(), o).headers,
                           "X-Amz-Content-SHA256") == nullptr);

    // When the signer does not own it, a caller's own x-amz-content-sha256 is just signed.
    req.headers.push_back({"x-amz-content-sha256", "UNSIGNED-PAYLOAD"});
    BOOST_CHECK_NO_THROW(aws::sign_headers(req, s3_doc_credentials(), o));
    o.content_hash = aws::content_hash_header::if_s3;
    BOOST_CHECK_THROW(aws::sign_headers(req, s3_doc_credentials(), o), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(signing_key_cache_gives_the_same_signatures_across_days)
{
    aws::request req;
    req.method = "GET";
    req.path = "/test.txt";
    req.headers = {s3_doc_host};
    aws::signing_options::key_cache cache;
    for (int day = 0; day < 3; ++day) {
        for (int repeat = 0; repeat < 2; ++repeat) {
            aws::signing_options plain = s3_doc_options();
            plain.time += std::chrono::hours(24 * day) + std::chrono::minutes(repeat);
            aws::signing_options cached = plain;
            cached.signing_key_cache = &cache;
            BOOST_TEST(aws::sign_headers(req, s3_doc_credentials(), cached).signature ==
                       aws::sign_headers(req, s3_doc_credentials(), plain).signature);
            BOOST_TEST(cache.date == aws::date_stamp(plain.time));
        }
    }
}

BOOST_AUTO_TEST_CASE(a_request_signed_twice_is_refused)
{
    aws::request req;
    req.method = "GET";
    req.path = "/test.txt";
    req.headers = {s3_doc_host};
    const aws::signing_result r = aws::sign_headers(req, s3_doc_credentials(), s3_doc_options());

    aws::request again = req;
    again.headers.insert(again.headers.end(), r.headers.begin(), r.headers.end());
    BOOST_CHECK_THROW(aws::sign_headers(again, s3_doc_credentials(), s3_doc_options()),
                      std::invalid_argument);
    BOOST_CHECK_THROW(aws::presign(again, s3_doc_credentials(), s3_doc_options()),
                      std::invalid_argument);

    const aws::signing_result p = aws::presign(req, s3_doc_credentials(), s3_doc_options());
    aws::request presigned = req;
    presigned.query = p.query;
    BOOST_CHECK_THROW(aws::presign(presigned, s3_doc_credentials(), s3_doc_options()),
                      std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(presign_expiry_must_be_within_seven_days)
{
    aws::request req;
    req.method = "GET";
    req.path = "/test.txt";
    req.headers = {s3_doc_host};
    aws::signing_options o = s3_doc_options();

    o.expires = std::chrono::seconds(0);
    BOOST_CHECK_EXCEPTION(
        aws::presign(req, s3_doc_credentials(), o), statestore::error,
        [](const statestore::error& e) { return e.value() == statestore::errc::invalid_setting; });
    o.expires = std::chrono::seconds(7 * 24 * 3600 + 1);
    BOOST_CHECK_THROW(aws::presign(req, s3_doc_credentials(), o), statestore::error);
    o.expires = std::chrono::seconds(7 * 24 * 3600);
    BOOST_CHECK_NO_THROW(aws::presign(req, s3_doc_credentials(), o));
    o.expires = std::chrono::seconds(1);
    BOOST_CHECK_NO_THROW(aws::presign(req, s3_doc_credentials(), o));
}

BOOST_AUTO_TEST_SUITE_END()
