#pragma once
// Meltano's system database backend on SQLite: table `state` with Meltano's exact schema
//   state_id VARCHAR(900) PRIMARY KEY, partial_state VARCHAR, completed_state VARCHAR,
//   updated_at DATETIME
// each half stored as json.dumps text ({} rather than NULL, which Meltano cannot read),
// updated_at NULL on insert and the local naive time on update, as SQLAlchemy does.
// Opens an existing meltano.db and leaves its other tables alone; WAL mode; every
// read-modify-write is one BEGIN IMMEDIATE transaction with a busy timeout, so it is safe
// across processes. All SQLite calls run on one dedicated thread.

#include "statestore/state_backend.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace statestore {

struct systemdb_options {
    std::string database_path;          ///< a file path, or ":memory:"
    double busy_timeout_seconds = 30.0; ///< how long to wait for another writer
};

class systemdb_backend final : public state_backend {
public:
    /// Opens (creating if needed) the database and the `state` table. Throws
    /// database_error naming the path if the file is not a SQLite database.
    explicit systemdb_backend(systemdb_options options);
    ~systemdb_backend() override;

    std::string describe() const override;
    std::uint64_t requests_sent() const noexcept override;

    boost::asio::awaitable<std::optional<state_document>> get(std::string id) override;
    boost::asio::awaitable<void> update(std::string id, state_mutator mutate) override;
    boost::asio::awaitable<bool> erase(std::string id) override;
    boost::asio::awaitable<std::vector<std::string>> list(std::string pattern) override;
    boost::asio::awaitable<state_id_page> list_page(std::string pattern,
                                                    std::string token) override;
    boost::asio::awaitable<std::size_t> import_all(std::vector<state_entry> entries) override;
    boost::asio::awaitable<std::size_t> clear_all() override;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace statestore
