#pragma once
// Bounded concurrency on one executor: `limit` worker coroutines pull indexes 0..count-1.
// No thread per item; the caller resumes when every worker has finished. The first
// exception is rethrown after the others finish (work already started is never abandoned).

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <functional>
#include <string>

namespace statestore::detail {

boost::asio::awaitable<void>
for_each_bounded(std::size_t count, std::size_t limit,
                 std::function<boost::asio::awaitable<void>(std::size_t)> body);

/// Hands one item to the workers of for_each_streamed; suspends while `limit` items are
/// already waiting. Returns false when the workers stopped taking items (one of them
/// failed): the producer should stop then.
using item_sink = std::function<boost::asio::awaitable<bool>(std::string)>;

/// The same bounded concurrency over items produced while the workers run (a paged
/// listing): `produce` pushes items into the sink; `limit` workers run body(item) on them
/// as they come. At most `limit` items wait between the two, so memory stays bounded
/// however many items there are. Items already pushed are all processed even if the
/// producer throws (but no new one is started once a body has thrown); the first exception
/// (the producer's, else a body's) is rethrown when every worker has finished.
boost::asio::awaitable<void>
for_each_streamed(std::size_t limit,
                  std::function<boost::asio::awaitable<void>(const item_sink&)> produce,
                  std::function<boost::asio::awaitable<void>(std::string)> body);

} // namespace statestore::detail
