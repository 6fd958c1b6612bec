#pragma once
// Boost.Test has no coroutine support: run one awaitable to completion on a private
// io_context with a hard time limit, rethrowing its exception.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <future>

namespace statestore::test {

template <class T>
T run_coro(boost::asio::io_context& io, boost::asio::awaitable<T> work,
           std::chrono::steady_clock::duration limit = std::chrono::seconds(60))
{
    std::future<T> result = boost::asio::co_spawn(io, std::move(work), boost::asio::use_future);
    io.restart();
    io.run_for(limit);
    if (result.wait_for(std::chrono::seconds(0)) != std::future_status::ready)
        BOOST_FAIL("coroutine did not finish within the time limit");
    return result.get();
}

template <class T>
T run_coro(boost::asio::awaitable<T> work,
           std::chrono::steady_clock::duration limit = std::chrono::seconds(60))
{
    boost::asio::io_context io;
    return run_coro(io, std::move(work), limit);
}

} // namespace statestore::test
