#pragma once
// Where an s3:// backend connects and as whom: a pure function of the settings, the URI,
// the environment and the AWS shared files, so every rule of the chain is unit-tested
// without a server. The environment and the files are passed in (lookups), never read here.
//
// Credentials, first match wins:
//   1. state_backend.s3.aws_access_key_id / aws_secret_access_key, each falling back to the
//      URI's user / password (percent-decoded: a secret with '/' is written %2F). Exactly
//      one of the two given is an error, as in Meltano.
//   2. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN).
//   3. The profile AWS_PROFILE (else "default") in AWS_SHARED_CREDENTIALS_FILE
//      (~/.aws/credentials), then in AWS_CONFIG_FILE (~/.aws/config, "[profile NAME]").
// Region: the setting, AWS_REGION, AWS_DEFAULT_REGION, the profile's `region`, us-east-1.
// Endpoint: the setting (always honoured, unlike Meltano), AWS_ENDPOINT_URL_S3,
//   AWS_ENDPOINT_URL, the profile's `endpoint_url`, else AWS's regional endpoint.
// Addressing: path style for custom endpoints and IP addresses, virtual-hosted for AWS
//   (path style there too when the bucket name has a dot, which a wildcard certificate
//   cannot cover); the addressing_style setting overrides.
// CA file: the setting, AWS_CA_BUNDLE, the profile's `ca_bundle`.

#include "cloud/s3/aws_sigv4.hpp"
#include "net/http.hpp"
#include "statestore/settings.hpp"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace statestore {

/// Returns the value of an environment variable, or nullopt when unset or empty.
using env_lookup = std::function<std::optional<std::string>(const std::string& name)>;
/// Returns a file's contents, or nullopt when it does not exist / cannot be read.
using file_lookup = std::function<std::optional<std::string>(const std::string& path)>;

struct s3_config {
    aws::credentials credentials;
    /// Where the credentials came from, for messages ("the state_backend.s3 settings",
    /// "the backend URI", "AWS_ACCESS_KEY_ID", "profile \"dev\" in /root/.aws/credentials").
    std::string credentials_source;
    std::string bucket;
    std::string region;
    http_endpoint endpoint; ///< the service endpoint, without the bucket
    bool path_style = true;
    std::string ca_file;

    /// The host requests are sent to: the endpoint's, or "<bucket>.<endpoint host>" in
    /// virtual-hosted style.
    http_endpoint request_endpoint() const;
};

/// Resolves the configuration of `s3://[userinfo@]bucket/...`. Throws
/// statestore::error(errc::invalid_setting) naming the problem (never a secret): one of
/// key id / secret without the other, no credentials anywhere, a bad endpoint URL, an
/// unknown addressing style, a profile that does not exist.
s3_config resolve_s3_config(const s3_settings& settings, std::string_view bucket,
                            std::string_view uri_userinfo, const env_lookup& env,
                            const file_lookup& files);

/// The real environment and file system, for resolve_s3_config.
env_lookup process_env();
file_lookup read_whole_file();

/// An AWS shared config/credentials file: section name -> key -> value. Section names are
/// kept as written ("default", "profile dev"); keys are lower-cased; `#`/`;` comment lines
/// and indented sub-settings (`s3 =` blocks) are skipped.
using ini_sections = std::map<std::string, std::map<std::string, std::string>>;
ini_sections parse_aws_ini(std::string_view text);

/// RFC 3986 percent-decoding. Throws invalid_uri on a malformed escape (without echoing
/// the text, which may be a secret).
std::string percent_decode(std::string_view text);

} // namespace statestore
