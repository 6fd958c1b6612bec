#include "statestore/migrator.hpp"

#include "statestore/error.hpp"

#include "async/concurrency.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <unordered_set>

namespace asio = boost::asio;

namespace statestore {
namespace {

using steady = std::chrono::steady_clock;

/// Beyond this many destination ids the listing is given up (memory: ~100 bytes per id).
constexpr std::size_t destination_listing_limit = 1'000'000;

enum class outcome { copied, overwritten, skipped, identical, failed, not_a_state };

/// A read-back that differs from the source: a failure, never retried.
struct verification_failed : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// A source id that was listed but is gone when read: a failure, never retried.
struct vanished : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Failures worth another attempt: the store may answer next time. Everything else
/// (lock_timeout, corrupt documents, invalid ids, auth) is reported at once.
bool transient(errc code)
{
    switch (code) {
    case errc::backend_unavailable:
    case errc::throttled:
    case errc::precondition_failed: // the state kept changing under its lock
    case errc::lock_lost:
        return true;
    default:
        return false;
    }
}

/// Null halves written as {} (systemdb does this on purpose: Meltano cannot read a NULL
/// half back). Only used to accept such a read-back during verification.
state_document without_null_halves(state_document document)
{
    if (document.completed.is_null())
        document.completed = boost::json::object();
    if (document.partial.is_null())
        document.partial = boost::json::object();
    return document;
}

bool has_null_half(const state_document& document)
{
    return document.completed.is_null() || document.partial.is_null();
}

/// Everything the workers and the progress ticker share. Lives on one executor.
struct run_state {
    run_state(state_backend& f, state_backend& t, migrate_options o,
              const asio::any_io_executor& ex)
        : from(f), to(t), options(std::move(o)), ticker(ex), destination_lister_exited(ex)
    {
        destination_lister_exited.expires_at(steady::time_point::max());
    }

    state_backend& from;
    state_backend& to;
    migrate_options options;
    steady::time_point started = steady::now();
    std::vector<planned> plan; // dry run, in completion order (sorted at the end)
    migrate_report report;
    bool listing_complete = false;
    /// The source's listing may name ids that hold no state (state_id_page::candidates).
    bool candidates = false;
    bool finished = false;
    asio::steady_timer ticker;

    // The destination's listing (options.list_destination), filled beside the copy.
    std::unordered_set<std::string> destination_ids;
    bool destination_listed = false; ///< complete: an id not in destination_ids is absent
    bool destination_lister_running = false;
    bool stop_destination_lister = false;
    asio::steady_timer destination_lister_exited; ///< cancelled when the lister returns

    /// The destination certainly held no `id` when its listing was taken.
    bool known_absent(const std::string& id) const
    {
        return destination_listed && !destination_ids.contains(id);
    }

    bool cancel_requested() const { return options.cancel && options.cancel->requested(); }

    migrate_progress progress() const
    {
        migrate_progress p;
        p.total = report.total;
        p.total_known = listing_complete;
        p.done = report.done();
        p.copied = report.copied;
        p.skipped = report.skipped + report.identical_skipped;
        p.failed = report.failed;
        p.elapsed = steady::now() - started;
        const double seconds = std::chrono::duration<double>(p.elapsed).count();
        p.ids_per_second = seconds > 0 ? static_cast<double>(p.done) / seconds : 0.0;
        return p;
    }

