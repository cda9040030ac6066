// The client side of BCAST/1 (PROTOCOL.md sections 5 and 6): joining,
// liveness both ways, at-least-once sends made exactly-once by request ids,
// and in-order, once-only delivery with gaps repaired from history.
#include "bcast/client/connection.hpp"

#include <algorithm>
#include <cerrno>
#include <functional>
#include <cstring>
#include <iterator>
#include <limits>
#include <random>
#include <stdexcept>
#include <type_traits>
#include <zmq_addon.hpp>

#include "bcast/proto/codec.hpp"
#include "bcast/proto/error_code.hpp"
#include "bcast/proto/topics.hpp"
#include "bcast/proto/validate.hpp"

namespace bcast::client {
namespace {

namespace event = proto::event;
namespace request = proto::request;

// Until a welcome says otherwise, assume the protocol's defaults.
constexpr std::uint64_t default_hb_ivl_ms = 1000;
constexpr std::uint64_t default_liveness = 3;
// Reconnect quickly at first, then back off so a long outage costs little.
constexpr int reconnect_ivl_ms = 100;
constexpr int reconnect_ivl_max_ms = 5000;
// ZMTP heartbeats detect a half-open TCP connection (peer vanished without
// FIN) and make ZeroMQ reconnect.
constexpr int zmtp_heartbeat_ms = 5000;
// Bounded linger: at exit, a final bye or ack may leave; then we are gone.
constexpr int linger_ms = 1000;
// Publications (messages or batches) a SUB holds while the program is busy;
// beyond this, history repairs the gap.
constexpr int sub_rcvhwm = 10000;
// Publications kept while waiting for a welcome (they are replayed after it).
constexpr std::size_t max_stash = 100000;
// Messages on the wire without an ack. Far below the broker's memory of
// request ids (proto::dedup_window), so a retry is always recognised.
constexpr std::size_t max_in_flight = 256;
static_assert(max_in_flight < proto::dedup_window);
// Before the first welcome, a broadcast side that stays silent this many
// heartbeat intervals after it is reported as not working: heartbeats are
// published every interval, so two missed ones are not a slow machine.
constexpr std::uint64_t out_silence_heartbeats = 2;
// Frames read from one socket per turn: under a flood faster than its owner
// shows it, the turn still ends, so pings go out and the owner's screen and
// keys are served (a chat once timed out under 20k msgs/s of 3 KB).
constexpr int frames_per_drain = 512;
// Message ids a saved session (on_session) may use before it is saved again:
// one save per this many messages, and a run that resumes it after a crash
// starts above every id the dead run can have used.
constexpr std::uint64_t ids_saved_ahead = 1024;
// What the socket monitors report: connections made, refused (retried
// before any was made) and handshakes done or failed.
constexpr int link_events = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CONNECT_RETRIED |
                            ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                            ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL;
// flush_sends(): send what is not on the wire yet, retry nothing.
constexpr std::uint64_t never_retry = std::numeric_limits<std::uint64_t>::max();

std::uint64_t mono_ms() {
  using namespace std::chrono;
  return static_cast<std::uint64_t>(
      duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
}

// A routing id of our own (not starting with a zero byte, which libzmq
// reserves), so a reconnected DEALER keeps its session on the broker.
std::string random_routing_id() {
  std::random_device rd;
  std::string id = "B";
  for (int i = 0; i < 15; ++i) id.push_back(static_cast<char>(rd() & 0xFF));
  return id;
}

void common_socket_options(zmq::socket_t& socket) {
  socket.set(zmq::sockopt::reconnect_ivl, reconnect_ivl_ms);
  socket.set(zmq::sockopt::reconnect_ivl_max, reconnect_ivl_max_ms);
  socket.set(zmq::sockopt::heartbeat_ivl, zmtp_heartbeat_ms);
  socket.set(zmq::sockopt::heartbeat_timeout, 3 * zmtp_heartbeat_ms);
  socket.set(zmq::sockopt::linger, linger_ms);
}

// Makes `socket` a CURVE client of `server` with the key pair `own`.
void curve_socket_options(zmq::socket_t& socket, const proto::curve_cert& server,
                          const proto::curve_cert& own) {
  socket.set(zmq::sockopt::curve_serverkey, server.public_key);
  socket.set(zmq::sockopt::curve_publickey, own.public_key);
  socket.set(zmq::sockopt::curve_secretkey, own.secret_key);
}

// IPv6 literals ("tcp://[::1]:5555") need the socket's IPv6 option; names
// keep it off, so "localhost" stays 127.0.0.1 where the broker binds.
void ipv6_if_needed(zmq::socket_t& socket, const std::string& endpoint) {
  if (endpoint.rfind("tcp://[", 0) == 0) socket.set(zmq::sockopt::ipv6, 1);
}

// Connects `socket` to `endpoint`; a malformed endpoint is said as a
// sentence naming it (ZeroMQ would say only "Invalid argument").
void connect_to(zmq::socket_t& socket, const std::string& endpoint) {
  try {
    socket.connect(endpoint);
  } catch (const zmq::error_t& e) {
    const std::string why = e.num() == EPROTONOSUPPORT ? "unknown transport (use tcp:// or ipc://)"
                            : e.num() == EINVAL ? "not an endpoint (e.g. tcp://host:5555, ipc:///path)"
                                                : e.what();
    throw std::invalid_argument("cannot connect to " + endpoint + ": " + why);
  }
}

// A PAIR socket that receives `socket`'s monitor events `events`.
zmq::socket_t monitor_of(zmq::context_t& context, zmq::socket_t& socket, const std::string& name,
                         int events) {
  if (zmq_socket_monitor(socket.handle(), name.c_str(), events) != 0) throw zmq::error_t();
  zmq::socket_t monitor(context, zmq::socket_type::pair);
  monitor.set(zmq::sockopt::linger, 0);
  monitor.connect(name);
  return monitor;
}

}  // namespace

connection::connection(zmq::context_t& context, options opts)
    : opts_(std::move(opts)),
      sub_(context, zmq::socket_type::sub),
      dealer_(context, zmq::socket_type::dealer),
      hb_ivl_(default_hb_ivl_ms),
      liveness_(default_liveness),
      max_text_(proto::default_max_text) {
  if (opts_.rooms.empty()) opts_.rooms.emplace_back(proto::default_room);
  session_token_ = opts_.resume_session;
  next_id_ = opts_.first_id;
  std::vector<std::string> unique_rooms;  // each once, first one first
  for (auto& room : opts_.rooms) {
    if (std::find(unique_rooms.begin(), unique_rooms.end(), room) == unique_rooms.end()) {
      unique_rooms.push_back(std::move(room));
    }
  }
  opts_.rooms = std::move(unique_rooms);
  common_socket_options(sub_);
  sub_.set(zmq::sockopt::rcvhwm, sub_rcvhwm);
  sub_.set(zmq::sockopt::subscribe, proto::sys_topic);
  if (opts_.all_rooms) {
    sub_.set(zmq::sockopt::subscribe, proto::room_topic_prefix);
  } else {
    for (const auto& room : opts_.rooms) {
      sub_.set(zmq::sockopt::subscribe, proto::room_topic(room));
      rooms_.try_emplace(room);
    }
  }
  common_socket_options(dealer_);
  // Queue nothing for a broker that is not there: sends fail fast (EAGAIN)
  // and stay pending here, where retries and acks are tracked.
  dealer_.set(zmq::sockopt::immediate, 1);
  dealer_.set(zmq::sockopt::routing_id, random_routing_id());
  if (opts_.server_key) {
    if (!opts_.key) {
      char public_key[41] = {};
      char secret_key[41] = {};
      if (zmq_curve_keypair(public_key, secret_key) != 0) throw zmq::error_t();
      opts_.key = proto::curve_cert{public_key, secret_key};
    }
    curve_socket_options(sub_, *opts_.server_key, *opts_.key);
    curve_socket_options(dealer_, *opts_.server_key, *opts_.key);
  }
  ipv6_if_needed(sub_, opts_.out_endpoint);
  ipv6_if_needed(dealer_, opts_.in_endpoint);
  // A refused connection and a failed handshake (a refused key, a wrong
  // --server-key, CURVE on one side only) are told at once instead of as
  // silence until a timeout. A connection closed during the handshake
  // (NO_DETAIL) means a wrong server key only with CURVE; without it, it is
  // a broker stopping or refusing a connection over its limits, which the
  // client rides out.
  const std::string id = std::to_string(reinterpret_cast<std::uintptr_t>(this));
  const int no_detail = opts_.server_key ? ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL : 0;
  monitor_ = monitor_of(context, dealer_, "inproc://bcast-dealer-" + id, link_events | no_detail);
  sub_monitor_ = monitor_of(context, sub_, "inproc://bcast-sub-" + id, link_events | no_detail);
  // Subscribe first, then say hello: what is published after our welcome is
  // on its way to us, and the rest comes from history.
  connect_to(sub_, opts_.out_endpoint);
  connect_to(dealer_, opts_.in_endpoint);
  const std::uint64_t now = mono_ms();
  last_heard_ms_ = now;
  if (anonymous()) {
    awaiting_welcome_ = false;
    // A listener has no welcome: its backlog is asked for as soon as the
    // DEALER is connected.
    if (opts_.backlog > 0) {
      for (auto& [name, room] : rooms_) room.expect_backlog();
    }
  } else {
    say_hello(now);
  }
}

connection::~connection() { sub_.set(zmq::sockopt::linger, 0); }

std::vector<int> connection::wait(std::chrono::milliseconds timeout, std::span<const int> fds) {
  const std::uint64_t deadline = mono_ms() + static_cast<std::uint64_t>(timeout.count());
  std::vector<zmq::pollitem_t> items{{sub_.handle(), 0, ZMQ_POLLIN, 0},
                                     {dealer_.handle(), 0, ZMQ_POLLIN, 0}};
  // A pipe whose writer closed reports POLLHUP, which zmq_poll passes on as
  // ZMQ_POLLERR: that fd is readable too (read() returns end of input).
  constexpr short fd_ready = ZMQ_POLLIN | ZMQ_POLLERR;
  for (const int fd : fds) items.push_back({nullptr, fd, ZMQ_POLLIN, 0});
  const std::size_t monitor_item = items.size();
  items.push_back({monitor_.handle(), 0, ZMQ_POLLIN, 0});
  items.push_back({sub_monitor_.handle(), 0, ZMQ_POLLIN, 0});
  std::vector<int> ready;
  while (true) {
    std::uint64_t now = mono_ms();
    // Timers run at least every quarter heartbeat.
    const std::uint64_t tick = std::max<std::uint64_t>(hb_ivl_ / 4, 10);
    const std::uint64_t until = std::min(deadline, now + tick);
    // With IMMEDIATE, the DEALER turns writable when a connection is up:
    // that is the moment to send what could not be sent before.
    items[1].events = static_cast<short>(ZMQ_POLLIN | (wants_write() ? ZMQ_POLLOUT : 0));
    zmq::poll(items, std::chrono::milliseconds(until > now ? until - now : 0));
    now = mono_ms();
    if ((items[0].revents & ZMQ_POLLIN) != 0) drain_sub(now);
    if ((items[1].revents & ZMQ_POLLIN) != 0) drain_dealer(now);
    if ((items[1].revents & ZMQ_POLLOUT) != 0) write_owed(now);
    if ((items[monitor_item].revents & ZMQ_POLLIN) != 0) drain_monitor(monitor_, in_, true);
    if ((items[monitor_item + 1].revents & ZMQ_POLLIN) != 0) {
      drain_monitor(sub_monitor_, out_, false);
    }
    run_timers(now);
    check_links(now);
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if ((items[i + 2].revents & fd_ready) != 0) ready.push_back(fds[i]);
    }
    if (!ready.empty() || !events_.empty() || now >= deadline) return ready;
  }
}

std::string connection::handshake_failure(std::uint16_t event, std::uint32_t value) const {
  if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
    return "the broker refused this client's CURVE key (it is not in the broker's --allow directory)";
  }
  if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH) {
    return opts_.server_key
               ? "the broker does not use CURVE: leave out --server-key and --key"
               : "the broker requires CURVE: pass --server-key with its public key file (NAME.key)";
  }
  return opts_.server_key ? "the CURVE handshake failed: is --server-key the broker's public key?"
                          : "the handshake with the broker failed";
}

