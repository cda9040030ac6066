// `broadcast-server start`: the broker. Opens the history store (a directory
// of segment files, converting a SQLite history file of an earlier version
// on the way, or memory only with --db :memory:), binds IN (ROUTER) and OUT (PUB),
// logs with spdlog to stderr (and --log-file), stops cleanly on SIGINT,
// SIGTERM or SIGHUP (taken by a sigwait thread): publishes `shutdown`,
// commits the history, lingers at most 500 ms, exits 0. SIGPIPE is ignored.
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <thread>

#include "bcast/broker/bind_error.hpp"
#include "bcast/broker/broker.hpp"
#include "bcast/broker/log_history.hpp"
#include "bcast/broker/memory_history.hpp"
#include "bcast/broker/sqlite_import.hpp"
#include "bcast/proto/clock.hpp"
#include "bcast/proto/endpoint.hpp"
#include "bcast/proto/limits.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"
#include "secret_file.hpp"
#include "signal_name.hpp"
#include "state_dir.hpp"

namespace bcast::app {
namespace {

// Durations given as seconds or with a unit: 90s, 30m, 12h, 7d.
CLI::AsNumberWithUnit seconds_with_units() {
  return CLI::AsNumberWithUnit(
      std::map<std::string, std::uint64_t>{{"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}},
      CLI::AsNumberWithUnit::CASE_SENSITIVE);
}

// The history directory in the state directory, and the file that held the
// history before (converted into the directory at the first start).
constexpr const char* default_history_dir = "rooms";
constexpr const char* earlier_history_file = "history.db";

struct start_args {
  std::string in{proto::default_in_port};
  std::string out{proto::default_out_port};
  std::string bind = "127.0.0.1";
  broker::options broker;
  std::size_t history_mb = broker::default_history_bytes >> 20;
  std::string db = state_file(default_history_dir);
  std::uint64_t retention_s = 0;
  std::uint64_t fsync_interval_ms = 1000;
  bool new_epoch = false;
  std::uint64_t name_grace_s = broker::default_name_grace_ms / 1000;
  std::uint64_t room_idle_s = broker::default_room_idle_ms / 1000;
  std::size_t reply_queue_mb = broker::default_reply_queue_bytes >> 20;
  std::size_t sub_queue_mb = broker::default_sub_queue_bytes >> 20;
  std::size_t sub_total_mb = broker::default_sub_total_bytes >> 20;
  std::size_t reply_total_mb = broker::default_reply_total_bytes >> 20;
  std::string join_token;
  std::string join_token_file;
  std::string curve_secret_file;
  double hellos_per_address = broker::default_hellos_per_address;
  double new_rooms_per_minute = broker::default_rooms_per_address * 60;
  std::string log_file;
  std::string log_level = "info";
};

// SIGINT, SIGTERM and SIGHUP, blocked in every thread (so no ZeroMQ call is
// ever interrupted) and taken by one thread that asks the broker to stop.
// SIGHUP (the terminal or ssh session that started the broker closed,
// logrotate) is a clean stop too: killed by it, the default mode's store
// would begin a new epoch at the next start. (A later version may make it
// reload a configuration file instead, once there is one.)
sigset_t stop_signal_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

// The address to bind for bare ports: an IP address or interface name as
// given ("*", "0.0.0.0", "::1", "eth0"); a host name such as `localhost`
// resolved here, since ZeroMQ binds addresses and interfaces only (its
// first IPv4 address, else its first IPv6 one).
std::string bind_address(const std::string& bind) {
  in6_addr ip{};
  const std::string bare = bind.size() > 2 && bind.front() == '[' && bind.back() == ']'
                               ? bind.substr(1, bind.size() - 2) : bind;
  if (bind == "*" || ::inet_pton(AF_INET, bare.c_str(), &ip) == 1 ||
      ::inet_pton(AF_INET6, bare.c_str(), &ip) == 1 || ::if_nametoindex(bind.c_str()) != 0) {
    return bind;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(bind.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) {
    throw CLI::ValidationError("--bind", "'" + bind + "' is neither an address, an interface nor a "
                                         "host name of this machine");
  }
  const addrinfo* chosen = found;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      chosen = a;
      break;
    }
  }
  char text[INET6_ADDRSTRLEN] = {};
  const void* raw = chosen->ai_family == AF_INET
                        ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(chosen->ai_addr)->sin_addr)
                        : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(chosen->ai_addr)->sin6_addr);
  ::inet_ntop(chosen->ai_family, raw, text, sizeof text);
  ::freeaddrinfo(found);
  return text;
}

void set_up_logging(const start_args& args) {
  std::vector<spdlog::sink_ptr> sinks{std::make_shared<spdlog::sinks::stderr_color_sink_mt>()};
  if (!args.log_file.empty()) {
    sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(args.log_file));
  }
  auto logger = std::make_shared<spdlog::logger>("broker", sinks.begin(), sinks.end());
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %l %v");
  logger->set_level(spdlog::level::from_str(args.log_level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

std::string endpoint_or_throw(const std::string& spec, const std::string& host, const char* flag) {
  auto endpoint = proto::resolve_endpoint(spec, host);
  if (!endpoint) {
    throw CLI::ValidationError(flag, "'" + spec + "' is neither a port nor a ZeroMQ endpoint");
  }
  return *endpoint;
}

constexpr const char* memory_db = ":memory:";

// File descriptors the broker keeps for itself beyond its connections
// (ZeroMQ's internal pipes and pollers, the history file, the log).
constexpr std::size_t reserved_fds = 64;

// Raises the soft limit on open files to the hard one (as Redis and nginx
// do), then lowers --max-connections if even that cannot hold them: past
// it accept() would fail with EMFILE and lock everyone out.
void fit_connections_to_fd_limit(broker::options& opts) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    ::getrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= opts.max_connections + reserved_fds) return;
  const std::size_t fit = limit.rlim_cur > 2 * reserved_fds ? limit.rlim_cur - reserved_fds : reserved_fds;
  spdlog::warn("open files are limited to {} (ulimit -n): --max-connections lowered from {} to {}",
               static_cast<std::uint64_t>(limit.rlim_cur), opts.max_connections, fit);
  opts.max_connections = fit;
}

// Converts a SQLite history file of an earlier version into the directory
// `dir` (through `dir`.converting, so a stop halfway leaves the file as it
// was), and says so.
void convert(const std::string& file, const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string partial = dir + ".converting";
  const std::string kept = file + ".sqlite";
  // Nothing of anyone else's is overwritten or deleted on the way.
  if (file == dir && fs::exists(fs::symlink_status(kept))) {
    throw std::runtime_error("cannot convert " + file + ": " + kept + " is in the way (move it)");
  }
  if (fs::exists(fs::symlink_status(partial))) {
    for (const auto& entry : fs::directory_iterator(partial)) {
      const auto name = entry.path().filename().string();
      if (name != "meta" && name != "meta.new" && !name.ends_with(".seg")) {
        throw std::runtime_error("cannot convert " + file + ": " + partial + " is in the way (move it)");
      }
    }
    fs::remove_all(partial);  // an earlier conversion that stopped halfway
  }
  const std::size_t messages = broker::import_sqlite_history(file, partial);
  if (file == dir) {
    fs::rename(file, kept);
    spdlog::info("history: {} was a history file of an earlier version: converted ({} messages) "
                 "into the directory {}; the old file is kept as {}.sqlite (delete it when you "
                 "no longer need it)", file, messages, dir, file);
  } else {
    spdlog::info("history: converted {} ({} messages, the history of an earlier version) into {}; "
                 "delete {} when you no longer need it", file, messages, dir, file);
  }
  fs::rename(partial, dir);
}

// The history directory to open: `--db`, after converting what an earlier
// version left there (or, for the default directory, beside it).
std::string history_dir(const start_args& args) {
  namespace fs = std::filesystem;
  const std::string& dir = args.db;
  // What cannot be looked at here is left to the store, which says why.
  std::error_code ec;
  const auto exists = [&ec](const std::string& path) { return fs::exists(path, ec); };
  if (fs::is_regular_file(dir, ec)) {
    if (!broker::is_sqlite_history(dir)) {
      throw std::runtime_error(dir + " is a file, not a history directory (nor a history file of "
                               "an earlier broadcast-server); it is left as it is. Give --db a "
                               "directory (created if missing)");
    }
    convert(dir, dir);
  } else if (!exists(dir) && fs::is_directory(dir + ".converting", ec) && exists(dir + ".sqlite")) {
    fs::rename(dir + ".converting", dir);  // a conversion stopped after its last step but one
  } else if (!exists(dir) && dir == state_file(default_history_dir)) {
    const std::string earlier = state_file(earlier_history_file);
    if (fs::is_regular_file(earlier, ec) && broker::is_sqlite_history(earlier)) convert(earlier, dir);
  }
  return dir;
}

std::unique_ptr<broker::history_store> open_history(const start_args& args) {
  const std::uint64_t max_age_ms = args.retention_s * 1000;
  if (args.db == memory_db) {
    return std::make_unique<broker::memory_history>(args.broker.history, args.broker.history_bytes,
                                                    proto::wall_ms(), max_age_ms);
  }
  broker::log_history_options opts;
  opts.dir = history_dir(args);
  opts.per_room = args.broker.history;
  opts.max_bytes = args.broker.history_bytes;
  opts.max_age_ms = max_age_ms;
  opts.durable = args.broker.durable;
  opts.new_epoch = args.new_epoch;
  opts.fsync_interval_ms = args.fsync_interval_ms;
  return std::make_unique<broker::log_history>(opts);
}

// True for an endpoint only this machine can reach (loopback, ipc, inproc).
bool local_only(const std::string& endpoint) {
  if (endpoint.rfind("tcp://", 0) != 0) return true;
  const std::string host = endpoint.substr(6, endpoint.rfind(':') - 6);
  return host.rfind("127.", 0) == 0 || host == "[::1]" || host == "localhost";
}

void warn_if_exposed(const std::string& endpoint, const broker::options& opts) {
  if (local_only(endpoint) || !opts.allow_dir.empty()) return;
  const char* unencrypted = opts.curve ? "" : ", unencrypted";
  if (opts.join_token) {
    spdlog::warn("listening beyond loopback ({}): the join token gates joining only; anyone who "
                 "can reach these ports reads every room{}. Use --curve-secret with --allow "
                 "(README \"Security\")", endpoint, unencrypted);
  } else {
    spdlog::warn("listening beyond loopback ({}) without --join-token or --allow: anyone who can "
                 "reach these ports can join under any free name and read every room{}. See "
                 "README \"Security\"", endpoint, unencrypted);
  }
}

int run_start(start_args& args) {
  const std::string host = bind_address(args.bind);
  args.broker.in_endpoint = endpoint_or_throw(args.in, host, "--in");
  args.broker.out_endpoint = endpoint_or_throw(args.out, host, "--out");
  const std::string& in = args.broker.in_endpoint;
  const bool ephemeral = in.ends_with(":0") || in.ends_with(":*");  // two binds, two ports
  if (in == args.broker.out_endpoint && !ephemeral) {
    throw CLI::ValidationError("--out", "is the same endpoint as --in (" + args.broker.in_endpoint +
                                            "): the broker needs two, e.g. --in 5555 --out 5556");
  }
  if (!args.curve_secret_file.empty()) {
    args.broker.curve = read_key_file(args.curve_secret_file, true, "--curve-secret");
  } else if (!args.broker.allow_dir.empty()) {
    throw CLI::ValidationError("--allow", "needs --curve-secret");
  }
  args.broker.hellos_per_address = args.hellos_per_address;
  args.broker.hello_burst_per_address = std::max(10 * args.hellos_per_address, 1.0);
  args.broker.rooms_per_address = args.new_rooms_per_minute / 60;
  args.broker.history_bytes = args.history_mb << 20;
  args.broker.name_grace_ms = args.name_grace_s * 1000;
  args.broker.room_idle_ms = args.room_idle_s * 1000;
  args.broker.reply_queue_bytes = args.reply_queue_mb << 20;
  args.broker.sub_queue_bytes = args.sub_queue_mb << 20;
  args.broker.sub_total_bytes = args.sub_total_mb << 20;
  args.broker.reply_total_bytes = args.reply_total_mb << 20;
  if (args.broker.max_text + 1024 > args.broker.max_frame) {
    throw CLI::ValidationError("--max-text", "must be at least 1 KiB below --max-frame");
  }
  const sigset_t stop_set = stop_signal_set();
  pthread_sigmask(SIG_BLOCK, &stop_set, nullptr);  // before any thread starts
  // A closed pipe or socket is an error to handle where it happens, never
  // a reason to die without committing the history.
  std::signal(SIGPIPE, SIG_IGN);
  set_up_logging(args);
  if (!args.join_token_file.empty()) {
    args.broker.join_token = read_secret_file(args.join_token_file, "--join-token-file");
  } else if (!args.join_token.empty()) {
    args.broker.join_token = args.join_token;
    if (std::getenv("BCAST_JOIN_TOKEN") == nullptr) {
      spdlog::warn("--join-token shows in ps and shell history: prefer --join-token-file");
    }
  }
  fit_connections_to_fd_limit(args.broker);

  if (args.db.empty()) {
    throw CLI::ValidationError("--db", "no state directory (" + state_dir_problem() +
                                       "): give a directory or :memory:");
  }
  if (args.broker.durable && args.db == memory_db) {
    throw CLI::ValidationError("--durable", "needs a history directory (--db DIR)");
  }
  if (args.new_epoch && args.db == memory_db) {
    throw CLI::ValidationError("--new-epoch", "needs a history directory (--db DIR)");
  }
  std::unique_ptr<broker::history_store> history;
  try {
    history = open_history(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "broadcast-server: history: %s\n", e.what());
    return exit_failure;
  }
  zmq::context_t context;
  std::unique_ptr<broker::broker> running;
  try {
    running = std::make_unique<broker::broker>(context, args.broker, *history);
  } catch (const broker::bind_error& e) {
    std::fprintf(stderr, "broadcast-server: %s\n", e.sentence(e.in_socket() ? "--in" : "--out").c_str());
    return exit_failure;
  }
  broker::broker& b = *running;
  std::printf("broadcast-server listening: in %s (ROUTER), out %s (PUB)\n",
              b.in_endpoint().c_str(), b.out_endpoint().c_str());
  std::fflush(stdout);
  warn_if_exposed(b.in_endpoint(), args.broker);
  spdlog::info("epoch {}, heartbeat {} ms, liveness {}, history {} per room in {}{}, max text {} B",
               history->epoch(), args.broker.heartbeat_ms, args.broker.liveness,
               args.broker.history, args.db, args.broker.durable ? " (durable)" : "",
               args.broker.max_text);

  std::atomic<bool> finished{false};
  std::thread signal_waiter([&] {
    int sig = 0;
    sigwait(&stop_set, &sig);
    if (finished) return;
    spdlog::info("stopping on {}", signal_name(sig));
    b.request_stop();
  });
  b.run();
  finished = true;
  pthread_kill(signal_waiter.native_handle(), SIGTERM);  // wakes its sigwait
  signal_waiter.join();
  return exit_ok;
}

}  // namespace

