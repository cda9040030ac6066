// The interactive chat client: `connect` when stdin and stdout are a
// terminal. A full-screen ncurses layout (chat_screen) of the followed
// rooms (chat_model), edited through chat_input; slash commands run locally
// (chat_session.hpp says which file owns which part).
#pragma once

#include <string>
#include <vector>

#include "bcast/client/connection.hpp"
#include "bcast/client/format.hpp"
#include "client_cli.hpp"

namespace bcast::app {

// Runs the chat until /quit, Ctrl-D on an empty line, Ctrl-C or a stop
// signal; returns the exit code. The terminal is restored on every path.
// `notices` are shown first in the message pane (a warning from before the
// chat started, such as crash resume being off).
int run_chat_terminal(client::connection& conn, const client_args& args, bool colour,
                      const stop_signals& signals, const std::vector<std::string>& notices = {});

}  // namespace bcast::app
