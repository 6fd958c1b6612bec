#pragma once
// Bounded concurrency on one executor: `limit` worker coroutines pull indexes 0..count-1.
// No thread per item; the caller resumes when every worker has finished. The first
// exception is rethrown after the others finish (work already started is never abandoned).

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <functional>

namespace statestore::detail {

boost::asio::awaitable<void>
for_each_bounded(std::size_t count, std::size_t limit,
                 std::function<boost::asio::awaitable<void>(std::size_t)> body);

} // namespace statestore::detail
