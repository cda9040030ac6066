// `broadcast-server send`: one message (or a private one with --to), sent
// and acknowledged, then bye. Quiet on success, like mosquitto_pub. The
// text is the arguments, or all of stdin (one message, like mosquitto_pub
// -s) when there are none or the only one is "-".
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <iterator>
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

// The message: the words, or stdin without its final line end.
std::string text_of(const send_args& args) {
  const bool from_stdin = args.words.empty() || (args.words.size() == 1 && args.words[0] == "-");
  std::string text;
  if (!from_stdin) {
    for (const auto& word : args.words) text += (text.empty() ? "" : " ") + word;
    return text;
  }
  if (::isatty(STDIN_FILENO) != 0) {
    throw CLI::ValidationError("TEXT", "give the message as arguments, or pipe it on stdin");
  }
  text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  if (text.empty()) throw CLI::ValidationError("TEXT", "stdin held no text to send");
  return text;
}

int run_send(const send_args& args) {
  stop_signals signals;
  const std::string text = text_of(args);
  if (!proto::is_valid_utf8(text)) throw CLI::ValidationError("TEXT", "is not valid UTF-8");
  auto opts = to_options(args.client);
  opts.name = resolve_name(args.client);
  zmq::context_t context;
  client::connection conn(context, opts);
  const leave_on_exit leave(conn);
  // Sent once the welcome tells the broker's --max-text: a longer text is
  // refused here, at once, instead of by the broker.
  std::optional<std::uint64_t> id;
  // Acked, but a room message is done only once the broadcast side is known
  // to work (or known not to: then a warning, and still exit 0, so a script
  // does not send it twice).
  bool acked = false;
  const auto result = pump_events(conn, signals, timeout_of(args.client),
                                  [&](const client::client_event& e) -> std::optional<int> {
    if (const auto* status = std::get_if<client::status_event>(&e); status && is_trouble(*status)) {
      print_event(e, args.client, false);
      if (status->what == client::status::unreachable) return exit_unreachable;
      if (acked) return exit_ok;
    }
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
      acked = true;
      if (!args.to.empty() || conn.broadcasts_arrive() || conn.broadcasts_missing()) return exit_ok;
    }
    if (const auto* error = std::get_if<client::error_event>(&e)) {
      print_event(e, args.client, false);
      return fatal_exit_code(*error).value_or(exit_refused);
    }
    return std::nullopt;
  }, [&]() -> std::optional<int> {
    if (acked && conn.broadcasts_arrive()) return exit_ok;
    return std::nullopt;
  });
  if (result) return *result;
  if (acked) return exit_ok;  // delivered; the broadcast side only stayed unproven
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
  cmd->add_option("TEXT", args->words,
                  "The message text; without it (or with -) all of stdin is one message");
  return [args] { return run_send(*args); };
}

}  // namespace bcast::app
