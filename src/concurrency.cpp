#include "concurrency.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <exception>
#include <memory>

namespace asio = boost::asio;

namespace statestore::detail {
namespace {

struct shared_progress {
    explicit shared_progress(const asio::any_io_executor& ex) : all_done(ex)
    {
        all_done.expires_at(asio::steady_timer::time_point::max());
    }
    std::size_t next = 0;
    std::size_t running = 0;
    std::exception_ptr failure;
    asio::steady_timer all_done; // cancelled by the last worker to finish
};

asio::awaitable<void> worker(std::shared_ptr<shared_progress> progress, std::size_t count,
                             std::function<asio::awaitable<void>(std::size_t)> body)
{
    // Stop taking new items once something failed; items in flight still finish.
    while (progress->next < count && !progress->failure) {
        const std::size_t index = progress->next++;
        co_await body(index);
    }
}

} // namespace

asio::awaitable<void> for_each_bounded(std::size_t count, std::size_t limit,
                                       std::function<asio::awaitable<void>(std::size_t)> body)
{
    if (count == 0)
        co_return;
    auto executor = co_await asio::this_coro::executor;
    auto progress = std::make_shared<shared_progress>(executor);
    const std::size_t workers = std::min(count, std::max<std::size_t>(limit, 1));
    progress->running = workers;
    for (std::size_t w = 0; w < workers; ++w) {
        auto on_exit = [progress](std::exception_ptr e) {
            if (e && !progress->failure)
                progress->failure = e;
            if (--progress->running == 0)
                progress->all_done.cancel();
        };
        asio::co_spawn(executor, worker(progress, count, body), std::move(on_exit));
    }
    while (progress->running > 0)
        co_await progress->all_done.async_wait(asio::as_tuple(asio::use_awaitable));
    if (progress->failure)
        std::rethrow_exception(progress->failure);
}

} // namespace statestore::detail
