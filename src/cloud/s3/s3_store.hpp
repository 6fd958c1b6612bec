#pragma once
// blob_store over the S3 REST API (SigV4, path-style or virtual-hosted), on the shared HTTP
// client. One PutObject per write (Content-Type: application/json, as Meltano writes),
// GetObject, DeleteObject, ListObjectsV2 with delimiter and continuation tokens.
//
// Preconditions and real servers:
//   - if_absent  -> PutObject `If-None-Match: *`;  412 (or 409 ConditionalRequestConflict)
//                   means "exists", reported as nullopt.
//   - if_version -> PutObject `If-Match: <etag>`, the ETag sent unquoted: Ceph RGW compares
//                   the raw header with its unquoted ETag (a quoted one never matches), AWS
//                   accepts both.
//   - A conditional write that ends in 5xx (RGW answers a lost compare-and-swap race with 500
//     as well as 412), or in 412 after an earlier attempt whose outcome is unknown, is
//     settled by reading the object back: every write carries a random token in
//     `x-amz-meta-statestore-write`, so "was it mine?" has an exact answer. A lost race is
//     never reported as success.
//   - Remove with if_version: the object's ETag is checked first, then DeleteObject is sent
//     with `If-Match`. Servers that ignore If-Match on DELETE (Ceph RGW 16) leave a window
//     between check and delete; the store finds out once, with a probe object, and warns.
//   - Servers that ignore If-None-Match / If-Match on PUT altogether (s3rver) cannot give
//     atomic locks; the same probe detects it and warns.

#include "statestore/blob_store.hpp"
#include "net/http.hpp"
#include "cloud/s3/s3_config.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <cstdint>
#include <memory>
#include <string>

namespace statestore {

struct s3_store_options {
    s3_config config;
    http_client_options http{};
    http_retry_config retry{};
    /// Receives warnings (unenforced preconditions). Empty: stderr.
    std::function<void(const std::string&)> warn;
    /// Signing clock; injectable for tests.
    std::function<std::chrono::system_clock::time_point()> clock;
    /// Probe the server's precondition support before the first conditional request.
    bool probe_preconditions = true;
};

/// What the server was found to enforce (all true until a probe says otherwise).
struct s3_precondition_support {
    bool probed = false;
    bool put_if_none_match = true;
    bool put_if_match = true;
    bool delete_if_match = true;
};

class s3_store final : public blob_store {
public:
    /// Throws statestore::error(errc::invalid_setting) when the CA file cannot be loaded.
    s3_store(boost::asio::any_io_executor executor, s3_store_options options);
    ~s3_store() override;

    using blob_store::remove; // the durable overloads
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

    /// Probes (once) and returns what the server enforces.
    boost::asio::awaitable<s3_precondition_support> precondition_support();

    http_client& client() noexcept;

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

} // namespace statestore
