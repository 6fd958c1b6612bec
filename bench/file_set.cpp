// Locked `set` throughput on the file backend against the floor of this disk: a plain loop
// of write + fsync + rename + directory fsync, i.e. the least a crash-safe write costs.
//
//   bench_file_set [states=2000] [concurrency=16]

#include "bench_util.hpp"

#include "statestore/statestore.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace statestore;

using bench::document_for;

namespace {

void check(bool ok, const char* what)
{
    if (!ok)
        throw std::runtime_error(std::string(what) + " failed");
}

/// The floor: what one durable, atomic small-file replacement costs, done in a plain loop
/// over files that already exist.
double floor_rate(const fs::path& dir, int n)
{
    for (int i = 0; i < n; ++i) {
        fs::create_directories(dir / ("id-" + std::to_string(i)));
        std::ofstream(dir / ("id-" + std::to_string(i)) / "state.json") << "{}";
    }
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
        const fs::path d = dir / ("id-" + std::to_string(i));
        const std::string bytes = "{\"completed\": " + document_for(i) + ", \"partial\": {}}";
        const std::string tmp = (d / ".tmp").string();
        const int fd = ::open(tmp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
        check(fd >= 0, "open");
        check(::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()),
              "write");
        check(::fsync(fd) == 0, "fsync");
        ::close(fd);
        check(::rename(tmp.c_str(), (d / "state.json").c_str()) == 0, "rename");
        const int dfd = ::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        check(dfd >= 0 && ::fsync(dfd) == 0, "fsync dir");
        ::close(dfd);
    }
    return n / bench::seconds_since(t0);
}

asio::awaitable<void> set_range(state_store& store, int begin, int end, int stride)
{
    for (int i = begin; i < end; i += stride)
        co_await store.set("id-" + std::to_string(i), parse_json(document_for(i)));
}

/// Locked sets through the library: `concurrency` coroutines on one io_context thread.
/// Like the floor, it replaces states that exist (the steady state of a pipeline); the
/// first pass that creates them is not timed.
double locked_rate(const fs::path& dir, int n, int concurrency, double& cpu)
{
    asio::io_context io;
    settings s;
    s.uri = "file://" + dir.string();
    state_store store(open_backend(io.get_executor(), s));
    auto created = asio::co_spawn(io, set_range(store, 0, n, 1), asio::use_future);
    io.run();
    created.get();
    io.restart();
    std::vector<std::future<void>> done;
    const double cpu0 = bench::cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    for (int c = 0; c < concurrency; ++c)
        done.push_back(asio::co_spawn(io, set_range(store, c, n, concurrency), asio::use_future));
    io.run();
    for (auto& f : done)
        f.get();
    const double rate = n / bench::seconds_since(t0);
    cpu = bench::cpu_seconds() - cpu0;
    return rate;
}

} // namespace

int main(int argc, char** argv)
{
    const int n = argc > 1 ? std::atoi(argv[1]) : 2000;
    const int concurrency = argc > 2 ? std::atoi(argv[2]) : 16;
    std::printf("file backend, %d states of ~170 bytes, disk under %s\n\n", n,
                std::getenv("BENCH_DIR") ? std::getenv("BENCH_DIR") : "/var/tmp");
    const fs::path floor_dir = bench::make_bench_dir("statestore-bench-floor");
    const double floor = floor_rate(floor_dir, n);
    fs::remove_all(floor_dir);

    std::printf("| what | states/s | ratio to floor | client CPU µs per state |\n|---|---|---|---|\n");
    std::printf("| floor: write+fsync+rename+dir fsync, plain loop | %.0f | 1.00 | |\n", floor);
    for (int c : {1, concurrency}) {
        const fs::path dir = bench::make_bench_dir("statestore-bench-set");
        double cpu = 0;
        const double rate = locked_rate(dir, n, c, cpu);
        std::printf("| locked set, concurrency %d | %.0f | %.2f | %.1f |\n", c, rate, rate / floor,
                    cpu / n * 1e6);
        std::fflush(stdout);
        fs::remove_all(dir);
    }
    return 0;
}
