// Client CPU per locked state write on S3, with the server taken out of the picture: an
// in-process loopback HTTP server (its own thread) that keeps objects in a map and answers
// at once, honouring If-None-Match / If-Match. The client runs on this thread; its CPU time
// (CLOCK_THREAD_CPUTIME_ID) covers signing, HTTP, the lock round trips and JSON.
//
//   bench_s3_client_cpu [WRITES=2000] [CONCURRENCY=1]
// Goal (issue 3): <= 50 us of client CPU per HTTP request.
#include "support/fake_s3.hpp"
#include "support/test_http_server.hpp"

#include "statestore/blob_state_backend.hpp"
#include "cloud/s3/s3_store.hpp"
#include "statestore/state_store.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include <sys/resource.h>

#include <cstdio>

namespace asio = boost::asio;
using namespace statestore;

namespace {

/// This thread's user and system CPU seconds: user time is our code (signing, HTTP, JSON,
/// locks); system time is the kernel's loopback TCP work, including waking the server thread
/// on every request at concurrency 1.
struct thread_cpu {
    double user = 0;
    double system = 0;
    static thread_cpu now()
    {
        rusage u{};
        getrusage(RUSAGE_THREAD, &u);
        thread_cpu t;
        t.user = u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6;
        t.system = u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
        return t;
    }
};

} // namespace

int main(int argc, char** argv)
{
    const int writes = argc > 1 ? std::atoi(argv[1]) : 2000;
    const int concurrency = argc > 2 ? std::atoi(argv[2]) : 1;
    test::fake_s3 fake;
    test::test_http_server server;
    server.set_handler([&](const test::received_request& r) { return fake.handle(r); });

    s3_settings s;
    s.aws_access_key_id = "AKBENCH";
    s.aws_secret_access_key = "bench-secret";
    s.endpoint_url = "http://127.0.0.1:" + std::to_string(server.port());
    const env_lookup no_env = [](const std::string&) { return std::optional<std::string>(); };
    const file_lookup no_files = [](const std::string&) { return std::optional<std::string>(); };
    s3_store_options options;
    options.config = resolve_s3_config(s, "bench", "", no_env, no_files);
    options.probe_preconditions = false;
    options.http.max_connections_per_endpoint = static_cast<std::size_t>(concurrency);

    asio::io_context io;
    auto store = std::make_shared<s3_store>(io.get_executor(), options);
    lock_options locks;
    locks.retry_seconds = 0.001;
    state_store states(std::make_unique<blob_state_backend>(io.get_executor(), store, "state",
                                                            "s3://bench/state", locks));
    const boost::json::value payload =
        boost::json::parse(R"({"singer_state": {"bookmarks": {"orders": {"replication_key_value": "2024-11-25T11:53:42Z"}}}})");

    // Warm-up: connections, allocator, first signing.
    int done = 0;
    auto lane = [&](int first, int count) -> asio::awaitable<void> {
        for (int i = first; i < count; i += concurrency) {
            co_await states.set("dev:tap-" + std::to_string(i) + "-to-target", payload);
            ++done;
        }
    };
    for (int l = 0; l < concurrency; ++l)
        asio::co_spawn(io, lane(l, std::min(writes, 50)), asio::detached);
    io.run();

    const long requests_before = fake.requests();
    done = 0;
    const thread_cpu cpu0 = thread_cpu::now();
    const auto t0 = std::chrono::steady_clock::now();
    for (int l = 0; l < concurrency; ++l)
        asio::co_spawn(io, lane(l, writes), asio::detached);
    io.restart();
    io.run();
    const thread_cpu cpu1 = thread_cpu::now();
    const double user = cpu1.user - cpu0.user;
    const double system = cpu1.system - cpu0.system;
    const double cpu = user + system;
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const long requests = fake.requests() - requests_before;

    std::printf("S3 client CPU, locked state writes against an instant in-process server\n");
    std::printf("writes %d, concurrency %d, HTTP requests %ld (%.1f per write)\n", done,
                concurrency, requests, static_cast<double>(requests) / done);
    std::printf("client CPU %.3f s: %.1f us per locked write, %.1f us per HTTP request "
                "(goal <= 50 us per request)\n",
                cpu, cpu / done * 1e6, cpu / static_cast<double>(requests) * 1e6);
    std::printf("  of which user space (statestore) %.1f us, kernel (loopback TCP, wake-ups) %.1f us "
                "per request\n",
                user / static_cast<double>(requests) * 1e6,
                system / static_cast<double>(requests) * 1e6);
    std::printf("wall %.3f s, %.0f writes/s\n", wall, done / wall);
    return done == writes ? 0 : 1;
}
