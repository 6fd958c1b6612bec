// send_with_retry: retry.hpp's decisions around http_client::send, with steady_timer waits.
// Kept apart from the Beast TU so that it compiles quickly.
#include "net/http.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>

namespace statestore {

namespace asio = boost::asio;

asio::awaitable<http_response>
send_with_retry(http_client& client, const http_endpoint& endpoint, http_request_factory make_request,
                const http_retry_config& config, bool idempotent, provider_code_extractor provider_code)
{
    // Copies: the caller's references need not outlive our suspensions.
    const http_endpoint ep = endpoint;
    const http_retry_config cfg = config;
    const auto start = std::chrono::steady_clock::now();
    asio::steady_timer timer(co_await asio::this_coro::executor);

    for (int attempt = 1;; ++attempt) {
        http_request request = make_request(attempt);
        std::optional<transport_failure> failed_step;
        bool timed_out = false;
        std::string failure_message;
        http_response response;
        try {
            response = co_await client.send(ep, std::move(request));
        } catch (const transport_error& e) {
            failed_step = e.step();
            timed_out = e.timed_out();
            failure_message = e.what();
        }

        failure_class cls;
        std::optional<std::chrono::milliseconds> retry_after;
        bool safe = idempotent;
        if (failed_step) {
            cls = classify(*failed_step);
            safe = idempotent || !request_may_have_been_processed(*failed_step);
        } else {
            std::string code = provider_code ? provider_code(response) : std::string();
            cls = classify(response.status, code);
            if (auto value = find_header(response.headers, "Retry-After"))
                retry_after = parse_retry_after(*value, std::chrono::system_clock::now());
        }
        const auto elapsed = std::chrono::steady_clock::now() - start;
        const retry_decision d =
            decide(cfg.policy, cfg.backoff, attempt, elapsed, cls, retry_after, safe);
        if (!d.retry) {
            if (!failed_step) {
                response.attempts = attempt;
                co_return response;
            }
            std::string why;
            switch (d.reason) {
            case decision_reason::permanent: why = "the failure is permanent"; break;
            case decision_reason::not_idempotent:
                why = "not retried: the request may have been processed and is not idempotent";
                break;
            case decision_reason::attempts_exhausted: why = "no attempts left"; break;
            case decision_reason::time_exhausted: why = "the retry time limit was reached"; break;
            case decision_reason::will_retry:
            case decision_reason::succeeded: why = to_string(d.reason); break;
            }
            throw transport_error(*failed_step, timed_out,
                                  failure_message + " (" + std::to_string(attempt) +
                                      (attempt == 1 ? " attempt; " : " attempts; ") + why + ")");
        }
        timer.expires_after(d.delay);
        co_await timer.async_wait(asio::use_awaitable);
    }
}

} // namespace statestore
