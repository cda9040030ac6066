// The live sessions: who is connected under which name, from which ZeroMQ
// routing id, since when, when last heard, and which request ids each has
// already had carried out. Also the dormant ones: sessions that timed out
// or were restored from stored history, kept (token, name, acks) so a
// client that comes back after a network cut or a broker restart resumes
// and has its retried requests acked instead of carried out twice; a
// dormant session's name stays reserved for its token for a grace period.
// Resume tokens are 128 bits from the OS CSPRNG and are only ever compared
// in constant time, after a lookup by name. Knows nothing of sockets; the
// core drives it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bcast/broker/string_hash.hpp"
#include "bcast/proto/messages.hpp"

namespace bcast::broker {

// Answers already given to request ids, so a retried request is acked again
// with its original result instead of being carried out twice.
class recent_ids {
 public:
  explicit recent_ids(std::size_t capacity) : capacity_(capacity) {}

  // Returns the ack given to `id`, or nullptr if it is not remembered.
  [[nodiscard]] const proto::event::ack* find(std::uint64_t id) const;
  // Remembers `ack` under its id, forgetting the oldest past capacity.
  void remember(const proto::event::ack& ack);

 private:
  std::size_t capacity_;
  std::unordered_map<std::uint64_t, proto::event::ack> acks_;
  std::deque<std::uint64_t> order_;
};

// Token bucket: `rate` requests a second on average, `burst` at once.
class rate_limiter {
 public:
  // A burst below one request would refuse everything: it then defaults to
  // one second's worth of requests.
  rate_limiter(double rate, double burst)
      : rate_(rate), burst_(burst >= 1 ? burst : std::max(rate, 1.0)), tokens_(burst_) {}
  // Returns true (and spends `cost` tokens) when a request may pass at
  // `now_ms`; a cost above the burst passes only with a full bucket.
  [[nodiscard]] bool allow(std::uint64_t now_ms, double cost = 1.0);
  // Spends `cost` tokens whatever is left, down to a debt of one burst: a
  // penalty that later requests wait out.
  void charge(std::uint64_t now_ms, double cost);
  // True when the bucket would be full at `now_ms` (nothing spent lately).
  [[nodiscard]] bool full(std::uint64_t now_ms) const;
  // True when less than one token is left at `now_ms` (debt included).
  [[nodiscard]] bool spent(std::uint64_t now_ms) const;

 private:
  void refill(std::uint64_t now_ms);

  double rate_;
  double burst_;
  double tokens_;
  std::uint64_t last_ms_ = 0;
};

// Compares two secrets in time that depends on their lengths only.
[[nodiscard]] bool secrets_equal(std::string_view a, std::string_view b);
// Returns `bytes` bytes from the OS CSPRNG (getrandom(2)) as lowercase hex.
[[nodiscard]] std::string random_hex(std::size_t bytes);

// Direct messages one session may be sent per second, from everyone
// together (and at once): far above any conversation, yet a flood of them
// cannot fill its queue and crowd out its own acks.
inline constexpr double dm_inbox_per_s = 500;
// `who` and `rooms` answers per session per second (and at once), together:
// each lists every session or room, so a loop of them is costly for the broker.
inline constexpr double listings_per_s = 10;
// Direct messages one session may send per second (and at once): a share
// of a recipient's inbox, so one sender cannot take all of it.
inline constexpr double dm_sent_per_s = 100;

struct session {
  std::string name;
  std::string token;       // resume token handed out in `welcome`
  std::string routing_id;  // the peer's current ZeroMQ routing id
  bool delimiter = false;  // peer uses REQ-style envelopes (empty frame)
  std::uint64_t since_ms = 0;      // wall time of the join
  std::uint64_t last_seen_ms = 0;  // monotonic time of its last traffic
  std::vector<std::string> rooms;  // rooms named in its hello
  recent_ids acked;
  rate_limiter limiter;
  rate_limiter history_budget;  // bytes served by `history` per second
  std::string address;          // its IP address ("" when unknown): rooms it creates count there
  rate_limiter dm_inbox{dm_inbox_per_s, dm_inbox_per_s};  // dms it may be sent
  rate_limiter listing_budget{listings_per_s, listings_per_s};  // `who` and `rooms` it may ask
  rate_limiter dm_outbox{dm_sent_per_s, dm_sent_per_s};    // dms it may send
  int connection = -1;  // the connection its last hello came on (-1: unknown)
  // That connection closed (its client crashed, or reconnects at once and
  // says hello again); cleared when a hello binds it to another.
  bool connection_closed = false;
};

class session_table {
 public:
  // `rate`/`burst`: requests per session; `history_rate`: bytes a
  // session may read from history per second (burst: one second's worth);
  // `name_grace_ms`: how long a dormant session's name stays reserved.
  session_table(double rate, double burst, double history_rate, std::uint64_t name_grace_ms = 0)
      : rate_(rate), burst_(burst), history_rate_(history_rate), name_grace_ms_(name_grace_ms) {}

