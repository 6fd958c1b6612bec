#include "async/blocking_pool.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>

namespace asio = boost::asio;

namespace statestore {

struct blocking_pool::impl {
    explicit impl(std::size_t n) : threads(n == 0 ? 1 : n), pool(threads) {}
    std::size_t threads;
    asio::thread_pool pool;
};

blocking_pool::blocking_pool(std::size_t threads) : impl_(std::make_unique<impl>(threads)) {}

blocking_pool::~blocking_pool() { impl_->pool.join(); }

std::size_t blocking_pool::size() const noexcept { return impl_->threads; }

namespace {

// Runs `work` on the pool and completes the handler on its own executor, so the awaiting
// coroutine resumes where it was (never on a pool thread).
struct run_initiation {
    asio::thread_pool* pool;

    template <class Handler>
    void operator()(Handler handler, std::function<void()> work) const
    {
        auto guard = asio::make_work_guard(asio::get_associated_executor(handler));
        auto job = [work = std::move(work), handler = std::move(handler),
                    guard = std::move(guard)]() mutable {
            std::exception_ptr failure;
            try {
                work();
            } catch (...) {
                failure = std::current_exception();
            }
            auto executor = guard.get_executor();
            auto complete = [handler = std::move(handler), failure]() mutable {
                handler(failure);
            };
            asio::dispatch(executor, std::move(complete));
            guard.reset();
        };
        asio::post(*pool, std::move(job));
    }
};

} // namespace

asio::awaitable<void> blocking_pool::run(std::function<void()> work)
{
    run_initiation initiation{&impl_->pool};
    co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(std::exception_ptr)>(
        initiation, asio::use_awaitable, std::move(work));
}

} // namespace statestore
