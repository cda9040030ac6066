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

}  // namespace

void add_client_options(CLI::App& cmd, client_args& args, option_set set) {
  cmd.add_option("--host", args.host, "Broker host, for bare ports")->capture_default_str();
  cmd.add_option("--in", args.in, "Broker request port or ZeroMQ endpoint")->capture_default_str();
  cmd.add_option("--out", args.out, "Broker broadcast port or ZeroMQ endpoint")
      ->capture_default_str();
  cmd.add_option("--room", args.rooms, "Room to follow (repeatable; the first gets what you send)")
      ->default_str("lobby");
  cmd.add_option("--timeout", args.timeout_s, "Seconds to wait for the broker to answer")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
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
  const auto in = proto::resolve_endpoint(args.in, args.host);
  const auto out = proto::resolve_endpoint(args.out, args.host);
  if (!in) throw CLI::ValidationError("--in", "'" + args.in + "' is neither a port nor an endpoint");
  if (!out) {
    throw CLI::ValidationError("--out", "'" + args.out + "' is neither a port nor an endpoint");
  }
  opts.in_endpoint = *in;
  opts.out_endpoint = *out;
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
  client::line_style style;
  style.show_room = show_room;
  for (const auto& line : client::text_lines(e, style)) std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

std::optional<int> pump_events(
    client::connection& conn, const stop_signals& signals,
    std::optional<std::chrono::milliseconds> limit,
    const std::function<std::optional<int>(const client::client_event&)>& on_event,
    const std::function<void()>& on_idle) {
  const auto deadline = std::chrono::steady_clock::now() + limit.value_or(std::chrono::milliseconds(0));
  const int sig = signals.fd();
  while (!limit || std::chrono::steady_clock::now() < deadline) {
    if (!conn.wait(std::chrono::milliseconds(100), {&sig, 1}).empty()) return exit_ok;
    while (auto e = conn.next_event()) {
      if (auto code = on_event(*e)) return code;
    }
    if (on_idle) on_idle();
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
  // Blocked before any ZeroMQ thread starts, so every thread inherits it and
  // the signals wait in the fd instead of killing the process.
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  fd_ = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "signalfd");
}

stop_signals::~stop_signals() { ::close(fd_); }

}  // namespace bcast::app
