#pragma once
// A small pool of threads for calls that have no asynchronous form (fsync, rename, open
// with O_EXCL, mkdir, readdir, SQLite). The awaiting coroutine is suspended, never its
// thread, and resumes on its own executor.

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>

namespace statestore {

class blocking_pool {
public:
    explicit blocking_pool(std::size_t threads);
    ~blocking_pool(); // waits for queued work to finish
    blocking_pool(const blocking_pool&) = delete;
    blocking_pool& operator=(const blocking_pool&) = delete;

    /// Runs `work` on a pool thread. Resumes the caller on its executor; an exception
    /// thrown by `work` is rethrown in the caller.
    boost::asio::awaitable<void> run(std::function<void()> work);

    /// Runs `work` on a pool thread and returns its result.
    template <class T>
    boost::asio::awaitable<T> call(std::function<T()> work)
    {
        std::optional<T> result;
        std::function<void()> job = [&result, &work] { result.emplace(work()); };
        co_await run(std::move(job));
        co_return std::move(*result);
    }

    std::size_t size() const noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace statestore
