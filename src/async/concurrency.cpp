#include "async/concurrency.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <deque>
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

/// A bounded queue between one producer and the workers, on one executor. The timers are
/// events: they never expire, cancel() wakes whoever waits on them.
struct stream_queue {
    stream_queue(const asio::any_io_executor& ex, std::size_t cap)
        : capacity(cap), items_ready(ex), space_ready(ex), all_done(ex)
    {
        for (auto* t : {&items_ready, &space_ready, &all_done})
            t->expires_at(asio::steady_timer::time_point::max());
    }
    std::size_t capacity;
    std::deque<std::string> items;
    bool closed = false; // the producer has finished
    std::size_t running = 0;
    std::exception_ptr failure;
    asio::steady_timer items_ready; // an item was pushed, or the queue was closed
    asio::steady_timer space_ready; // an item was taken, or the workers stopped
    asio::steady_timer all_done;    // the last worker finished
};

asio::awaitable<void> wait_for(asio::steady_timer& event)
{
    co_await event.async_wait(asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<bool> push_item(std::shared_ptr<stream_queue> q, std::string item)
{
    while (q->items.size() >= q->capacity && !q->failure && q->running > 0)
        co_await wait_for(q->space_ready);
    if (q->failure || q->running == 0)
        co_return false;
    q->items.push_back(std::move(item));
    q->items_ready.cancel_one();
    co_return true;
}

asio::awaitable<void> stream_worker(std::shared_ptr<stream_queue> q,
                                    std::function<asio::awaitable<void>(std::string)> body)
{
    // Stop taking new items once something failed; items in flight still finish.
    while (!q->failure) {
        if (q->items.empty()) {
            if (q->closed)
                co_return;
            co_await wait_for(q->items_ready);
            continue;
        }
        std::string item = std::move(q->items.front());
        q->items.pop_front();
        q->space_ready.cancel_one();
        co_await body(std::move(item));
    }
}

} // namespace

asio::awaitable<void>
for_each_streamed(std::size_t limit, std::function<asio::awaitable<void>(const item_sink&)> produce,
                  std::function<asio::awaitable<void>(std::string)> body)
{
    auto executor = co_await asio::this_coro::executor;
    const std::size_t workers = std::max<std::size_t>(limit, 1);
    auto q = std::make_shared<stream_queue>(executor, workers);
    q->running = workers;
    for (std::size_t w = 0; w < workers; ++w) {
        auto on_exit = [q](std::exception_ptr e) {
            if (e && !q->failure)
                q->failure = e;
            if (e)
                q->space_ready.cancel(); // a producer waiting for room gives up
            if (--q->running == 0) {
                q->space_ready.cancel();
                q->all_done.cancel();
            }
        };
        asio::co_spawn(executor, stream_worker(q, body), std::move(on_exit));
    }

    std::exception_ptr produce_failure;
    const item_sink sink = [q](std::string item) { return push_item(q, std::move(item)); };
    try {
        co_await produce(sink);
    } catch (...) {
        produce_failure = std::current_exception();
    }
    q->closed = true;
    q->items_ready.cancel(); // idle workers see the end
    while (q->running > 0)
        co_await wait_for(q->all_done);
    if (produce_failure)
        std::rethrow_exception(produce_failure);
    if (q->failure)
        std::rethrow_exception(q->failure);
}

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
