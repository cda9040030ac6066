// `broadcast-server send`: one message (or a private one with --to), sent
// and acknowledged, then bye. Quiet on success, like mosquitto_pub. The
// text is the arguments, or all of stdin (one message, like mosquitto_pub
// -s) when there are none or the only one is "-".
#include <unistd.h>

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <optional>
#include <system_error>
#include <variant>

#include "bcast/proto/limits.hpp"
#include "bcast/proto/validate.hpp"
#include "client_cli.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"
#include "signal_name.hpp"

namespace bcast::app {
namespace {

struct send_args {
  client_args client;
  std::vector<std::string> words;
  std::string to;
};

// All of stdin, at most `limit` + 1 bytes (more says it is too long); or
// the number of the stop signal that came first (a pipe that never ends).
std::variant<std::string, int> read_stdin(std::size_t limit, const stop_signals& signals) {
  std::string text;
  char buffer[65536];
  while (text.size() <= limit) {
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {signals.fd(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "reading stdin");
    }
    if (fds[1].revents != 0) {
      if (const int sig = signals.take(); sig != 0) return sig;
      continue;  // another thread took it first: poll again
    }
    const ssize_t n = ::read(STDIN_FILENO, buffer, std::min(sizeof buffer, limit + 1 - text.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::system_error(errno, std::generic_category(), "reading stdin");
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  return text;
}

// The message: the words, or stdin without its final line end; or the
// number of the stop signal that came while reading stdin.
std::variant<std::string, int> text_of(const send_args& args, const stop_signals& signals) {
  const bool from_stdin = args.words.empty() || (args.words.size() == 1 && args.words[0] == "-");
  std::string text;
  if (!from_stdin) {
    for (const auto& word : args.words) text += (text.empty() ? "" : " ") + word;
    return text;
  }
  if (::isatty(STDIN_FILENO) != 0) {
    throw CLI::ValidationError("TEXT", "give the message as arguments, or pipe it on stdin");
  }
  auto read = read_stdin(proto::largest_max_text, signals);
  if (const int* sig = std::get_if<int>(&read)) return *sig;
  text = std::move(std::get<std::string>(read));
  if (text.size() > proto::largest_max_text) {
    throw CLI::ValidationError("TEXT", "stdin holds more than " +
                                           std::to_string(proto::largest_max_text) +
                                           " bytes, more than any broker takes");
  }
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  if (text.empty()) throw CLI::ValidationError("TEXT", "stdin held no text to send");
  return text;
}

int run_send(const send_args& args) {
  stop_signals signals;
  const auto read = text_of(args, signals);
  if (const int* sig = std::get_if<int>(&read)) {
    // Stopped before the text was whole: a script must not take it as sent.
    std::fprintf(stderr, "broadcast-server: stopped by %s while reading stdin: nothing was sent\n",
                 signal_name(*sig));
    return exit_signal_base + *sig;
  }
  const std::string& text = std::get<std::string>(read);
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
  }, [&](int sig) {
    // Acked is delivered. Otherwise a script must not take it as sent; if it
    // went out, the broker may still have it, so say which.
    if (acked) return exit_ok;
    std::fprintf(stderr, "broadcast-server: stopped by %s %s\n", signal_name(sig),
                 id ? "before the broker acknowledged the message: it may or may not have been delivered"
                    : "before the message was sent: nothing was sent");
    return exit_signal_base + sig;
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