void connection::drain_monitor(zmq::socket_t& monitor, link_state& link, bool is_dealer) {
  std::vector<zmq::message_t> frames;
  while (zmq::recv_multipart(monitor, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
    std::uint16_t event = 0;
    std::uint32_t value = 0;
    if (!frames.empty() && frames[0].size() >= sizeof event + sizeof value) {
      std::memcpy(&event, frames[0].data(), sizeof event);
      std::memcpy(&value, frames[0].data<char>() + sizeof event, sizeof value);
    }
    frames.clear();
    if (event == 0) continue;
    const bool handshake_failed = event != ZMQ_EVENT_CONNECTED &&
                                  event != ZMQ_EVENT_CONNECT_RETRIED &&
                                  event != ZMQ_EVENT_HANDSHAKE_SUCCEEDED;
    if (event == ZMQ_EVENT_CONNECTED) link.connected = true;
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) link.up = true;
    // Retried before any connection was made: nothing listens there.
    const bool refused = event == ZMQ_EVENT_CONNECT_RETRIED && !link.connected;
    if (refused) link.refused = true;
    if ((refused || handshake_failed) && !link.up) link.failed_ms = mono_ms();
    if (handshake_failed && is_dealer && !told_handshake_failed_) {
      told_handshake_failed_ = true;
      events_.push_back(error_event{"unauthorized", handshake_failure(event, value), std::nullopt});
    }
  }
}

