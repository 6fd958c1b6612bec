#pragma once
// Google Cloud Storage as a blob_store, over the JSON API and the shared http_client:
//   read   GET    /storage/v1/b/B/o/N?alt=media          version = x-goog-generation
//   write  POST   /upload/storage/v1/b/B/o?uploadType=media&name=N[&ifGenerationMatch=0|G]
//   remove DELETE /storage/v1/b/B/o/N[?ifGenerationMatch=G]
//   list   GET    /storage/v1/b/B/o?prefix=P&delimiter=/&pageToken=T
// Every attempt carries "Authorization: Bearer <token>" from the token cache (none against an
// emulator). A 412 to a conditional write or remove is the lost precondition.

#include "statestore/blob_store.hpp"
#include "cloud/gcs/gcs_token_cache.hpp"
#include "net/http.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace statestore {

struct gcs_store_options {
    http_endpoint endpoint;       ///< https://storage.googleapis.com, or an emulator
    std::string bucket;
    http_client_options http{};
    http_retry_config retry{};
    /// Fetches access tokens; null means anonymous (an emulator).
    std::shared_ptr<gcs::token_cache> tokens;
    /// Shown by describe(), e.g. "service account x@y.iam.gserviceaccount.com"; no secret.
    std::string auth_description;
};

class gcs_store final : public blob_store {
public:
    /// Creates its own http_client unless `client` is given (shared with the token fetcher).
    gcs_store(boost::asio::any_io_executor executor, gcs_store_options options,
              std::shared_ptr<http_client> client = {});

    using blob_store::remove;
    using blob_store::write;

    std::string describe() const override;
    std::uint64_t requests_sent() const noexcept override;
    boost::asio::awaitable<std::optional<blob>> read(std::string key) override;
    boost::asio::awaitable<std::optional<std::string>>
    write(std::string key, std::string bytes, precondition pre, durability mode) override;
    boost::asio::awaitable<remove_result> remove(std::string key, precondition pre,
                                                 durability mode) override;
    boost::asio::awaitable<list_page> list(std::string prefix, std::string delimiter,
                                           std::string page_token) override;

private:
    boost::asio::awaitable<http_response> send(http_request request, bool idempotent);
    [[noreturn]] void fail(const http_request& request, const http_response& response) const;

    gcs_store_options options_;
    std::shared_ptr<http_client> client_;
};

} // namespace statestore
