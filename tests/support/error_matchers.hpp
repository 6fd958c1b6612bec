#pragma once
// Predicates for BOOST_CHECK_EXCEPTION on statestore::error.

#include "statestore/error.hpp"

#include <boost/test/unit_test.hpp>

#include <functional>
#include <string>

namespace statestore::test {

/// True when `e` carries `code` and exactly `message`; reports what it got otherwise.
inline auto is_error(errc code, std::string message)
{
    return [code, message = std::move(message)](const error& e) {
        BOOST_TEST(static_cast<int>(e.value()) == static_cast<int>(code));
        BOOST_TEST(std::string(e.what()) == message);
        return e.value() == code && e.what() == message;
    };
}

/// The errc that `f` throws as statestore::error (errc{} when it throws nothing), with the
/// message stored in `*message` when given.
inline errc error_of(const std::function<void()>& f, std::string* message = nullptr)
{
    try {
        f();
    } catch (const error& e) {
        if (message)
            *message = e.what();
        return e.value();
    }
    return errc{};
}

} // namespace statestore::test
