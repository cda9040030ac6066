// Shared option handling and output for the client subcommands.
#include "client_cli.hpp"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <system_error>

#include "bcast/client/format.hpp"
#include "bcast/proto/endpoint.hpp"
#include "bcast/proto/error_code.hpp"
#include "bcast/proto/validate.hpp"
#include "exit_codes.hpp"
#include "secret_file.hpp"

namespace bcast::app {
namespace {

// $USER when it is a valid name, else guest-XXXX.
std::string default_name() {
  const char* user = std::getenv("USER");
  if (user != nullptr && !proto::check_name(user)) return user;
  std::random_device rd;
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "guest-%04x", static_cast<unsigned>(rd() & 0xFFFF));
  return buffer;
}

// A number of seconds above 0: CLI::PositiveNumber would print the range
// of a double (309 digits) for 0 or "abc".
const CLI::Validator seconds_above_zero(
    [](const std::string& text) -> std::string {
      char* end = nullptr;
      const double value = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || !(value > 0) || value > max_timeout_s) {
        return "a number of seconds above 0, e.g. 10 (at most a day), not '" + text + "'";
      }
      return {};
    },
    "SECONDS>0");

// "host:port" or "[v6]:port" as a tcp endpoint; nullopt when `spec` is not one.
std::optional<std::string> host_port(const std::string& spec) {
  const auto colon = spec.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == spec.size()) return std::nullopt;
  const std::string host = spec.substr(0, colon);
  const bool bracketed = host.front() == '[' && host.back() == ']';
  if (!bracketed && host.find(':') != std::string::npos) return std::nullopt;
  if (!proto::resolve_endpoint(spec.substr(colon + 1), "h")) return std::nullopt;  // the port
  return "tcp://" + spec;
}

// --in/--out as an endpoint: a full endpoint, host:port, or a bare port on
// --host.
std::string endpoint_of(const std::string& spec, const std::string& host, const char* flag) {
  const auto scheme = spec.find("://");
  if (scheme != std::string::npos && spec.compare(0, scheme, "tcp") != 0 &&
      spec.compare(0, scheme, "ipc") != 0 && spec.compare(0, scheme, "inproc") != 0) {
    throw CLI::ValidationError(flag, "'" + spec + "': the broker speaks tcp:// and ipc:// only");
  }
  if (auto endpoint = proto::resolve_endpoint(spec, host)) return *endpoint;
  if (auto endpoint = host_port(spec)) return *endpoint;
  throw CLI::ValidationError(flag, "'" + spec + "' is neither a port (5555), host:port "
                                   "(example.org:5555, [::1]:5555) nor a ZeroMQ endpoint "
                                   "(tcp://host:5555, ipc:///path)");
}

}  // namespace

void add_client_options(CLI::App& cmd, client_args& args, option_set set) {
  // Precedence: the flag, then the environment, then the default.
  cmd.add_option("--host", args.host, "Broker host, for bare ports (a name, 10.0.0.5, ::1)")
      ->capture_default_str()
      ->envname("BCAST_HOST");
  cmd.add_option("--in", args.in, "Broker request port, host:port or ZeroMQ endpoint")
      ->capture_default_str()
      ->envname("BCAST_IN");
  cmd.add_option("--out", args.out, "Broker broadcast port, host:port or ZeroMQ endpoint")
      ->capture_default_str()
      ->envname("BCAST_OUT");
  // One room per --room: `--room ops "deploy ok"` leaves the text alone.
  cmd.add_option("--room", args.rooms, "Room to follow (repeatable; the first gets what you send)")
      ->default_str("lobby")
      ->allow_extra_args(false);
  cmd.add_option("--timeout", args.timeout_s, "Seconds to wait for the broker to answer")
      ->capture_default_str()
      ->check(seconds_above_zero);
  cmd.add_flag("--json", args.json, "Print one JSON object per event");
  cmd.add_option("--server-key", args.server_key_file,
                 "The broker's public key file (NAME.key): encrypt with CURVE");
  cmd.add_option("--key", args.key_file,
                 "Your key file (NAME.key_secret, from keygen), for a broker that admits keys");
  if (set == option_set::named) {
    cmd.add_option("--name", args.name, "Your name in the room")->default_str("$USER");
    cmd.add_option("--token", args.token,
                   "Join token, when the broker requires one (visible in ps: prefer "
                   "--token-file or BCAST_TOKEN)")
        ->envname("BCAST_TOKEN");
    cmd.add_option("--token-file", args.token_file,
                   "File whose first line is the join token (mode 600)");
  }
  cmd.footer(exit_codes_help);
}