void connection::check_links(std::uint64_t now) {
  if (!told_unreachable_ && !ever_connected_) {
    // A failed handshake is a broker that is there: the DEALER says why.
    const bool no_broker = anonymous() ? out_.refused && !out_.up : in_.refused && !in_.up;
    if (no_broker) {
      told_unreachable_ = true;
      const std::string& endpoint = anonymous() ? opts_.out_endpoint : opts_.in_endpoint;
      events_.push_back(status_event{
          status::unreachable, "no broker at " + endpoint +
                                   " (connection refused): start one with `broadcast-server start`"});
    }
  }
  if (anonymous() && !told_no_requests_ && out_.up && in_.refused && !in_.up) {
    told_no_requests_ = true;
    events_.push_back(status_event{
        status::no_requests, "receiving from the broker on " + opts_.out_endpoint +
                                 " (--out) but nothing answers on " + opts_.in_endpoint +
                                 " (--in): is --in right? History and the repair of gaps need it"});
  }
  if (told_no_broadcasts_ || anonymous() || welcomed_ms_ == 0 || broadcasts_arrive()) return;
  // Refused since the welcome; or connected to something that publishes
  // nothing. Refusals from before the welcome only mean the SUB is waiting
  // to retry (up to reconnect_ivl_max_ms): its next attempt decides.
  const bool refused = out_.failed_ms >= welcomed_ms_;
  const bool silent = out_.failed_ms == 0 && now >= welcomed_ms_ + out_silence_heartbeats * hb_ivl_;
  if (refused || silent) {
    told_no_broadcasts_ = true;
    events_.push_back(status_event{
        status::no_broadcasts, "connected to the broker on " + opts_.in_endpoint +
                                   " (--in) but nothing arrives on " + opts_.out_endpoint +
                                   " (--out): is --out right?"});
  }
}

