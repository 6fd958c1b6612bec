// The S3 configuration chain (credentials, region, endpoint, addressing, CA), with the
// environment and the AWS shared files injected: no process state is read or changed.
#include <boost/test/unit_test.hpp>

#include "support/error_matchers.hpp"

#include "statestore/error.hpp"
#include "cloud/s3/s3_config.hpp"

#include <map>

using namespace statestore;
using statestore::test::error_of;

namespace {

struct fake_world {
    std::map<std::string, std::string> env;
    std::map<std::string, std::string> files;

    env_lookup env_fn() const
    {
        return [this](const std::string& name) -> std::optional<std::string> {
            const auto it = env.find(name);
            if (it == env.end() || it->second.empty())
                return std::nullopt;
            return it->second;
        };
    }
    file_lookup file_fn() const
    {
        return [this](const std::string& path) -> std::optional<std::string> {
            const auto it = files.find(path);
            if (it == files.end())
                return std::nullopt;
            return it->second;
        };
    }
    s3_config resolve(const s3_settings& s, std::string_view userinfo = "",
                      std::string_view bucket = "bucket") const
    {
        return resolve_s3_config(s, bucket, userinfo, env_fn(), file_fn());
    }
};


} // namespace

BOOST_AUTO_TEST_SUITE(s3_config_chain)

BOOST_AUTO_TEST_CASE(settings_win_over_uri_and_environment)
{
    fake_world w;
    w.env = {{"AWS_ACCESS_KEY_ID", "ENVKEY"}, {"AWS_SECRET_ACCESS_KEY", "envsecret"}};
    s3_settings s;
    s.aws_access_key_id = "SETKEY";
    s.aws_secret_access_key = "setsecret";
    const auto c = w.resolve(s, "URIKEY:urisecret");
    BOOST_TEST(c.credentials.access_key_id == "SETKEY");
    BOOST_TEST(c.credentials.secret_access_key.reveal() == "setsecret");
    BOOST_TEST(c.credentials_source == "the state_backend.s3 settings");
}

BOOST_AUTO_TEST_CASE(uri_credentials_are_percent_decoded)
{
    fake_world w;
    const auto c = w.resolve({}, "AKID%2Bx:se%2Fcr%2Bet%25");
    BOOST_TEST(c.credentials.access_key_id == "AKID+x");
    BOOST_TEST(c.credentials.secret_access_key.reveal() == "se/cr+et%");
    BOOST_TEST(c.credentials_source == "the backend URI");
    // Each half falls back separately, as in Meltano: setting key + URI secret.
    s3_settings s;
    s.aws_access_key_id = "SETKEY";
    const auto mixed = w.resolve(s, "URIKEY:urisecret");
    BOOST_TEST(mixed.credentials.access_key_id == "SETKEY");
    BOOST_TEST(mixed.credentials.secret_access_key.reveal() == "urisecret");
    std::string message;
    BOOST_TEST((error_of([&] { w.resolve({}, "AKID:bad%zzescape"); }, &message) ==
                errc::invalid_uri));
    BOOST_TEST(message.find("bad") == std::string::npos); // the secret is not echoed
}

BOOST_AUTO_TEST_CASE(only_one_of_key_and_secret_is_meltanos_error)
{
    fake_world w;
    s3_settings key_only;
    key_only.aws_access_key_id = "AKID";
    std::string message;
    BOOST_TEST((error_of([&] { w.resolve(key_only); }, &message) == errc::invalid_setting));
    BOOST_TEST(message == "AWS access key ID configured, but not AWS secret access key.");
    s3_settings secret_only;
    secret_only.aws_secret_access_key = "s3cr3t-value";
    BOOST_TEST((error_of([&] { w.resolve(secret_only); }, &message) == errc::invalid_setting));
    BOOST_TEST(message == "AWS secret access key configured, but not AWS access key ID.");
    BOOST_TEST((error_of([&] { w.resolve({}, "AKID"); }) == errc::invalid_setting));
}