client::options to_options(const client_args& args, bool all_rooms) {
  client::options opts;
  opts.in_endpoint = endpoint_of(args.in, args.host, "--in");
  opts.out_endpoint = endpoint_of(args.out, args.host, "--out");
  for (const auto& room : args.rooms) {
    if (auto why = proto::check_room(room)) throw CLI::ValidationError("--room", std::string(*why));
  }
  opts.rooms = args.rooms;
  opts.all_rooms = all_rooms;
  if (!args.server_key_file.empty()) {
    opts.server_key = read_key_file(args.server_key_file, false, "--server-key");
  }
  if (!args.key_file.empty()) {
    if (!opts.server_key) throw CLI::ValidationError("--key", "needs --server-key");
    opts.key = read_key_file(args.key_file, true, "--key");
  }
  if (!args.token_file.empty()) {
    opts.token = read_secret_file(args.token_file, "--token-file");
  } else if (!args.token.empty()) {
    opts.token = args.token;
  }
  return opts;
}

std::chrono::milliseconds timeout_of(const client_args& args) {
  return std::chrono::milliseconds(static_cast<long long>(args.timeout_s * 1000));
}

std::string resolve_name(const client_args& args) {
  std::string name = args.name.empty() ? default_name() : args.name;
  if (auto why = proto::check_name(name)) throw CLI::ValidationError("--name", std::string(*why));
  return name;
}

void print_event(const client::client_event& e, const client_args& args, bool show_room) {
  if (args.json) {
    std::printf("%s\n", client::json_line(e).c_str());
    std::fflush(stdout);
    return;
  }
  if (const auto* error = std::get_if<client::error_event>(&e)) {
    std::fprintf(stderr, "broadcast-server: %s: %s\n", client::sanitize(error->code).c_str(),
                 client::sanitize(error->reason).c_str());
    return;
  }
  // Trouble with the connection is not part of the room: stderr, so a
  // script's output holds only what the room said.
  if (const auto* status = std::get_if<client::status_event>(&e); status && is_trouble(*status)) {
    std::fprintf(stderr, "broadcast-server: %s\n", status->detail.c_str());
    return;
  }
  client::line_style style;
  style.show_room = show_room;
  for (const auto& line : client::text_lines(e, style)) std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

bool is_trouble(const client::status_event& e) {
  return e.what == client::status::unreachable || e.what == client::status::no_broadcasts ||
         e.what == client::status::no_requests;
}

std::optional<int> pump_events(
    client::connection& conn, const stop_signals& signals,
    std::optional<std::chrono::milliseconds> limit,
    const std::function<std::optional<int>(const client::client_event&)>& on_event,
    const std::function<std::optional<int>()>& on_idle, const std::function<int(int)>& on_signal) {
  const auto deadline = std::chrono::steady_clock::now() + limit.value_or(std::chrono::milliseconds(0));
  const int sig = signals.fd();
  while (!limit || std::chrono::steady_clock::now() < deadline) {
    if (!conn.wait(std::chrono::milliseconds(100), {&sig, 1}).empty()) {
      const int number = signals.take();
      if (number == 0) continue;  // another thread took it first
      return on_signal ? on_signal(number) : exit_ok;
    }
    while (auto e = conn.next_event()) {
      if (auto code = on_event(*e)) return code;
    }
    if (on_idle) {
      if (auto code = on_idle()) return code;
    }
  }
  return std::nullopt;
}

std::optional<int> fatal_exit_code(const client::error_event& e) {
  if (e.id) return std::nullopt;
  using proto::error_code;
  const auto code = proto::error_code_from_string(e.code);
  if (code == error_code::name_taken || code == error_code::invalid_name) return exit_name;
  if (code == error_code::version || code == error_code::unauthorized ||
      code == error_code::session_moved ||
      code == error_code::bad_request || code == error_code::invalid_room) {
    return exit_refused;
  }
  return std::nullopt;
}

stop_signals::stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  // The terminal (or ssh session) closed: leave with bye like on Ctrl-C.
  sigaddset(&set, SIGHUP);
  // Blocked before any ZeroMQ thread starts, so every thread inherits it and
  // the signals wait in the fd instead of killing the process.
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  fd_ = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "signalfd");
}

stop_signals::~stop_signals() { ::close(fd_); }

int stop_signals::take() const {
  signalfd_siginfo info{};
  if (::read(fd_, &info, sizeof info) != static_cast<ssize_t>(sizeof info)) return 0;
  return static_cast<int>(info.ssi_signo);
}

}  // namespace bcast::app
