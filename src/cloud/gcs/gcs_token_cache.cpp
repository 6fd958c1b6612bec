#include "cloud/gcs/gcs_token_cache.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <exception>

namespace statestore::gcs {

namespace asio = boost::asio;

/// One fetch and everyone waiting for it. The timer never expires on its own: it is a
/// broadcast signal, cancelled once when the fetch ends, which wakes every waiter.
struct token_cache::flight {
    explicit flight(const asio::any_io_executor& ex) : done(ex, asio::steady_timer::time_point::max())
    {
    }
    asio::steady_timer done;
    bool finished = false;
    std::string token;
    std::exception_ptr error;
};

token_cache::token_cache(asio::any_io_executor executor, fetch_fn fetch, clock_fn clock)
    : executor_(std::move(executor)), fetch_(std::move(fetch)), clock_(std::move(clock))
{
    if (!clock_)
        clock_ = [] { return std::chrono::steady_clock::now(); };
}

token_cache::~token_cache() = default;

std::chrono::steady_clock::duration token_cache::refresh_margin(std::chrono::seconds lifetime)
{
    const std::chrono::steady_clock::duration quarter =
        std::chrono::steady_clock::duration(lifetime) / 4;
    return std::min<std::chrono::steady_clock::duration>(quarter, std::chrono::seconds(60));
}

std::optional<std::string> token_cache::current() const
{
    if (token_ && clock_() < stale_at_)
        return token_;
    return std::nullopt;
}

void token_cache::invalidate()
{
    token_.reset();
}

std::size_t token_cache::fetch_count() const noexcept
{
    return fetches_;
}

asio::awaitable<std::string> token_cache::token()
{
    if (auto t = current())
        co_return *t;

    if (in_flight_) {
        // Join the fetch in flight. Holding the flight keeps its result alive even after the
        // cache has moved on to a newer one.
        const std::shared_ptr<flight> f = in_flight_;
        while (!f->finished) {
            boost::system::error_code ec;
            co_await f->done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        if (f->error)
            std::rethrow_exception(f->error);
        co_return f->token;
    }

    // This coroutine does the fetch itself (rather than spawning one), so the fetch cannot
    // outlive its caller and a cancelled caller ends it; the waiters then get that error.
    const auto f = std::make_shared<flight>(executor_);
    in_flight_ = f;
    ++fetches_;
    try {
        const auto started = clock_();
        const token_response r = co_await fetch_();
        token_ = r.access_token;
        // Count the lifetime from when the request left: the token cannot be older than that.
        stale_at_ = started + r.expires_in - refresh_margin(r.expires_in);
        f->token = r.access_token;
    } catch (...) {
        f->error = std::current_exception();
    }
    f->finished = true;
    in_flight_.reset();
    f->done.cancel();
    if (f->error)
        std::rethrow_exception(f->error);
    co_return f->token;
}

} // namespace statestore::gcs
