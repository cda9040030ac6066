// The names of the signals every subcommand stops on, for what it says
// about them (the broker's log, send's "stopped by SIGTERM").
#pragma once

#include <signal.h>

namespace bcast::app {

// "SIGINT", "SIGTERM" or "SIGHUP"; "a signal" for any other.
inline const char* signal_name(int sig) {
  switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "a signal";
  }
}

}  // namespace bcast::app
