#include "statestore/blob_state_backend.hpp"

#include "statestore/error.hpp"
#include "core/lock_timestamp.hpp"
#include "core/pattern.hpp"
#include "statestore/state_id.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <deque>
#include <exception>
#include <iostream>
#include <set>

namespace asio = boost::asio;

namespace statestore {
namespace {

using steady = std::chrono::steady_clock;

std::string seconds_text(double s)
{
    std::string t = std::to_string(s);
    while (t.size() > 1 && t.back() == '0')
        t.pop_back();
    if (!t.empty() && t.back() == '.')
        t.pop_back();
    return t;
}

// A lock body is tiny; show a bounded, printable excerpt of garbage in messages.
std::string printable_excerpt(const std::string& bytes)
{
    std::string out;
    for (char c : bytes.substr(0, 40)) {
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u < 0x7f && c != '"' && c != '\\') {
            out += c;
        } else {
            static const char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 15];
        }
    }
    if (bytes.size() > 40)
        out += "...";
    return out;
}

bool is_blank(const std::string& bytes)
{
    return bytes.find_first_not_of(" \t\r\n\f\v") == std::string::npos;
}

asio::steady_timer::duration to_duration(double seconds)
{
    return std::chrono::duration_cast<asio::steady_timer::duration>(
        std::chrono::duration<double>(seconds));
}

} // namespace

// Contenders for one id inside this process wait here, first come first served, so only
// the head of the queue polls the store. A waiter is handed the local turn directly.
struct blob_state_backend::local_queue {
    struct waiter {
        explicit waiter(const asio::any_io_executor& ex) : timer(ex) {}
        asio::steady_timer timer;
        bool granted = false;
    };
    bool busy = false;
    std::deque<std::shared_ptr<waiter>> waiters;
};

blob_state_backend::blob_state_backend(asio::any_io_executor executor,
                                       std::shared_ptr<blob_store> store, std::string prefix,
                                       std::string uri_for_messages, lock_options options)
    : executor_(std::move(executor)), store_(std::move(store)), prefix_(std::move(prefix)),
      uri_(std::move(uri_for_messages)), options_(std::move(options))
{
    while (!prefix_.empty() && prefix_.back() == '/')
        prefix_.pop_back();
    while (!prefix_.empty() && prefix_.front() == '/')
        prefix_.erase(0, 1);
}

blob_state_backend::~blob_state_backend() = default;

std::string blob_state_backend::describe() const { return uri_; }

std::uint64_t blob_state_backend::requests_sent() const noexcept { return store_->requests_sent(); }

std::string blob_state_backend::state_key(const std::string& id) const
{
    return prefix_.empty() ? id + "/state.json" : prefix_ + "/" + id + "/state.json";
}

std::string blob_state_backend::lock_key(const std::string& id) const
{
    return prefix_.empty() ? id + "/lock" : prefix_ + "/" + id + "/lock";
}

std::chrono::system_clock::time_point blob_state_backend::now() const
{
    return options_.clock ? options_.clock() : std::chrono::system_clock::now();
}

void blob_state_backend::warn(const std::string& message) const
{
    if (options_.warn)
        options_.warn(message);
    else
        std::cerr << "statestore: warning: " << message << '\n';
}

asio::awaitable<void> blob_state_backend::enter_local(const std::string& id,
                                                      std::optional<steady::time_point> deadline)
{
    auto& queue = local_[id];
    if (!queue)
        queue = std::make_shared<local_queue>();
    if (!queue->busy) {
        queue->busy = true;
        co_return;
    }
    auto me = std::make_shared<local_queue::waiter>(executor_);
    me->timer.expires_at(deadline ? *deadline : steady::time_point::max());
    queue->waiters.push_back(me);
    auto keep = queue; // the map entry may be erased while we wait
    co_await me->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (me->granted)
        co_return;
    // Our deadline passed before our turn came.
    std::erase(keep->waiters, me);
    throw_error(errc::lock_timeout,
                "timed out after " + seconds_text(options_.max_wait_seconds.value_or(0)) +
                    " s waiting for the lock of state " + id + " at " + uri_ +
                    " (held by another task in this process)");
}

