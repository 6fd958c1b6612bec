// The service-account JWT assertion, checked byte for byte against one made independently by
// the openssl command line from the same key; the token request bodies; the token endpoint's
// answers.
#include "statestore/error.hpp"
#include "cloud/gcs/gcs_oauth.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

using namespace statestore;
namespace fs = std::filesystem;

namespace {

std::string run_shell(const std::string& command)
{
    std::string out;
    FILE* p = popen(command.c_str(), "r");
    BOOST_REQUIRE(p);
    char buf[4096];
    std::size_t n = 0;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        out.append(buf, n);
    BOOST_REQUIRE_EQUAL(pclose(p), 0);
    return out;
}

std::string slurp(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

/// A temporary directory with an RSA key made by `openssl genpkey` (never committed).
struct key_dir {
    fs::path dir;
    key_dir()
    {
        std::string templ = (fs::temp_directory_path() / "statestore-jwt-XXXXXX").string();
        dir = mkdtemp(templ.data());
        run_shell("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out '" +
                  (dir / "key.pem").string() + "' 2>/dev/null");
    }
    ~key_dir()
    {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    fs::path key() const { return dir / "key.pem"; }
};

/// base64url by the openssl command line, independent of gcs::base64url.
std::string openssl_b64url(const fs::path& file)
{
    return run_shell("openssl base64 -A -in '" + file.string() + "' | tr '+/' '-_' | tr -d '='");
}

gcs::service_account account(std::string pem)
{
    gcs::service_account a;
    a.client_email = "ci@demo-test.iam.gserviceaccount.com";
    a.private_key = std::move(pem);
    a.token_uri = "https://oauth2.googleapis.com/token";
    return a;
}

} // namespace

BOOST_AUTO_TEST_SUITE(gcs_oauth)

BOOST_AUTO_TEST_CASE(base64url_rfc4648_vectors)
{
    BOOST_TEST(gcs::base64url("") == "");
    BOOST_TEST(gcs::base64url("f") == "Zg");
    BOOST_TEST(gcs::base64url("fo") == "Zm8");
    BOOST_TEST(gcs::base64url("foo") == "Zm9v");
    BOOST_TEST(gcs::base64url("foob") == "Zm9vYg");
    BOOST_TEST(gcs::base64url("fooba") == "Zm9vYmE");
    BOOST_TEST(gcs::base64url("foobar") == "Zm9vYmFy");
    BOOST_TEST(gcs::base64url("\xfb\xff\xbf") == "-_-_"); // the two url-safe characters
}

BOOST_AUTO_TEST_CASE(assertion_is_byte_identical_to_openssl_dgst_sign)
{
    key_dir k;
    const auto a = account(slurp(k.key()));
    const std::int64_t iat = 1732535622;

    // The header and claims written out by hand: the member order and compact form are part
    // of what is checked.
    const std::string header = R"({"alg":"RS256","typ":"JWT"})";
    const std::string claims =
        R"({"iss":"ci@demo-test.iam.gserviceaccount.com",)"
        R"("scope":"https://www.googleapis.com/auth/devstorage.read_write",)"
        R"("aud":"https://oauth2.googleapis.com/token","iat":1732535622,"exp":1732539222})";
    std::ofstream(k.dir / "header.json", std::ios::binary) << header;
    std::ofstream(k.dir / "claims.json", std::ios::binary) << claims;
    const std::string input = openssl_b64url(k.dir / "header.json") + "." +
                              openssl_b64url(k.dir / "claims.json");
    std::ofstream(k.dir / "input.txt", std::ios::binary) << input;
    run_shell("openssl dgst -sha256 -sign '" + k.key().string() + "' -out '" +
              (k.dir / "sig.bin").string() + "' '" + (k.dir / "input.txt").string() + "'");
    const std::string expected = input + "." + openssl_b64url(k.dir / "sig.bin");

    BOOST_TEST(gcs::jwt_signing_input(a, gcs::read_write_scope, iat) == input);
    BOOST_TEST(gcs::jwt_assertion(a, gcs::read_write_scope, iat) == expected);
    // And the signature verifies with the public key (openssl dgst -verify).
    run_shell("openssl pkey -in '" + k.key().string() + "' -pubout -out '" +
              (k.dir / "pub.pem").string() + "'");
    const std::string verdict =
        run_shell("openssl dgst -sha256 -verify '" + (k.dir / "pub.pem").string() +
                  "' -signature '" + (k.dir / "sig.bin").string() + "' '" +
                  (k.dir / "input.txt").string() + "'");
    BOOST_TEST(verdict.find("Verified OK") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_unusable_key_is_a_clear_error_without_the_key)
{
    const std::string garbage = "-----BEGIN PRIVATE KEY-----\nMIIEvSECRETSECRETSECRET\n"
                                "-----END PRIVATE KEY-----\n";
    try {
        gcs::jwt_assertion(account(garbage), gcs::read_write_scope, 1);
        BOOST_FAIL("no error");
    } catch (const error& e) {
        BOOST_TEST(static_cast<int>(e.value()) == static_cast<int>(errc::invalid_setting));
        const std::string what = e.what();
        BOOST_TEST(what.find("ci@demo-test.iam.gserviceaccount.com") != std::string::npos);
        BOOST_TEST(what.find("not a PEM private key") != std::string::npos);
        BOOST_TEST(what.find("SECRET") == std::string::npos);
        BOOST_TEST(what.find("BEGIN") == std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(an_ec_key_is_refused_for_rs256)
{
    key_dir k;
    run_shell("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out '" +
              (k.dir / "ec.pem").string() + "' 2>/dev/null");
    try {
        gcs::jwt_assertion(account(slurp(k.dir / "ec.pem")), gcs::read_write_scope, 1);
        BOOST_FAIL("no error");
    } catch (const error& e) {
        BOOST_TEST(std::string(e.what()).find("not an RSA key") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(token_request_bodies)
{
    BOOST_TEST(gcs::jwt_bearer_request_body("aa.bb-_.cc") ==
               "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=aa.bb-_.cc");
    gcs::authorized_user u;
    u.client_id = "123.apps.googleusercontent.com";
    u.client_secret = "s e/c+r";
    u.refresh_token = "1//0g&x=";
    BOOST_TEST(gcs::refresh_token_request_body(u) ==
               "grant_type=refresh_token&client_id=123.apps.googleusercontent.com"
               "&client_secret=s%20e%2Fc%2Br&refresh_token=1%2F%2F0g%26x%3D");
}

BOOST_AUTO_TEST_CASE(token_response_success)
{
    auto r = gcs::parse_token_response(
        200, R"({"access_token":"ya29.abc","expires_in":3599,"token_type":"Bearer"})", "t");
    BOOST_TEST(r.access_token == "ya29.abc");
    BOOST_TEST(r.expires_in.count() == 3599);
    r = gcs::parse_token_response(200, R"({"access_token":"x"})", "t");
    BOOST_TEST(r.expires_in.count() == 3600);
    r = gcs::parse_token_response(200, R"({"access_token":"x","expires_in":"2"})", "t");
    BOOST_TEST(r.expires_in.count() == 2);
}

namespace {
void expect_error(unsigned status, const std::string& body, errc code, const std::string& part)
{
    try {
        gcs::parse_token_response(status, body, "http://127.0.0.1:1/token (service account x)");
        BOOST_FAIL("no error for " + body);
    } catch (const error& e) {
        BOOST_TEST(static_cast<int>(e.value()) == static_cast<int>(code));
        BOOST_TEST(std::string(e.what()).find(part) != std::string::npos, e.what());
    }
}
} // namespace

BOOST_AUTO_TEST_CASE(token_response_errors)
{
    expect_error(400, R"({"error":"invalid_grant","error_description":"Invalid JWT Signature."})",
                 errc::auth_failed, "HTTP 400, invalid_grant: Invalid JWT Signature.");
    expect_error(401, R"({"error":"unauthorized_client"})", errc::auth_failed, "unauthorized_client");
    expect_error(429, "{}", errc::throttled, "HTTP 429");
    expect_error(503, "<html>down</html>", errc::backend_unavailable, "HTTP 503");
    expect_error(200, R"({"token_type":"Bearer"})", errc::backend_unavailable, "without an access_token");
    expect_error(200, "not json", errc::backend_unavailable, "without an access_token");
    expect_error(200, R"({"access_token":"x","expires_in":0})", errc::backend_unavailable, "expired");
    // A description with control characters is escaped, not printed raw.
    expect_error(400, R"({"error":"invalid_grant","error_description":"a\nb"})", errc::auth_failed,
                 "a\\nb");
}

BOOST_AUTO_TEST_SUITE_END()
