// The token cache under a stampede: 1,000 coroutines start while the token has expired.
// Exactly one refresh request must reach the token endpoint, whatever the concurrency.
//
//   1. in process: a token_cache whose fetch takes 5 ms; 1,000 coroutines call token();
//   2. end to end (needs tests/servers/gcs.sh running; pass its DIR): gs:// with the test service
//      account, requests through the precondition proxy (which checks every bearer token); one
//      warm request, then wait until the 2 s token has expired, then 1,000 coroutines each read an
//      object at once. Refreshes are counted by the token endpoint itself (/stats).
//
//   bench_gcs_token_cache [SERVER_DIR] [coroutines=1000]
// Printed, not asserted.

#include "bench_util.hpp"

#include "cloud/gcs/gcs_token_cache.hpp"
#include "net/http.hpp"
#include "statestore/statestore.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <thread>

namespace asio = boost::asio;
using namespace statestore;
using namespace std::chrono_literals;

namespace {

void in_process(int waiters)
{
    asio::io_context io;
    int fetches = 0;
    gcs::token_cache cache(io.get_executor(), [&]() -> asio::awaitable<gcs::token_response> {
        ++fetches;
        asio::steady_timer t(io, 5ms);
        co_await t.async_wait(asio::use_awaitable);
        gcs::token_response r;
        r.access_token = "t";
        r.expires_in = 3600s;
        co_return r;
    });
    int got = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < waiters; ++i)
        asio::co_spawn(io, cache.token(), [&](std::exception_ptr e, std::string) { got += !e; });
    io.run();
    std::printf("| in process (5 ms fetch) | %d | %d | %d | %.0f token()/s |\n", waiters, got, fetches,
                waiters / bench::seconds_since(t0));
}

std::map<std::string, std::string> read_env_file(const std::string& path)
{
    std::map<std::string, std::string> out;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line))
        if (auto eq = line.find('='); eq != std::string::npos)
            out[line.substr(0, eq)] = line.substr(eq + 1);
    return out;
}

std::int64_t issued(const std::string& stats_url)
{
    asio::io_context io;
    http_client client(io.get_executor(), {});
    const auto slash = stats_url.find('/', stats_url.find("://") + 3);
    http_request req;
    req.target = stats_url.substr(slash);
    auto f = asio::co_spawn(io, client.send(http_endpoint::parse(stats_url.substr(0, slash)), req),
                            asio::use_future);
    io.run();
    return boost::json::parse(f.get().body).at("issued").as_int64();
}

void end_to_end(const std::string& dir, int coroutines)
{
    const auto env = read_env_file(dir + "/env");
    settings s;
    s.uri = "gs://auth-bench/token-cache";
    s.gcs.application_credentials_path = env.at("GCS_SA_FILE");
    s.gcs.endpoint_url = env.at("GCS_PROXY");
    s.http_max_connections = 64;
    unsetenv("STORAGE_EMULATOR_HOST");
    unsetenv("CLOUD_STORAGE_EMULATOR_ENDPOINT");
    asio::io_context io;
    auto opened = open_blob_store(io.get_executor(), s);
    auto warm = asio::co_spawn(io, opened.store->read("token-cache/missing"), asio::use_future);
    io.run();
    warm.get();
    std::this_thread::sleep_for(2100ms); // the 2 s token has expired
    const std::int64_t before = issued(env.at("GCS_TOKEN_STATS"));
    int ok = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < coroutines; ++i)
        asio::co_spawn(io, opened.store->read("token-cache/missing-" + std::to_string(i)),
                       [&](std::exception_ptr e, std::optional<blob>) { ok += !e; });
    io.restart();
    io.run();
    const double secs = bench::seconds_since(t0);
    const std::int64_t after = issued(env.at("GCS_TOKEN_STATS"));
    std::printf("| end to end (token endpoint, proxy, emulator) | %d | %d | %lld | %.0f requests/s |\n",
                coroutines, ok, static_cast<long long>(after - before), coroutines / secs);
}

} // namespace

int main(int argc, char** argv)
{
    const std::string dir = argc > 1 ? argv[1] : "";
    const int n = argc > 2 ? std::atoi(argv[2]) : 1000;
    std::printf("| setting | coroutines | succeeded | refresh requests | rate |\n|---|---|---|---|---|\n");
    in_process(n);
    if (!dir.empty())
        end_to_end(dir, n);
    else
        std::printf("(pass the tests/servers/gcs.sh DIR for the end-to-end row)\n");
    return 0;
}