  // Lookups; each returns nullptr when no live session matches.
  [[nodiscard]] session* by_route(std::string_view routing_id);
  [[nodiscard]] session* by_name(std::string_view name);
  // The live session of `name` if its token is `token` (constant time).
  [[nodiscard]] session* by_name_and_token(std::string_view name, std::string_view token);
  // How names are compared for look-alikes (name_policy::skeleton); until
  // set, only equal names are alike.
  void set_skeleton(std::function<std::string(std::string_view)> skeleton_of) {
    skeleton_of_ = std::move(skeleton_of);
  }
  // A live name, or one kept for a dormant session at `mono_now`, that
  // looks like `name` without being it.
  [[nodiscard]] std::optional<std::string> look_alike(std::string_view name,
                                                      std::uint64_t mono_now) const;
  // Milliseconds the name stays reserved for a dormant session's token at
  // `mono_now`; 0 when it is free.
  [[nodiscard]] std::uint64_t reserved_ms(std::string_view name, std::uint64_t mono_now) const;

  // Opens a session for a name no live session holds; returns it.
  session& open(std::string name, std::string routing_id, bool delimiter,
                std::uint64_t wall_now, std::uint64_t mono_now);
  // Opens a session again from the dormant one of `name`, if its token is
  // `token` and no live session holds the name; else nullptr.
  session* resume_dormant(std::string_view token, std::string_view name,
                          std::string routing_id, bool delimiter, std::uint64_t wall_now,
                          std::uint64_t mono_now);
  // Moves a session to a new routing id (a client that reconnected).
  void rebind(session& s, std::string routing_id, bool delimiter);
  // Takes a session's routing id away (another connection holds it now):
  // nothing reaches the session until a hello binds it again.
  void unroute(session& s);
  // Ends the session of `name`; with `keep_dormant` its token and acks stay,
  // and its name is reserved for the grace period from `mono_now`.
  void close(std::string_view name, bool keep_dormant, std::uint64_t mono_now = 0);
  // Remembers an ack of a session from an earlier broker run, as dormant.
  // Its name is not reserved: the store cannot tell a session that was live
  // at the stop from one that said bye long ago, nor from an older session
  // of a client that resumes with a newer token. The latest session of a
  // name is the one kept.
  void restore_ack(const std::string& token, const std::string& name,
                   const proto::event::ack& ack, std::uint64_t mono_now = 0);

  // Returns the names of sessions silent for at least `max_silence_ms`.
  [[nodiscard]] std::vector<std::string> silent_since(std::uint64_t mono_now,
                                                      std::uint64_t max_silence_ms) const;
  // The same for sessions whose connection closed.
  [[nodiscard]] std::vector<std::string> closed_and_silent(std::uint64_t mono_now,
                                                           std::uint64_t max_silence_ms) const;
  // The live session whose last hello came on `connection`, or nullptr.
  [[nodiscard]] session* by_connection(int connection);

  [[nodiscard]] std::size_t size() const { return by_name_.size(); }
  [[nodiscard]] std::size_t dormant_count() const { return dormant_.size(); }
  // Every live session, oldest first.
  [[nodiscard]] std::vector<const session*> all() const;

 private:
  struct dormant {
    std::string token;
    recent_ids acked;
    std::uint64_t reserved_until = 0;  // monotonic ms
    std::uint64_t age = 0;             // its key in dormant_order_
    std::string address;               // where the session was (for fair eviction)
  };
  // A session with this table's limiters and a fresh set of budgets.
  [[nodiscard]] session make(std::string name, std::string token, std::string routing_id,
                             bool delimiter, std::uint64_t wall_now, std::uint64_t mono_now,
                             recent_ids acked) const;
  session& insert(session s);
  // Drops the dormant session of `name` from every index, if there is one.
  void forget_dormant(const std::string& name);
  [[nodiscard]] std::string skeleton(std::string_view name) const {
    return skeleton_of_ ? skeleton_of_(name) : std::string(name);
  }
  // Keeps a dormant session at `mono_now`, its name reserved until
  // `reserved_until`.
  dormant& keep(std::string name, std::string token, recent_ids acked, std::uint64_t mono_now,
               std::uint64_t reserved_until, std::string address);
  // The dormant session to forget when the table is full: the oldest whose
  // name is no longer kept, else the oldest of the address holding the most.
  [[nodiscard]] std::string eviction_victim(std::uint64_t mono_now) const;

  double rate_;
  double burst_;
  double history_rate_;
  std::uint64_t name_grace_ms_;
  std::unordered_map<std::string, session, string_hash, std::equal_to<>> by_name_;
  // Into by_name_, whose nodes never move; every erase there erases here.
  std::unordered_map<std::string, session*, string_hash, std::equal_to<>> by_route_;
  // Dormant sessions by name: the latest session of each name.
  std::unordered_map<std::string, dormant, string_hash, std::equal_to<>> dormant_;
  std::map<std::uint64_t, std::string> dormant_order_;  // names, oldest first
  std::function<std::string(std::string_view)> skeleton_of_;
  // Skeleton -> name, of the live and of the dormant sessions.
  std::unordered_map<std::string, std::string> live_skeletons_;
  std::unordered_map<std::string, std::string> dormant_skeletons_;
  std::unordered_map<std::string, std::size_t> dormant_per_address_;
  std::uint64_t next_dormant_age_ = 0;
};

}  // namespace bcast::broker
