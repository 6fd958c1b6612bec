// Bulk migration with the library API: copy every state (or those matching PATTERN) from one
// backend to another, concurrently, each write under the destination's lock, read back and
// compared; then print the report. Re-running it completes an interrupted migration.
//
//   bulk_migrate FROM_URI TO_URI [PATTERN]
//   e.g. MELTANO_DATABASE_URI=sqlite:////srv/meltano.db bulk_migrate systemdb file:///srv/state

#include <statestore/statestore.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>

namespace asio = boost::asio;

int main(int argc, char** argv)
{
    if (argc < 3) {
        std::cerr << "usage: bulk_migrate FROM_URI TO_URI [PATTERN]\n";
        return 2;
    }
    try {
        asio::io_context io;
        statestore::settings from_config = statestore::settings::from_env();
        from_config.uri = argv[1];
        statestore::settings to_config = from_config;
        to_config.uri = argv[2];
        auto from = statestore::open_backend(io.get_executor(), from_config);
        auto to = statestore::open_backend(io.get_executor(), to_config);

        statestore::migrate_options options;
        options.pattern = argc > 3 ? argv[3] : "";
        options.policy = statestore::if_exists::skip_identical; // resumable
        std::optional<statestore::migrate_report> report;
        std::exception_ptr failure;
        auto done = [&](std::exception_ptr e, statestore::migrate_report r) {
            failure = e;
            report = std::move(r);
        };
        asio::co_spawn(io, statestore::migrate(*from, *to, std::move(options)), std::move(done));
        io.run();
        if (failure)
            std::rethrow_exception(failure);

        std::cout << "total " << report->total << ", copied " << report->copied
                  << ", identical " << report->identical_skipped << ", skipped "
                  << report->skipped << ", failed " << report->failed << ", verified "
                  << report->verified << " in "
                  << std::chrono::duration<double>(report->elapsed).count() << " s\n";
        for (const auto& f : report->failures)
            std::cout << "failed " << f.id << ": " << f.message << '\n';
        return report->failed == 0 ? 0 : 1;
    } catch (const std::exception& e) {
        std::cerr << "bulk_migrate: " << e.what() << '\n';
        return 1;
    }
}
