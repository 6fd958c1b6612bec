#pragma once
// Configuration: an aggregate with Meltano's defaults, filled from Meltano's environment
// names, then overridden by explicit options (explicit beats env beats default).

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace statestore {

/// state_backend.s3.* (Meltano's three settings) plus statestore extensions. Empty means
/// "not set"; the store then falls back to the AWS chain (see s3_config.hpp).
struct s3_settings {
    std::string aws_access_key_id;     ///< MELTANO_STATE_BACKEND_S3_AWS_ACCESS_KEY_ID
    std::string aws_secret_access_key; ///< MELTANO_STATE_BACKEND_S3_AWS_SECRET_ACCESS_KEY
    /// Always honoured (Meltano ignores it without explicit keys).
    /// MELTANO_STATE_BACKEND_S3_ENDPOINT_URL
    std::string endpoint_url;
    /// Extensions. STATESTORE_S3_REGION (else AWS_REGION, AWS_DEFAULT_REGION, config file).
    std::string region;
    /// "path", "virtual" or "" (auto: path style for custom endpoints and IP addresses).
    /// STATESTORE_S3_ADDRESSING_STYLE
    std::string addressing_style;
    /// Extra trusted CAs (PEM). STATESTORE_S3_CA_FILE, else AWS_CA_BUNDLE.
    std::string ca_file;
};

/// state_backend.azure.*.
struct azure_settings {
    std::string connection_string;   ///< MELTANO_STATE_BACKEND_AZURE_CONNECTION_STRING
    std::string storage_account_url; ///< MELTANO_STATE_BACKEND_AZURE_STORAGE_ACCOUNT_URL
    std::string ca_file;             ///< STATESTORE_AZURE_CA_FILE (else SSL_CERT_FILE)
};

/// state_backend.gcs.* (the settings namespace of gs:// URIs).
struct gcs_settings {
    /// Deprecated alias of application_credentials_path (warns).
    /// MELTANO_STATE_BACKEND_GCS_APPLICATION_CREDENTIALS
    std::string application_credentials;
    std::string application_credentials_path; ///< MELTANO_STATE_BACKEND_GCS_APPLICATION_CREDENTIALS_PATH
    std::string application_credentials_json; ///< MELTANO_STATE_BACKEND_GCS_APPLICATION_CREDENTIALS_JSON
    std::string ca_file;                      ///< STATESTORE_GCS_CA_FILE (else SSL_CERT_FILE)
    /// Extension: the JSON API endpoint, credentials still used (default
    /// https://storage.googleapis.com; STORAGE_EMULATOR_HOST overrides it and drops
    /// credentials). STATESTORE_GCS_ENDPOINT
    std::string endpoint_url;
};

struct settings {
    std::string uri = "systemdb";          ///< MELTANO_STATE_BACKEND_URI
    double lock_timeout_seconds = 10.0;    ///< MELTANO_STATE_BACKEND_LOCK_TIMEOUT_SECONDS
    double lock_retry_seconds = 1.0;       ///< MELTANO_STATE_BACKEND_LOCK_RETRY_SECONDS
    /// Give up waiting for a lock after this long (statestore extension; Meltano waits
    /// forever). STATESTORE_LOCK_MAX_WAIT_SECONDS.
    std::optional<double> lock_max_wait_seconds;
    /// MELTANO_DATABASE_URI; empty means sqlite:///$MELTANO_SYS_DIR_ROOT/meltano.db with
    /// MELTANO_SYS_DIR_ROOT defaulting to .meltano under the current directory.
    std::string database_uri;
    /// Meltano's database_max_retries and database_retry_timeout: a failed connection to a
    /// PostgreSQL system database is retried this many times, this many seconds apart.
    /// MELTANO_DATABASE_MAX_RETRIES, MELTANO_DATABASE_RETRY_TIMEOUT
    int database_max_retries = 3;
    double database_retry_timeout_seconds = 5.0;
    /// Connections to a PostgreSQL system database at most (statestore extension; queued
    /// operations share them in batches). STATESTORE_DATABASE_MAX_CONNECTIONS (1-1000)
    std::size_t database_max_connections = 8;
    /// Threads for blocking file-system calls of the file backend (fsync, rename, open).
    /// STATESTORE_IO_THREADS (1-256). More threads than 4 gained nothing measurable on
    /// this machine's disk (README, Performance).
    std::size_t io_threads = 4;
    /// HTTP connections per endpoint for the cloud stores (a migration raises it to its
    /// concurrency). STATESTORE_HTTP_MAX_CONNECTIONS
    std::size_t http_max_connections = 64;
    s3_settings s3;
    azure_settings azure;
    gcs_settings gcs;
    /// Warnings sink; empty means stderr.
    std::function<void(const std::string&)> warn;

    /// Defaults overridden by the environment. A malformed number in an environment
    /// variable throws invalid_setting naming the variable.
    static settings from_env();
    /// Overrides fields from the environment where the variables are set.
    void apply_env();
};

/// The database URI in force (database_uri, or the Meltano default).
std::string effective_database_uri(const settings& s);

/// SQLAlchemy's sqlite URI rules: sqlite:///rel/path, sqlite:////abs/path, sqlite:// and
/// sqlite:///:memory: for memory. Other schemes throw invalid_uri / unsupported_backend
/// (PostgreSQL URIs are not paths: open_backend takes them apart itself).
std::string sqlite_path_from_uri(std::string_view uri);

/// Expands $VAR and ${VAR} as Meltano does for setting values (unset variables stay).
std::string expand_env_vars(std::string_view text);

} // namespace statestore
