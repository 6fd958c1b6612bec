// Locked state writes per second against a real S3 server, beside the ceiling: bare PUTs of
// the same bytes, same server, same concurrency, no locks. Prints a markdown table.
//
//   bench_s3_throughput ENDPOINT BUCKET [WRITES_PER_POINT=1000] [CONCURRENCIES=1,8,64,256]
// Credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY; bench/run_s3.sh starts RGW.
#include "bench_util.hpp"

#include "statestore/blob_state_backend.hpp"
#include "cloud/s3/s3_store.hpp"
#include "statestore/state_store.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include <cstdio>
#include <sstream>
#include <vector>

namespace asio = boost::asio;
using namespace statestore;

namespace {

struct point {
    double per_second = 0;
    double cpu_us_per_op = 0;
    int failures = 0;
};

template <class Op>
point run_point(asio::io_context& io, int writes, int concurrency, Op op)
{
    int failures = 0;
    auto lane = [&](int first) -> asio::awaitable<void> {
        for (int i = first; i < writes; i += concurrency) {
            try {
                co_await op(i);
            } catch (const std::exception& e) {
                if (failures++ == 0)
                    std::fprintf(stderr, "first failure: %s\n", e.what());
            }
        }
    };
    const double cpu0 = bench::cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    for (int l = 0; l < concurrency; ++l)
        asio::co_spawn(io, lane(l), asio::detached);
    io.restart();
    io.run();
    const double wall = bench::seconds_since(t0);
    point p;
    p.per_second = writes / wall;
    p.cpu_us_per_op = (bench::cpu_seconds() - cpu0) / writes * 1e6;
    p.failures = failures;
    return p;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s ENDPOINT BUCKET [WRITES=1000] [CONCURRENCIES=1,8,64,256]\n",
                     argv[0]);
        return 2;
    }
    const std::string endpoint = argv[1];
    const std::string bucket = argv[2];
    const int writes = argc > 3 ? std::atoi(argv[3]) : 1000;
    std::vector<int> concurrencies;
    std::stringstream list(argc > 4 ? argv[4] : "1,8,64,256");
    for (std::string item; std::getline(list, item, ',');)
        concurrencies.push_back(std::atoi(item.c_str()));

    s3_settings s;
    s.endpoint_url = endpoint;
    s3_store_options options;
    options.config = resolve_s3_config(s, bucket, "", process_env(), read_whole_file());
    options.probe_preconditions = false;
    const boost::json::value payload = boost::json::parse(
        R"({"singer_state": {"bookmarks": {"orders": {"replication_key_value": "2024-11-25T11:53:42Z"}}}})");
    const std::string bytes =
        R"({"completed": {"singer_state": {"bookmarks": {"orders": {"replication_key_value": "2024-11-25T11:53:42Z"}}}}, "partial": {}})";
    const std::string run = "bench-" + std::to_string(std::time(nullptr));

    std::printf("S3 throughput at %s, bucket %s, %d writes per point\n\n", endpoint.c_str(),
                bucket.c_str(), writes);
    std::printf("| concurrency | bare PUT/s (ceiling) | locked writes/s | locked HTTP requests/s | "
                "ratio (locked/bare) | client CPU us per locked write | failures |\n");
    std::printf("|---:|---:|---:|---:|---:|---:|---:|\n");
    for (const int c : concurrencies) {
        asio::io_context io;
        options.http.max_connections_per_endpoint = static_cast<std::size_t>(c);
        auto store = std::make_shared<s3_store>(io.get_executor(), options);
        const std::string prefix = run + "/c" + std::to_string(c);
        auto bare = [&](int i) -> asio::awaitable<void> {
            co_await store->write(prefix + "/bare/id-" + std::to_string(i) + "/state.json",
                                  bytes, precondition::none());
        };
        const point ceiling = run_point(io, writes, c, bare);

        lock_options locks;
        locks.retry_seconds = 0.05;
        state_store states(std::make_unique<blob_state_backend>(
            io.get_executor(), store, prefix + "/locked", "s3://" + bucket, locks));
        auto locked = [&](int i) -> asio::awaitable<void> {
            co_await states.set("dev:tap-" + std::to_string(i) + "-to-target", payload);
        };
        const point p = run_point(io, writes, c, locked);
        // A locked write of a new id: PUT lock, GET state, PUT state, GET lock, DELETE lock.
        constexpr double requests_per_locked_write = 5;
        std::printf("| %d | %.0f | %.0f | %.0f | %.2f | %.0f | %d |\n", c, ceiling.per_second,
                    p.per_second, p.per_second * requests_per_locked_write,
                    p.per_second / ceiling.per_second, p.cpu_us_per_op,
                    ceiling.failures + p.failures);
        std::fflush(stdout);
    }
    return 0;
}
