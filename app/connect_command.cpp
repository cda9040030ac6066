// `broadcast-server connect`: join a room as a person or a script. Each
// stdin line is sent as a message (retried until acked); everything the
// followed rooms and `sys/` publish is printed. At end of input it waits
// until its messages are acked and shown, says bye and exits 0.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "chat_terminal.hpp"
#include "client_cli.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"
#include "saved_session.hpp"
#include "signal_name.hpp"

namespace bcast::app {
namespace {

using clock = std::chrono::steady_clock;

// How long one wait lasts before deadlines are checked again.
constexpr std::chrono::milliseconds step{100};
// Stdin is not read while this many lines wait for their ack (a broker gone
// or rate-limiting): the pipe then pushes back on the writer, instead of the
// lines filling memory (4 in-flight windows; at most 60 MB of text).
constexpr std::size_t max_unacked_lines = 1024;

// Splits what stdin delivers into lines and checks each before it is sent.
class line_reader {
 public:
  // Reads what is available; returns false at end of input.
  bool read_available(std::vector<std::string>& lines) {
    char chunk[65536];
    const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    if (n == 0) {
      if (!partial_.empty()) lines.push_back(std::move(partial_));
      partial_.clear();
      return false;
    }
    // Only the new bytes are searched: a long line without a newline costs
    // linear time, not a scan of everything before it on every read.
    std::size_t from = partial_.size();
    partial_.append(chunk, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (std::size_t nl; (nl = partial_.find('\n', from)) != std::string::npos; start = from = nl + 1) {
      lines.push_back(partial_.substr(start, nl - start));
    }
    partial_.erase(0, start);
    return true;
  }

 private:
  std::string partial_;
};

struct session_run {
  const client_args& args;
  client::connection& conn;
  int exit_code = exit_ok;
  std::size_t line_number = 0;
  std::map<std::uint64_t, std::size_t> line_of_id;  // for refusals from the broker

  // Sends one input line, or says on stderr why it cannot be sent.
  void send_line(std::string line) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) return;
    if (auto why = conn.why_unsendable(line)) {
      refuse(*why);
    } else {
      line_of_id[conn.send(std::move(line))] = line_number;
    }
  }

  void refuse(const std::string& why) {
    std::fprintf(stderr, "broadcast-server: line %zu not sent: it %s\n", line_number, why.c_str());
    exit_code = exit_refused;
  }

  // A message the broker refused: said with its input line number.
  void report_refused(const client::error_event& error) {
    exit_code = exit_refused;
    const auto line = error.id ? line_of_id.find(*error.id) : line_of_id.end();
    if (args.json || line == line_of_id.end()) {
      print_event(error, args, false);
      return;
    }
    std::fprintf(stderr, "broadcast-server: line %zu refused: %s: %s\n", line->second,
                 client::sanitize(error.code).c_str(), client::sanitize(error.reason).c_str());
  }

