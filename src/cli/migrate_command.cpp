// `statestore migrate`: copy every state (or those matching --pattern) from one backend to
// another, concurrently, verified, resumable. Messages and progress on stderr; a dry run's
// plan on stdout.

#include "cli.hpp"

#include "statestore/backend_factory.hpp"
#include "statestore/error.hpp"
#include "statestore/migrator.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>

namespace asio = boost::asio;
namespace json = boost::json;

namespace statestore::cli {
namespace {

struct migrate_cli_options {
    std::string from, to;
    std::optional<std::string> from_database_uri, to_database_uri;
    std::string pattern;
    std::size_t concurrency = 16;
    std::string if_exists = "overwrite";
    bool no_verify = false, no_lock = false, dry_run = false;
    std::optional<std::string> report_file;
    std::optional<double> progress_seconds;
};

std::string fixed(double value, int decimals)
{
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
    return text;
}

std::string clock_text(double seconds)
{
    if (!(seconds >= 0) || seconds > 99 * 3600)
        return "--:--";
    const long s = static_cast<long>(seconds + 0.5);
    char text[32];
    if (s >= 3600)
        std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        std::snprintf(text, sizeof text, "%ld:%02ld", s / 60, s % 60);
    return text;
}

double seconds_of(std::chrono::steady_clock::duration d)
{
    return std::chrono::duration<double>(d).count();
}

/// One progress line: "[#####.....] 1200/2000 60%  1530 ids/s  ETA 0:01  failed 0".
/// While the source is still being listed the total so far is shown as "2000+", with no
/// ETA.
std::string progress_text(const migrate_progress& p, bool bar)
{
    if (p.total == 0 && p.done == 0)
        return "listing source states... (" + fixed(seconds_of(p.elapsed), 1) + " s)";
    const double fraction =
        p.total ? static_cast<double>(p.done) / static_cast<double>(p.total) : 1.0;
    std::string line;
    if (bar) {
        constexpr int width = 24;
        const int filled = static_cast<int>(fraction * width);
        line = "[" + std::string(static_cast<std::size_t>(filled), '#') +
               std::string(static_cast<std::size_t>(width - filled), '.') + "] ";
    } else {
        line = "progress: ";
    }
    const double eta = p.ids_per_second > 0 && p.total_known
                           ? static_cast<double>(p.total - p.done) / p.ids_per_second
                           : -1.0;
    line += std::to_string(p.done) + "/" + std::to_string(p.total) +
            (p.total_known ? " " : "+ ") +
            fixed(fraction * 100, 0) + "%  " + fixed(p.ids_per_second, 0) + " ids/s  ETA " +
            clock_text(eta) + "  failed " + std::to_string(p.failed);
    return line;
}

json::object report_json(const migrate_report& r, const std::string& from, const std::string& to)
{
    json::object o;
    o["from"] = from;
    o["to"] = to;
    o["dry_run"] = r.dry_run;
    o["cancelled"] = r.cancelled;
    o["listing_complete"] = r.listing_complete;
    o["total"] = r.total;
    o["done"] = r.done();
    o["copied"] = r.copied;
    o["overwritten"] = r.overwritten;
    o["skipped"] = r.skipped;
    o["identical_skipped"] = r.identical_skipped;
    o["failed"] = r.failed;
    o["verified"] = r.verified;
    o["not_started"] = r.total - r.done();
    o["elapsed_seconds"] = seconds_of(r.elapsed);
    o["ids_per_second"] = r.ids_per_second();
    o["source_requests"] = r.source_requests;
    o["destination_requests"] = r.destination_requests;
    json::array failures;
    for (const auto& f : r.failures) {
        json::object entry;
        entry["id"] = f.id;
        entry["error"] = f.message;
        failures.push_back(std::move(entry));
    }
    o["failures"] = std::move(failures);
    if (r.dry_run) {
        json::array plan;
        for (const auto& p : r.plan) {
            json::object entry;
            entry["id"] = p.id;
            entry["action"] = to_string(p.action);
            entry["identical"] = p.identical;
            plan.push_back(std::move(entry));
        }
        o["plan"] = std::move(plan);
    }
    return o;
}

void write_report(const std::string& path, const json::object& report)
{
    const std::string temp = path + ".tmp";
    {
        std::ofstream out(temp, std::ios::binary | std::ios::trunc);
        out << json::serialize(report) << '\n';
        out.flush();
        if (!out)
            throw command_failure(exit_error, "cannot write the report to " + temp);
    }
    if (std::rename(temp.c_str(), path.c_str()) != 0)
        throw command_failure(exit_error, "cannot write the report to " + path);
}

/// SIGINT/SIGTERM: the first stops new work and lets ids in flight finish; a second one
/// ends the process at once (locks in flight are left to expire).
void watch_signals(asio::signal_set& signals, std::shared_ptr<migrate_cancel> cancel,
                   bool& interactive_line)
{
    signals.async_wait([&signals, cancel, &interactive_line](boost::system::error_code ec, int) {
        if (ec)
            return; // the migration finished: signals.cancel()
        if (cancel->requested()) {
            std::cerr << (interactive_line ? "\n" : "")
                      << "Interrupted again: stopping now; ids in flight are left unfinished."
                      << std::endl;
            std::_Exit(130);
        }
        cancel->request();
        std::cerr << (interactive_line ? "\n" : "")
                  << "Interrupted: finishing the ids in flight, starting no new ones (interrupt "
                     "again to stop at once)."
                  << std::endl;
        interactive_line = false;
        watch_signals(signals, cancel, interactive_line);
    });
}

int run_migrate(const migrate_cli_options& o, const settings& base)
{
    settings from_settings = base;
    from_settings.uri = o.from;
    if (o.from_database_uri)
        from_settings.database_uri = *o.from_database_uri;
    settings to_settings = base;
    to_settings.uri = o.to;
    if (o.to_database_uri)
        to_settings.database_uri = *o.to_database_uri;
    // One connection per id in flight on each side, so workers never queue for one. A
    // PostgreSQL system database serves queued operations in batches: up to 16 connections
    // (more only add server contention; bench/postgres_set.cpp, docs/postgresql.md).
    for (settings* side : {&from_settings, &to_settings}) {
        side->http_max_connections = std::max(side->http_max_connections, o.concurrency);
        side->database_max_connections =
            std::max(side->database_max_connections, std::min<std::size_t>(o.concurrency, 16));
    }

    asio::io_context io;
    std::unique_ptr<state_backend> from = open_backend(io.get_executor(), from_settings);
    std::unique_ptr<state_backend> to = open_backend(io.get_executor(), to_settings);
    const std::string from_name = from->describe();
    const std::string to_name = to->describe();
    if (from_name == to_name)
        throw command_failure(exit_usage,
                              "--from and --to name the same backend (" + from_name + ")");

    const bool tty = isatty(STDERR_FILENO) != 0;
    bool bar_on_screen = false;
    migrate_options options;
    options.pattern = o.pattern;
    options.concurrency = o.concurrency;
    options.policy = o.if_exists == "skip"             ? if_exists::skip
                     : o.if_exists == "skip-identical" ? if_exists::skip_identical
                                                       : if_exists::overwrite;
    options.verify = !o.no_verify;
    options.lock = !o.no_lock;
    options.dry_run = o.dry_run;
    options.cancel = std::make_shared<migrate_cancel>();
    const double interval = o.progress_seconds.value_or(tty ? 0.2 : 5.0);
    options.progress_interval = std::chrono::milliseconds(static_cast<long>(interval * 1000));
    if (options.progress_interval.count() > 0) {
        options.on_progress = [tty, &bar_on_screen](const migrate_progress& p) {
            if (tty) {
                std::cerr << "\r\033[K" << progress_text(p, true) << std::flush;
                bar_on_screen = true;
            } else {
                std::cerr << progress_text(p, false) << std::endl;
            }
        };
    }
    if (o.no_lock)
        log_line("Writing without the destination's locks (--no-lock): only safe when no "
                 "pipeline uses " + to_name + ".");
    log_line(std::string(o.dry_run ? "Dry run: planning" : "Migrating") + " states from " +
             from_name + " to " + to_name + (o.pattern.empty() ? "" : " matching " + o.pattern) +
             "...");

    asio::signal_set signals(io, SIGINT, SIGTERM);
    watch_signals(signals, options.cancel, bar_on_screen);

    std::optional<migrate_report> result;
    std::exception_ptr failure;
    auto finished = [&](std::exception_ptr e, migrate_report r) {
        if (e)
            failure = e;
        else
            result = std::move(r);
        signals.cancel();
    };
    auto work = migrate(*from, *to, std::move(options));
    asio::co_spawn(io, std::move(work), std::move(finished));
    io.run();
    if (bar_on_screen)
        std::cerr << '\n';
    if (failure)
        std::rethrow_exception(failure);
    const migrate_report& r = *result;

    if (r.dry_run) {
        for (const auto& p : r.plan)
            std::cout << to_string(p.action) << (p.identical ? " (identical)" : "") << '\t'
                      << p.id << '\n';
        std::cout << std::flush;
    }
    constexpr std::size_t shown = 20;
    for (std::size_t i = 0; i < r.failures.size() && i < shown; ++i)
        log_line("failed: " + r.failures[i].id + ": " + r.failures[i].message);
    if (r.failures.size() > shown)
        log_line("... and " + std::to_string(r.failures.size() - shown) +
                 " more failed id(s)" + (o.report_file ? " (all in the report)" : ""));
    if (r.cancelled)
        log_line("Cancelled: " + std::to_string(r.total - r.done()) + " of " +
                 std::to_string(r.total) + " id(s) listed were not started" +
                 (r.listing_complete ? "" : " (the listing stopped there too)") +
                 "; run the same command again to complete the migration.");
    const std::string elapsed = fixed(seconds_of(r.elapsed), 2);
    if (r.dry_run)
        log_line("Dry run (nothing written): " + std::to_string(r.total) + " id(s): would copy " +
                 std::to_string(r.copied - r.overwritten) + ", overwrite " +
                 std::to_string(r.overwritten) + ", skip " + std::to_string(r.skipped) +
                 ", skip as identical " + std::to_string(r.identical_skipped) + "; failed " +
                 std::to_string(r.failed) + " in " + elapsed + " s");
    else
        log_line("Summary: " + std::to_string(r.total) + " id(s): copied " +
                 std::to_string(r.copied) + " (overwritten " + std::to_string(r.overwritten) +
                 "), skipped " + std::to_string(r.skipped) + ", identical " +
                 std::to_string(r.identical_skipped) + ", failed " + std::to_string(r.failed) +
                 ", verified " + (o.no_verify ? std::string("off") : std::to_string(r.verified)) +
                 " in " + elapsed + " s (" + fixed(r.ids_per_second(), 0) + " ids/s)");
    if (o.report_file)
        write_report(*o.report_file, report_json(r, from_name, to_name));
    return r.failed > 0 || r.cancelled ? exit_error : exit_ok;
}

} // namespace

void add_migrate_command(CLI::App& app, command_runner& selected)
{
    auto* cmd = app.add_subcommand(
        "migrate", "Copy states between backends: concurrent, locked, verified, resumable");
    auto o = std::make_shared<migrate_cli_options>();
    cmd->add_option("--from", o->from, "Source backend URI (systemdb, file:///dir, ...)")
        ->required();
    cmd->add_option("--to", o->to, "Destination backend URI")->required();
    cmd->add_option("--from-database-uri", o->from_database_uri,
                    "System database of a systemdb source (default: --database-uri)");
    cmd->add_option("--to-database-uri", o->to_database_uri,
                    "System database of a systemdb destination (default: --database-uri)");
    cmd->add_option("--pattern", o->pattern, "fnmatch pattern over source ids, e.g. 'dev:*'");
    cmd->add_option("--concurrency", o->concurrency, "Ids in flight at once (default 16)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{4096}));
    cmd->add_option("--if-exists", o->if_exists,
                    "Ids already at the destination: overwrite (default; identical ones are not "
                    "rewritten), skip, or skip-identical")
        ->check(CLI::IsMember({"overwrite", "skip", "skip-identical"}));
    cmd->add_flag("--no-verify", o->no_verify, "Do not read written states back to compare");
    cmd->add_flag("--no-lock", o->no_lock,
                  "Write without the destination's locks: offline migrations only");
    cmd->add_flag("--dry-run", o->dry_run,
                  "Print what would be copied, skipped or overwritten; write nothing");
    cmd->add_option("--report", o->report_file, "Write a JSON report (counts, failed ids)");
    cmd->add_option("--progress-seconds", o->progress_seconds,
                    "Progress every N seconds (default 0.2 on a terminal, else 5; 0 = off)")
        ->check(CLI::NonNegativeNumber);
    cmd->fallthrough();
    cmd->callback([&selected, o] {
        selected = [o](const settings& s) { return run_migrate(*o, s); };
    });
}

} // namespace statestore::cli
