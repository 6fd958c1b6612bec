#include "cloud/gcs/gcs_credentials.hpp"

#include "statestore/error.hpp"
#include "core/text_util.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <string>

namespace statestore::gcs {
namespace {

namespace json = boost::json;

/// A required string member. The value is never quoted in the message: it may be a secret.
std::string required(const json::object& o, std::string_view field, std::string_view type,
                     std::string_view origin)
{
    const auto* v = o.if_contains(field);
    if (!v)
        throw_error(errc::invalid_setting, "the " + std::string(type) + " credentials in " +
                                               std::string(origin) + " have no \"" +
                                               std::string(field) + "\" field");
    if (!v->is_string() || v->get_string().empty())
        throw_error(errc::invalid_setting, "the \"" + std::string(field) + "\" field of the " +
                                               std::string(type) + " credentials in " +
                                               std::string(origin) +
                                               " must be a non-empty string");
    return std::string(v->get_string());
}

std::string optional_string(const json::object& o, std::string_view field)
{
    const auto* v = o.if_contains(field);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

} // namespace

credentials parse_credentials(std::string_view json_text, std::string_view origin)
{
    boost::system::error_code ec;
    json::parse_options opts;
    json::value doc = json::parse(json_text, ec, {}, opts);
    if (ec) {
        // No excerpt of the text (Meltano quotes one): these documents hold private keys.
        throw_error(errc::invalid_setting, "the Google credentials in " + std::string(origin) +
                                               " are not valid JSON (" + ec.message() + ")");
    }
    if (!doc.is_object())
        throw_error(errc::invalid_setting, "the Google credentials in " + std::string(origin) +
                                               " must be a JSON object");
    const auto& o = doc.get_object();
    const auto* type = o.if_contains("type");
    if (!type || !type->is_string())
        throw_error(errc::invalid_setting,
                    "the Google credentials in " + std::string(origin) +
                        " have no \"type\" (expected \"service_account\" or \"authorized_user\")");
    const std::string_view t = type->get_string();
    if (t == "service_account") {
        service_account a;
        a.client_email = required(o, "client_email", t, origin);
        a.private_key = required(o, "private_key", t, origin);
        a.token_uri = required(o, "token_uri", t, origin);
        a.private_key_id = optional_string(o, "private_key_id");
        a.project_id = optional_string(o, "project_id");
        return a;
    }
    if (t == "authorized_user") {
        authorized_user u;
        u.client_id = required(o, "client_id", t, origin);
        u.client_secret = required(o, "client_secret", t, origin);
        u.refresh_token = required(o, "refresh_token", t, origin);
        u.token_uri = optional_string(o, "token_uri");
        if (u.token_uri.empty())
            u.token_uri = std::string(default_token_uri);
        return u;
    }
    throw_error(errc::invalid_setting,
                "the Google credentials in " + std::string(origin) + " have type " +
                    detail::quote_for_message(t, 40) +
                    "; statestore supports \"service_account\" and \"authorized_user\"");
}

credential_source find_credential_source(const gcs_settings& s, const env_lookup& env,
                                         const file_exists_fn& exists,
                                         const std::function<void(const std::string&)>& warn)
{
    std::string path = s.application_credentials_path;
    std::string path_name = "state_backend.gcs.application_credentials_path";
    if (path.empty() && !s.application_credentials.empty()) {
        // Meltano: the deprecated setting is used as the path, with a DeprecationWarning.
        path = s.application_credentials;
        path_name = "state_backend.gcs.application_credentials";
        if (warn)
            warn("state_backend.gcs.application_credentials is deprecated; use "
                 "state_backend.gcs.application_credentials_path instead");
    }
    if (!path.empty() && !s.application_credentials_json.empty())
        throw_error(errc::invalid_setting,
                    "Provide only one of state_backend.gcs.application_credentials_json and "
                    "state_backend.gcs.application_credentials_path (or the deprecated "
                    "application_credentials)");

    credential_source out;
    if (!s.application_credentials_json.empty()) {
        out.type = credential_source::kind::inline_json;
        out.json_text = s.application_credentials_json;
        out.origin = "state_backend.gcs.application_credentials_json";
        return out;
    }
    if (!path.empty()) {
        out.type = credential_source::kind::file;
        out.path = path;
        out.origin = path_name + " (" + path + ")";
        return out;
    }
    if (auto gac = env("GOOGLE_APPLICATION_CREDENTIALS"); gac && !gac->empty()) {
        out.type = credential_source::kind::file;
        out.path = *gac;
        out.origin = "GOOGLE_APPLICATION_CREDENTIALS (" + *gac + ")";
        return out;
    }
    // gcloud's Application Default Credentials file.
    std::string dir;
    if (auto c = env("CLOUDSDK_CONFIG"); c && !c->empty())
        dir = *c;
    else if (auto h = env("HOME"); h && !h->empty())
        dir = *h + "/.config/gcloud";
    if (!dir.empty()) {
        const std::string adc = dir + "/application_default_credentials.json";
        if (exists(adc)) {
            out.type = credential_source::kind::file;
            out.path = adc;
            out.origin = "the application default credentials file " + adc;
            return out;
        }
    }
    return out;
}

std::optional<std::string> emulator_endpoint(const env_lookup& env)
{
    for (const char* name : {"STORAGE_EMULATOR_HOST", "CLOUD_STORAGE_EMULATOR_ENDPOINT"}) {
        auto v = env(name);
        if (!v || v->empty())
            continue;
        std::string url = *v;
        if (url.find("://") == std::string::npos)
            url = "http://" + url;
        while (url.size() > 8 && url.back() == '/')
            url.pop_back();
        return url;
    }
    return std::nullopt;
}

} // namespace statestore::gcs