  // Prints pending events; returns an exit code when one ends the session.
  std::optional<int> print_events() {
    const bool show_room = args.rooms.size() > 1;
    while (auto e = conn.next_event()) {
      if (const auto* error = std::get_if<client::error_event>(&*e)) {
        if (auto fatal = fatal_exit_code(*error)) {
          print_event(*e, args, show_room);
          return fatal;
        }
        report_refused(*error);
        continue;
      }
      if (const auto* ack = std::get_if<client::ack_event>(&*e)) {
        line_of_id.erase(ack->id);
        if (!args.json) continue;
      }
      // A connect keeps trying for --timeout: a broker started a moment
      // later is still joined.
      if (const auto* status = std::get_if<client::status_event>(&*e);
          status && status->what == client::status::unreachable && !args.json) {
        std::fprintf(stderr, "broadcast-server: %s; still trying for %g s\n",
                     status->detail.c_str(), args.timeout_s);
        continue;
      }
      print_event(*e, args, show_room);
    }
    return std::nullopt;
  }
};

struct connect_args {
  client_args client;
  int history = -1;  // -1: 20 on a terminal, 0 in a pipe
  bool no_color = false;
};

// A person at a terminal gets the chat; a pipe gets line-per-event output.
bool interactive(const connect_args& args) {
  return !args.client.json && ::isatty(STDIN_FILENO) != 0 && ::isatty(STDOUT_FILENO) != 0;
}

// Colour on a terminal only, and never with NO_COLOR (https://no-color.org).
bool use_colour(const connect_args& args) {
  const char* no_color = std::getenv("NO_COLOR");
  return !args.no_color && (no_color == nullptr || *no_color == '\0');
}

int run_script(client::connection& conn, const client_args& args, const stop_signals& signals,
               const std::string& in_endpoint);

int run_connect(const connect_args& args) {
  stop_signals signals;
  const bool person = interactive(args);
  auto opts = to_options(args.client);
  opts.name = resolve_name(args.client);
  opts.backlog = static_cast<std::size_t>(args.history >= 0 ? args.history : (person ? 20 : 0));
  // Declared before the connection: a normal exit says bye, then forgets it.
  saved_session saved(opts.name, opts.in_endpoint);
  // Said once, at start (and in the chat's pane): the run goes on without it.
  std::vector<std::string> warnings;
  if (!saved.problem().empty()) {
    std::fprintf(stderr, "broadcast-server: %s\n", saved.problem().c_str());
    warnings.push_back(saved.problem());
  }
  opts.resume_session = saved.token();
  opts.first_id = saved.first_id();
  zmq::context_t context;
  client::connection conn(context, opts);
  conn.on_session([&saved](const std::string& token, std::uint64_t first_unused_id) {
    saved.save(token, first_unused_id);
  });
  const leave_on_exit leave(conn);
  if (person) return run_chat_terminal(conn, args.client, use_colour(args), signals, warnings);
  return run_script(conn, args.client, signals, opts.in_endpoint);
}

// The exit code when signal `sig` stops a run in a pipe: a script must not
// take lines still unacknowledged as sent (128 + N, as `send` does).
int stopped(int sig, const client::connection& conn, int exit_code) {
  if (sig == 0 || conn.unacked() == 0) return exit_code;
  std::fprintf(stderr, "broadcast-server: stopped by %s with %zu message(s) not acknowledged: "
               "they may or may not have been delivered\n", signal_name(sig), conn.unacked());
  return exit_signal_base + sig;
}

int run_script(client::connection& conn, const client_args& args, const stop_signals& signals,
               const std::string& in_endpoint) {
  session_run run{args, conn, exit_ok, 0, {}};
  line_reader reader;

  const auto timeout = timeout_of(args);
  const auto started = clock::now();
  std::optional<clock::time_point> input_ended;
  // The last time a message was acknowledged: --timeout counts from there,
  // so a rate-limited run that keeps going is never cut off (its retried
  // messages would then be reported unacknowledged and sent twice).
  clock::time_point progressed = started;
  std::size_t unacked = 0;
  while (true) {
    std::vector<int> fds{signals.fd()};
    // Input is read once joined: lines are checked against the broker's own
    // max_text, told in its welcome.
    if (!input_ended && conn.ever_connected() && conn.unacked() < max_unacked_lines) {
      fds.push_back(STDIN_FILENO);
    }
    const auto ready = conn.wait(step, fds);
    if (auto fatal = run.print_events()) return *fatal;
    for (const int fd : ready) {
      if (fd == signals.fd()) return stopped(signals.take(), conn, run.exit_code);
      std::vector<std::string> lines;
      if (!reader.read_available(lines)) input_ended = clock::now();
      for (auto& line : lines) run.send_line(std::move(line));
    }
    const auto now = clock::now();
    if (conn.unacked() < unacked) progressed = now;
    unacked = conn.unacked();
    if (!conn.ever_connected() && now - started > timeout) {
      std::fprintf(stderr, "broadcast-server: no answer from the broker at %s within %g s\n",
                   in_endpoint.c_str(), args.timeout_s);
      return exit_unreachable;
    }
    // Acked is delivered: without broadcasts (said already) there is
    // nothing more to wait for, and a script must not send it again.
    const bool shown = conn.caught_up() || conn.broadcasts_missing();
    if (input_ended && conn.unacked() == 0 && shown) return run.exit_code;
    if (input_ended && now - std::max(*input_ended, progressed) > timeout) {
      if (conn.unacked() == 0) {
        std::fprintf(stderr, "broadcast-server: every message was acknowledged (delivered), but "
                     "not all came back on the broadcast side within %g s\n", args.timeout_s);
        return run.exit_code;
      }
      std::fprintf(stderr, "broadcast-server: %zu message(s) not acknowledged by the broker at "
                   "%s: no acknowledgement for %g s\n", conn.unacked(), in_endpoint.c_str(),
                   args.timeout_s);
      return exit_unreachable;
    }
  }
}

}  // namespace

runner add_connect_command(CLI::App& app) {
  auto args = std::make_shared<connect_args>();
  auto* cmd = app.add_subcommand(
      "connect", "Join a room: chat at a terminal, or send stdin lines and print the room");
  add_client_options(*cmd, args->client, option_set::named);
  cmd->add_option("--history", args->history,
                  "Messages of each room shown on joining (default: 20 at a terminal, 0 in a pipe)")
      ->check(CLI::Range(0, 1000));
  cmd->add_flag("--no-color", args->no_color, "No colours (NO_COLOR in the environment does the same)");
  return [args] { return run_connect(*args); };
}

}  // namespace bcast::app
