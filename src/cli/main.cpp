// statestore: Meltano-compatible state backends from the command line.

#include "cli.hpp"

#include "statestore/error.hpp"

#include <iostream>

namespace statestore::cli {

void global_options::add_to(CLI::App& app)
{
    app.add_option("--uri", uri,
                   "State backend URI (default: $MELTANO_STATE_BACKEND_URI or systemdb)");
    app.add_option("--database-uri", database_uri,
                   "System database for systemdb (default: $MELTANO_DATABASE_URI or "
                   "sqlite:///.meltano/meltano.db)");
    app.add_option("--lock-timeout-seconds", lock_timeout_seconds,
                   "Age after which a lock is stale (default 10)");
    app.add_option("--lock-retry-seconds", lock_retry_seconds,
                   "Wait between lock attempts (default 1)");
    app.add_option("--lock-max-wait-seconds", lock_max_wait_seconds,
                   "Give up waiting for a lock after this long (default: wait)");
}

settings global_options::resolve() const
{
    settings s = settings::from_env();
    if (uri)
        s.uri = *uri;
    if (database_uri)
        s.database_uri = *database_uri;
    if (lock_timeout_seconds)
        s.lock_timeout_seconds = *lock_timeout_seconds;
    if (lock_retry_seconds)
        s.lock_retry_seconds = *lock_retry_seconds;
    if (lock_max_wait_seconds)
        s.lock_max_wait_seconds = *lock_max_wait_seconds;
    s.warn = [](const std::string& message) { log_line("warning: " + message); };
    return s;
}

void log_line(const std::string& message) { std::cerr << message << std::endl; }

} // namespace statestore::cli

int main(int argc, char** argv)
{
    using namespace statestore::cli;
    CLI::App app{"statestore: Meltano-compatible pipeline state in SQLite, files and object "
                 "stores"};
    app.require_subcommand(1);
    global_options globals;
    globals.add_to(app);
    command_runner selected;
    add_state_commands(app, selected);
    add_migrate_command(app, selected);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e); // prints help or the usage error
        return code == 0 ? exit_ok : exit_usage;
    }
    try {
        return selected(globals.resolve());
    } catch (const command_failure& e) {
        if (*e.what())
            log_line(std::string("Error: ") + e.what());
        return e.exit_code;
    } catch (const statestore::error& e) {
        log_line(std::string("Error: ") + e.what());
        return exit_error;
    } catch (const std::exception& e) {
        log_line(std::string("Error: ") + e.what());
        return exit_error;
    }
}