runner add_start_command(CLI::App& app) {
  auto args = std::make_shared<start_args>();
  auto* cmd = app.add_subcommand("start", "Run the broker");
  cmd->add_option("--in", args->in, "Port or ZeroMQ endpoint for client requests (ROUTER)")
      ->capture_default_str();
  cmd->add_option("--out", args->out, "Port or ZeroMQ endpoint for broadcasts (PUB)")
      ->capture_default_str();
  cmd->add_option("--bind", args->bind,
                  "Address, host name or interface for bare ports (localhost, ::1); 0.0.0.0 or "
                  ":: accepts other machines")
      ->capture_default_str();
  cmd->add_option("--heartbeat", args->broker.heartbeat_ms, "Heartbeat interval in ms")
      ->capture_default_str()
      ->check(CLI::Range(proto::min_hb_ivl_ms, proto::max_hb_ivl_ms));
  cmd->add_option("--liveness", args->broker.liveness,
                  "Silent heartbeat intervals before a session ends")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{1}, proto::max_liveness));
  cmd->add_option("--history", args->broker.history, "Messages kept per room")
      ->capture_default_str()
      ->check(CLI::Range(0, 10000000));
  cmd->add_option("--db", args->db,
                  "History directory, kept across restarts and crashes; :memory: keeps none")
      ->capture_default_str();
  cmd->add_flag("--durable", args->broker.durable,
                "Publish and acknowledge a message only once it is on disk (survives power loss)");
  cmd->add_option("--fsync-interval", args->fsync_interval_ms,
                  "Without --durable: ms between syncs to disk (what a power loss can take)")
      ->capture_default_str()
      ->check(CLI::Range(10, 60000));
  cmd->add_flag("--new-epoch", args->new_epoch,
                "Begin a new epoch, keeping the stored messages (after restoring a backup)");
  cmd->add_option("--retention", args->retention_s,
                  "Drop messages older than this (e.g. 90s, 30m, 12h, 7d; 0: no age limit)")
      ->capture_default_str()
      ->transform(seconds_with_units());
  cmd->add_option("--history-mb", args->history_mb,
                  "Memory for history over all rooms, MiB; past it the oldest messages go")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--max-text", args->broker.max_text, "Largest message text in bytes")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, proto::largest_max_text));
  cmd->add_option("--max-frame", args->broker.max_frame,
                  "Largest request frame in bytes; a larger one is answered too-large (one more "
                  "than 1 MiB larger drops its sender)")
      ->capture_default_str()
      ->check(CLI::Range(2048, 1 << 24));
  cmd->add_option("--pub-hwm", args->broker.pub_hwm,
                  "Publications (messages or packs) queued per subscriber before it misses some")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000000));
  cmd->add_option("--reply-queue-mb", args->reply_queue_mb,
                  "Replies (acks, history answers) queued for one peer, MiB; past it the peer "
                  "is cut as a slow consumer")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--reply-total-mb", args->reply_total_mb,
                  "Replies queued for all peers together, MiB; past it a peer over its share is cut")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--sub-queue-mb", args->sub_queue_mb,
                  "Publications (MiB) that may pass while a subscriber reads nothing; past it "
                  "the subscriber is cut as a slow consumer (it reconnects and fills the gap)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--sub-total-mb", args->sub_total_mb,
                  "Publications queued for all subscribers together, MiB; past it the one "
                  "that stopped reading longest ago is cut")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--max-connections", args->broker.max_connections,
                  "Connections on both sockets together (a client opens two); more are closed")
      ->capture_default_str()
      ->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--max-connections-per-address", args->broker.max_connections_per_address,
                  "Connections from one IP address; more are closed")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--rate", args->broker.rate, "Messages per second per session (0: no limit)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--burst", args->broker.burst, "Burst allowance with --rate (default: one second's worth)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--room-idle", args->room_idle_s,
                  "When the 4096-room table is full, a room without a message this long gives "
                  "its place to a new one (it keeps its numbering if used again; seconds, or "
                  "30s, 2m, 1h, 1d)")
      ->capture_default_str()
      ->transform(seconds_with_units())
      ->check(CLI::Range(0, 365 * 86400));
  cmd->add_option("--name-grace", args->name_grace_s,
                  "How long, after its session timed out, the name of a client that lost its "
                  "connection is kept for its session token (seconds, or 30s, 2m, 1h, 1d; 0: "
                  "freed at once)")
      ->capture_default_str()
      ->transform(seconds_with_units())
      ->check(CLI::Range(0, 86400));
  cmd->add_option("--join-token", args->join_token,
                  "Require this token in every hello (clients pass --token); visible in ps: "
                  "prefer --join-token-file or BCAST_JOIN_TOKEN")
      ->envname("BCAST_JOIN_TOKEN");
  cmd->add_option("--join-token-file", args->join_token_file,
                  "File whose first line is the join token (mode 600)");
  cmd->add_option("--curve-secret", args->curve_secret_file,
                  "The broker's key file (NAME.key_secret, from keygen): both sockets encrypt "
                  "with CURVE; clients pass --server-key NAME.key");
  cmd->add_option("--allow", args->broker.allow_dir,
                  "With --curve-secret: admit only the client keys in this directory; "
                  "DIR/NAME.key may join only as NAME (re-read when it changes)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--hello-rate", args->hellos_per_address,
                  "Hellos per second from one IP address, with bursts of ten seconds' worth; a "
                  "wrong join token costs ten")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 1e6));
  cmd->add_option("--room-rate", args->new_rooms_per_minute,
                  "New rooms per minute one IP address may create, after a first 256 (0: no limit)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6));
  cmd->add_option("--log-file", args->log_file, "Also append the log to this file");
  cmd->add_option("--log-level", args->log_level, "trace, debug, info, warn, error, critical or off")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  cmd->footer(exit_codes_help);
  return [args] { return run_start(*args); };
}

}  // namespace bcast::app
