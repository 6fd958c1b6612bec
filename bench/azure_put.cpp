// Locked writes/s on the azure:// backend against Azurite, next to the ceiling: bare Put Blob
// requests through the same store and HTTP client at the same concurrency. Also the client CPU
// per operation (getrusage), which shows what the library itself costs next to the server.
//
//   tests/servers/azurite.sh start /tmp/azurite        # free ports, recorded in /tmp/azurite/env
//   (. /tmp/azurite/env; export MELTANO_STATE_BACKEND_AZURE_CONNECTION_STRING=$AZURITE_CONNECTION_STRING
//    bench_azure_put [operations=400] [container=statestore-ci])
// Connection string: MELTANO_STATE_BACKEND_AZURE_CONNECTION_STRING, else UseDevelopmentStorage=true
// (an Azurite on its default port 127.0.0.1:10000).
// Figures are printed, not asserted: on a shared 2-core machine Azurite (one Node process) is
// the bottleneck.

#include "bench_util.hpp"

#include "statestore/statestore.hpp"
#include "statestore/backend_factory.hpp"

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

using bench::document_for;

namespace {

settings bench_settings(const std::string& container, const std::string& prefix)
{
    settings s;
    s.apply_env();
    if (s.azure.connection_string.empty())
        s.azure.connection_string = "UseDevelopmentStorage=true";
    s.uri = "azure://" + container + "/" + prefix;
    s.http_max_connections = 256; // never cap the 256-way run at the default pool size
    return s;
}

struct result {
    double rate = 0;
    double cpu_us = 0;
};

asio::awaitable<void> set_range(state_store& store, int begin, int end, int stride)
{
    for (int i = begin; i < end; i += stride)
        co_await store.set("id-" + std::to_string(i), parse_json(document_for(i)));
}

asio::awaitable<void> put_range(blob_store& store, std::string prefix, int begin, int end, int stride)
{
    for (int i = begin; i < end; i += stride) {
        const std::string bytes =
            "{\"completed\": " + document_for(i) + ", \"partial\": {}}";
        co_await store.write(prefix + "/id-" + std::to_string(i) + "/state.json", bytes,
                             precondition::none());
    }
}

template <class Spawn>
result measure(asio::io_context& io, int n, int concurrency, Spawn spawn)
{
    std::vector<std::future<void>> done;
    const double cpu0 = bench::cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    for (int c = 0; c < concurrency; ++c)
        done.push_back(spawn(c));
    io.run();
    io.restart();
    for (auto& f : done)
        f.get();
    result r;
    r.rate = n / bench::seconds_since(t0);
    r.cpu_us = (bench::cpu_seconds() - cpu0) / n * 1e6;
    return r;
}

} // namespace

int main(int argc, char** argv)
{
    const int n = argc > 1 ? std::atoi(argv[1]) : 400;
    const std::string container = argc > 2 ? argv[2] : "statestore-ci";
    const std::string run = "bench-" + std::to_string(std::random_device{}());
    std::printf("azure:// backend against Azurite, %d operations per row, container %s/%s\n\n", n,
                container.c_str(), run.c_str());
    std::printf("| concurrency | bare Put Blob/s (ceiling) | CPU µs/put | locked set/s | ratio | "
                "CPU µs/set |\n|---|---|---|---|---|---|\n");
    for (int c : {1, 8, 64, 256}) {
        asio::io_context io;
        const std::string prefix = run + "/c" + std::to_string(c);
        // Ceiling: bare Put Blob through the store's own client (signing included).
        auto opened = open_blob_store(io.get_executor(), bench_settings(container, prefix + "-bare"));
        const result bare = measure(io, n, c, [&](int k) {
            return asio::co_spawn(io, put_range(*opened.store, opened.prefix, k, n, c), asio::use_future);
        });
        // Locked set: lock object create (If-None-Match), read, CAS write, conditional lock delete.
        state_store store(open_backend(io.get_executor(), bench_settings(container, prefix)));
        const result locked = measure(io, n, c, [&](int k) {
            return asio::co_spawn(io, set_range(store, k, n, c), asio::use_future);
        });
        std::printf("| %d | %.0f | %.0f | %.0f | %.2f | %.0f |\n", c, bare.rate, bare.cpu_us,
                    locked.rate, locked.rate / bare.rate, locked.cpu_us);
        std::fflush(stdout);
    }
    return 0;
}