    void record(const std::string& id, outcome result, std::string message)
    {
        switch (result) {
        case outcome::copied: ++report.copied; break;
        case outcome::overwritten:
            ++report.copied;
            ++report.overwritten;
            break;
        case outcome::skipped: ++report.skipped; break;
        case outcome::identical: ++report.identical_skipped; break;
        case outcome::failed:
            ++report.failed;
            report.failures.push_back(migrate_failure{id, std::move(message)});
            break;
        case outcome::not_a_state:
            --report.total; // listed as a candidate, but there is no state to copy
            break;
        }
    }
};

/// What the policy does with `existing` (nullopt: absent at the destination).
outcome decide(const std::optional<std::string>& existing_bytes, bool exists,
               const std::string& source_bytes, if_exists policy)
{
    if (!exists)
        return outcome::copied;
    if (existing_bytes && *existing_bytes == source_bytes)
        return outcome::identical;
    if (policy == if_exists::skip)
        return outcome::skipped;
    return outcome::overwritten;
}

/// One attempt at one id. Returns the outcome; throws on failure.
asio::awaitable<outcome> copy_one(run_state& st, const std::string& id)
{
    std::optional<state_document> source = co_await st.from.get(id);
    if (!source && st.candidates)
        co_return outcome::not_a_state; // e.g. only a lock object lies under "<id>/"
    if (!source)
        throw vanished("state " + id + " was listed at " + st.from.describe() +
                       " but no longer exists there");
    const std::string source_bytes = source->serialize();

    // A cheap unlocked look at the destination first: ids that are already identical (a
    // re-run) or kept by `skip` cost one read, no lock and no write. The locked write below
    // decides again on what it finds under the lock.
    // Ids the destination's listing does not hold skip it: they are absent (or were, when
    // listed; the locked write decides again).
    bool exists = false;
    std::optional<std::string> existing_bytes; // nullopt with exists: unreadable document
    std::optional<std::string> unreadable;
    if (!st.known_absent(id)) {
        try {
            std::optional<state_document> existing = co_await st.to.get(id);
            if (existing) {
                exists = true;
                existing_bytes = existing->serialize();
            }
        } catch (const error& e) {
            if (e.value() != errc::invalid_document)
                throw;
            exists = true; // a corrupt destination document: it exists and differs
            unreadable = e.what();
        }
    }
    const outcome planned_outcome = decide(existing_bytes, exists, source_bytes, st.options.policy);

    if (st.options.dry_run) {
        planned p;
        p.id = id;
        switch (planned_outcome) {
        case outcome::copied: p.action = plan_action::copy; break;
        case outcome::overwritten: p.action = plan_action::overwrite; break;
        default:
            p.action = plan_action::skip;
            p.identical = planned_outcome == outcome::identical;
            break;
        }
        st.plan.push_back(std::move(p));
        co_return planned_outcome;
    }
    if (planned_outcome == outcome::identical || planned_outcome == outcome::skipped)
        co_return planned_outcome;

    outcome result = planned_outcome;
    if (st.options.lock) {
        if (unreadable) // a locked read-modify-write cannot read it either
            throw error(errc::invalid_document, *unreadable);
        // Decided again under the lock, on what is there now. The mutator may run more
        // than once (and on another thread); the last run is the one that counted.
        const if_exists policy = st.options.policy;
        outcome decided = outcome::copied;
        state_mutator apply_policy = [&decided, &source, &source_bytes,
                                      policy](const std::optional<state_document>& current) {
            std::optional<std::string> current_bytes;
            if (current)
                current_bytes = current->serialize();
            decided = decide(current_bytes, current.has_value(), source_bytes, policy);
            if (decided == outcome::copied || decided == outcome::overwritten)
                return std::optional<state_document>(*source);
            return std::optional<state_document>();
        };
        // Seen absent: create it without another read (a read follows if it appeared).
        if (exists)
            co_await st.to.update(id, std::move(apply_policy));
        else
            co_await st.to.update_expecting_absent(id, std::move(apply_policy));
        result = decided;
    } else {
        co_await st.to.put_unlocked(id, *source);
    }
    if (result != outcome::copied && result != outcome::overwritten)
        co_return result;

    if (st.options.verify) {
        std::optional<state_document> back = co_await st.to.get(id);
        const std::string back_bytes = back ? back->serialize() : std::string();
        // A backend that stores a null half as {} (systemdb) holds the same state.
        const bool same =
            back && (back_bytes == source_bytes ||
                     (has_null_half(*source) &&
                      back_bytes == without_null_halves(*source).serialize()));
        if (!same)
            throw verification_failed(
                "state " + id + " at " + st.to.describe() + " does not read back as written: " +
                (back ? "expected " + std::to_string(source_bytes.size()) + " bytes " +
                            source_bytes.substr(0, 120) + ", read " +
                            std::to_string(back_bytes.size()) + " bytes " +
                            back_bytes.substr(0, 120)
                      : std::string("it is absent")));
        ++st.report.verified;
    }
    co_return result;
}

/// One id, with bounded retries of transient failures; never throws.
asio::awaitable<void> migrate_one(std::shared_ptr<run_state> st, std::string id)
{
    if (st->cancel_requested())
        co_return; // not started: cancellation stops taking new ids
    const int attempts = std::max(1, st->options.max_attempts);
    for (int attempt = 1;; ++attempt) {
        std::string failure;
        bool retry = false;
        try {
            const outcome result = co_await copy_one(*st, id);
            st->record(id, result, {});
            co_return;
        } catch (const error& e) {
            failure = e.what();
            retry = transient(e.value()) && attempt < attempts;
        } catch (const std::exception& e) {
            failure = e.what();
        }
        if (!retry || st->cancel_requested()) {
            st->record(id, outcome::failed, std::move(failure));
            co_return;
        }
        asio::steady_timer pause(co_await asio::this_coro::executor);
        pause.expires_after(std::chrono::milliseconds(100 * attempt));
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

/// Streams the source's ids, page by page, into the workers; stops listing on cancel.
asio::awaitable<void> list_source(std::shared_ptr<run_state> st, const detail::item_sink& push)
{
    std::string token;
    do {
        if (st->cancel_requested())
            co_return;
        std::string pattern = st->options.pattern;
        state_id_page page = co_await st->from.list_page(std::move(pattern), std::move(token));
        st->candidates = st->candidates || page.candidates;
        // Counted as listed at once: ids of a page that a cancel leaves unpushed are
        // "listed, not started".
        st->report.total += page.ids.size();
        for (std::string& id : page.ids) {
            if (st->cancel_requested())
                co_return;
            const bool taken = co_await push(std::move(id));
            if (!taken)
                co_return;
        }
        token = std::move(page.next_token);
    } while (!token.empty());
    st->listing_complete = true;
}

/// Lists the destination into st->destination_ids until complete, given up or stopped.
asio::awaitable<void> list_destination(std::shared_ptr<run_state> st)
{
    std::string token;
    try {
        do {
            if (st->stop_destination_lister)
                break;
            std::string pattern = st->options.pattern;
            state_id_page page =
                co_await st->to.list_page(std::move(pattern), std::move(token));
            if (st->destination_ids.size() + page.ids.size() > destination_listing_limit)
                break;
            for (std::string& id : page.ids)
                st->destination_ids.insert(std::move(id));
            token = std::move(page.next_token);
            st->destination_listed = token.empty();
        } while (!token.empty());
    } catch (...) {
        // Whatever it was, the lister must end: migrate() waits for it. The listing is
        // only a shortcut: without it every id is looked at, and a destination that
        // cannot be read reports that on those reads, per id.
    }
    if (!st->destination_listed)
        st->destination_ids.clear();
    st->destination_lister_running = false;
    st->destination_lister_exited.cancel();
}

asio::awaitable<void> progress_ticker(std::shared_ptr<run_state> st)
{
    for (;;) {
        st->ticker.expires_after(st->options.progress_interval);
        co_await st->ticker.async_wait(asio::as_tuple(asio::use_awaitable));
        if (st->finished)
            co_return;
        st->options.on_progress(st->progress());
    }
}

} // namespace

const char* to_string(plan_action action) noexcept
{
    switch (action) {
    case plan_action::copy: return "copy";
    case plan_action::skip: return "skip";
    case plan_action::overwrite: return "overwrite";
    }
    return "?";
}

double migrate_report::ids_per_second() const noexcept
{
    const double seconds = std::chrono::duration<double>(elapsed).count();
    return seconds > 0 ? static_cast<double>(done()) / seconds : 0.0;
}

asio::awaitable<migrate_report> migrate(state_backend& from, state_backend& to,
                                        migrate_options options)
{
    if (&from == &to)
        throw_error(errc::invalid_setting,
                    "migrate: the source and the destination are the same backend (" +
                        from.describe() + ")");
    auto executor = co_await asio::this_coro::executor;
    auto st = std::make_shared<run_state>(from, to, std::move(options), executor);
    const std::uint64_t source_requests_before = from.requests_sent();
    const std::uint64_t destination_requests_before = to.requests_sent();
    st->report.dry_run = st->options.dry_run;

    const bool ticking =
        st->options.on_progress && st->options.progress_interval.count() > 0;
    if (ticking) {
        // Detached: it only touches `st` (which it keeps alive) and stops at `finished`.
        auto ticker = progress_ticker(st);
        asio::co_spawn(executor, std::move(ticker), asio::detached);
    }

    if (st->options.list_destination) {
        // Detached, but awaited below before `from` and `to` may go away.
        st->destination_lister_running = true;
        auto lister = list_destination(st);
        asio::co_spawn(executor, std::move(lister), asio::detached);
    }

    std::exception_ptr failure;
    try {
        // Copying starts with the first page; at most `concurrency` listed ids wait for a
        // worker, so memory does not grow with the number of states.
        std::function<asio::awaitable<void>(const detail::item_sink&)> produce =
            [st](const detail::item_sink& push) { return list_source(st, push); };
        std::function<asio::awaitable<void>(std::string)> body = [st](std::string id) {
            return migrate_one(st, std::move(id));
        };
        co_await detail::for_each_streamed(st->options.concurrency, std::move(produce),
                                           std::move(body));
    } catch (...) {
        failure = std::current_exception();
    }
    st->finished = true;
    st->ticker.cancel();
    // A lister still paging through a large destination stops after its current page.
    st->stop_destination_lister = true;
    if (st->destination_lister_running)
        co_await st->destination_lister_exited.async_wait(asio::as_tuple(asio::use_awaitable));
    if (failure)
        std::rethrow_exception(failure);

    // The last progress event reports the same figures as the report.
    const migrate_progress last = st->progress();
    migrate_report report = std::move(st->report);
    report.elapsed = last.elapsed;
    report.source_requests = from.requests_sent() - source_requests_before;
    report.destination_requests = to.requests_sent() - destination_requests_before;
    report.listing_complete = st->listing_complete;
    report.cancelled =
        st->cancel_requested() && (report.done() < report.total || !st->listing_complete);
    std::sort(report.failures.begin(), report.failures.end(),
              [](const migrate_failure& a, const migrate_failure& b) { return a.id < b.id; });
    report.plan = std::move(st->plan);
    std::sort(report.plan.begin(), report.plan.end(),
              [](const planned& a, const planned& b) { return a.id < b.id; });
    if (st->options.on_progress)
        st->options.on_progress(last);
    co_return report;
}

} // namespace statestore
