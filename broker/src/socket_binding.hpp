// Binding the broker's two sockets without surprises: an ipc:// path that a
// running broker listens on, or that is not a socket at all, is refused
// before ZeroMQ would unlink it (it removes whatever is at the path); a bind
// that fails is said as a sentence naming the endpoint (bind_error).
#pragma once

#include <zmq.hpp>

#include <string>

namespace bcast::broker {

// Binds `socket` to `endpoint`, or throws bind_error (`in_socket` says
// which of the broker's sockets it is, for the option to name).
void bind_checked(zmq::socket_t& socket, const std::string& endpoint, bool in_socket);

}  // namespace bcast::broker