void blob_state_backend::leave_local(const std::string& id)
{
    auto it = local_.find(id);
    if (it == local_.end())
        return;
    auto& queue = *it->second;
    if (queue.waiters.empty()) {
        local_.erase(it);
        return;
    }
    auto next = queue.waiters.front();
    queue.waiters.pop_front();
    next->granted = true; // stays busy: ownership passes straight to the next waiter
    next->timer.cancel();
}

asio::awaitable<std::optional<held_lock>>
blob_state_backend::attempt(const std::string& id, std::optional<blank_lock_watch>& blank_watch)
{
    const std::string key = lock_key(id);
    // A few quick rounds cover a lock that vanishes between our create and our read.
    for (int round = 0; round < 3; ++round) {
        // Locks are ephemeral: they exclude live processes only, so they skip the fsyncs.
        std::optional<std::string> created = co_await store_->write(
            key, format_lock_timestamp(now()), precondition::if_absent(), durability::ephemeral);
        if (created) {
            held_lock lock{id, key, std::move(*created), false};
            co_return lock;
        }
        std::optional<blob> current = co_await store_->read(key);
        if (!current)
            continue;
        const std::optional<double> locked_at = parse_lock_timestamp(current->bytes);
        if (!locked_at) {
            if (!is_blank(current->bytes))
                throw_error(errc::invalid_lock,
                            "the lock of state " + id + " at " + uri_ + "/" + key + " holds \"" +
                                printable_excerpt(current->bytes) +
                                "\", not a timestamp; if no process is using this state, "
                                "delete the lock file");
            // An empty lock has no age to read: a Meltano writer between its truncate and
            // its write, or an unflushed lock after a power failure. Count its age from when
            // we first saw this very version; take it over only after a full timeout.
            const auto seen_now = steady::now();
            if (!blank_watch || blank_watch->version != current->version) {
                blank_watch = blank_lock_watch{current->version, seen_now};
                co_return std::nullopt;
            }
            if (seen_now - blank_watch->first_seen < to_duration(options_.timeout_seconds))
                co_return std::nullopt;
        } else if (!lock_is_stale(*locked_at, to_epoch_seconds(now()),
                                  options_.timeout_seconds)) {
            co_return std::nullopt;
        }
        // Stale: replace exactly the version we saw. If several contenders try, the store
        // lets only one of them succeed.
        std::optional<std::string> taken =
            co_await store_->write(key, format_lock_timestamp(now()),
                                   precondition::if_version(current->version),
                                   durability::ephemeral);
        if (!taken)
            co_return std::nullopt;
        warn("took over the expired lock of state " + id + " (" +
             (locked_at ? "locked at " + printable_excerpt(current->bytes)
                        : std::string("an empty lock, unchanged")) +
             ", timeout " + seconds_text(options_.timeout_seconds) + " s)");
        held_lock lock{id, key, std::move(*taken), true};
        co_return lock;
    }
    co_return std::nullopt;
}

asio::awaitable<std::optional<held_lock>> blob_state_backend::try_acquire(std::string id)
{
    validate_state_id(id);
    auto it = local_.find(id);
    if (it != local_.end() && it->second->busy)
        co_return std::nullopt;
    co_await enter_local(id, std::nullopt); // free: returns at once
    std::optional<held_lock> lock;
    std::exception_ptr failure;
    try {
        std::optional<blank_lock_watch> blank_watch;
        lock = co_await attempt(id, blank_watch);
    } catch (...) {
        failure = std::current_exception();
    }
    if (failure || !lock)
        leave_local(id);
    if (failure)
        std::rethrow_exception(failure);
    co_return lock;
}

