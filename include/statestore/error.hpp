#pragma once
// One error vocabulary for every backend. Expected outcomes (not found, a lost
// precondition) are values in the APIs; everything else throws statestore::error,
// a system_error whose what() is a complete, secret-free sentence.

#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <string>
#include <type_traits>
#include <utility>

namespace statestore {

enum class errc {
    not_found = 1,
    precondition_failed,
    lock_timeout,       // waited longer than the configured maximum for a lock
    lock_lost,          // our lock was taken over while we held it
    invalid_state_id,
    invalid_uri,
    invalid_document,   // not JSON, not an object, NaN, merge type clash, ...
    invalid_lock,       // lock object content is not a timestamp
    invalid_setting,
    unsupported_backend,
    io_error,           // local file system failure
    database_error,     // SQLite failure
    auth_failed,
    throttled,
    backend_unavailable,
    cancelled,
};

const boost::system::error_category& error_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept
{
    return {static_cast<int>(e), error_category()};
}

/// The exception every statestore operation throws for unexpected failures.
class error : public boost::system::system_error {
public:
    error(errc code, std::string message)
        : boost::system::system_error(make_error_code(code)), code_(code),
          message_(std::move(message))
    {
    }
    errc value() const noexcept { return code_; }
    /// The sentence alone, without Boost's "[category:value]" suffix.
    const char* what() const noexcept override { return message_.c_str(); }

private:
    errc code_;
    std::string message_;
};

[[noreturn]] void throw_error(errc code, const std::string& message);

} // namespace statestore

template <>
struct boost::system::is_error_code_enum<statestore::errc> : std::true_type {};
