#pragma once
// Meltano's deep merge (meltano.core.utils.merge), rule for rule.

#include <boost/json/value.hpp>

namespace statestore {

/// Merges `source` into `destination` in place, like Meltano's merge(src, dest):
/// for each key of source, in order: an object value recurses into destination[key]
/// (inserting {} if the key is absent; new keys are appended); any other value (scalar,
/// array, null) replaces destination[key]. An empty source object leaves a scalar alone.
/// Merging a non-empty object into a scalar, array or null throws
/// statestore::error(invalid_document) naming the key path; destination may then be
/// partially updated, so callers merge into a copy. A source that is not an object throws
/// invalid_document too. `source` may be `destination` itself (a no-op) but must not be a
/// value nested inside it.
void deep_merge(const boost::json::value& source, boost::json::value& destination);

/// Returns a copy of `destination` with `source` merged into it (destination untouched).
boost::json::value merged(const boost::json::value& source, const boost::json::value& destination);

} // namespace statestore
