// `broadcast-server send`: one message (or a private one with --to), sent
// and acknowledged, then bye. Quiet on success, like mosquitto_pub.
#include <cstdio>
#include <memory>

#include "bcast/proto/validate.hpp"
#include "client_cli.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"

namespace bcast::app {
namespace {

struct send_args {
  client_args client;
  std::vector<std::string> words;
  std::string to;
};

int run_send(const send_args& args) {
  stop_signals signals;
  std::string text;
  for (const auto& word : args.words) text += (text.empty() ? "" : " ") + word;
  if (!proto::is_valid_utf8(text)) throw CLI::ValidationError("TEXT", "is not valid UTF-8");
  auto opts = to_options(args.client);
  opts.name = resolve_name(args.client);
  zmq::context_t context;
  client::connection conn(context, opts);
  const leave_on_exit leave(conn);
  // Sent once the welcome tells the broker's --max-text: a longer text is
  // refused here, at once, instead of by the broker.
  std::optional<std::uint64_t> id;
  const auto result = pump_events(conn, signals, timeout_of(args.client),
                                  [&](const client::client_event& e) -> std::optional<int> {
    if (const auto* status = std::get_if<client::status_event>(&e);
        status && status->what == client::status::joined && !id) {
      if (const auto why = conn.why_unsendable(text)) {
        std::fprintf(stderr, "broadcast-server: not sent: the text %s\n", why->c_str());
        return exit_refused;
      }
      id = args.to.empty() ? conn.send(text) : conn.send_dm(args.to, text);
    }
    if (const auto* ack = std::get_if<client::ack_event>(&e); ack && id && ack->id == *id) {
      if (args.client.json) print_event(e, args.client, false);
      return exit_ok;
    }
    if (const auto* error = std::get_if<client::error_event>(&e)) {
      print_event(e, args.client, false);
      return fatal_exit_code(*error).value_or(exit_refused);
    }
    return std::nullopt;
  });
  if (result) return *result;
  std::fprintf(stderr, "broadcast-server: no acknowledgement from the broker at %s within %.1f s\n",
               opts.in_endpoint.c_str(), args.client.timeout_s);
  return exit_unreachable;
}

}  // namespace

runner add_send_command(CLI::App& app) {
  auto args = std::make_shared<send_args>();
  auto* cmd = app.add_subcommand("send", "Send one message and wait for its acknowledgement");
  add_client_options(*cmd, args->client, option_set::named);
  cmd->add_option("--to", args->to, "Send privately to this person instead of the room");
  cmd->add_option("TEXT", args->words, "The message text")->required();
  return [args] { return run_send(*args); };
}

}  // namespace bcast::app