std::optional<client_event> connection::next_event() {
  if (events_.empty()) return std::nullopt;
  client_event e = std::move(events_.front());
  events_.pop_front();
  return e;
}

std::uint64_t connection::take_id() {
  const std::uint64_t id = next_id_++;
  if (next_id_ > ids_saved_until_) save_session();
  return id;
}

void connection::save_session() {
  if (!session_token_ || !on_session_) return;
  ids_saved_until_ = next_id_ + ids_saved_ahead;
  on_session_(*session_token_, ids_saved_until_);
}

std::uint64_t connection::send(std::string text, std::string room) {
  const std::uint64_t id = take_id();
  if (room.empty()) room = default_room();
  auto& p = pending_[id];
  p.text_hash = std::hash<std::string_view>{}(text);
  p.room = room;
  p.body = proto::encode(request::msg{std::move(text), std::move(room), id});
  if (joined()) flush_sends(mono_ms(), never_retry);
  return id;
}

std::uint64_t connection::send_dm(std::string to, std::string text) {
  const std::uint64_t id = take_id();
  pending_[id].body = proto::encode(request::dm{std::move(to), std::move(text), id});
  if (joined()) flush_sends(mono_ms(), never_retry);
  return id;
}

bool connection::join_room(const std::string& room) {
  if (rooms_.count(room) != 0 || opts_.rooms.size() >= proto::max_hello_rooms) return false;
  sub_.set(zmq::sockopt::subscribe, proto::room_topic(room));
  opts_.rooms.push_back(room);
  // A backlog answer (even of 0 messages) tells where the room stands.
  rooms_[room].expect_backlog();
  request_fills(mono_ms());
  return true;
}

bool connection::leave_room(const std::string& room) {
  if (rooms_.count(room) == 0 || opts_.rooms.size() <= 1) return false;
  sub_.set(zmq::sockopt::unsubscribe, proto::room_topic(room));
  opts_.rooms.erase(std::find(opts_.rooms.begin(), opts_.rooms.end(), room));
  rooms_.erase(room);
  fills_.erase(room);
  acked_seq_.erase(room);
  return true;
}

