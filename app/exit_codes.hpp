// The exit codes of every subcommand; `--help` and the README list them.
#pragma once

namespace bcast::app {

inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;      // environment: cannot bind, bad file
inline constexpr int exit_usage = 2;        // bad options or arguments
inline constexpr int exit_unreachable = 3;  // no broker answer within --timeout
inline constexpr int exit_name = 4;         // name taken or invalid
inline constexpr int exit_refused = 5;      // broker refused a request (protocol error)
// `send` stopped by signal N before its message was acknowledged: 128 + N,
// as a shell reports a command a signal ended (130 Ctrl-C, 143 SIGTERM).
inline constexpr int exit_signal_base = 128;

inline constexpr const char* exit_codes_help =
    "Exit codes: 0 ok, 1 failure (cannot bind, cannot open a file), 2 usage error,\n"
    "3 broker not reachable or not answering within --timeout, 4 name taken or\n"
    "invalid, 5 the broker refused a message or request (too large, bad input,\n"
    "unauthorized, wrong protocol version), 128+N send stopped by signal N before\n"
    "its message was acknowledged (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP).";

}  // namespace bcast::app
