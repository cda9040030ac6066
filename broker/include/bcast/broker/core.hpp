// The broker's protocol logic as a state machine with no sockets: frames in,
// answers and publications out (into an outbox), plus the timed duties of
// ending silent sessions and heartbeating. The socket loop feeds it; tests
// and fuzzers can drive it directly.
#pragma once

#include <array>
#include <functional>
#include <set>
#include <cstdint>
#include <optional>
#include <string_view>

#include "bcast/broker/address_limits.hpp"
#include "bcast/broker/history_store.hpp"
#include "bcast/broker/log_limiter.hpp"
#include "bcast/broker/name_policy.hpp"
#include "bcast/broker/options.hpp"
#include "bcast/broker/outbox.hpp"
#include "bcast/broker/room_table.hpp"
#include "bcast/broker/session_table.hpp"
#include "bcast/proto/clock.hpp"
#include "bcast/proto/error_code.hpp"
#include "bcast/proto/messages.hpp"
#include "bcast/proto/msg_view.hpp"

namespace bcast::broker {

struct core_stats {
  std::uint64_t requests = 0;
  std::uint64_t published = 0;
  std::array<std::uint64_t, proto::error_code_count> errors{};  // indexed by proto::error_code

  [[nodiscard]] std::uint64_t error_count(proto::error_code code) const {
    return errors[static_cast<std::size_t>(code)];
  }
};

class core {
 public:
  // Continues from what `history` restored (room and sys seqs, acks of
  // earlier runs' sessions, whose names are kept for them from `mono_now`).
  core(const options& opts, history_store& history, std::uint64_t mono_now = proto::mono_ms());

  // Who sent a request, as ZeroMQ knows it: its IP address ("" if unknown)
  // and, on a CURVE broker with admitted keys, the name its key is bound to.
  struct peer_identity {
    std::string address;
    std::string key_name;
    bool key_revoked = false;  // its key was removed since it connected
  };
  // Asked only when a rule needs it (a `hello`); empty: nothing is known.
  using identity_source = std::function<peer_identity()>;

  // Handles one request body from the peer `routing_id` (`delimiter`: the
  // peer framed it REQ-style). `mono_now` is the monotonic time in ms.
  // `connection` names the transport connection it came on (-1: unknown):
  // a session answers only on the connection that said its hello, so a peer
  // that claims a session's routing id (ZeroMQ hands the id over to the
  // newest connection) gets `no-session`, not the session.
  void on_request(std::string_view routing_id, bool delimiter, std::string_view body,
                  std::uint64_t mono_now, outbox& out, const identity_source& identity = {},
                  int connection = -1);

  // Ends the sessions of names whose key was removed (leave: revoked).
  void revoke(const std::set<std::string>& names, std::uint64_t mono_now, outbox& out);

  // Answers a message whose envelope was neither [id][body] nor [id][][body].
  void on_bad_envelope(std::string_view routing_id, std::size_t frames, outbox& out);

  // Answers a request frame over `max_frame` (read only because it is within
  // oversize_read_bytes of it): `too-large`, with the request's id when it
  // has one. Counted, not logged: the loop logs it with the peer's address.
  void on_oversize(std::string_view routing_id, bool delimiter, std::string_view body, outbox& out);

  // Answers a request that arrives while stopping: `shutting-down`.
  void refuse(std::string_view routing_id, bool delimiter, std::string_view body, outbox& out);

  // Ends sessions silent for `liveness` heartbeat intervals (leave: timeout),
  // and those whose connection closed after two (their names kept for
  // their tokens, as after any timeout).
  void expire(std::uint64_t mono_now, outbox& out);
  // The request connection `connection` closed: its session (if any) ends
  // unless it is heard on another soon.
  void on_connection_closed(int connection);
  // Publishes the `hb` heartbeat on `sys/`.
  void heartbeat(std::uint64_t mono_now, outbox& out);
  // Publishes the one `shutdown` notice.
  void shutdown(outbox& out);

  [[nodiscard]] const core_stats& stats() const { return stats_; }
  [[nodiscard]] std::size_t session_count() const { return sessions_.size(); }

 private:
  struct peer {
    std::string_view routing_id;
    bool delimiter;
  };

  void handle(const peer& from, session* s, proto::request::hello& r, std::uint64_t now,
              const peer_identity& identity, int connection, outbox& out);
  void handle(const peer& from, session& s, proto::request::msg& r, std::uint64_t now, outbox& out);
  void handle_msg(const peer& from, session& s, const proto::msg_request_view& r, std::uint64_t now,
                  outbox& out);
  void handle(const peer& from, session& s, proto::request::dm& r, std::uint64_t now, outbox& out);
  void handle(const peer& from, session& s, proto::request::ping& r, std::uint64_t now, outbox& out);
  void handle(const peer& from, session& s, proto::request::who& r, std::uint64_t now, outbox& out);
  void handle(const peer& from, session& s, proto::request::rooms& r, std::uint64_t now, outbox& out);
  // Whether `s` may have a listing of `entries` (`who`, `rooms`) now; spends
  // its budgets when it may.
  bool listing_allowed(session& s, std::size_t entries, std::uint64_t now);
  void handle(const peer& from, session& s, proto::request::bye& r, std::uint64_t now, outbox& out);
  // `address`: where the request came from (its budget is charged too).
  void handle_history(const peer& from, session* s, const std::string& address,
                      proto::request::history& r,
                      std::uint64_t now, outbox& out);

  // Keeps what fits proto::max_history_answer_bytes (at least one body):
  // the oldest bodies when `oldest_first`, else the newest.
  static void cap_answer(std::vector<shared_body>& bodies, bool oldest_first);
  [[nodiscard]] std::optional<std::pair<proto::error_code, std::string>> check_text(
      std::string_view text) const;
  void welcome(const peer& to, const session& s, outbox& out);
  // Ends the session of `name`, publishing its leave; one that timed out is
  // kept dormant for its token, its name reserved for it.
  void end_session(const std::string& name, std::string_view reason, std::uint64_t mono_now,
                   outbox& out);
  void announce_join(const session& s, outbox& out);
  // Whether a join or leave line may be logged now (a few a second; the
  // rest are counted in one line).
  bool may_log_presence();
  void publish_sys(const proto::any_event& event, outbox& out);
  void send(const peer& to, const proto::any_event& event, outbox& out);
  void fail(const peer& to, proto::error_code code, std::string_view reason,
            std::optional<std::uint64_t> id, outbox& out, std::string_view body = {});

  options opts_;
  history_store& history_;
  session_table sessions_;
  room_table rooms_;
  address_limits addresses_;
  name_policy names_;
  core_stats stats_;
  log_limiter error_log_;
  rate_limiter listed_entries_;     // names and rooms listed by all `who` and `rooms` answers
  log_limiter presence_log_;        // join and leave lines
  std::string encoded_;             // reused for each message's body
};

}  // namespace bcast::broker
