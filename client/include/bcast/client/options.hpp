// How a client finds the broker and who it is there.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "bcast/proto/curve_cert.hpp"

namespace bcast::client {

struct options {
  std::string in_endpoint;   // the broker's ROUTER, e.g. tcp://localhost:5555
  std::string out_endpoint;  // the broker's PUB, e.g. tcp://localhost:5556
  // Empty: an anonymous listener (no hello, no presence; reads history only).
  std::string name;
  // Rooms followed; the first is where `send` goes by default. Empty with
  // `all_rooms` false means the default room.
  std::vector<std::string> rooms;
  bool all_rooms = false;  // subscribe to every room (listeners)
  std::optional<std::string> token;  // join token, when the broker wants one
  // The session token of an earlier run of this client that did not end
  // (it crashed): the first hello resumes that session.
  std::optional<std::string> resume_session;
  // The first message id: above every id the earlier run used, when
  // resuming its session (the broker would take a reused id as a retry).
  std::uint64_t first_id = 1;
  // Messages of each room shown on joining it (the newest ones kept); for a
  // listener, of each room in `rooms` (not with `all_rooms`).
  std::size_t backlog = 0;
  // A CURVE broker's public key: both sockets then encrypt and check that
  // they speak to the holder of its secret key. `key`: this client's key
  // pair (what a broker with admitted keys knows it by); without it a new
  // pair is made for each run.
  std::optional<proto::curve_cert> server_key;
  std::optional<proto::curve_cert> key;
};

}  // namespace bcast::client
