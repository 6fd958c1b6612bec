#pragma once
// Child processes for the multi-process tests: spawn with extra environment, read their
// stdout line by line, wait with a time limit, kill by PID.

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace statestore::test {

struct child_process {
    pid_t pid = -1;
    int stdout_fd = -1; ///< read end of the child's stdout pipe (-1 if not captured)
};

/// Starts argv[0] with the current environment plus `extra_env` (overriding).
child_process spawn_process(const std::vector<std::string>& argv,
                            const std::map<std::string, std::string>& extra_env,
                            bool capture_stdout = true);

/// Reads one line (without '\n') from the child's stdout; nullopt at EOF or time-out.
std::optional<std::string> read_line(child_process& child, std::chrono::milliseconds limit);

/// Waits for the child to exit; returns its exit code, 128+signal when killed, or -1 (and
/// kills it) when it outlives `limit`.
int wait_process(child_process& child, std::chrono::milliseconds limit);

void kill_process(child_process& child, int signal);

} // namespace statestore::test
