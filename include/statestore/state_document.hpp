#pragma once
// The stored document: {"completed": {...}, "partial": {...}} (Meltano's MeltanoState).

#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace statestore {

struct state_document {
    /// Each half is a JSON object, or null when a stored document says null.
    boost::json::value completed = boost::json::object();
    boost::json::value partial = boost::json::object();

    /// Parses stored text like Meltano: a missing half becomes {}, an explicit null stays
    /// null, other top-level keys are dropped. A top level that is not an object, a half
    /// that is neither object nor null, or text that is not JSON throws
    /// statestore::error(invalid_document).
    static state_document parse(std::string_view text);
    /// The same rules applied to an already parsed value (an entry of an export).
    static state_document from_json(const boost::json::value& root);

    /// The exact bytes Meltano writes: json.dumps({"completed": ..., "partial": ...}).
    std::string serialize() const;

    /// Meltano's is_complete(): the completed half is a non-empty object.
    bool is_complete() const;

    /// The state consumers see: partial deep-merged onto completed (partial wins).
    /// Null halves count as {} here (Meltano would crash). Throws invalid_document on a
    /// merge type clash.
    boost::json::value effective() const;

    /// A complete write (meltano state set): completed = payload, partial = {}.
    /// The payload must be an object (or null); anything else throws invalid_document.
    static state_document complete(boost::json::value payload);
    /// A partial write (meltano state merge): completed = {}, partial = payload.
    /// The payload must be an object (or null); anything else throws invalid_document.
    static state_document incomplete(boost::json::value payload);

    friend bool operator==(const state_document&, const state_document&) = default;
};

/// Meltano's StateStoreManager.update() decision for an incoming state, given what is
/// stored: a complete incoming state (or nothing stored) replaces the document; otherwise
/// the incoming partial is deep-merged onto the stored partial and completed is kept (null
/// partials count as {}, so the result's partial is never null). A merge type clash throws
/// invalid_document and leaves *stored untouched.
state_document apply_update(const state_document* stored, const state_document& incoming);

} // namespace statestore
