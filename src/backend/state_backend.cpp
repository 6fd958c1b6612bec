#include "statestore/state_backend.hpp"

#include "async/concurrency.hpp"


namespace asio = boost::asio;

namespace statestore {

// Enough parallelism to hide per-id latency (fsync, a round trip) without flooding a store.
static constexpr std::size_t default_parallelism = 16;

asio::awaitable<std::size_t> state_backend::import_all(std::vector<state_entry> entries)
{
    std::function<asio::awaitable<void>(std::size_t)> body =
        [this, &entries](std::size_t i) -> asio::awaitable<void> {
        state_document document = entries[i].second;
        state_mutator replace = [document](const std::optional<state_document>&) {
            return std::optional<state_document>(document);
        };
        co_await update(entries[i].first, std::move(replace));
    };
    co_await detail::for_each_bounded(entries.size(), default_parallelism, std::move(body));
    co_return entries.size();
}

asio::awaitable<void> state_backend::update_expecting_absent(std::string id,
                                                             state_mutator mutate)
{
    co_await update(std::move(id), std::move(mutate));
}

asio::awaitable<state_id_page> state_backend::list_page(std::string pattern, std::string token)
{
    state_id_page page;
    if (token.empty()) // one page: a non-empty token can only mean "after the end"
        page.ids = co_await list(std::move(pattern));
    co_return page;
}

asio::awaitable<std::size_t> state_backend::clear_all()
{
    std::vector<std::string> ids = co_await list("");
    std::size_t cleared = 0;
    std::function<asio::awaitable<void>(std::size_t)> body =
        [this, &ids, &cleared](std::size_t i) -> asio::awaitable<void> {
        if (co_await erase(ids[i]))
            ++cleared;
    };
    co_await detail::for_each_bounded(ids.size(), default_parallelism, std::move(body));
    co_return cleared;
}

asio::awaitable<void> state_backend::put_unlocked(std::string id, state_document document)
{
    state_mutator replace = [document = std::move(document)](const std::optional<state_document>&) {
        return std::optional<state_document>(document);
    };
    co_await update(std::move(id), std::move(replace));
}

} // namespace statestore