bool connection::request_history(const std::string& room, std::size_t count) {
  const std::uint64_t id = next_internal_id_++;
  if (!transmit(proto::encode(request::history{room, std::nullopt, std::min(count, proto::max_history_limit), id}),
                mono_ms())) {
    return false;
  }
  asked_history_ids_.push_back(id);
  return true;
}

std::optional<std::string> connection::why_unsendable(std::string_view text) const {
  if (!proto::is_valid_utf8(text)) return "is not valid UTF-8";
  if (text.size() > max_text_) {
    return "is " + std::to_string(text.size()) + " bytes; the broker takes at most " +
           std::to_string(max_text_);
  }
  return std::nullopt;
}

bool connection::who() { return transmit(proto::encode(request::who{}), mono_ms()); }

void connection::leave() {
  if (!anonymous() && !awaiting_welcome_) transmit(proto::encode(request::bye{}), mono_ms());
}

bool connection::joined() const { return ever_connected_ && !awaiting_welcome_ && !lost_; }

bool connection::caught_up() const {
  return std::all_of(acked_seq_.begin(), acked_seq_.end(), [this](const auto& room_seq) {
    const auto found = rooms_.find(room_seq.first);
    return found == rooms_.end() || found->second.last() >= room_seq.second;
  });
}

void connection::drain_sub(std::uint64_t now) {
  std::vector<zmq::message_t> frames;
  for (int read = 0; read < frames_per_drain; ++read) {
    frames.clear();
    if (!zmq::recv_multipart(sub_, std::back_inserter(frames), zmq::recv_flags::dontwait)) return;
    if (frames.size() != 2) continue;
    auto decoded = proto::decode_event(frames[1].to_string_view());
    auto* e = std::get_if<proto::any_event>(&decoded);
    if (e == nullptr) continue;
    if (auto* batch = std::get_if<event::batch>(e)) {
      // A batch is its messages, published one after another.
      for (auto& m : batch->msgs) on_published(std::move(m), now);
    } else {
      on_published(std::move(*e), now);
    }
  }
}

void connection::drain_dealer(std::uint64_t now) {
  for (int read = 0; read < frames_per_drain; ++read) {
    zmq::message_t frame;
    if (!dealer_.recv(frame, zmq::recv_flags::dontwait)) return;
    last_heard_ms_ = now;
    heard_on_in_ = true;
    auto decoded = proto::decode_event(frame.to_string_view());
    if (auto* e = std::get_if<proto::any_event>(&decoded)) on_reply(std::move(*e), now);
  }
}

std::optional<std::uint64_t> connection::epoch_of(const proto::any_event& e) const {
  return std::visit(
      [](const auto& m) -> std::optional<std::uint64_t> {
        if constexpr (requires { m.epoch; }) {
          return m.epoch;
        } else {
          return std::nullopt;
        }
      },
      e);
}

void connection::on_published(proto::any_event e, std::uint64_t now) {
  last_heard_ms_ = now;
  heard_on_out_ = true;
  if (lost_ && anonymous()) {
    lost_ = false;
    events_.push_back(status_event{status::reconnected, {}});
  }
  if (awaiting_welcome_) {
    if (stash_.size() < max_stash) stash_.push_back(std::move(e));
    if (now >= last_hello_ms_ + hb_ivl_ / 2) say_hello(now);
    return;
  }
  if (!adopt_epoch(e, now)) return;
  if (!ever_connected_) {
    // A listener's first publication proves its subscription is live.
    ever_connected_ = true;
    events_.push_back(status_event{status::joined, "listening"});
  }
  dispatch_published(e, now);
}

bool connection::adopt_epoch(proto::any_event& e, std::uint64_t now) {
  const auto epoch = epoch_of(e);
  if (!epoch) return true;
  if (!epoch_) epoch_ = epoch;
  if (*epoch == *epoch_) return true;
  if (!anonymous()) {
    // A broker that restarted with a new epoch: rejoin to learn where it is.
    awaiting_welcome_ = true;
    stash_.push_back(std::move(e));
    say_hello(now);
    return false;
  }
  epoch_ = epoch;
  reset_rooms();
  sys_last_ = 0;
  events_.push_back(status_event{status::epoch_reset, "the broker started a new epoch"});
  return true;
}

