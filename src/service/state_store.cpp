#include "statestore/state_store.hpp"

#include "async/concurrency.hpp"
#include "statestore/error.hpp"
#include "statestore/state_id.hpp"

#include <boost/json/object.hpp>

namespace asio = boost::asio;
namespace json = boost::json;

namespace statestore {
namespace {

constexpr std::size_t export_parallelism = 16;

void require_object(const json::value& payload)
{
    if (!payload.is_object())
        throw_error(errc::invalid_document, "state must be a JSON object");
}

// Meltano's StateStoreManager.update(): the incoming document is applied to what is
// stored under the lock (see apply_update). Unlike Meltano, a result whose effective state
// cannot be computed (a partial object over a completed scalar) is refused here, before it
// is written: Meltano stores it and then fails on every later read.
state_mutator apply(state_document incoming)
{
    return [incoming = std::move(incoming)](const std::optional<state_document>& stored) {
        state_document next = apply_update(stored ? &*stored : nullptr, incoming);
        next.effective(); // throws invalid_document on a merge type clash
        return std::optional<state_document>(std::move(next));
    };
}

} // namespace

void validate_singer_state(const json::value& payload)
{
    require_object(payload);
    if (!payload.as_object().contains("singer_state"))
        throw_error(errc::invalid_document,
                    "singer_state not found in top level of provided state");
}

state_store::state_store(std::unique_ptr<state_backend> backend) : backend_(std::move(backend)) {}

asio::awaitable<json::value> state_store::get(std::string id)
{
    std::optional<state_document> document = co_await backend_->get(std::move(id));
    if (!document)
        co_return json::value(json::object());
    co_return document->effective();
}

asio::awaitable<std::optional<state_document>> state_store::get_document(std::string id)
{
    co_return co_await backend_->get(std::move(id));
}

asio::awaitable<void> state_store::set(std::string id, json::value payload, bool validate)
{
    validate_state_id(id);
    validate ? validate_singer_state(payload) : require_object(payload);
    state_mutator mutate = apply(state_document::complete(std::move(payload)));
    co_await backend_->update(std::move(id), std::move(mutate));
}

asio::awaitable<void> state_store::merge(std::string id, json::value payload, bool validate)
{
    validate_state_id(id);
    validate ? validate_singer_state(payload) : require_object(payload);
    state_mutator mutate = apply(state_document::incomplete(std::move(payload)));
    co_await backend_->update(std::move(id), std::move(mutate));
}

asio::awaitable<void> state_store::merge_from(std::string source_id, std::string destination_id)
{
    validate_state_id(destination_id);
    json::value effective = co_await get(std::move(source_id));
    co_await merge(std::move(destination_id), std::move(effective), true);
}

asio::awaitable<void> state_store::copy(std::string source_id, std::string destination_id)
{
    validate_state_id(destination_id);
    json::value effective = co_await get(std::move(source_id));
    co_await set(std::move(destination_id), std::move(effective), true);
}

asio::awaitable<void> state_store::move(std::string source_id, std::string destination_id)
{
    if (source_id == destination_id)
        throw_error(errc::invalid_state_id, "cannot move state " + source_id + " onto itself");
    co_await copy(source_id, std::move(destination_id));
    co_await clear(std::move(source_id));
}

asio::awaitable<bool> state_store::clear(std::string id)
{
    co_return co_await backend_->erase(std::move(id));
}

asio::awaitable<std::size_t> state_store::clear_all() { co_return co_await backend_->clear_all(); }

asio::awaitable<std::vector<std::string>> state_store::list(std::string pattern)
{
    co_return co_await backend_->list(std::move(pattern));
}

asio::awaitable<std::vector<state_entry>> state_store::export_all(std::string pattern)
{
    std::vector<std::string> ids = co_await backend_->list(std::move(pattern));
    std::vector<std::optional<state_document>> documents(ids.size());
    std::function<asio::awaitable<void>(std::size_t)> fetch =
        [this, &ids, &documents](std::size_t i) -> asio::awaitable<void> {
        documents[i] = co_await backend_->get(ids[i]);
    };
    co_await detail::for_each_bounded(ids.size(), export_parallelism, std::move(fetch));
    std::vector<state_entry> entries;
    entries.reserve(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i)
        if (documents[i]) // deleted between listing and reading
            entries.emplace_back(std::move(ids[i]), std::move(*documents[i]));
    co_return entries;
}

asio::awaitable<std::size_t> state_store::import_all(std::vector<state_entry> entries)
{
    for (const state_entry& entry : entries)
        validate_state_id(entry.first); // refuse the whole import before writing anything
    co_return co_await backend_->import_all(std::move(entries));
}

} // namespace statestore
