#pragma once
// Configuration: an aggregate with Meltano's defaults, filled from Meltano's environment
// names, then overridden by explicit options (explicit beats env beats default).

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace statestore {

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
    std::size_t io_threads = 4; ///< threads for blocking file/SQLite calls
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
/// sqlite:///:memory: for memory. Other schemes throw invalid_uri / unsupported_backend.
std::string sqlite_path_from_uri(std::string_view uri);

/// Expands $VAR and ${VAR} as Meltano does for setting values (unset variables stay).
std::string expand_env_vars(std::string_view text);

} // namespace statestore