void connection::dispatch_published(proto::any_event& e, std::uint64_t now) {
  std::visit(
      [&](auto& m) {
        using type = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<type, event::msg>) {
          on_room_msg(std::move(m));
        } else if constexpr (std::is_same_v<type, event::join>) {
          on_sys(m.seq, presence_event{true, m.name, {}, m.ts});
        } else if constexpr (std::is_same_v<type, event::leave>) {
          on_sys(m.seq, presence_event{false, m.name, m.reason, m.ts});
        } else if constexpr (std::is_same_v<type, event::shutdown>) {
          on_sys(m.seq, status_event{status::server_shutdown, m.reason});
          lost_ = true;
          if (!anonymous()) awaiting_welcome_ = true;
        } else if constexpr (std::is_same_v<type, event::hb>) {
          for (const auto& r : m.rooms) {
            if (room_stream* s = stream(r.room)) s->on_announced(r.seq);
          }
          sys_last_ = std::max(sys_last_, m.sys_seq);
          request_fills(now);
        }
      },
      e);
}

void connection::on_sys(std::uint64_t seq, client_event e) {
  if (seq <= sys_last_) return;
  sys_last_ = seq;
  events_.push_back(std::move(e));
}

room_stream* connection::stream(const std::string& room) {
  const auto found = rooms_.find(room);
  if (found != rooms_.end()) return &found->second;
  if (!opts_.all_rooms) return nullptr;
  return &rooms_[room];
}

void connection::on_room_msg(event::msg m) {
  room_stream* s = stream(m.room);
  if (s == nullptr) return;
  const std::string room = m.room;
  std::vector<delivery> ready;
  s->on_live(std::move(m), ready);
  deliver(room, ready);
  request_fills(mono_ms());
}

void connection::reset_rooms() {
  for (auto& [name, room] : rooms_) {
    // Our own acked messages existed too, even if no one announced them.
    const auto acked = acked_seq_.find(name);
    room.on_announced(acked == acked_seq_.end() ? 0 : acked->second);
    std::vector<delivery> owed;
    room.reset(owed);
    deliver(name, owed);
  }
}

void connection::deliver(const std::string& room, std::vector<delivery>& ready) {
  for (auto& d : ready) {
    if (auto* m = std::get_if<event::msg>(&d)) {
      if (!anonymous() && m->from == name_) ack_by_publication(*m);
      events_.push_back(std::move(*m));
    } else {
      const auto& lost = std::get<lost_run>(d);
      events_.push_back(lost_event{room, lost.first_seq, lost.count});
    }
  }
}

void connection::on_reply(proto::any_event e, std::uint64_t now) {
  std::visit(
      [&](auto& m) {
        using type = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<type, event::welcome>) {
          on_welcome(m, now);
        } else if constexpr (std::is_same_v<type, event::ack>) {
          on_acked(m.id, m.room, m.seq, now);
        } else if constexpr (std::is_same_v<type, event::error>) {
          on_error(m, now);
        } else if constexpr (std::is_same_v<type, event::who>) {
          events_.push_back(who_event{std::move(m.users)});
        } else if constexpr (std::is_same_v<type, event::history>) {
          on_history(m);
        } else if constexpr (std::is_same_v<type, event::dm>) {
          // A private message from ourselves is our own /msg to ourselves:
          // its ack reports it already, so it is shown once.
          if (m.from != name_) events_.push_back(std::move(m));
        }
      },
      e);
}

void connection::on_acked(std::uint64_t id, const std::optional<std::string>& room,
                          std::optional<std::uint64_t> seq, std::uint64_t now) {
  if (!drop_pending(id)) return;   // a duplicate ack
  flush_sends(now, never_retry);  // the window moved
  if (store_refusing_) {
    store_refusing_ = false;
    events_.push_back(status_event{status::store_accepting, "messages are accepted again"});
  }
  if (room && seq) {
    auto& acked = acked_seq_[*room];
    acked = std::max(acked, *seq);
  }
  events_.push_back(ack_event{id, room, seq});
}

void connection::on_rate_limited(std::uint64_t id, const std::string& reason) {
  const auto found = pending_.find(id);
  if (found == pending_.end() || found->second.rate_limited) return;
  found->second.rate_limited = true;
  // Said when the first message of a burst is held back, not for each one
  // or each retry: the burst ends when the last of them is acknowledged.
  if (rate_limited_waiting_++ == 0) events_.push_back(status_event{status::rate_limited, reason});
}

bool connection::drop_pending(std::uint64_t id) {
  const auto found = pending_.find(id);
  if (found == pending_.end()) return false;
  if (found->second.rate_limited && --rate_limited_waiting_ == 0) {
    events_.push_back(status_event{status::sending_again, "every message held back was taken"});
  }
  pending_.erase(found);
  return true;
}

