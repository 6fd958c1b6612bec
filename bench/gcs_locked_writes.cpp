// Locked writes per second on gs:// against the firebase-tools emulator, next to a bare upload
// load at the same concurrency. Needs the servers of tests/servers/gcs.sh running:
//
//   tests/servers/gcs.sh start /tmp/gcs-bench     # free ports, recorded in /tmp/gcs-bench/env
//   (. /tmp/gcs-bench/env && bench_gcs_locked_writes 400 "$GCS_PROXY" "$GCS_EMULATOR")
//   tests/servers/gcs.sh stop /tmp/gcs-bench
//
// Rows per concurrency C (C coroutines on one thread, C HTTP connections):
//   bare upload, emulator:  unconditional media uploads straight to the emulator (the floor);
//   bare upload, proxy:     the same through the precondition proxy (test support), which adds a
//                           metadata GET and per-object serialisation to every write;
//   locked set, proxy:      state_store::set (lock create with ifGenerationMatch=0, read, CAS write,
//                           conditional lock delete) through the proxy; each coroutine its own id.
// Printed, not asserted. The emulator is Node and costs ~1-2 ms of CPU per request on this
// machine, so it is the bottleneck, not the client.

#include "bench_util.hpp"

#include "cloud/gcs/gcs_store.hpp"
#include "statestore/statestore.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <cstdio>
#include <cstdlib>
#include <future>
#include <random>
#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace statestore;

namespace {

std::string run_id()
{
    std::random_device rd;
    return "bench-" + std::to_string(rd() % 1000000);
}

std::string document_for(int i)
{
    return R"({"singer_state": {"bookmarks": {"orders": {"replication_key": "updated_at", )"
           R"("replication_key_value": "2024-11-25T11:53:42.)" +
           std::to_string(100000 + i) + R"(Z"}}}})";
}

template <class Work>
double timed(asio::io_context& io, int concurrency, int n, Work work, double& cpu)
{
    std::vector<std::future<void>> done;
    const double cpu0 = bench::cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    for (int c = 0; c < concurrency; ++c)
        done.push_back(asio::co_spawn(io, work(c), asio::use_future));
    io.restart();
    io.run();
    for (auto& f : done)
        f.get();
    const double rate = n / bench::seconds_since(t0);
    cpu = bench::cpu_seconds() - cpu0;
    return rate;
}

double bare_uploads(const std::string& endpoint, const std::string& prefix, int n, int concurrency,
                    double& cpu)
{
    asio::io_context io;
    gcs_store_options o;
    o.endpoint = http_endpoint::parse(endpoint);
    o.bucket = "statestore-bench";
    o.http.max_connections_per_endpoint = static_cast<std::size_t>(concurrency);
    gcs_store store(io.get_executor(), o);
    auto work = [&](int c) -> asio::awaitable<void> {
        for (int i = c; i < n; i += concurrency) {
            const std::string key = prefix + "/id-" + std::to_string(c) + "/state.json";
            co_await store.write(key, document_for(i), precondition::none());
        }
    };
    return timed(io, concurrency, n, work, cpu);
}

double locked_sets(const std::string& prefix, int n, int concurrency, double& cpu)
{
    asio::io_context io;
    settings s;
    s.uri = "gs://statestore-bench/" + prefix;
    s.http_max_connections = static_cast<std::size_t>(concurrency);
    state_store store(open_backend(io.get_executor(), s));
    auto work = [&](int c) -> asio::awaitable<void> {
        for (int i = c; i < n; i += concurrency)
            co_await store.set("id-" + std::to_string(c), parse_json(document_for(i)));
    };
    return timed(io, concurrency, n, work, cpu);
}

} // namespace

int main(int argc, char** argv)
{
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s WRITES PROXY_URL EMULATOR_URL (GCS_PROXY, GCS_EMULATOR of "
                             "the DIR/env that tests/servers/gcs.sh start writes)\n", argv[0]);
        return 2;
    }
    const int n = std::atoi(argv[1]);
    const std::string proxy = argv[2];
    const std::string emulator = argv[3];
    // Emulator mode (no credentials) through the proxy for the locked sets.
    setenv("STORAGE_EMULATOR_HOST", proxy.c_str(), 1);
    const std::string id = run_id();
    std::printf("gs:// on the firebase-tools emulator, %d writes of ~170 bytes per row\n\n", n);
    std::printf("| concurrency | what | writes/s | client CPU µs per write |\n|---|---|---|---|\n");
    for (int c : {1, 8, 64, 256}) {
        double cpu = 0;
        const std::string p = id + "/c" + std::to_string(c);
        double r = bare_uploads(emulator, p + "/bare", n, c, cpu);
        std::printf("| %d | bare upload, emulator | %.0f | %.0f |\n", c, r, cpu / n * 1e6);
        std::fflush(stdout);
        r = bare_uploads(proxy, p + "/bare-proxy", n, c, cpu);
        std::printf("| %d | bare upload, proxy | %.0f | %.0f |\n", c, r, cpu / n * 1e6);
        std::fflush(stdout);
        r = locked_sets(p + "/locked", n, c, cpu);
        std::printf("| %d | locked set, proxy | %.0f | %.0f |\n", c, r, cpu / n * 1e6);
        std::fflush(stdout);
    }
    return 0;
}
