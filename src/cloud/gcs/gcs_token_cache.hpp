#pragma once
// An access-token cache with single-flight refresh: however many coroutines ask for a token
// while none is fresh, exactly one fetch runs; the others wait for it and all get its token,
// or all get its exception. The clock is injected so tests can step through expiry.
//
// Concurrency: like http_client, a cache and every token() call on it run on one thread at a
// time (the executor given to the constructor). The cache must outlive the calls.

#include "cloud/gcs/gcs_oauth.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace statestore::gcs {

class token_cache {
public:
    using clock_fn = std::function<std::chrono::steady_clock::time_point()>;
    /// Fetches a new token from the token endpoint (one HTTP exchange, retries included).
    using fetch_fn = std::function<boost::asio::awaitable<token_response>()>;

    /// Without `clock`, std::chrono::steady_clock::now.
    token_cache(boost::asio::any_io_executor executor, fetch_fn fetch, clock_fn clock = {});
    ~token_cache();
    token_cache(const token_cache&) = delete;
    token_cache& operator=(const token_cache&) = delete;

    /// A fresh token, fetching one first if needed (joining a fetch already in flight).
    boost::asio::awaitable<std::string> token();

    /// The cached token if it is still fresh, without I/O (used to authorise a retried
    /// attempt with the newest token).
    std::optional<std::string> current() const;

    /// Forgets the cached token (after a 401), so the next token() fetches.
    void invalidate();

    /// How many fetches have been started (for tests and benchmarks).
    std::size_t fetch_count() const noexcept;

    /// How long before expiry a token counts as stale: a quarter of its lifetime, at most
    /// 60 s. A token is refreshed once stale, so a request never goes out with a token about
    /// to expire on the way.
    static std::chrono::steady_clock::duration refresh_margin(std::chrono::seconds lifetime);

private:
    struct flight;
    boost::asio::any_io_executor executor_;
    fetch_fn fetch_;
    clock_fn clock_;
    std::optional<std::string> token_;
    std::chrono::steady_clock::time_point stale_at_{};
    std::shared_ptr<flight> in_flight_;
    std::size_t fetches_ = 0;
};

} // namespace statestore::gcs
