// broadcast-server: parses the command line, runs one subcommand, and turns
// environment failures into one clear sentence and exit code 1.
#include <zmq.hpp>

#include <cstdio>
#include <exception>

#include "commands.hpp"
#include "exit_codes.hpp"

int main(int argc, char** argv) {
  using namespace bcast::app;
  CLI::App app{"broadcast-server: a chat-room broadcast server and client on ZeroMQ"};
  app.footer(exit_codes_help);
  app.require_subcommand(1);
  const runner start = add_start_command(app);
  const runner connect = add_connect_command(app);
  const runner send = add_send_command(app);
  const runner listen = add_listen_command(app);
  const runner keygen = add_keygen_command(app);
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
