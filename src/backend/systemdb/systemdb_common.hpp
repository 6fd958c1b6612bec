#pragma once
// What the two system-database backends (SQLite, PostgreSQL) share: Meltano's schema facts,
// the rule for a database that already exists, and the column values as Meltano writes them
// (json.dumps text per half, updated_at as SQLAlchemy's onupdate=datetime.now sets it).
// Pure functions: no database calls here.

#include <boost/json/value.hpp>

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace statestore::systemdb {

/// Meltano's alembic head (src/meltano/migrations/db.lock; its last migration,
/// c0efb3c314eb, drops the old UI tables). A database this library creates is stamped with
/// it, so that Meltano finds nothing to migrate.
inline constexpr std::string_view alembic_head = "c0efb3c314eb";

/// The columns of `state` that every operation reads or writes.
inline constexpr std::array<std::string_view, 4> state_columns = {"state_id", "partial_state",
                                                                  "completed_state", "updated_at"};

/// Tables Meltano's migrations leave besides `state` (`job` is `runs` before 5b43800443d1).
inline constexpr std::array<std::string_view, 4> other_meltano_tables = {"alembic_version", "runs",
                                                                         "job", "plugin_settings"};

/// What a backend found in a database it opens.
struct database_facts {
    std::vector<std::string> state_columns;      ///< of table `state`; empty: no such table
    std::vector<std::string> other_tables_found; ///< those of other_meltano_tables present
    std::optional<std::string> alembic_revision; ///< alembic_version's row, if any
};

enum class schema_plan {
    use_existing,   ///< `state` has the columns: used as is, nothing else touched
    create_at_head, ///< an empty database: create Meltano's complete schema at alembic_head
};

/// The rule for opening a system database, the same on every database engine:
/// - a `state` table with all of state_columns is used as is, whatever else is there;
/// - a `state` table lacking some of them is refused (database_error naming them; a
///   `job_name` column means Meltano's pre-v2.7.1 schema: `meltano upgrade` first);
/// - no `state` table and none of Meltano's other tables: create the complete schema at
///   alembic_head (never a lone `state` table: Meltano would re-run its migrations from the
///   start on it, and 6828cc5b1a4f drops and recreates `state`, losing every row);
/// - no `state` table but some of Meltano's: refused (database_error): Meltano has not
///   migrated it, or someone dropped the table; `meltano upgrade` is the way forward.
/// `where` names the database in messages (no secrets).
schema_plan plan_schema(const database_facts& facts, std::string_view where);

/// updated_at as Meltano writes it on an UPDATE: Python's datetime.now(), the writer's
/// local, naive wall-clock time, "YYYY-MM-DD HH:MM:SS.ffffff" (always six fractional digits;
/// SQLite stores this text, PostgreSQL parses it into a TIMESTAMP). NULL on INSERT.
std::string
local_timestamp(std::chrono::system_clock::time_point when = std::chrono::system_clock::now());

/// A half as its column text: json.dumps of it. A null half is written as "{}": Meltano's
/// get and merge fail on a NULL (None) column (meltano-compat.md §13).
std::string column_text(const boost::json::value& half);

/// A half read back from its column: NULL (nullopt) reads as null, text must be a JSON
/// object (or null). Otherwise throws invalid_document naming the id, the column and `where`.
boost::json::value parse_column(const std::optional<std::string_view>& text,
                                std::string_view column, const std::string& id,
                                std::string_view where);

} // namespace statestore::systemdb
