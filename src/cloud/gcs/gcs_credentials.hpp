#pragma once
// Google credentials: where they come from (Meltano's order, then Application Default
// Credentials) and what a credentials JSON file says. Pure functions: the environment and the
// file system are reached only through the callbacks the caller passes.
//
// Secrets (private_key, client_secret, refresh_token) never appear in a message: errors name
// the source ("the file /x/sa.json", "state_backend.gcs.application_credentials_json") and the
// missing or mistyped field, never a value or an excerpt of the text.

#include "statestore/settings.hpp"

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace statestore::gcs {

inline constexpr std::string_view default_token_uri = "https://oauth2.googleapis.com/token";
inline constexpr std::string_view read_write_scope =
    "https://www.googleapis.com/auth/devstorage.read_write";

/// A "type": "service_account" key file: signs its own JWT assertions.
struct service_account {
    std::string client_email;
    std::string private_key; ///< PEM; secret
    std::string private_key_id;
    std::string token_uri; ///< where assertions are exchanged for access tokens
    std::string project_id;
};

/// A "type": "authorized_user" file (gcloud auth application-default login): a refresh token.
struct authorized_user {
    std::string client_id;
    std::string client_secret; ///< secret
    std::string refresh_token; ///< secret
    /// The file's own "token_uri" when present (google-auth honours it too), else
    /// default_token_uri. Tests point it at a local token endpoint.
    std::string token_uri;
};

using credentials = std::variant<service_account, authorized_user>;

/// Parses a credentials JSON document. `origin` names where it came from, for messages.
/// Throws statestore::error(errc::invalid_setting) for text that is not JSON (the offset is
/// given, never an excerpt: the text holds a private key), a "type" other than the two above,
/// or a missing / non-string required field.
credentials parse_credentials(std::string_view json_text, std::string_view origin);

/// Where the credentials come from, before the file (if any) is read.
struct credential_source {
    enum class kind {
        inline_json, ///< state_backend.gcs.application_credentials_json
        file,        ///< a path (setting, GOOGLE_APPLICATION_CREDENTIALS, or the ADC file)
        none,        ///< nothing configured and no ADC file
    };
    kind type = kind::none;
    std::string json_text; ///< inline_json only
    std::string path;      ///< file only
    std::string origin;    ///< for messages, e.g. "GOOGLE_APPLICATION_CREDENTIALS (/x/sa.json)"
};

/// Looks up an environment variable; nullopt when unset.
using env_lookup = std::function<std::optional<std::string>(const std::string&)>;
/// Whether a file exists (only the ADC default location is probed).
using file_exists_fn = std::function<bool(const std::string&)>;

/// Meltano's order, then Application Default Credentials:
///   1. settings application_credentials_json;
///   2. application_credentials_path, or the deprecated application_credentials used as a
///      path (a warning goes to `warn`); json and a path both set -> invalid_setting
///      "Provide only one of ...";
///   3. GOOGLE_APPLICATION_CREDENTIALS;
///   4. $CLOUDSDK_CONFIG/application_default_credentials.json, else
///      $HOME/.config/gcloud/application_default_credentials.json, when it exists.
credential_source find_credential_source(const gcs_settings& s, const env_lookup& env,
                                         const file_exists_fn& exists,
                                         const std::function<void(const std::string&)>& warn);

/// The emulator endpoint selected by STORAGE_EMULATOR_HOST, else
/// CLOUD_STORAGE_EMULATOR_ENDPOINT ("http://host:port", or "host:port" which means http), or
/// nullopt. With an emulator no credentials are used, as Google's client libraries do.
std::optional<std::string> emulator_endpoint(const env_lookup& env);

} // namespace statestore::gcs