BOOST_AUTO_TEST_CASE(environment_then_profiles)
{
    fake_world w;
    w.env = {{"AWS_ACCESS_KEY_ID", "ENVKEY"},
             {"AWS_SECRET_ACCESS_KEY", "envsecret"},
             {"AWS_SESSION_TOKEN", "tok"},
             {"HOME", "/home/u"}};
    auto c = w.resolve({});
    BOOST_TEST(c.credentials.access_key_id == "ENVKEY");
    BOOST_TEST(c.credentials.session_token.reveal() == "tok");
    BOOST_TEST(c.credentials_source == "AWS_ACCESS_KEY_ID");

    w.env.erase("AWS_SECRET_ACCESS_KEY");
    BOOST_TEST((error_of([&] { w.resolve({}); }) == errc::invalid_setting));

    // Profiles: credentials file first, then the config file's "[profile NAME]".
    w.env = {{"HOME", "/home/u"}};
    w.files["/home/u/.aws/credentials"] = "# comment\n[default]\naws_access_key_id = DEFKEY\n"
                                          "aws_secret_access_key=defsecret\r\n\n[dev]\n"
                                          "aws_access_key_id = DEVKEY\naws_secret_access_key = "
                                          "devsecret\naws_session_token = devtoken\n";
    w.files["/home/u/.aws/config"] = "[default]\nregion = eu-west-1\n[profile dev]\nregion = "
                                     "ap-south-1\ns3 =\n  addressing_style = path\n"
                                     "endpoint_url = http://127.0.0.1:9000\n"
                                     "[profile cfgonly]\naws_access_key_id = CFGKEY\n"
                                     "aws_secret_access_key = cfgsecret\n";
    c = w.resolve({});
    BOOST_TEST(c.credentials.access_key_id == "DEFKEY");
    BOOST_TEST(c.credentials.secret_access_key.reveal() == "defsecret");
    BOOST_TEST(c.region == "eu-west-1");
    BOOST_TEST(c.credentials_source == "profile \"default\" in /home/u/.aws/credentials");

    w.env["AWS_PROFILE"] = "dev";
    c = w.resolve({});
    BOOST_TEST(c.credentials.access_key_id == "DEVKEY");
    BOOST_TEST(c.credentials.session_token.reveal() == "devtoken");
    BOOST_TEST(c.region == "ap-south-1");
    BOOST_TEST(c.endpoint.to_string() == "http://127.0.0.1:9000");
    BOOST_TEST(c.path_style);

    w.env["AWS_PROFILE"] = "cfgonly";
    c = w.resolve({});
    BOOST_TEST(c.credentials.access_key_id == "CFGKEY");
    BOOST_TEST(c.credentials_source == "profile \"cfgonly\" in /home/u/.aws/config");

    // Other file locations.
    w.env = {{"HOME", "/home/u"},
             {"AWS_SHARED_CREDENTIALS_FILE", "/etc/creds"},
             {"AWS_CONFIG_FILE", "/etc/conf"}};
    w.files["/etc/creds"] = "[default]\naws_access_key_id=K2\naws_secret_access_key=S2\n";
    c = w.resolve({});
    BOOST_TEST(c.credentials.access_key_id == "K2");
    BOOST_TEST(c.region == "us-east-1"); // /etc/conf does not exist

    std::string message;
    w.env["AWS_PROFILE"] = "nosuch";
    BOOST_TEST((error_of([&] { w.resolve({}); }, &message) == errc::invalid_setting));
    BOOST_TEST(message.find("\"nosuch\"") != std::string::npos);
    w.env.erase("AWS_PROFILE");
    w.files.clear();
    BOOST_TEST((error_of([&] { w.resolve({}); }, &message) == errc::invalid_setting));
    BOOST_TEST(message.find("no AWS credentials") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(region_order)
{
    fake_world w;
    w.env = {{"AWS_DEFAULT_REGION", "eu-north-1"}};
    BOOST_TEST(w.resolve({}, "K:S").region == "eu-north-1");
    w.env["AWS_REGION"] = "eu-central-1";
    BOOST_TEST(w.resolve({}, "K:S").region == "eu-central-1");
    s3_settings s;
    s.region = "us-west-2";
    BOOST_TEST(w.resolve(s, "K:S").region == "us-west-2");
    w.env.clear();
    BOOST_TEST(w.resolve({}, "K:S").region == "us-east-1");
}

BOOST_AUTO_TEST_CASE(endpoint_order_and_addressing)
{
    fake_world w;
    // AWS itself: virtual-hosted, regional endpoint, TLS.
    auto c = w.resolve({}, "K:S", "my-bucket");
    BOOST_TEST(!c.path_style);
    BOOST_TEST(c.endpoint.authority() == "s3.us-east-1.amazonaws.com");
    BOOST_TEST(c.endpoint.tls);
    BOOST_TEST(c.request_endpoint().host == "my-bucket.s3.us-east-1.amazonaws.com");
    // A dotted bucket cannot sit under *.s3.amazonaws.com's certificate: path style.
    BOOST_TEST(w.resolve({}, "K:S", "my.bucket").path_style);

    w.env = {{"AWS_ENDPOINT_URL", "http://generic:1"}};
    BOOST_TEST(w.resolve({}, "K:S").endpoint.to_string() == "http://generic:1");
    w.env["AWS_ENDPOINT_URL_S3"] = "http://s3specific:2";
    c = w.resolve({}, "K:S");
    BOOST_TEST(c.endpoint.to_string() == "http://s3specific:2");
    BOOST_TEST(c.path_style); // custom endpoint -> path style
    BOOST_TEST(c.request_endpoint().host == "s3specific");
    s3_settings s;
    s.endpoint_url = "https://127.0.0.1:7443/";
    c = w.resolve(s, "K:S");
    BOOST_TEST(c.endpoint.to_string() == "https://127.0.0.1:7443");
    BOOST_TEST(c.path_style);

    s.addressing_style = "virtual";
    std::string message;
    BOOST_TEST((error_of([&] { w.resolve(s, "K:S"); }, &message) == errc::invalid_setting));
    BOOST_TEST(message.find("IP address") != std::string::npos);
    s.endpoint_url = "http://s3.localhost:7480";
    c = w.resolve(s, "K:S", "bkt");
    BOOST_TEST(!c.path_style);
    BOOST_TEST(c.request_endpoint().authority() == "bkt.s3.localhost:7480");
    s.addressing_style = "sideways";
    BOOST_TEST((error_of([&] { w.resolve(s, "K:S"); }) == errc::invalid_setting));
    s.addressing_style = "path";
    s.endpoint_url = "ftp://x";
    BOOST_TEST((error_of([&] { w.resolve(s, "K:S"); }, &message) == errc::invalid_setting));
    BOOST_TEST(message.find("state_backend.s3.endpoint_url") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(ca_file_order)
{
    fake_world w;
    BOOST_TEST(w.resolve({}, "K:S").ca_file.empty());
    w.env = {{"AWS_CA_BUNDLE", "/env/ca.pem"}};
    BOOST_TEST(w.resolve({}, "K:S").ca_file == "/env/ca.pem");
    s3_settings s;
    s.ca_file = "/set/ca.pem";
    BOOST_TEST(w.resolve(s, "K:S").ca_file == "/set/ca.pem");
}

BOOST_AUTO_TEST_CASE(ini_parsing)
{
    const auto sections = parse_aws_ini("[ profile  x ]\nKey = v = w\n; c\n  nested = 1\nk2=\n");
    BOOST_REQUIRE(sections.count("profile x"));
    BOOST_TEST(sections.at("profile x").at("key") == "v = w");
    BOOST_TEST(sections.at("profile x").at("k2") == "");
    BOOST_TEST(!sections.at("profile x").count("nested"));
}

BOOST_AUTO_TEST_SUITE_END()
