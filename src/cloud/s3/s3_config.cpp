#include "cloud/s3/s3_config.hpp"

#include "statestore/error.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace statestore {
namespace {

std::string trim(std::string_view s)
{
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
        s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
        s.remove_suffix(1);
    return std::string(s);
}

std::string lower(std::string s)
{
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool is_ip_literal(std::string_view host)
{
    if (host.find(':') != std::string_view::npos)
        return true; // IPv6
    return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
        return (c >= '0' && c <= '9') || c == '.';
    });
}

/// A bucket name usable as a DNS label under a wildcard certificate.
bool virtual_host_compatible(std::string_view bucket)
{
    if (bucket.size() < 3 || bucket.size() > 63)
        return false;
    return std::all_of(bucket.begin(), bucket.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
}

/// The named profile's settings from the shared files: credentials file first (plain
/// section names), then the config file ("profile NAME", or "default").
struct profile_view {
    std::map<std::string, std::string> credentials_section;
    std::map<std::string, std::string> config_section;
    std::string credentials_path;
    std::string config_path;
    bool found = false;

    std::optional<std::string> get(const std::string& key, bool credentials_first) const
    {
        const auto* first = credentials_first ? &credentials_section : &config_section;
        const auto* second = credentials_first ? &config_section : &credentials_section;
        for (const auto* section : {first, second}) {
            const auto it = section->find(key);
            if (it != section->end() && !it->second.empty())
                return it->second;
        }
        return std::nullopt;
    }
};

profile_view load_profile(const std::string& name, const env_lookup& env, const file_lookup& files)
{
    profile_view view;
    const std::string home = env("HOME").value_or("");
    view.credentials_path =
        env("AWS_SHARED_CREDENTIALS_FILE").value_or(home + "/.aws/credentials");
    view.config_path = env("AWS_CONFIG_FILE").value_or(home + "/.aws/config");
    if (const auto text = files(view.credentials_path)) {
        const ini_sections sections = parse_aws_ini(*text);
        if (const auto it = sections.find(name); it != sections.end()) {
            view.credentials_section = it->second;
            view.found = true;
        }
    }
    if (const auto text = files(view.config_path)) {
        const ini_sections sections = parse_aws_ini(*text);
        auto it = sections.find("profile " + name);
        if (it == sections.end() && name == "default")
            it = sections.find("default");
        if (it != sections.end()) {
            view.config_section = it->second;
            view.found = true;
        }
    }
    return view;
}

} // namespace

std::string percent_decode(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out += text[i];
            continue;
        }
        const int hi = i + 1 < text.size() ? hex_value(text[i + 1]) : -1;
        const int lo = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
        if (hi < 0 || lo < 0)
            throw_error(errc::invalid_uri,
                        "malformed percent-escape in the credentials of the backend URI "
                        "(a '%' must be followed by two hex digits; write '%' itself as %25)");
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

ini_sections parse_aws_ini(std::string_view text)
{
    ini_sections sections;
    std::map<std::string, std::string>* current = nullptr;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        const auto end = text.find('\n', pos);
        std::string_view raw =
            text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
        pos = end == std::string_view::npos ? text.size() + 1 : end + 1;
        if (!raw.empty() && raw.back() == '\r')
            raw.remove_suffix(1);
        const bool indented = !raw.empty() && (raw.front() == ' ' || raw.front() == '\t');
        const std::string line = trim(raw);
        if (line.empty() || line.front() == '#' || line.front() == ';')
            continue;
        if (line.front() == '[' && line.back() == ']') {
            // "[ profile  dev ]" -> "profile dev"
            std::istringstream words(line.substr(1, line.size() - 2));
            std::string word, name;
            while (words >> word)
                name += (name.empty() ? "" : " ") + word;
            current = &sections[name];
            continue;
        }
        if (!current || indented)
            continue; // outside a section, or a nested "s3 =" sub-setting
        const auto eq = line.find('=');
        if (eq == std::string::npos)
            continue;
        (*current)[lower(trim(line.substr(0, eq)))] = trim(line.substr(eq + 1));
    }
    return sections;
}

