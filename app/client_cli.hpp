// What the client subcommands (connect, send, listen) share: how they find
// the broker, who they are, how they print, and how they notice Ctrl-C.
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bcast/client/connection.hpp"
#include "bcast/client/events.hpp"
#include "bcast/proto/limits.hpp"

namespace bcast::app {

struct client_args {
  std::string host = "localhost";
  std::string in{proto::default_in_port};
  std::string out{proto::default_out_port};
  std::string name;
  std::vector<std::string> rooms;
  std::string token;
  std::string token_file;
  std::string server_key_file;
  std::string key_file;
  double timeout_s = 10;
  bool json = false;
};

// The longest --timeout: a day (a longer wait is a mistake, not a plan).
inline constexpr double max_timeout_s = 86400;

enum class option_set { anonymous, named };

// Adds --host --in --out --room --timeout --json (and --name --token when
// `named`) to `cmd`.
void add_client_options(CLI::App& cmd, client_args& args, option_set set);

// Resolves endpoints and checks names; throws CLI::ValidationError.
[[nodiscard]] client::options to_options(const client_args& args, bool all_rooms = false);

// --name, or $USER, or guest-XXXX; throws CLI::ValidationError if invalid.
[[nodiscard]] std::string resolve_name(const client_args& args);

[[nodiscard]] std::chrono::milliseconds timeout_of(const client_args& args);

// True for the statuses that say the connection does not work as given
// (unreachable, no_broadcasts, no_requests): printed on stderr, their detail a sentence.
[[nodiscard]] bool is_trouble(const client::status_event& e);

// Prints `e` to stdout as text or JSON (nothing for events text mode does
// not show), one flushed line. Errors go to stderr in text mode.
void print_event(const client::client_event& e, const client_args& args, bool show_room);

class stop_signals;

// Runs `conn`, handing every event to `on_event`, until it returns an exit
// code, a stop signal arrives (the exit code `on_signal` gives for its
// number; without it 0), or `limit` passes (nullopt). `on_idle` runs after
// every wake-up; an exit code it returns ends the run.
std::optional<int> pump_events(client::connection& conn, const stop_signals& signals,
                               std::optional<std::chrono::milliseconds> limit,
                               const std::function<std::optional<int>(const client::client_event&)>& on_event,
                               const std::function<std::optional<int>()>& on_idle = {},
                               const std::function<int(int)>& on_signal = {});

// Maps an error the broker sent about our hello to an exit code, or nullopt
// when the error is about a single message.
[[nodiscard]] std::optional<int> fatal_exit_code(const client::error_event& e);

// Says bye when it goes out of scope, on every exit path: a client that
// fails must not keep its name taken until its session times out.
class leave_on_exit {
 public:
  explicit leave_on_exit(client::connection& conn) : conn_(conn) {}
  ~leave_on_exit() { conn_.leave(); }
  leave_on_exit(const leave_on_exit&) = delete;
  leave_on_exit& operator=(const leave_on_exit&) = delete;

 private:
  client::connection& conn_;
};

// SIGINT, SIGTERM and SIGHUP as a readable file descriptor (signalfd): blocked for
// the whole process so a poll loop can handle them like input.
class stop_signals {
 public:
  stop_signals();
  ~stop_signals();
  stop_signals(const stop_signals&) = delete;
  stop_signals& operator=(const stop_signals&) = delete;
  [[nodiscard]] int fd() const { return fd_; }
  // The number of a stop signal that arrived (taking it), or 0 when none did.
  [[nodiscard]] int take() const;

 private:
  int fd_ = -1;
};

}  // namespace bcast::app
