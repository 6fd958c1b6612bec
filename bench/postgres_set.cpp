// systemdb on PostgreSQL (MELTANO_DATABASE_URI=postgresql://..., a schema of its own is made
// and dropped here): requests and round trips per operation, and group commit measured.
//
//   bench_postgres_set [sets=500] [ids=10000] [concurrencies=1,8,64,256]
//
// 1. A locked `set` from one process, sequentially (state_store::set: a read-merge-write in
//    one transaction): sets/s and round trips per set; likewise get, merge and
//    update_expecting_absent (the lock-free path a migration takes for new ids).
// 2. What a migration does per id at the destination (create-if-absent, then read back), at
//    each concurrency, with group commit on (up to 256 writes per transaction) and off (one
//    per transaction), same connection limit: ids/s and round trips per id. One-row
//    transactions are the ceiling bench_migrate_ceiling measures.
// Figures only; nothing is asserted.

#include "bench_util.hpp"

#include "backend/systemdb/pg_uri.hpp"
#include "backend/systemdb/postgres_backend.hpp"
#include "statestore/statestore.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace statestore;

namespace {

std::string with_schema(const std::string& uri, const std::string& schema)
{
    return uri + (uri.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" +
           schema;
}

template <typename F> void run(asio::io_context& io, F make)
{
    auto done = asio::co_spawn(io, make(), asio::use_future);
    io.restart();
    io.run();
    done.get();
}

state_mutator replace_with(state_document d)
{
    return [d](const std::optional<state_document>&) { return std::optional<state_document>(d); };
}

asio::awaitable<void> migrate_like(postgres_backend& b, int first, int count, int& next)
{
    while (next < first + count) {
        const int i = next++;
        const std::string id = "bench:tap-" + std::to_string(i) + "-to-target";
        co_await b.update_expecting_absent(
            id, replace_with(state_document::complete(parse_json(bench::document_for(i)))));
        co_await b.get(id);
    }
}

} // namespace

int main(int argc, char** argv)
{
    const int sets = argc > 1 ? std::atoi(argv[1]) : 500;
    const int ids = argc > 2 ? std::atoi(argv[2]) : 10000;
    std::vector<int> concurrencies = {1, 8, 64, 256};
    if (argc > 3) {
        concurrencies.clear();
        for (std::string list = argv[3]; !list.empty();) {
            const auto comma = list.find(',');
            concurrencies.push_back(std::stoi(list.substr(0, comma)));
            list = comma == std::string::npos ? "" : list.substr(comma + 1);
        }
    }
    settings base = settings::from_env();
    const std::string uri = effective_database_uri(base);
    if (!pg::is_postgres_uri(uri)) {
        std::fprintf(stderr, "bench_postgres_set: MELTANO_DATABASE_URI must be postgresql://...\n");
        return 2;
    }
    const std::string schema = "bench_set_" + std::to_string(::getpid());
    asio::io_context io;
    const std::string psql =
        std::string(std::getenv("PG_BIN") ? std::getenv("PG_BIN") : "/usr/lib/postgresql/15/bin") +
        "/psql -X -q '" + uri + "' -c ";
    if (std::system((psql + "'CREATE SCHEMA " + schema + "'").c_str()) != 0)
        return 1;
    const std::string schema_uri = with_schema(uri, schema);

    std::printf("| PostgreSQL, one process, sequential | per second | round trips each |\n"
                "|---|---|---|\n");
    {
        settings s = base;
        s.database_uri = schema_uri;
        state_store store(open_backend(io.get_executor(), s));
        auto& backend = store.backend();
        run(io, [&] { return store.set("warm-up", parse_json(R"({"singer_state": {}})")); });
        const auto measure = [&](const char* what, auto op) {
            const std::uint64_t before = backend.requests_sent();
            const auto t0 = std::chrono::steady_clock::now();
            for (int i = 0; i < sets; ++i)
                run(io, [&] { return op(i); });
            const double seconds = bench::seconds_since(t0);
            std::printf("| %s | %.0f | %.2f |\n", what, sets / seconds,
                        static_cast<double>(backend.requests_sent() - before) / sets);
        };
        measure("locked `set` (read-merge-write, one transaction)", [&](int i) {
            return store.set("dev:tap-" + std::to_string(i % 100) + "-to-target",
                             parse_json(bench::document_for(i)));
        });
        measure("locked `merge`", [&](int i) {
            return store.merge("dev:tap-" + std::to_string(i % 100) + "-to-target",
                               parse_json(R"({"singer_state": {"m": )" + std::to_string(i) + "}}"));
        });
        measure("`get`", [&](int i) {
            return store.get("dev:tap-" + std::to_string(i % 100) + "-to-target");
        });
        measure("create-if-absent (update_expecting_absent, a new id)", [&](int i) {
            return backend.update_expecting_absent(
                "new:" + std::to_string(i),
                replace_with(state_document::complete(parse_json(bench::document_for(i)))));
        });
    }

    std::printf("\n| migration-like (create-if-absent + read back), %d ids | concurrency | "
                "ids/s | round trips per id |\n|---|---|---|---|\n",
                ids);
    int first = 0;
    for (const int c : concurrencies) {
        for (const std::size_t batch : {std::size_t{1}, std::size_t{256}}) {
            postgres_options o;
            o.target = pg::parse_postgres_uri(schema_uri);
            o.max_connections = base.database_max_connections;
            o.max_batch = batch;
            postgres_backend b(io.get_executor(), o);
            run(io, [&] { return b.list("none"); });
            const std::uint64_t before = b.requests_sent();
            int next = first;
            std::vector<std::future<void>> done;
            const auto t0 = std::chrono::steady_clock::now();
            for (int w = 0; w < c; ++w)
                done.push_back(
                    asio::co_spawn(io, migrate_like(b, first, ids, next), asio::use_future));
            io.restart();
            io.run();
            for (auto& f : done)
                f.get();
            const double seconds = bench::seconds_since(t0);
            std::printf("| group commit %s (max %zu connections) | %d | %.0f | %.2f |\n",
                        batch == 1 ? "off" : "on", o.max_connections, c, ids / seconds,
                        static_cast<double>(b.requests_sent() - before) / ids);
            first += ids;
        }
    }
    std::system((psql + "'DROP SCHEMA " + schema + " CASCADE'").c_str());
    return 0;
}
