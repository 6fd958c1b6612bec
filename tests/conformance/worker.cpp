// A second (third, sixteenth...) process for the conformance suite. It opens the backend
// named by the usual environment (MELTANO_STATE_BACKEND_URI, MELTANO_DATABASE_URI, lock
// settings) and does one thing:
//
//   worker hold-lock ID SECONDS        take the lock, print "locked", hold, release, print
//                                      "released" or "lost"
//   worker slow-update ID SECONDS KEY  locked update whose mutation takes SECONDS and adds
//                                      KEY to the partial state; prints "entered" first
//   worker try-lock ID START_MS        at epoch START_MS make ONE attempt; print "won" or
//                                      "lost" and exit without releasing
//   worker merge-loop ID PREFIX N      N merges of {"singer_state": {"PREFIX_i": i}}
//   worker write-loop ID               set the versions write_loop_payload(0, 1, 2, ...)
//                                      forever (the parent kills it)

#include "conformance_common.hpp"

#include "statestore/statestore.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <iostream>
#include <thread>

namespace asio = boost::asio;
namespace json = boost::json;
using namespace statestore;

namespace {

asio::awaitable<int> run(std::vector<std::string> args, state_store& store)
{
    const std::string& command = args.at(0);
    const std::string& id = args.at(1);
    if (command == "hold-lock") {
        auto* blob = dynamic_cast<blob_state_backend*>(&store.backend());
        held_lock lock = co_await blob->acquire(id);
        std::cout << "locked" << std::endl;
        asio::steady_timer hold(co_await asio::this_coro::executor);
        hold.expires_after(std::chrono::milliseconds(
            static_cast<long>(std::stod(args.at(2)) * 1000)));
        co_await hold.async_wait(asio::use_awaitable);
        const bool ours = co_await blob->release(std::move(lock));
        std::cout << (ours ? "released" : "lost") << std::endl;
        co_return 0;
    }
    if (command == "slow-update") {
        const double seconds = std::stod(args.at(2));
        const std::string key = args.at(3);
        state_mutator slow = [seconds, key](const std::optional<state_document>& current) {
            std::cout << "entered" << std::endl;
            std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
            json::object piece;
            piece[key] = 1;
            json::object payload;
            payload["singer_state"] = std::move(piece);
            return std::optional<state_document>(apply_update(
                current ? &*current : nullptr, state_document::incomplete(std::move(payload))));
        };
        co_await store.backend().update(id, std::move(slow));
        co_return 0;
    }
    if (command == "try-lock") {
        const auto start = std::chrono::system_clock::time_point(
            std::chrono::milliseconds(std::stoll(args.at(2))));
        std::this_thread::sleep_until(start);
        auto* blob = dynamic_cast<blob_state_backend*>(&store.backend());
        std::optional<held_lock> lock = co_await blob->try_acquire(id);
        std::cout << (lock ? "won" : "lost") << std::endl;
        co_return 0;
    }
    if (command == "merge-loop") {
        const std::string prefix = args.at(2);
        const int count = std::stoi(args.at(3));
        for (int i = 0; i < count; ++i) {
            json::object piece;
            piece[prefix + "_" + std::to_string(i)] = i;
            json::object payload;
            payload["singer_state"] = std::move(piece);
            co_await store.merge(id, std::move(payload));
        }
        co_return 0;
    }
    if (command == "write-loop") {
        for (std::int64_t i = 0;; ++i)
            co_await store.set(id, test::write_loop_payload(i));
    }
    std::cerr << "unknown worker command " << command << '\n';
    co_return 2;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc < 3) {
        std::cerr << "usage: worker COMMAND ID ...\n";
        return 2;
    }
    try {
        asio::io_context io;
        settings s = settings::from_env();
        state_store store(open_backend(io.get_executor(), s));
        std::vector<std::string> args(argv + 1, argv + argc);
        std::future<int> result = asio::co_spawn(io, run(std::move(args), store), asio::use_future);
        io.run();
        return result.get();
    } catch (const std::exception& e) {
        std::cerr << "worker: " << e.what() << '\n';
        return 3;
    }
}
