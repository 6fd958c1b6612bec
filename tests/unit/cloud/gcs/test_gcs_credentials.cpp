// Credentials files and where they come from (Meltano's order, then ADC); the JSON API's
// request targets and answers.
#include "statestore/error.hpp"
#include "cloud/gcs/gcs_credentials.hpp"
#include "cloud/gcs/gcs_json.hpp"

#include <boost/test/unit_test.hpp>

#include <map>
#include <set>
#include <string>
#include <vector>

using namespace statestore;

namespace {

const std::string sa_json =
    R"({"type":"service_account","project_id":"p","private_key_id":"k1",)"
    R"("private_key":"-----BEGIN PRIVATE KEY-----\nTOPSECRETKEYBYTES\n-----END PRIVATE KEY-----\n",)"
    R"("client_email":"sa@p.iam.gserviceaccount.com","token_uri":"https://oauth2.googleapis.com/token"})";

errc error_of(const std::function<void()>& f, std::string& what)
{
    try {
        f();
    } catch (const error& e) {
        what = e.what();
        return e.value();
    }
    BOOST_FAIL("no error");
    return errc::not_found;
}

struct fake_env {
    std::map<std::string, std::string> vars;
    std::set<std::string> files;
    std::vector<std::string> warnings;
    gcs::env_lookup env()
    {
        return [this](const std::string& n) -> std::optional<std::string> {
            auto it = vars.find(n);
            if (it == vars.end())
                return std::nullopt;
            return it->second;
        };
    }
    gcs::file_exists_fn exists()
    {
        return [this](const std::string& p) { return files.count(p) > 0; };
    }
    gcs::credential_source find(const gcs_settings& s)
    {
        return gcs::find_credential_source(s, env(), exists(),
                                           [this](const std::string& w) { warnings.push_back(w); });
    }
};

} // namespace

BOOST_AUTO_TEST_SUITE(gcs_credentials)

