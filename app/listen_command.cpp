// `broadcast-server listen`: print what rooms publish until interrupted (or
// --count messages), like mosquitto_sub. Anonymous: no name, no presence of
// its own; gaps are still repaired from history. Made for scripts: only the
// rooms' messages reach stdout unless --presence asks for joins and leaves;
// trouble with the connection goes to stderr.
#include <cstdio>
#include <memory>
#include <string>

#include "client_cli.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"

namespace bcast::app {
namespace {

// The most --history may ask per room (what one history request returns).
constexpr std::size_t max_listen_history = 1000;

struct listen_args {
  client_args client;
  bool all = false;
  bool presence = false;
  std::size_t history = 0;
  std::uint64_t count = 0;
};

// Prints `e` if this listener shows it; returns an exit code that ends it.
std::optional<int> on_listen_event(const client::client_event& e, const listen_args& args,
                                   bool show_room, std::uint64_t& messages) {
  if (std::holds_alternative<client::presence_event>(e) && !args.presence) return std::nullopt;
  print_event(e, args.client, show_room);
  // A refused CURVE key or protocol version: nothing will ever come.
  if (const auto* error = std::get_if<client::error_event>(&e)) {
    if (auto fatal = fatal_exit_code(*error)) return fatal;
  }
  if (const auto* status = std::get_if<client::status_event>(&e);
      status && (status->what == client::status::unreachable ||
                 (status->what == client::status::no_requests && args.history > 0))) {
    return exit_unreachable;  // nothing will come, or not the backlog asked for
  }
  const bool counted = std::holds_alternative<client::message_event>(e);
  if (counted && ++messages == args.count) return exit_ok;
  return std::nullopt;
}

// Nothing answered on --in within --timeout: the backlog asked for cannot
// come. A port that refuses is told at once (no_requests); this is one that
// takes the connection and stays silent: the --out port, or another
// program's.
int no_backlog(const std::string& in_endpoint, const listen_args& args) {
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%g", args.client.timeout_s);
  const client::status_event silent{
      client::status::no_requests,
      "no answer on " + in_endpoint + " (--in) within " + seconds +
          " s: is --in right? --history needs the broker's request port"};
  print_event(silent, args.client, false);
  return exit_unreachable;
}

int run_listen(const listen_args& args) {
  stop_signals signals;
  if (args.history > 0 && args.all) {
    throw CLI::ValidationError("--history", "needs the rooms named with --room, not --all");
  }
  auto opts = to_options(args.client, args.all);
  opts.backlog = args.history;
  zmq::context_t context;
  client::connection conn(context, opts);
  const bool show_room = args.all || args.client.rooms.size() > 1;
  const auto started = std::chrono::steady_clock::now();
  bool warned = false;
  std::uint64_t messages = 0;
  const auto result = pump_events(
      conn, signals, std::nullopt,
      [&](const client::client_event& e) { return on_listen_event(e, args, show_room, messages); },
      [&]() -> std::optional<int> {
        const bool overdue = std::chrono::steady_clock::now() - started > timeout_of(args.client);
        if (overdue && args.history > 0 && !conn.requests_answered()) {
          return no_backlog(opts.in_endpoint, args);
        }
        if (!warned && !conn.ever_connected() && overdue) {
          std::fprintf(stderr, "broadcast-server: nothing heard from %s yet; still trying\n",
                       opts.out_endpoint.c_str());
          warned = true;
        }
        return std::nullopt;
      });
  return result.value_or(exit_ok);
}

}  // namespace

runner add_listen_command(CLI::App& app) {
  auto args = std::make_shared<listen_args>();
  auto* cmd = app.add_subcommand("listen", "Print what a room publishes, until interrupted");
  add_client_options(*cmd, args->client, option_set::anonymous);
  cmd->add_flag("--all", args->all, "Follow every room");
  cmd->add_flag("--presence", args->presence, "Also print who joins and leaves");
  cmd->add_option("--history", args->history,
                  "Print the newest N messages of each room first (0: none)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{0}, max_listen_history));
  cmd->add_option("--count", args->count, "Exit after this many messages (0: never)")
      ->capture_default_str();
  return [args] { return run_listen(*args); };
}

}  // namespace bcast::app
