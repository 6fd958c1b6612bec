#pragma once
// Shared between the conformance suite and its worker processes.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <string>

namespace statestore::test {

/// The i-th document of the crash test: deterministic, so a reader can tell whether what
/// it found is exactly one of the versions written (never a torn mix).
inline boost::json::value write_loop_payload(std::int64_t i)
{
    boost::json::object inner;
    inner["seq"] = i;
    inner["pad"] = std::string(static_cast<std::size_t>(i % 700), static_cast<char>('a' + i % 26));
    boost::json::object payload;
    payload["singer_state"] = std::move(inner);
    return payload;
}

} // namespace statestore::test
