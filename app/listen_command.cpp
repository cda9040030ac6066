// `broadcast-server listen`: print what rooms publish until interrupted (or
// --count messages), like mosquitto_sub. Anonymous: no name, no presence;
// gaps are still repaired from history.
#include <cstdio>
#include <memory>

#include "client_cli.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"

namespace bcast::app {
namespace {

struct listen_args {
  client_args client;
  bool all = false;
  std::uint64_t count = 0;
};

int run_listen(const listen_args& args) {
  stop_signals signals;
  const auto opts = to_options(args.client, args.all);
  zmq::context_t context;
  client::connection conn(context, opts);
  const bool show_room = args.all || args.client.rooms.size() > 1;
  const auto started = std::chrono::steady_clock::now();
  bool warned = false;
  std::uint64_t messages = 0;
  const auto result = pump_events(
      conn, signals, std::nullopt,
      [&](const client::client_event& e) -> std::optional<int> {
        print_event(e, args.client, show_room);
        // A refused CURVE key or protocol version: nothing will ever come.
        if (const auto* error = std::get_if<client::error_event>(&e)) {
          if (auto fatal = fatal_exit_code(*error)) return fatal;
        }
        const bool counted = std::holds_alternative<client::message_event>(e);
        if (counted && ++messages == args.count) return exit_ok;
        return std::nullopt;
      },
      [&] {
        if (!warned && !conn.ever_connected() &&
            std::chrono::steady_clock::now() - started > timeout_of(args.client)) {
          std::fprintf(stderr, "broadcast-server: nothing heard from %s yet; still trying\n",
                       opts.out_endpoint.c_str());
          warned = true;
        }
      });
  return result.value_or(exit_ok);
}

}  // namespace

runner add_listen_command(CLI::App& app) {
  auto args = std::make_shared<listen_args>();
  auto* cmd = app.add_subcommand("listen", "Print what a room publishes, until interrupted");
  add_client_options(*cmd, args->client, option_set::anonymous);
  cmd->add_flag("--all", args->all, "Follow every room");
  cmd->add_option("--count", args->count, "Exit after this many messages (0: never)")
      ->capture_default_str();
  return [args] { return run_listen(*args); };
}

}  // namespace bcast::app