void connection::ack_by_publication(const event::msg& m) {
  // Names are unique among sessions, and the broker carries out a session's
  // messages in order, publishing each once: a publication under our name
  // is one of our messages on the wire. Only a single candidate (same room,
  // same text) is certain; with several, the broker's ack decides.
  const std::size_t hash = std::hash<std::string_view>{}(m.text);
  std::optional<std::uint64_t> match;
  std::size_t in_flight = 0;
  for (const auto& [id, p] : pending_) {
    if (p.sent_ms == 0 || in_flight++ == max_in_flight) break;
    if (p.text_hash != hash || p.room != m.room) continue;
    if (p.body != proto::encode(request::msg{m.text, m.room, id})) continue;
    if (match) return;
    match = id;
  }
  if (match) on_acked(*match, m.room, m.seq, mono_ms());
}

void connection::on_welcome(const event::welcome& w, std::uint64_t now) {
  if (!awaiting_welcome_) return;  // an answer to a retried hello
  const bool first = welcomed_ms_ == 0;
  const bool was_lost = lost_;
  const bool new_epoch = epoch_ && *epoch_ != w.epoch;
  if (session_token_ != w.session) {
    session_token_ = w.session;
    save_session();
  }
  name_ = w.name;
  epoch_ = w.epoch;
  hb_ivl_ = std::max<std::uint64_t>(w.hb_ivl, 10);
  liveness_ = std::max<std::uint64_t>(w.liveness, 1);
  max_text_ = w.max_text;
  // Seqs of an old epoch mean nothing in the new one.
  if (new_epoch) {
    reset_rooms();
    acked_seq_.clear();
  }
  for (auto& [name, room] : rooms_) {
    const auto announced = std::find_if(w.rooms.begin(), w.rooms.end(),
                                        [&](const auto& r) { return r.room == name; });
    const std::uint64_t seq = announced == w.rooms.end() ? 0 : announced->seq;
    if (first && opts_.backlog > 0) {
      room.expect_backlog();
    } else if (first) {
      room.start_at(seq);
    } else {
      room.on_announced(seq);
    }
  }
  if (first || new_epoch) sys_last_ = w.sys_seq;
  ever_connected_ = true;
  awaiting_welcome_ = false;
  lost_ = false;
  last_heard_ms_ = now;
  if (welcomed_ms_ == 0) welcomed_ms_ = now;
  if (first) events_.push_back(status_event{status::joined, w.name});
  if (new_epoch) events_.push_back(status_event{status::epoch_reset, "the broker started a new epoch"});
  if (!first && (was_lost || new_epoch)) events_.push_back(status_event{status::reconnected, {}});
  std::deque<proto::any_event> held;
  held.swap(stash_);
  for (auto& e : held) {
    const auto epoch = epoch_of(e);
    if (!epoch || *epoch == *epoch_) on_published(std::move(e), now);
  }
  flush_sends(now, 0);  // everything in flight again: the broker de-duplicates
  request_fills(now);
}

void connection::on_history(const event::history& h) {
  const auto asked = h.id ? std::find(asked_history_ids_.begin(), asked_history_ids_.end(), *h.id)
                          : asked_history_ids_.end();
  if (asked != asked_history_ids_.end()) {
    asked_history_ids_.erase(asked);
    events_.push_back(history_event{h.room, h.msgs});
    return;
  }
  // Only the answer to the request in flight counts: a late answer to a
  // timed-out or abandoned one (a room left and joined again) is dropped.
  const auto fill = fills_.find(h.room);
  if (fill == fills_.end() || h.id != fill->second.id) return;
  fills_.erase(fill);
  room_stream* s = stream(h.room);
  if (s == nullptr) return;
  if (h.epoch != epoch_) {  // from before a reset: ask again
    s->fill_timed_out();
    request_fills(mono_ms());
    return;
  }
  std::vector<delivery> ready;
  s->on_history(h, ready);
  deliver(h.room, ready);
  request_fills(mono_ms());
}

