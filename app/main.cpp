// broadcast-server: parses the command line, runs one subcommand, and turns
// environment failures into one clear sentence and exit code 1. Also owns
// what the program says of itself: --version, and an unknown subcommand.
#include <msgpack/version.hpp>
#include <zmq.hpp>

#include <cstdio>
#include <exception>
#include <string>

#include "bcast/broker/log_history.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"
#include "version.hpp"

namespace {

// "broadcast-server 0.1.0 (git abc1234)" and the versions of what it is
// built on, for bug reports.
std::string version_text() {
  using namespace bcast::app;
  int major = 0;
  int minor = 0;
  int patch = 0;
  zmq_version(&major, &minor, &patch);
  std::string text = std::string("broadcast-server ") + project_version;
  if (*git_commit != '\0') text += std::string(" (git ") + git_commit + ")";
  text += "\nlibzmq " + std::to_string(major) + "." + std::to_string(minor) + "." +
          std::to_string(patch) + ", msgpack-c " + msgpack_version() +
          ", history store: segment log v" + std::to_string(bcast::broker::log_format_version());
  return text;
}

// The subcommands, for the line that says which exist.
std::string subcommand_list(const CLI::App& app) {
  std::string list;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    list += (list.empty() ? "" : ", ") + sub->get_name();
  }
  return list;
}

bool is_subcommand(const CLI::App& app, const std::string& word) {
  const auto found = app.get_subcommands([&](const CLI::App* sub) { return sub->check_name(word); });
  return !found.empty();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace bcast::app;
  CLI::App app{"broadcast-server: a chat-room broadcast server and client on ZeroMQ"};
  app.footer(exit_codes_help);
  app.set_version_flag("--version", version_text());
  app.require_subcommand(1);
  const runner start = add_start_command(app);
  const runner connect = add_connect_command(app);
  const runner send = add_send_command(app);
  const runner listen = add_listen_command(app);
  const runner keygen = add_keygen_command(app);
  // The first word that is not an option names the subcommand: one that
  // does not exist is said as such (CLI11 would call it an extra argument).
  if (argc > 1 && argv[1][0] != '-' && !is_subcommand(app, argv[1])) {
    std::fprintf(stderr, "broadcast-server: unknown subcommand '%s'; the subcommands are %s "
                 "(broadcast-server --help)\n", argv[1], subcommand_list(app).c_str());
    return exit_usage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? exit_ok : exit_usage;
  }
  try {
    if (app.got_subcommand("start")) return start();
    if (app.got_subcommand("connect")) return connect();
    if (app.got_subcommand("send")) return send();
    if (app.got_subcommand("keygen")) return keygen();
    return listen();
  } catch (const CLI::ValidationError& e) {
    std::fprintf(stderr, "broadcast-server: %s\n", e.what());
    return exit_usage;
  } catch (const zmq::error_t& e) {
    std::fprintf(stderr, "broadcast-server: %s\n", e.what());
    return exit_failure;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "broadcast-server: %s\n", e.what());
    return exit_failure;
  }
}
