#pragma once
// Small helpers for the benchmark programs: process CPU time, RSS, temp dirs, timing.

#include <sys/resource.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace statestore::bench {

/// The i-th benchmark state: a typical Singer bookmark, distinct per i.
inline std::string document_for(int i)
{
    return R"({"singer_state": {"bookmarks": {"orders": {"replication_key": "updated_at", )"
           R"("replication_key_value": "2024-11-25T11:53:42.)" +
           std::to_string(100000 + i) + R"(Z"}}}})";
}

inline double cpu_seconds()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec +
           u.ru_stime.tv_usec / 1e6;
}

/// Current resident set size in MiB (VmRSS).
inline double rss_mib()
{
    std::ifstream status("/proc/self/status");
    std::string key;
    while (status >> key) {
        if (key == "VmRSS:") {
            double kib = 0;
            status >> kib;
            return kib / 1024.0;
        }
        std::getline(status, key);
    }
    return 0;
}

inline double seconds_since(std::chrono::steady_clock::time_point t0)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// A fresh directory under $BENCH_DIR (default /var/tmp: a real disk, not tmpfs).
inline std::filesystem::path make_bench_dir(const std::string& name)
{
    const char* base = std::getenv("BENCH_DIR");
    std::string templ =
        (std::filesystem::path(base ? base : "/var/tmp") / (name + "-XXXXXX")).string();
    return mkdtemp(templ.data());
}

} // namespace statestore::bench
