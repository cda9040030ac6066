// What the core asks the socket loop to send after handling an input:
// answers to one peer over ROUTER and publications over PUB. The loop owns
// the sockets; the core never touches them. Public, not an internal detail:
// it is half of core's interface (what on_request and the timed duties fill),
// which tests and fuzzers drive directly.
#pragma once

#include <string>
#include <vector>

#include "bcast/broker/history_store.hpp"

namespace bcast::broker {

struct reply {
  std::string routing_id;
  bool delimiter = false;  // send an empty frame before the body (REQ peers)
  std::string body;
  // The socket the request came in on, when the reply answers one (set by
  // the socket loop; -1 otherwise): how a slow consumer is cut.
  int fd = -1;
};

struct publication {
  std::string topic;  // room/<r>/ (a `msg`, which may share a pack) or sys/
  shared_body body;   // the same bytes history keeps
};

struct outbox {
  std::vector<reply> replies;
  std::vector<publication> publications;

  void clear() {
    replies.clear();
    publications.clear();
  }
};

}  // namespace bcast::broker
