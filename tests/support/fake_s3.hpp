#pragma once
// Test support: just enough S3 for s3_store, served by test_http_server. Objects by path with
// ETags and x-amz-meta-* headers, If-None-Match / If-Match on PUT. It is a FAKE: it checks no
// signature and exists only for what a real server cannot do on demand (fault injection:
// "apply the write, then answer 500") and to take the server out of client-CPU benchmarks.
// Behaviour tests run against Ceph RGW (tests/s3/).

#include "support/test_http_server.hpp"

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace statestore::test {

class fake_s3 {
public:
    struct object {
        std::string body;
        std::string etag;
        std::vector<std::pair<std::string, std::string>> meta;
    };
    /// Called before a PUT is decided; may return a response to send instead (the write is
    /// then applied or not as `apply_anyway` says).
    struct put_override {
        test::server_response response;
        bool apply_anyway = false;
    };
    std::function<std::optional<put_override>(const received_request&)> on_put;

    server_response handle(const received_request& r)
    {
        // The hook runs unlocked: it may call put() to simulate a concurrent writer.
        std::optional<put_override> forced;
        if (r.method == "PUT" && on_put)
            forced = on_put(r);
        const std::lock_guard<std::mutex> lock(mutex_);
        ++requests_;
        const std::string path = r.target.substr(0, r.target.find('?'));
        server_response out;
        const auto it = objects_.find(path);
        if (r.method == "GET") {
            if (it == objects_.end())
                return error(404, "NoSuchKey");
            out.headers.push_back({"ETag", "\"" + it->second.etag + "\""});
            for (const auto& m : it->second.meta)
                out.headers.push_back(m);
            out.body = it->second.body;
            return out;
        }
        if (r.method == "PUT") {
            const auto none_match = header(r, "if-none-match");
            const auto match = header(r, "if-match");
            const bool refused = (none_match && it != objects_.end()) ||
                                 (match && (it == objects_.end() || it->second.etag != *match));
            if (forced) {
                if (forced->apply_anyway && !refused)
                    apply(path, r);
                return forced->response;
            }
            if (refused)
                return error(412, "PreconditionFailed");
            out.headers.push_back({"ETag", "\"" + apply(path, r) + "\""});
            return out;
        }
        if (r.method == "DELETE") {
            if (it != objects_.end())
                objects_.erase(it);
            out.status = 204;
            return out;
        }
        return error(400, "InvalidRequest");
    }

    std::optional<object> get(const std::string& path) const
    {
        const std::lock_guard<std::mutex> lock(mutex_);
        const auto it = objects_.find(path);
        if (it == objects_.end())
            return std::nullopt;
        return it->second;
    }
    void put(const std::string& path, std::string body)
    {
        const std::lock_guard<std::mutex> lock(mutex_);
        objects_[path] = object{std::move(body), "e" + std::to_string(++etags_), {}};
    }
    long requests() const
    {
        const std::lock_guard<std::mutex> lock(mutex_);
        return requests_;
    }

private:
    static std::optional<std::string> header(const received_request& r, std::string_view name)
    {
        for (const auto& [k, v] : r.headers)
            if (k.size() == name.size() &&
                std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
                    return std::tolower(static_cast<unsigned char>(a)) == b;
                }))
                return v;
        return std::nullopt;
    }
    static server_response error(unsigned status, const std::string& code)
    {
        server_response out;
        out.status = status;
        out.body = "<Error><Code>" + code + "</Code></Error>";
        return out;
    }
    std::string apply(const std::string& path, const received_request& r)
    {
        object o;
        o.body = r.body;
        o.etag = "e" + std::to_string(++etags_);
        for (const auto& [k, v] : r.headers) {
            std::string lower = k;
            std::transform(lower.begin(), lower.end(), lower.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            if (lower.rfind("x-amz-meta-", 0) == 0)
                o.meta.push_back({lower, v});
        }
        objects_[path] = o;
        return o.etag;
    }

    mutable std::mutex mutex_;
    std::map<std::string, object> objects_;
    long requests_ = 0;
    long etags_ = 0;
};

} // namespace statestore::test
