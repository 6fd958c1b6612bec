#pragma once
// How Boost.Test prints statestore values in failure messages.

#include "statestore/error.hpp"
#include "statestore/state_document.hpp"

#include <optional>
#include <ostream>
#include <string>

namespace statestore {

inline std::ostream& boost_test_print_type(std::ostream& os, errc e)
{
    return os << make_error_code(e).message() << " (" << static_cast<int>(e) << ")";
}

inline std::ostream& boost_test_print_type(std::ostream& os, const state_document& d)
{
    return os << d.serialize();
}

} // namespace statestore

namespace std {
template <class T>
inline std::ostream& boost_test_print_type(std::ostream& os, const std::optional<T>& v)
{
    if (!v)
        return os << "nullopt";
    return os << *v;
}
} // namespace std
