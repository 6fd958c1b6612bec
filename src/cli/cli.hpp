#pragma once
// Shared pieces of the statestore command line: global options, exit codes, messages.

#include "statestore/settings.hpp"

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

namespace statestore::cli {

/// Meltano's exit codes: 0 ok, 1 error, 2 usage.
inline constexpr int exit_ok = 0;
inline constexpr int exit_error = 1;
inline constexpr int exit_usage = 2;

/// An error that ends the command with a specific exit code and message.
struct command_failure : std::runtime_error {
    command_failure(int code, const std::string& message)
        : std::runtime_error(message), exit_code(code)
    {
    }
    int exit_code;
};

/// Options every command takes; explicit values beat the environment.
struct global_options {
    std::optional<std::string> uri;
    std::optional<std::string> database_uri;
    std::optional<double> lock_timeout_seconds;
    std::optional<double> lock_retry_seconds;
    std::optional<double> lock_max_wait_seconds;

    void add_to(CLI::App& app);
    settings resolve() const; ///< defaults <- environment <- these options
};

/// A parsed command ready to run: returns the exit code.
using command_runner = std::function<int(const settings&)>;

/// Registers `state` and its subcommands; `selected` receives the one chosen.
void add_state_commands(CLI::App& app, command_runner& selected);

/// Registers `migrate` (src/cli/migrate_command.cpp).
void add_migrate_command(CLI::App& app, command_runner& selected);

/// One line on stderr, as Meltano logs its messages.
void log_line(const std::string& message);

} // namespace statestore::cli
