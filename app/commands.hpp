// The subcommands of `broadcast-server`. Each adds its options to the CLI
// and returns a runner to call once parsing succeeded.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace bcast::app {

using runner = std::function<int()>;

runner add_start_command(CLI::App& app);
runner add_connect_command(CLI::App& app);
runner add_send_command(CLI::App& app);
runner add_listen_command(CLI::App& app);
runner add_keygen_command(CLI::App& app);

}  // namespace bcast::app