asio::awaitable<held_lock> blob_state_backend::acquire(std::string id)
{
    validate_state_id(id);
    std::optional<steady::time_point> deadline;
    if (options_.max_wait_seconds)
        deadline = steady::now() + to_duration(*options_.max_wait_seconds);
    co_await enter_local(id, deadline);

    std::optional<held_lock> lock;
    std::exception_ptr failure;
    try {
        asio::steady_timer pause(executor_);
        std::optional<blank_lock_watch> blank_watch;
        for (;;) {
            lock = co_await attempt(id, blank_watch);
            if (lock)
                break;
            auto wait = to_duration(options_.retry_seconds);
            if (deadline) {
                const auto left = *deadline - steady::now();
                if (left <= steady::duration::zero())
                    throw_error(errc::lock_timeout,
                                "timed out after " + seconds_text(*options_.max_wait_seconds) +
                                    " s waiting for the lock of state " + id + " at " + uri_ +
                                    " (another process holds " + lock_key(id) + ")");
                wait = std::min<asio::steady_timer::duration>(wait, left);
            }
            pause.expires_after(wait);
            co_await pause.async_wait(asio::use_awaitable);
        }
    } catch (...) {
        failure = std::current_exception();
    }
    if (failure) {
        leave_local(id);
        std::rethrow_exception(failure);
    }
    co_return std::move(*lock);
}

asio::awaitable<bool> blob_state_backend::release(held_lock lock)
{
    remove_result outcome = remove_result::removed;
    std::exception_ptr failure;
    try {
        outcome = co_await store_->remove(lock.key, precondition::if_version(lock.version),
                                          durability::ephemeral);
    } catch (...) {
        failure = std::current_exception();
    }
    leave_local(lock.id);
    if (failure)
        std::rethrow_exception(failure);
    if (outcome == remove_result::precondition_failed) {
        warn("the lock of state " + lock.id + " was taken over by another process while this "
             "one held it (it outlived lock_timeout_seconds=" +
             seconds_text(options_.timeout_seconds) + "); left their lock in place");
        co_return false;
    }
    if (outcome == remove_result::not_found) {
        warn("the lock of state " + lock.id + " was removed by someone else while held");
        co_return false;
    }
    co_return true;
}

std::optional<state_document> blob_state_backend::parse_stored(const std::string& id,
                                                               const std::string& bytes) const
{
    try {
        return state_document::parse(bytes);
    } catch (const error& e) {
        throw_error(errc::invalid_document, "state " + id + " at " + uri_ + "/" + state_key(id) +
                                                " is corrupt: " + e.what());
    }
}

asio::awaitable<std::optional<state_document>> blob_state_backend::get(std::string id)
{
    validate_state_id(id);
    std::optional<blob> stored = co_await store_->read(state_key(id));
    if (!stored)
        co_return std::nullopt;
    co_return parse_stored(id, stored->bytes);
}

asio::awaitable<void>
blob_state_backend::under_lock(const std::string& id, std::function<asio::awaitable<void>()> body)
{
    held_lock lock = co_await acquire(id);
    std::exception_ptr failure;
    try {
        co_await body();
    } catch (...) {
        failure = std::current_exception();
    }
    if (failure) {
        // Release, but report the original failure rather than a release problem.
        try {
            co_await release(std::move(lock));
        } catch (...) {
        }
        std::rethrow_exception(failure);
    }
    co_await release(std::move(lock));
}

asio::awaitable<void> blob_state_backend::update(std::string id, state_mutator mutate)
{
    co_await update_locked(std::move(id), std::move(mutate), false);
}

asio::awaitable<void> blob_state_backend::update_expecting_absent(std::string id,
                                                                  state_mutator mutate)
{
    co_await update_locked(std::move(id), std::move(mutate), true);
}

asio::awaitable<void> blob_state_backend::update_locked(std::string id, state_mutator mutate,
                                                        bool expect_absent)
{
    validate_state_id(id);
    const std::string key = state_key(id);
    // Compare-and-swap against what we read: if our lock expired and someone else wrote
    // meanwhile, we re-read and apply our change on top instead of overwriting theirs.
    // Expecting the id absent, the first round writes if_absent without reading: the same
    // compare-and-swap, against "absent" instead of a version just read.
    std::function<asio::awaitable<void>()> read_modify_write =
        [this, &id, &key, &mutate, expect_absent]() -> asio::awaitable<void> {
        bool guessing = expect_absent;
        for (int attempt_no = 1;; ++attempt_no) {
            std::optional<blob> stored;
            if (!guessing)
                stored = co_await store_->read(key);
            std::optional<state_document> current;
            if (stored)
                current = parse_stored(id, stored->bytes);
            std::optional<state_document> next = mutate(current);
            if (!next) {
                if (!guessing)
                    co_return;
                guessing = false; // nothing to create: what does the store really hold?
                continue;
            }
            precondition condition = stored ? precondition::if_version(stored->version)
                                             : precondition::if_absent();
            std::optional<std::string> written =
                co_await store_->write(key, next->serialize(), std::move(condition));
            if (written)
                co_return;
            if (guessing) {
                guessing = false; // it existed before we came: not a change under our lock
                continue;
            }
            if (attempt_no >= 32)
                throw_error(errc::precondition_failed,
                            "state " + id + " at " + uri_ +
                                " kept changing under its lock; gave up after 32 attempts");
            warn("state " + id + " changed while this process held its lock; applying the "
                 "change again on top of the new version");
        }
    };
    co_await under_lock(id, std::move(read_modify_write));
}

