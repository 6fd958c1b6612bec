#include "backend/systemdb/systemdb_common.hpp"

#include "statestore/error.hpp"
#include "statestore/json_text.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace statestore::systemdb {

schema_plan plan_schema(const database_facts& facts, std::string_view where)
{
    const auto has = [&facts](std::string_view column) {
        return std::find(facts.state_columns.begin(), facts.state_columns.end(), column) !=
               facts.state_columns.end();
    };
    if (!facts.state_columns.empty()) {
        std::string missing;
        for (std::string_view column : state_columns)
            if (!has(column))
                missing += std::string(missing.empty() ? "" : ", ") + std::string(column);
        if (missing.empty())
            return schema_plan::use_existing;
        std::string message =
            "table `state` in " + std::string(where) + " lacks column(s) " + missing;
        if (has("job_name"))
            message += "; it has Meltano's pre-v2.7.1 schema (job_name): run `meltano upgrade`"
                       " on this project first";
        throw_error(errc::database_error, message);
    }
    if (facts.other_tables_found.empty())
        return schema_plan::create_at_head;
    std::string found;
    for (const auto& table : facts.other_tables_found)
        found += std::string(found.empty() ? "" : ", ") + table;
    throw_error(errc::database_error,
                std::string(where) + " has Meltano tables (" + found + ", alembic revision " +
                    (facts.alembic_revision ? *facts.alembic_revision : std::string("none")) +
                    ") but no `state` table; statestore will not create one there (Meltano's "
                    "migrations would drop it): run `meltano upgrade` on this project first");
}

std::string local_timestamp(std::chrono::system_clock::time_point when)
{
    const auto since_epoch = when.time_since_epoch();
    const auto micros = std::chrono::floor<std::chrono::microseconds>(since_epoch).count();
    const auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch).count();
    const std::time_t whole = static_cast<std::time_t>(seconds);
    const long fraction = static_cast<long>(micros - seconds * 1'000'000);
    std::tm local{};
    localtime_r(&whole, &local);
    char text[64];
    std::snprintf(text, sizeof text, "%04d-%02d-%02d %02d:%02d:%02d.%06ld", local.tm_year + 1900,
                  local.tm_mon + 1, local.tm_mday, local.tm_hour, local.tm_min, local.tm_sec,
                  fraction);
    return text;
}

std::string column_text(const boost::json::value& half)
{
    if (half.is_null())
        return "{}";
    return to_python_json(half, json_style::python_default);
}

boost::json::value parse_column(const std::optional<std::string_view>& text,
                                std::string_view column, const std::string& id,
                                std::string_view where)
{
    if (!text)
        return nullptr; // written by Meltano as None: an explicit null half
    boost::json::value half;
    try {
        half = parse_json(*text);
    } catch (const error& e) {
        throw_error(errc::invalid_document, "state " + id + " in " + std::string(where) +
                                                ": column " + std::string(column) +
                                                " is not valid JSON: " + e.what());
    }
    if (!half.is_object() && !half.is_null())
        throw_error(errc::invalid_document, "state " + id + " in " + std::string(where) +
                                                ": column " + std::string(column) +
                                                " is not a JSON object");
    return half;
}

} // namespace statestore::systemdb
