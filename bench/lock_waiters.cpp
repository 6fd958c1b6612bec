// 10,000 coroutines waiting for locks on one thread: memory and CPU while they wait.
//
//   bench_lock_waiters [waiters=10000] [seconds=5] [retry_seconds=1]
//
// Two shapes, both on the file backend with every lock held by "another process" (a fresh
// lock file that does not expire during the run):
//   same-id      all waiters want one id: they queue inside the process and only the head
//                polls the store, once per retry interval;
//   distinct-ids every waiter wants its own id: each polls the store once per interval.

#include "bench_util.hpp"

#include "statestore/statestore.hpp"
#include "core/lock_timestamp.hpp"
#include "async/blocking_pool.hpp"
#include "store/file/file_store.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdio>
#include <iostream>

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace statestore;

namespace {

// A free coroutine, not a capturing lambda: a lambda's captures live in the lambda object,
// which would die before the coroutine does.
asio::awaitable<void> wait_for_lock(blob_state_backend& backend, std::string id, int& acquired)
{
    held_lock lock = co_await backend.acquire(std::move(id));
    ++acquired; // does not happen here: the locks stay held
}

void run_shape(const std::string& shape, int waiters, double seconds, double retry)
{
    const fs::path dir = bench::make_bench_dir("statestore-bench-waiters");
    const int ids = shape == "same-id" ? 1 : waiters;
    const std::string stamp = format_lock_timestamp(std::chrono::system_clock::now());
    for (int i = 0; i < ids; ++i) {
        fs::create_directories(dir / ("id-" + std::to_string(i)));
        std::ofstream(dir / ("id-" + std::to_string(i)) / "lock") << stamp;
    }
    asio::io_context io;
    lock_options options;
    options.timeout_seconds = 3600; // held for the whole run
    options.retry_seconds = retry;
    auto store = std::make_shared<file_store>(dir.string(), std::make_shared<blocking_pool>(4));
    blob_state_backend backend(io.get_executor(), store, "", "file://" + dir.string(), options);

    const double rss_before = bench::rss_mib();
    int acquired = 0;
    for (int i = 0; i < waiters; ++i) {
        asio::co_spawn(io, wait_for_lock(backend, "id-" + std::to_string(i % ids), acquired),
                       asio::detached);
    }
    // Let every waiter make its first attempt, then measure a steady waiting window.
    io.run_for(std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::duration<double>(retry * 1.5)));
    const double rss_waiting = bench::rss_mib();
    const double cpu0 = bench::cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    io.run_for(std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::duration<double>(seconds)));
    const double wall = bench::seconds_since(t0);
    const double cpu = bench::cpu_seconds() - cpu0;
    std::printf("| %-12s | %6d | %8.1f | %8.1f | %9.1f | %8.3f | %6.1f%% | %d |\n",
                shape.c_str(), waiters, rss_before, rss_waiting, rss_waiting - rss_before, cpu,
                100.0 * cpu / wall, acquired);
    std::fflush(stdout);
    io.stop();
    std::error_code ec;
    fs::remove_all(dir, ec);
}

} // namespace

int main(int argc, char** argv)
{
    const int waiters = argc > 1 ? std::atoi(argv[1]) : 10000;
    const double seconds = argc > 2 ? std::atof(argv[2]) : 5.0;
    const double retry = argc > 3 ? std::atof(argv[3]) : 1.0;
    std::printf("lock waiters on one thread: %.1f s window, lock_retry_seconds=%g\n\n", seconds,
                retry);
    std::printf("| shape        | waiters | RSS before MiB | RSS waiting MiB | delta MiB | CPU s | CPU %% of one core | acquired |\n");
    std::printf("|---|---|---|---|---|---|---|---|\n");
    run_shape("same-id", waiters, seconds, retry);
    run_shape("distinct-ids", waiters, seconds, retry);
    return 0;
}