http_endpoint s3_config::request_endpoint() const
{
    if (path_style)
        return endpoint;
    http_endpoint e = endpoint;
    e.host = bucket + "." + endpoint.host;
    return e;
}

s3_config resolve_s3_config(const s3_settings& settings, std::string_view bucket,
                            std::string_view uri_userinfo, const env_lookup& env,
                            const file_lookup& files)
{
    s3_config config;
    config.bucket = std::string(bucket);

    // --- credentials -----------------------------------------------------------------
    std::string uri_user, uri_password;
    if (!uri_userinfo.empty()) {
        const auto colon = uri_userinfo.find(':');
        uri_user = percent_decode(uri_userinfo.substr(0, colon));
        if (colon != std::string_view::npos)
            uri_password = percent_decode(uri_userinfo.substr(colon + 1));
    }
    const std::string key_id =
        !settings.aws_access_key_id.empty() ? settings.aws_access_key_id : uri_user;
    const std::string secret =
        !settings.aws_secret_access_key.empty() ? settings.aws_secret_access_key : uri_password;
    // Meltano's messages (InvalidStateBackendConfigurationException).
    if (!key_id.empty() && secret.empty())
        throw_error(errc::invalid_setting,
                    "AWS access key ID configured, but not AWS secret access key.");
    if (key_id.empty() && !secret.empty())
        throw_error(errc::invalid_setting,
                    "AWS secret access key configured, but not AWS access key ID.");

    const std::string profile_name = env("AWS_PROFILE").value_or("default");
    const profile_view profile = load_profile(profile_name, env, files);

    if (!key_id.empty()) {
        config.credentials.access_key_id = key_id;
        config.credentials.secret_access_key = aws::secret(secret);
        const bool from_settings = !settings.aws_access_key_id.empty() ||
                                   !settings.aws_secret_access_key.empty();
        config.credentials_source =
            from_settings ? "the state_backend.s3 settings" : "the backend URI";
    } else if (const auto env_key = env("AWS_ACCESS_KEY_ID")) {
        const auto env_secret = env("AWS_SECRET_ACCESS_KEY");
        if (!env_secret)
            throw_error(errc::invalid_setting,
                        "AWS_ACCESS_KEY_ID is set, but AWS_SECRET_ACCESS_KEY is not");
        config.credentials.access_key_id = *env_key;
        config.credentials.secret_access_key = aws::secret(*env_secret);
        if (const auto token = env("AWS_SESSION_TOKEN"))
            config.credentials.session_token = aws::secret(*token);
        config.credentials_source = "AWS_ACCESS_KEY_ID";
    } else if (env("AWS_SECRET_ACCESS_KEY")) {
        throw_error(errc::invalid_setting,
                    "AWS_SECRET_ACCESS_KEY is set, but AWS_ACCESS_KEY_ID is not");
    } else {
        const auto p_key = profile.get("aws_access_key_id", true);
        const auto p_secret = profile.get("aws_secret_access_key", true);
        if (p_key && p_secret) {
            config.credentials.access_key_id = *p_key;
            config.credentials.secret_access_key = aws::secret(*p_secret);
            if (const auto token = profile.get("aws_session_token", true))
                config.credentials.session_token = aws::secret(*token);
            config.credentials_source = "profile \"" + profile_name + "\" in " +
                                        (profile.credentials_section.count("aws_access_key_id")
                                             ? profile.credentials_path
                                             : profile.config_path);
        } else if (p_key || p_secret) {
            throw_error(errc::invalid_setting,
                        "AWS profile \"" + profile_name + "\" has " +
                            (p_key ? "aws_access_key_id but no aws_secret_access_key"
                                   : "aws_secret_access_key but no aws_access_key_id"));
        } else if (env("AWS_PROFILE") && !profile.found) {
            throw_error(errc::invalid_setting,
                        "AWS_PROFILE names profile \"" + profile_name + "\", which is in neither " +
                            profile.credentials_path + " nor " + profile.config_path);
        } else {
            throw_error(errc::invalid_setting,
                        "no AWS credentials for the s3 state backend: set "
                        "state_backend.s3.aws_access_key_id and aws_secret_access_key "
                        "(MELTANO_STATE_BACKEND_S3_AWS_ACCESS_KEY_ID / _SECRET_ACCESS_KEY), put "
                        "them in the URI (s3://KEY:SECRET@bucket/prefix), set "
                        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or configure profile \"" +
                            profile_name + "\" in " + profile.credentials_path);
        }
    }

    // --- region ------------------------------------------------------------------------
    if (!settings.region.empty())
        config.region = settings.region;
    else if (auto r = env("AWS_REGION"))
        config.region = *r;
    else if (auto r2 = env("AWS_DEFAULT_REGION"))
        config.region = *r2;
    else if (auto r3 = profile.get("region", false))
        config.region = *r3;
    else
        config.region = "us-east-1";

    // --- endpoint and addressing -------------------------------------------------------
    std::string endpoint_url;
    std::string endpoint_source;
    if (!settings.endpoint_url.empty()) {
        endpoint_url = settings.endpoint_url;
        endpoint_source = "state_backend.s3.endpoint_url";
    } else if (auto e = env("AWS_ENDPOINT_URL_S3")) {
        endpoint_url = *e;
        endpoint_source = "AWS_ENDPOINT_URL_S3";
    } else if (auto e2 = env("AWS_ENDPOINT_URL")) {
        endpoint_url = *e2;
        endpoint_source = "AWS_ENDPOINT_URL";
    } else if (auto e3 = profile.get("endpoint_url", false)) {
        endpoint_url = *e3;
        endpoint_source = "endpoint_url of AWS profile \"" + profile_name + "\"";
    }
    const bool custom_endpoint = !endpoint_url.empty();
    if (custom_endpoint) {
        try {
            config.endpoint = http_endpoint::parse(endpoint_url);
        } catch (const error& e) {
            throw_error(errc::invalid_setting,
                        "S3 endpoint from " + endpoint_source + " is not usable: " + e.what());
        }
    } else {
        config.endpoint.tls = true;
        config.endpoint.host = "s3." + config.region + ".amazonaws.com";
        config.endpoint.port = 443;
    }

    const std::string style = lower(settings.addressing_style);
    if (style == "path")
        config.path_style = true;
    else if (style == "virtual")
        config.path_style = false;
    else if (style.empty() || style == "auto")
        config.path_style = custom_endpoint || is_ip_literal(config.endpoint.host) ||
                            !virtual_host_compatible(config.bucket);
    else
        throw_error(errc::invalid_setting, "S3 addressing style must be path, virtual or auto, "
                                           "not \"" + settings.addressing_style + "\"");
    if (!config.path_style && is_ip_literal(config.endpoint.host))
        throw_error(errc::invalid_setting,
                    "virtual-hosted S3 addressing needs a host name, but the endpoint is the IP "
                    "address " + config.endpoint.host + "; use path style");

    // --- TLS trust -----------------------------------------------------------------------
    if (!settings.ca_file.empty())
        config.ca_file = settings.ca_file;
    else if (auto ca = env("AWS_CA_BUNDLE"))
        config.ca_file = *ca;
    else if (auto ca2 = profile.get("ca_bundle", false))
        config.ca_file = *ca2;
    return config;
}

env_lookup process_env()
{
    return [](const std::string& name) -> std::optional<std::string> {
        const char* v = std::getenv(name.c_str());
        if (!v || !*v)
            return std::nullopt;
        return std::string(v);
    };
}

file_lookup read_whole_file()
{
    return [](const std::string& path) -> std::optional<std::string> {
        std::ifstream in(path, std::ios::binary);
        if (!in)
            return std::nullopt;
        std::ostringstream out;
        out << in.rdbuf();
        return out.str();
    };
}

} // namespace statestore
