// The interactive chat client: `connect` when stdin and stdout are a
// terminal. libedit (BSD-licensed readline interface) edits the input line;
// incoming messages are printed above it without disturbing what is being
// typed; slash commands run locally.
#pragma once

#include "bcast/client/connection.hpp"
#include "bcast/client/format.hpp"
#include "client_cli.hpp"

namespace bcast::app {

// Runs the chat until /quit, Ctrl-D, Ctrl-C or SIGTERM; returns the exit code.
int run_chat_terminal(client::connection& conn, const client_args& args, bool colour,
                      const stop_signals& signals);

}  // namespace bcast::app