BOOST_AUTO_TEST_CASE(service_account_file)
{
    auto c = gcs::parse_credentials(sa_json, "test");
    const auto& a = std::get<gcs::service_account>(c);
    BOOST_TEST(a.client_email == "sa@p.iam.gserviceaccount.com");
    BOOST_TEST(a.token_uri == "https://oauth2.googleapis.com/token");
    BOOST_TEST(a.private_key_id == "k1");
    BOOST_TEST(a.private_key.find("TOPSECRETKEYBYTES") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(authorized_user_file)
{
    auto c = gcs::parse_credentials(
        R"({"type":"authorized_user","client_id":"c","client_secret":"s","refresh_token":"r"})", "t");
    const auto& u = std::get<gcs::authorized_user>(c);
    BOOST_TEST(u.client_id == "c");
    BOOST_TEST(u.token_uri == "https://oauth2.googleapis.com/token");
    c = gcs::parse_credentials(R"({"type":"authorized_user","client_id":"c","client_secret":"s",)"
                               R"("refresh_token":"r","token_uri":"http://127.0.0.1:9/token"})",
                               "t");
    BOOST_TEST(std::get<gcs::authorized_user>(c).token_uri == "http://127.0.0.1:9/token");
}

BOOST_AUTO_TEST_CASE(malformed_files_are_clear_errors_without_secrets)
{
    std::string what;
    // Broken JSON right after the key: no excerpt may be quoted.
    const std::string broken = sa_json.substr(0, sa_json.find("client_email") - 1) + " oops";
    BOOST_TEST(static_cast<int>(error_of([&] { gcs::parse_credentials(broken, "the file /x/sa.json"); },
                                         what)) == static_cast<int>(errc::invalid_setting));
    BOOST_TEST(what.find("the file /x/sa.json") != std::string::npos);
    BOOST_TEST(what.find("not valid JSON") != std::string::npos);
    BOOST_TEST(what.find("TOPSECRET") == std::string::npos);

    std::string no_email = sa_json;
    no_email.replace(no_email.find("client_email"), 12, "client_mail");
    error_of([&] { gcs::parse_credentials(no_email, "F"); }, what);
    BOOST_TEST(what == "the service_account credentials in F have no \"client_email\" field");

    std::string numeric_key = R"({"type":"service_account","private_key":12,"client_email":"a",)"
                              R"("token_uri":"u"})";
    error_of([&] { gcs::parse_credentials(numeric_key, "F"); }, what);
    BOOST_TEST(what.find("\"private_key\" field") != std::string::npos);

    error_of([&] { gcs::parse_credentials(R"({"type":"external_account"})", "F"); }, what);
    BOOST_TEST(what.find("\"external_account\"") != std::string::npos);
    error_of([&] { gcs::parse_credentials("[1]", "F"); }, what);
    BOOST_TEST(what.find("JSON object") != std::string::npos);
    error_of([&] { gcs::parse_credentials("{}", "F"); }, what);
    BOOST_TEST(what.find("no \"type\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(source_order_follows_meltano_then_adc)
{
    fake_env e;
    e.vars["HOME"] = "/home/u";
    e.files.insert("/home/u/.config/gcloud/application_default_credentials.json");
    e.vars["GOOGLE_APPLICATION_CREDENTIALS"] = "/gac.json";
    gcs_settings s;
    s.application_credentials_json = sa_json;
    auto src = e.find(s);
    BOOST_TEST(static_cast<int>(src.type) == static_cast<int>(gcs::credential_source::kind::inline_json));
    BOOST_TEST(src.json_text == sa_json);

    s = {};
    s.application_credentials_path = "/p.json";
    src = e.find(s);
    BOOST_TEST(src.path == "/p.json");
    BOOST_TEST(e.warnings.empty());

    s = {};
    s.application_credentials = "/deprecated.json";
    src = e.find(s);
    BOOST_TEST(src.path == "/deprecated.json");
    BOOST_REQUIRE_EQUAL(e.warnings.size(), 1u);
    BOOST_TEST(e.warnings[0].find("deprecated") != std::string::npos);

    src = e.find({});
    BOOST_TEST(src.path == "/gac.json");
    BOOST_TEST(src.origin.find("GOOGLE_APPLICATION_CREDENTIALS") != std::string::npos);

    e.vars.erase("GOOGLE_APPLICATION_CREDENTIALS");
    src = e.find({});
    BOOST_TEST(src.path == "/home/u/.config/gcloud/application_default_credentials.json");

    e.vars["CLOUDSDK_CONFIG"] = "/cfg";
    src = e.find({});
    BOOST_TEST(static_cast<int>(src.type) == static_cast<int>(gcs::credential_source::kind::none));
    e.files.insert("/cfg/application_default_credentials.json");
    BOOST_TEST(e.find({}).path == "/cfg/application_default_credentials.json");
}

BOOST_AUTO_TEST_CASE(json_and_path_together_is_an_error)
{
    fake_env e;
    gcs_settings s;
    s.application_credentials_json = sa_json;
    s.application_credentials_path = "/p.json";
    std::string what;
    BOOST_TEST(static_cast<int>(error_of([&] { e.find(s); }, what)) ==
               static_cast<int>(errc::invalid_setting));
    BOOST_TEST(what.rfind("Provide only one of", 0) == 0);
    BOOST_TEST(what.find("TOPSECRET") == std::string::npos);
    s.application_credentials_path.clear();
    s.application_credentials = "/old.json";
    error_of([&] { e.find(s); }, what);
    BOOST_TEST(what.rfind("Provide only one of", 0) == 0);
}

BOOST_AUTO_TEST_CASE(emulator_variables)
{
    fake_env e;
    BOOST_TEST(!gcs::emulator_endpoint(e.env()));
    e.vars["CLOUD_STORAGE_EMULATOR_ENDPOINT"] = "http://127.0.0.1:9000/";
    BOOST_TEST(*gcs::emulator_endpoint(e.env()) == "http://127.0.0.1:9000");
    e.vars["STORAGE_EMULATOR_HOST"] = "localhost:9199";
    BOOST_TEST(*gcs::emulator_endpoint(e.env()) == "http://localhost:9199");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(gcs_json)

BOOST_AUTO_TEST_CASE(targets_encode_names_as_one_segment)
{
    BOOST_TEST(gcs::upload_target("b", "ci/dev:x y/state.json", std::nullopt) ==
               "/upload/storage/v1/b/b/o?uploadType=media&name=ci%2Fdev%3Ax%20y%2Fstate.json");
    BOOST_TEST(gcs::upload_target("b", "p/lock", std::string_view("0")) ==
               "/upload/storage/v1/b/b/o?uploadType=media&name=p%2Flock&ifGenerationMatch=0");
    BOOST_TEST(gcs::download_target("b", "a/b~c.json") == "/storage/v1/b/b/o/a%2Fb~c.json?alt=media");
    BOOST_TEST(gcs::delete_target("b", "a/b", std::string_view("1732")) ==
               "/storage/v1/b/b/o/a%2Fb?ifGenerationMatch=1732");
    BOOST_TEST(gcs::delete_target("b", "a", std::nullopt) == "/storage/v1/b/b/o/a");
    BOOST_TEST(gcs::list_target("b", "ci/", "/", "") == "/storage/v1/b/b/o?prefix=ci%2F&delimiter=%2F");
    BOOST_TEST(gcs::list_target("b", "", "", "ci/x+y") == "/storage/v1/b/b/o?prefix=&pageToken=ci%2Fx%2By");
}

BOOST_AUTO_TEST_CASE(object_resource_generation)
{
    BOOST_TEST(gcs::parse_generation(R"({"name":"a","generation":"1795624861005"})") == "1795624861005");
    BOOST_TEST(gcs::parse_generation(R"({"generation":42})") == "42");
    std::string what;
    BOOST_TEST(static_cast<int>(error_of([] { gcs::parse_generation(R"({"name":"a"})"); }, what)) ==
               static_cast<int>(errc::backend_unavailable));
    error_of([] { gcs::parse_generation("<html>"); }, what);
}

BOOST_AUTO_TEST_CASE(list_answers)
{
    auto r = gcs::parse_list(R"({"kind":"storage#objects","prefixes":["p/x/","p/y/"],)"
                             R"("items":[{"name":"p/z","generation":"1"}],"nextPageToken":"p/z"})");
    BOOST_TEST(r.names == std::vector<std::string>{"p/z"});
    BOOST_TEST(r.prefixes == (std::vector<std::string>{"p/x/", "p/y/"}));
    BOOST_TEST(r.next_page_token == "p/z");
    r = gcs::parse_list(R"({"kind":"storage#objects"})");
    BOOST_TEST(r.names.empty());
    BOOST_TEST(r.next_page_token.empty());
    std::string what;
    error_of([] { gcs::parse_list(R"({"items":[{"size":"1"}]})"); }, what);
    error_of([] { gcs::parse_list(R"({"prefixes":"p/"})"); }, what);
}

BOOST_AUTO_TEST_CASE(error_answers)
{
    const std::string body =
        R"({"error":{"code":412,"message":"At least one of the pre-conditions you specified did not hold.",)"
        R"("errors":[{"message":"x","domain":"global","reason":"conditionNotMet"}]}})";
    BOOST_TEST(gcs::error_reason(body) == "conditionNotMet");
    BOOST_TEST(gcs::error_message(body) ==
               "At least one of the pre-conditions you specified did not hold.");
    BOOST_TEST(gcs::error_reason("<html>") == "");
    BOOST_TEST(gcs::error_reason(R"({"error":{"code":500}})") == "");
    BOOST_TEST(gcs::error_message(R"({"error":{"message":"a\u0007b"}})") == "a\\x07b");
}

BOOST_AUTO_TEST_SUITE_END()
