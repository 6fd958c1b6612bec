// `statestore state ...`: Meltano's `meltano state` commands, flag for flag.

#include "cli.hpp"

#include "statestore/backend_factory.hpp"
#include "statestore/error.hpp"
#include "statestore/json_text.hpp"
#include "statestore/state_store.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/object.hpp>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace asio = boost::asio;
namespace json = boost::json;

namespace statestore::cli {
namespace {

/// Runs one coroutine against a freshly opened store and returns its result.
template <class T>
T run_with_store(const settings& s, std::function<asio::awaitable<T>(state_store&)> body)
{
    asio::io_context io;
    state_store store(open_backend(io.get_executor(), s));
    std::future<T> result = asio::co_spawn(io, body(store), asio::use_future);
    io.run();
    return result.get();
}

std::string utc_now_text()
{
    const std::time_t t = std::time(nullptr);
    std::tm parts{};
    gmtime_r(&t, &parts);
    char text[64];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S+0000", &parts);
    return text;
}

/// click.confirm: "y"/"yes" continues; anything else, or no input at all, aborts (exit 1).
void confirm_or_abort(bool force, const std::string& question)
{
    if (force)
        return;
    std::cerr << question << " [y/N]: " << std::flush;
    std::string answer;
    if (!std::getline(std::cin, answer))
        throw command_failure(exit_error, "Aborted!");
    std::transform(answer.begin(), answer.end(), answer.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (answer != "y" && answer != "yes")
        throw command_failure(exit_error, "Aborted!");
}

std::string read_input_file(const std::string& path)
{
    std::ifstream in(path == "-" ? "/dev/stdin" : path, std::ios::binary);
    if (!in)
        throw command_failure(exit_usage, "Invalid value for '--input-file': File '" + path +
                                              "' does not exist or cannot be read.");
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// Exactly one of STATE and --input-file, parsed as JSON (Meltano's messages).
json::value state_payload(const std::optional<std::string>& inline_state,
                          const std::optional<std::string>& input_file)
{
    if (inline_state.has_value() == input_file.has_value())
        throw command_failure(exit_error, "Must provide exactly one of: --input-file,STATE");
    const std::string text = inline_state ? *inline_state : read_input_file(*input_file);
    try {
        return parse_json(text);
    } catch (const error& e) {
        throw command_failure(exit_error, std::string("Invalid JSON provided: ") + e.what());
    }
}

void check_singer_state(const json::value& payload)
{
    try {
        validate_singer_state(payload);
    } catch (const error& e) {
        throw command_failure(exit_error, std::string("Invalid state format: ") + e.what() +
                                              ". Use --no-validate to bypass this check.");
    }
}

const char* kind_name(const json::value& v)
{
    switch (v.kind()) {
    case json::kind::object: return "object";
    case json::kind::array: return "array";
    case json::kind::string: return "string";
    case json::kind::bool_: return "boolean";
    case json::kind::null: return "null";
    default: return "number";
    }
}

} // namespace

void add_state_commands(CLI::App& app, command_runner& selected)
{
    CLI::App* state = app.add_subcommand("state", "Manage pipeline state (as `meltano state`)");
    state->require_subcommand(1);
    state->fallthrough();

    // list ---------------------------------------------------------------------------------
    {
        auto* cmd = state->add_subcommand("list", "List state ids");
        auto pattern = std::make_shared<std::string>();
        cmd->add_option("--pattern", *pattern, "fnmatch pattern, e.g. 'dev:*'");
        cmd->fallthrough();
        cmd->callback([&selected, pattern] {
            selected = [pattern](const settings& s) {
                const bool colour = isatty(STDOUT_FILENO);
                std::function<asio::awaitable<std::vector<state_entry>>(state_store&)> body =
                    [pattern, colour](state_store& store)
                    -> asio::awaitable<std::vector<state_entry>> {
                    if (colour) // colours need each effective state, fetched concurrently
                        co_return co_await store.export_all(*pattern);
                    std::vector<std::string> ids = co_await store.list(*pattern);
                    std::vector<state_entry> entries;
                    for (auto& id : ids)
                        entries.emplace_back(std::move(id), state_document{});
                    co_return entries;
                };
                const auto entries = run_with_store(s, body);
                if (entries.empty())
                    log_line("No state IDs found.");
                for (const auto& [id, document] : entries) {
                    if (!colour) {
                        std::cout << id << '\n';
                        continue;
                    }
                    const json::value effective = document.effective();
                    const bool empty = effective.as_object().empty();
                    const bool singer = effective.as_object().contains("singer_state");
                    const char* code = empty ? "\033[33m" : singer ? "\033[32m" : "\033[31m";
                    std::cout << code << id << "\033[0m\n";
                }
                std::cout << std::flush;
                return exit_ok;
            };
        });
    }

    // get ----------------------------------------------------------------------------------
    {
        auto* cmd = state->add_subcommand("get", "Print the effective state of an id");
        auto id = std::make_shared<std::string>();
        auto format = std::make_shared<std::string>("json");
        cmd->add_option("state_id", *id, "State id")->required();
        cmd->add_option("--format", *format, "json (compact) or pretty")
            ->transform(CLI::IsMember({"json", "pretty"}, CLI::ignore_case));
        cmd->fallthrough();
        cmd->callback([&selected, id, format] {
            selected = [id, format](const settings& s) {
                std::function<asio::awaitable<json::value>(state_store&)> body =
                    [id](state_store& store) { return store.get(*id); };
                const json::value effective = run_with_store(s, body);
                const auto style = *format == "pretty" ? json_style::pretty : json_style::compact;
                std::cout << to_python_json(effective, style) << std::endl;
                return exit_ok;
            };
        });
    }

    // set ----------------------------------------------------------------------------------
    {
        auto* cmd = state->add_subcommand("set", "Overwrite the state of an id");
        struct options {
            std::string id;
            std::optional<std::string> inline_state, input_file;
            bool no_validate = false, force = false;
        };
        auto o = std::make_shared<options>();
        cmd->add_option("state_id", o->id, "State id")->required();
        cmd->add_option("state", o->inline_state, "State JSON");
        cmd->add_option("--input-file", o->input_file, "Read the state JSON from a file");
        cmd->add_flag("--no-validate", o->no_validate, "Skip the singer_state check");
        cmd->add_flag("--force", o->force, "Do not ask for confirmation");
        cmd->fallthrough();
        cmd->callback([&selected, o] {
            selected = [o](const settings& s) {
                json::value payload = state_payload(o->inline_state, o->input_file);
                if (o->no_validate)
                    log_line("Skipping state validation because --no-validate was passed.");
                else
                    check_singer_state(payload);
                confirm_or_abort(o->force, "This will overwrite the state's current value. "
                                           "Continue?");
                std::function<asio::awaitable<int>(state_store&)> body =
                    [o, payload](state_store& store) -> asio::awaitable<int> {
                    co_await store.set(o->id, payload, !o->no_validate);
                    co_return 0;
                };
                run_with_store(s, body);
                log_line("State for " + o->id + " was successfully set at " + utc_now_text() +
                         ".");
                return exit_ok;
            };
        });
    }

    // merge --------------------------------------------------------------------------------
    {
        auto* cmd = state->add_subcommand("merge", "Deep-merge into the partial state of an id");
        struct options {
            std::string id;
            std::optional<std::string> inline_state, input_file, from_state_id;
        };
        auto o = std::make_shared<options>();
        cmd->add_option("state_id", o->id, "State id")->required();
        cmd->add_option("state", o->inline_state, "State JSON");
        cmd->add_option("--input-file", o->input_file, "Read the state JSON from a file");
        cmd->add_option("--from-state-id", o->from_state_id, "Merge the state of this id");
        cmd->fallthrough();
        cmd->callback([&selected, o] {
            selected = [o](const settings& s) {
                const int given = int(o->inline_state.has_value()) +
                                  int(o->input_file.has_value()) +
                                  int(o->from_state_id.has_value());
                if (given != 1) // Meltano's XOR accepts all three; we do not
                    throw command_failure(exit_error, "Must provide exactly one of: "
                                                      "--input-file,STATE,--from-state-id");
                std::function<asio::awaitable<int>(state_store&)> body;
                if (o->from_state_id) {
                    body = [o](state_store& store) -> asio::awaitable<int> {
                        co_await store.merge_from(*o->from_state_id, o->id);
                        co_return 0;
                    };
                } else {
                    json::value payload = state_payload(o->inline_state, o->input_file);
                    check_singer_state(payload);
                    body = [o, payload](state_store& store) -> asio::awaitable<int> {
                        co_await store.merge(o->id, payload, true);
                        co_return 0;
                    };
                }
                run_with_store(s, body);
                log_line("State for " + o->id + " was successfully merged at " + utc_now_text() +
                         ".");
                return exit_ok;
            };
        });
    }

    // copy / move --------------------------------------------------------------------------
    for (const bool is_move : {false, true}) {
        auto* cmd = state->add_subcommand(is_move ? "move" : "copy",
                                          is_move ? "Move state from one id to another"
                                                  : "Copy state from one id to another");
        struct options {
            std::string source, destination;
            bool force = false;
        };
        auto o = std::make_shared<options>();
        cmd->add_option("src_state_id", o->source, "Source state id")->required();
        cmd->add_option("dst_state_id", o->destination, "Destination state id")->required();
        cmd->add_flag("--force", o->force, "Do not ask for confirmation");
        cmd->fallthrough();
        cmd->callback([&selected, o, is_move] {
            selected = [o, is_move](const settings& s) {
                confirm_or_abort(o->force, is_move ? "This will clear the source state and "
                                                     "overwrite destination state. Continue?"
                                                   : "This will overwrite state for the "
                                                     "destination. Continue?");
                std::function<asio::awaitable<int>(state_store&)> body =
                    [o, is_move](state_store& store) -> asio::awaitable<int> {
                    if (is_move)
                        co_await store.move(o->source, o->destination);
                    else
                        co_await store.copy(o->source, o->destination);
                    co_return 0;
                };
                run_with_store(s, body);
                log_line(is_move ? "State for " + o->source + " was successfully moved to " +
                                       o->destination + " at " + utc_now_text() + "."
                                 : "State for " + o->destination +
                                       " was successfully copied from " + o->source + " at " +
                                       utc_now_text() + ".");
                return exit_ok;
            };
        });
    }

    // clear --------------------------------------------------------------------------------
    {
        auto* cmd = state->add_subcommand("clear", "Delete the state of an id, or of all ids");
        struct options {
            std::optional<std::string> id;
            bool all = false, force = false;
        };
        auto o = std::make_shared<options>();
        cmd->add_option("state_id", o->id, "State id");
        cmd->add_flag("--all", o->all, "Clear every state");
        cmd->add_flag("--force", o->force, "Do not ask for confirmation");
        cmd->fallthrough();
        cmd->callback([&selected, o] {
            selected = [o](const settings& s) {
                if (o->id.has_value() == o->all)
                    throw command_failure(exit_usage, "A state ID or the --all flag must be "
                                                      "provided, but not both");
                confirm_or_abort(o->force, "This will clear state for the job(s). Continue?");
                std::function<asio::awaitable<std::size_t>(state_store&)> body =
                    [o](state_store& store) -> asio::awaitable<std::size_t> {
                    if (o->all)
                        co_return co_await store.clear_all();
                    co_return (co_await store.clear(*o->id)) ? 1 : 0;
                };
                const std::size_t cleared = run_with_store(s, body);
                if (o->all)
                    log_line(std::to_string(cleared) + " state(s) were successfully cleared");
                return exit_ok;
            };
        });
    }

    // export -------------------------------------------------------------------------------
    {
        auto* cmd = state->add_subcommand("export", "Print every raw state as one JSON object");
        auto pattern = std::make_shared<std::string>();
        cmd->add_option("--pattern", *pattern, "Only ids matching this fnmatch pattern");
        cmd->fallthrough();
        cmd->callback([&selected, pattern] {
            selected = [pattern](const settings& s) {
                std::function<asio::awaitable<std::vector<state_entry>>(state_store&)> body =
                    [pattern](state_store& store) { return store.export_all(*pattern); };
                const auto entries = run_with_store(s, body);
                json::object all;
                for (const auto& [id, document] : entries) {
                    json::object halves;
                    halves["completed"] = document.completed;
                    halves["partial"] = document.partial;
                    all[id] = std::move(halves);
                }
                std::cout << to_python_json(all, json_style::compact) << std::endl;
                return exit_ok;
            };
        });
    }

    // import -------------------------------------------------------------------------------
    {
        auto* cmd = state->add_subcommand("import", "Overwrite states from an export");
        auto file = std::make_shared<std::string>("-");
        cmd->add_option("input_file", *file, "Export file, or - for standard input");
        cmd->fallthrough();
        cmd->callback([&selected, file] {
            selected = [file](const settings& s) {
                const std::string text = read_input_file(*file);
                json::value parsed;
                try {
                    parsed = parse_json(text);
                } catch (const error& e) {
                    throw command_failure(exit_error, std::string("Invalid JSON: ") + e.what());
                }
                if (!parsed.is_object())
                    throw command_failure(exit_usage, std::string("expected a JSON object, got ") +
                                                          kind_name(parsed));
                std::vector<state_entry> entries;
                for (const auto& [id, value] : parsed.as_object()) {
                    try {
                        // Same rules as a stored document: missing halves are {}.
                        entries.emplace_back(std::string(id), state_document::from_json(value));
                    } catch (const error& e) {
                        throw command_failure(exit_error, "state " + std::string(id) +
                                                              " in the import: " + e.what());
                    }
                }
                std::function<asio::awaitable<std::size_t>(state_store&)> body =
                    [&entries](state_store& store) { return store.import_all(entries); };
                const std::size_t count = run_with_store(s, body);
                log_line("Successfully imported " + std::to_string(count) + " state(s).");
                return exit_ok;
            };
        });
    }
}

} // namespace statestore::cli
