// systemdb (SQLite, WAL, synchronous=FULL like Meltano): locked `set` per second, and an
// import of 10,000 states in one call.
//
//   bench_systemdb_set [sets=2000] [import_states=10000]

#include "bench_util.hpp"

#include "statestore/statestore.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <cstdio>

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace statestore;

namespace {


asio::awaitable<void> sets(state_store& store, int n)
{
    for (int i = 0; i < n; ++i) {
        boost::json::value payload = parse_json(
            R"({"singer_state": {"bookmarks": {"orders": {"replication_key_value": )" +
            std::to_string(i) + "}}}}");
        co_await store.set("dev:tap-" + std::to_string(i % 100) + "-to-target", payload);
    }
}

asio::awaitable<std::size_t> import(state_store& store, int n)
{
    std::vector<state_entry> entries;
    entries.reserve(n);
    for (int i = 0; i < n; ++i)
        entries.emplace_back("dev:tap-" + std::to_string(i) + "-to-target-x",
                             state_document::complete(parse_json(
                                 R"({"singer_state": {"bookmarks": {"t": {"v": )" +
                                 std::to_string(i) + "}}}}")));
    co_return co_await store.import_all(std::move(entries));
}

} // namespace

int main(int argc, char** argv)
{
    const int n = argc > 1 ? std::atoi(argv[1]) : 2000;
    const int m = argc > 2 ? std::atoi(argv[2]) : 10000;
    const fs::path dir = bench::make_bench_dir("statestore-bench-sdb");
    asio::io_context io;
    settings s;
    s.database_uri = "sqlite:///" + (dir / "meltano.db").string();
    state_store store(open_backend(io.get_executor(), s));

    auto t0 = std::chrono::steady_clock::now();
    auto f = asio::co_spawn(io, sets(store, n), asio::use_future);
    io.run();
    f.get();
    const double set_rate = n / bench::seconds_since(t0);

    io.restart();
    t0 = std::chrono::steady_clock::now();
    auto g = asio::co_spawn(io, import(store, m), asio::use_future);
    io.run();
    const std::size_t imported = g.get();
    const double import_seconds = bench::seconds_since(t0);

    std::printf("| systemdb | figure |\n|---|---|\n");
    std::printf("| locked set (read-merge-write in one BEGIN IMMEDIATE), sequential | %.0f sets/s |\n",
                set_rate);
    std::printf("| import of %zu states in one call (one transaction) | %.3f s (%.0f states/s) |\n",
                imported, import_seconds, imported / import_seconds);
    fs::remove_all(dir);
    return 0;
}