asio::awaitable<void> blob_state_backend::put_unlocked(std::string id, state_document document)
{
    validate_state_id(id);
    co_await store_->write(state_key(id), document.serialize(), precondition::none());
}

asio::awaitable<bool> blob_state_backend::erase(std::string id)
{
    validate_state_id(id);
    remove_result outcome = remove_result::not_found;
    std::function<asio::awaitable<void>()> remove_state =
        [this, &id, &outcome]() -> asio::awaitable<void> {
        outcome = co_await store_->remove(state_key(id), precondition::none());
    };
    co_await under_lock(id, std::move(remove_state));
    co_return outcome == remove_result::removed;
}

asio::awaitable<std::vector<std::string>> blob_state_backend::list(std::string pattern)
{
    const std::string prefix = prefix_.empty() ? std::string() : prefix_ + "/";
    std::set<std::string> ids;
    std::string token;
    do {
        statestore::list_page page = co_await store_->list(prefix, "", token);
        for (const std::string& key : page.keys) {
            // Keys relative to the prefix: exactly "<id>/state.json" names a state. Locks,
            // deeper keys and other prefixes' objects are not states (Meltano's listing
            // mis-reads some of those).
            const std::string_view relative = std::string_view(key).substr(prefix.size());
            const auto slash = relative.find('/');
            if (slash == std::string_view::npos || relative.substr(slash + 1) != "state.json")
                continue;
            const std::string id(relative.substr(0, slash));
            if (state_id_problem(id))
                continue;
            if (pattern.empty() || fnmatch_full(pattern, id))
                ids.insert(id);
        }
        token = std::move(page.next_token);
    } while (!token.empty());
    co_return std::vector<std::string>(ids.begin(), ids.end());
}

asio::awaitable<state_id_page> blob_state_backend::list_page(std::string pattern,
                                                             std::string token)
{
    // Listed with the delimiter "/": one common prefix "<prefix>/<id>/" per id instead of
    // every object beneath it. A store that ignores the delimiter returns the keys
    // themselves; those are read as in list(), so either answer gives the ids.
    const std::string prefix = prefix_.empty() ? std::string() : prefix_ + "/";
    statestore::list_page listed = co_await store_->list(prefix, "/", std::move(token));
    std::set<std::string> ids;
    auto offer = [&](std::string_view relative, bool from_prefix) {
        const auto slash = relative.find('/');
        if (slash == std::string_view::npos)
            return; // an object directly under the prefix: not a state
        if (from_prefix ? slash + 1 != relative.size() : relative.substr(slash + 1) != "state.json")
            return;
        std::string id(relative.substr(0, slash));
        if (!state_id_problem(id) && (pattern.empty() || fnmatch_full(pattern, id)))
            ids.insert(std::move(id));
    };
    for (const std::string& key : listed.keys)
        offer(std::string_view(key).substr(prefix.size()), false);
    for (const std::string& common : listed.common_prefixes)
        offer(std::string_view(common).substr(prefix.size()), true);
    state_id_page page;
    page.ids.assign(ids.begin(), ids.end());
    page.next_token = std::move(listed.next_token);
    // A common prefix only says that something lies beneath "<id>/" (perhaps only a lock).
    page.candidates = !listed.common_prefixes.empty();
    co_return page;
}

} // namespace statestore
