// A client's session with the broker: a SUB for what is published and a
// DEALER for requests. It says hello (or stays an anonymous listener), keeps
// the session alive with pings, retries every message until it is acked,
// repairs gaps from history, notices a silent broker and rejoins when it
// returns. Single-threaded: the owner calls wait() and reads events. This
// class is the socket loop; the protocol rules are in detail::client_core.
#pragma once

#include <zmq.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bcast/client/events.hpp"
#include "bcast/client/options.hpp"

namespace bcast::client {
namespace detail {
class client_core;
}  // namespace detail

class connection {
 public:
  // Connects both sockets (SUB first) and, unless anonymous, sends hello.
  // Throws std::invalid_argument, with a sentence naming it, when an
  // endpoint is malformed.
  connection(zmq::context_t& context, options opts);
  // Leaves at once: subscriptions queued for a PUB that never answered are
  // dropped instead of holding the exit for the linger time.
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Runs the protocol for up to `timeout`. Returns early, with the subset of
  // `fds` that became readable, as soon as an event is ready or an fd is.
  std::vector<int> wait(std::chrono::milliseconds timeout, std::span<const int> fds = {});

  // The next event, oldest first; nullopt when none is ready.
  [[nodiscard]] std::optional<client_event> next_event();

  // Queues a message to `room` (default: the first followed room) and
  // returns its id; it is sent now if possible and retried until acked.
  std::uint64_t send(std::string text, std::string room = {});
  // Queues a private message, retried like send().
  std::uint64_t send_dm(std::string to, std::string text);
  // Asks who is online; the answer arrives as a who_event. Returns false
  // when it could not be sent (no connection to the broker right now).
  bool who();
  // Asks for the broker's live rooms; the answer arrives as a rooms_event.
  // Returns false when it could not be sent.
  bool list_rooms();
  // Says bye (the broker publishes our leave at once).
  void leave();

  // Follows `room` from now on, showing its backlog first; false if it is
  // followed already or 64 rooms are (the most a hello may name).
  bool join_room(const std::string& room);
  // Stops following `room`; false if not followed or the last one followed.
  bool leave_room(const std::string& room);
  // The rooms followed, in the order they were joined.
  [[nodiscard]] const std::vector<std::string>& rooms() const;
  // Asks for the newest `count` messages of `room`; they arrive as one
  // history_event, apart from the room's stream. Returns false when it could
  // not be sent (no connection to the broker right now).
  bool request_history(const std::string& room, std::size_t count);
  // Calls `f` with the session token of every new session the broker gives,
  // and the first message id no run has used (to resume it after a crash:
  // options::resume_session and first_id); again whenever ids pass it.
  void on_session(std::function<void(const std::string&, std::uint64_t)> f);
  // The name the broker registered (empty until the first welcome).
  [[nodiscard]] const std::string& name() const;

  // True while a welcome holds and the broker is heard.
  [[nodiscard]] bool joined() const;
  // True once any welcome (or, for listeners, any publication) arrived.
  [[nodiscard]] bool ever_connected() const;
  // True once the broadcast side is known to work: the SUB finished its
  // handshake or something was published to us.
  [[nodiscard]] bool broadcasts_arrive() const;
  // True once anything arrived on the request side (--in): a welcome, an
  // answer or a refusal. A listener's --history needs it.
  [[nodiscard]] bool requests_answered() const;
  // True once status::no_broadcasts was reported.
  [[nodiscard]] bool broadcasts_missing() const;
  // Messages sent but not acked yet.
  [[nodiscard]] std::size_t unacked() const;
  // True when every acked message has also been shown from its room stream,
  // and every backlog asked for (options.backlog) has been shown.
  [[nodiscard]] bool caught_up() const;
  [[nodiscard]] std::uint64_t max_text() const;
  // Why the broker would refuse `text` as a message ("is not valid UTF-8",
  // "is N bytes; the broker takes at most M"), or nullopt when it is fine.
  [[nodiscard]] std::optional<std::string> why_unsendable(std::string_view text) const;
  [[nodiscard]] const std::string& default_room() const { return rooms().front(); }

 private:
  void drain_sub(std::uint64_t now);
  void drain_dealer(std::uint64_t now);
  // Passes one socket monitor's events to the core.
  void drain_monitor(zmq::socket_t& monitor, bool is_dealer);

  // The protocol: joining, liveness, acks, retries, ordering (client_core.hpp).
  std::unique_ptr<detail::client_core> core_;
  zmq::socket_t sub_;
  zmq::socket_t dealer_;
  zmq::socket_t monitor_;      // the DEALER's connection events
  zmq::socket_t sub_monitor_;  // the SUB's
};

}  // namespace bcast::client