void connection::on_error(const event::error& e, std::uint64_t now) {
  const auto code = proto::error_code_from_string(e.code);
  using proto::error_code;
  // Our session was resumed elsewhere (its token is known to another
  // client): never take it back, or the two would take turns.
  if (code == error_code::session_moved) {
    displaced_ = true;
    awaiting_welcome_ = true;
    session_token_.reset();
    events_.push_back(error_event{e.code, e.reason, e.id});
    return;
  }
  // The broker lost our session (restart, timeout): join again, keep sends.
  if (code == error_code::no_session) {
    if (!awaiting_welcome_) {
      awaiting_welcome_ = true;
      say_hello(now);
    }
    return;
  }
  // Not carried out, but not refused either: a hello is repeated anyway, and
  // a message stays pending and is retried after a rejoin or a pause.
  if (code == error_code::unavailable && !store_refusing_) {
    store_refusing_ = true;  // said once, not for every retry
    events_.push_back(status_event{status::store_refusing, e.reason});
  }
  if (code == error_code::rate_limited && e.id) on_rate_limited(*e.id, e.reason);
  const bool retryable = code == error_code::shutting_down || code == error_code::rate_limited ||
                         code == error_code::unavailable;
  if (retryable && (!e.id || pending_.count(*e.id) != 0)) return;
  if (e.id) {
    // An id we do not hold pending is one of our own pings or history fills
    // (which are repeated on their own timers) or an answer to a retry.
    if (!drop_pending(*e.id)) return;
  }
  events_.push_back(error_event{e.code, e.reason, e.id});
}

void connection::run_timers(std::uint64_t now) {
  if (ever_connected_ && !lost_ && now >= last_heard_ms_ + silence_limit_ms()) {
    lost_ = true;
    if (!anonymous()) awaiting_welcome_ = true;
    events_.push_back(status_event{status::connection_lost, "no heartbeat from the broker"});
  }
  if (anonymous()) {
    request_fills(now);
    return;
  }
  if (awaiting_welcome_) {
    if (now >= last_hello_ms_ + hb_ivl_) say_hello(now);
    return;
  }
  if (now >= last_sent_ms_ + hb_ivl_) transmit(proto::encode(request::ping{next_internal_id_++}), now);
  flush_sends(now, 2 * hb_ivl_);
  request_fills(now);
}

void connection::request_fills(std::uint64_t now) {
  if (awaiting_welcome_) return;
  for (auto& [name, room] : rooms_) {
    const auto fill = fills_.find(name);
    if (fill != fills_.end() && now >= fill->second.sent_ms + 2 * hb_ivl_) {
      room.fill_timed_out();
      fills_.erase(fill);
    }
    std::optional<request::history> ask;
    if (room.take_backlog_request()) {
      ask = request::history{name, std::nullopt, opts_.backlog, next_internal_id_++};
    } else if (const auto after = room.take_fill_request()) {
      ask = request::history{name, *after, proto::max_history_limit, next_internal_id_++};
    }
    if (ask && transmit(proto::encode(*ask), now)) {
      fills_[name] = {*ask->id, now};  // if lost, it times out and is asked again
    } else if (ask) {
      room.fill_timed_out();  // no connection yet: asked again at the next timer
    }
  }
}

bool connection::wants_write() const {
  if (awaiting_welcome_) return !anonymous() && !hello_on_wire_;
  const auto unsent = std::find_if(pending_.begin(), pending_.end(),
                                   [](const auto& p) { return p.second.sent_ms == 0; });
  return unsent != pending_.end() &&
         static_cast<std::size_t>(std::distance(pending_.begin(), unsent)) < max_in_flight;
}

void connection::write_owed(std::uint64_t now) {
  if (awaiting_welcome_) {
    say_hello(now);
  } else {
    flush_sends(now, never_retry);
  }
}

void connection::say_hello(std::uint64_t now) {
  if (displaced_) return;
  request::hello h;
  h.name = opts_.name;
  h.session = session_token_;
  h.token = opts_.token;
  if (!opts_.all_rooms) h.rooms = opts_.rooms;
  hello_on_wire_ = transmit(proto::encode(h), now);
  last_hello_ms_ = now;
}

void connection::flush_sends(std::uint64_t now, std::uint64_t retry_after_ms) {
  std::size_t in_flight = 0;
  for (auto& [id, p] : pending_) {
    if (in_flight++ == max_in_flight) return;
    if (p.sent_ms != 0 && now - p.sent_ms < retry_after_ms) continue;
    if (!transmit(p.body, now)) return;
    p.sent_ms = now;
  }
}

bool connection::transmit(const std::string& body, std::uint64_t now) {
  if (!dealer_.send(zmq::buffer(body), zmq::send_flags::dontwait)) return false;
  last_sent_ms_ = now;
  return true;
}

}  // namespace bcast::client
