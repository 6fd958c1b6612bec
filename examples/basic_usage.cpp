// Using statestore from your own coroutine code: open the backend named by the usual
// Meltano settings (or explicit ones), then co_await state operations.
//
//   basic_usage [URI]      e.g. basic_usage file:///tmp/state   (default: systemdb)

#include <statestore/statestore.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>

#include <iostream>

namespace asio = boost::asio;
namespace json = boost::json;

asio::awaitable<void> pipeline_step(statestore::state_store& store)
{
    const std::string id = "dev:tap-example-to-target-example";

    // What the extractor would start from ({} the first time).
    json::value before = co_await store.get(id);
    std::cout << "before: " << statestore::to_python_json(before, statestore::json_style::compact)
              << '\n';

    // A complete state after a successful run...
    json::value complete = statestore::parse_json(
        R"({"singer_state": {"bookmarks": {"users": {"updated_at": "2024-01-01T00:00:00Z"}}}})");
    co_await store.set(id, complete);

    // ...and an incremental piece merged in by a partial run.
    json::value piece = statestore::parse_json(
        R"({"singer_state": {"bookmarks": {"orders": {"id": 42}}}})");
    co_await store.merge(id, piece);

    json::value after = co_await store.get(id);
    std::cout << "after:  " << statestore::to_python_json(after, statestore::json_style::compact)
              << '\n';
}

int main(int argc, char** argv)
{
    try {
        asio::io_context io;
        statestore::settings config = statestore::settings::from_env();
        if (argc > 1)
            config.uri = argv[1]; // explicit beats environment
        statestore::state_store store(statestore::open_backend(io.get_executor(), config));
        std::exception_ptr failure;
        auto done = [&failure](std::exception_ptr e) { failure = e; };
        asio::co_spawn(io, pipeline_step(store), done);
        io.run();
        if (failure)
            std::rethrow_exception(failure);
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << '\n';
        return 1;
    }
}
