// The client's socket loop: a SUB and a DEALER set up as PROTOCOL.md 10.6
// recommends, with monitors on both, polled together with the caller's fds.
// Bodies, link events and the time go to detail::client_core, which holds
// every protocol rule; the requests it hands back leave on the DEALER.
#include "bcast/client/connection.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <random>
#include <stdexcept>
#include <zmq_addon.hpp>

#include "bcast/proto/clock.hpp"
#include "bcast/proto/limits.hpp"
#include "bcast/proto/topics.hpp"
#include "bcast/proto/validate.hpp"
#include "client_core.hpp"

namespace bcast::client {
namespace {

using proto::mono_ms;

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
// Frames read from one socket per turn: under a flood faster than its owner
// shows it, the turn still ends, so pings go out and the owner's screen and
// keys are served (a chat once timed out under 20k msgs/s of 3 KB).
constexpr int frames_per_drain = 512;
// What the socket monitors report: connections made, refused (retried
// before any was made) and handshakes done or failed.
constexpr int link_events = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CONNECT_RETRIED |
                            ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                            ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL;

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
  // Twice the largest frame a broker sends: a larger one drops the
  // connection (which reconnects), never the client's memory.
  socket.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(2 * proto::max_broker_frame));
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
    : sub_(context, zmq::socket_type::sub), dealer_(context, zmq::socket_type::dealer) {
  core_ = std::make_unique<detail::client_core>(
      std::move(opts),
      [this](std::string_view body) {
        return dealer_.send(zmq::buffer(body), zmq::send_flags::dontwait).has_value();
      },
      mono_ms());
  const options& o = core_->opts();
  common_socket_options(sub_);
  sub_.set(zmq::sockopt::rcvhwm, sub_rcvhwm);
  sub_.set(zmq::sockopt::subscribe, proto::sys_topic);
  if (o.all_rooms) {
    sub_.set(zmq::sockopt::subscribe, proto::room_topic_prefix);
  } else {
    for (const auto& room : o.rooms) sub_.set(zmq::sockopt::subscribe, proto::room_topic(room));
  }
  common_socket_options(dealer_);
  // Queue nothing for a broker that is not there: sends fail fast (EAGAIN)
  // and stay pending in the core, where retries and acks are tracked.
  dealer_.set(zmq::sockopt::immediate, 1);
  dealer_.set(zmq::sockopt::routing_id, random_routing_id());
  if (o.server_key) {
    proto::curve_cert own;
    if (o.key) {
      own = *o.key;
    } else {
      char public_key[41] = {};
      char secret_key[41] = {};
      if (zmq_curve_keypair(public_key, secret_key) != 0) throw zmq::error_t();
      own = proto::curve_cert{public_key, secret_key};
    }
    curve_socket_options(sub_, *o.server_key, own);
    curve_socket_options(dealer_, *o.server_key, own);
  }
  ipv6_if_needed(sub_, o.out_endpoint);
  ipv6_if_needed(dealer_, o.in_endpoint);
  // A refused connection and a failed handshake (a refused key, a wrong
  // --server-key, CURVE on one side only) are told at once instead of as
  // silence until a timeout. A connection closed during the handshake
  // (NO_DETAIL) means a wrong server key only with CURVE; without it, it is
  // a broker stopping or refusing a connection over its limits, which the
  // client rides out.
  const std::string id = std::to_string(reinterpret_cast<std::uintptr_t>(this));
  const int no_detail = o.server_key ? ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL : 0;
  monitor_ = monitor_of(context, dealer_, "inproc://bcast-dealer-" + id, link_events | no_detail);
  sub_monitor_ = monitor_of(context, sub_, "inproc://bcast-sub-" + id, link_events | no_detail);
  // Subscribe first, then say hello: what is published after our welcome is
  // on its way to us, and the rest comes from history.
  connect_to(sub_, o.out_endpoint);
  connect_to(dealer_, o.in_endpoint);
  core_->start(mono_ms());
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
    const std::uint64_t until = std::min(deadline, now + core_->tick_ms());
    // With IMMEDIATE, the DEALER turns writable when a connection is up:
    // that is the moment to send what could not be sent before.
    items[1].events = static_cast<short>(ZMQ_POLLIN | (core_->wants_write() ? ZMQ_POLLOUT : 0));
    zmq::poll(items, std::chrono::milliseconds(until > now ? until - now : 0));
    now = mono_ms();
    if ((items[0].revents & ZMQ_POLLIN) != 0) drain_sub(now);
    if ((items[1].revents & ZMQ_POLLIN) != 0) drain_dealer(now);
    if ((items[1].revents & ZMQ_POLLOUT) != 0) core_->on_writable(now);
    if ((items[monitor_item].revents & ZMQ_POLLIN) != 0) drain_monitor(monitor_, true);
    if ((items[monitor_item + 1].revents & ZMQ_POLLIN) != 0) drain_monitor(sub_monitor_, false);
    core_->on_tick(now);
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if ((items[i + 2].revents & fd_ready) != 0) ready.push_back(fds[i]);
    }
    if (!ready.empty() || core_->has_events() || now >= deadline) return ready;
  }
}

void connection::drain_monitor(zmq::socket_t& monitor, bool is_dealer) {
  using detail::link_event;
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
    const link_event what =
        event == ZMQ_EVENT_CONNECTED                     ? link_event::connected
        : event == ZMQ_EVENT_CONNECT_RETRIED             ? link_event::connect_retried
        : event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED         ? link_event::handshake_succeeded
        : event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH       ? link_event::handshake_failed_auth
        : value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH ? link_event::handshake_failed_mechanism
                                                          : link_event::handshake_failed;
    core_->on_link(is_dealer ? detail::socket_side::in : detail::socket_side::out, what, mono_ms());
  }
}

void connection::drain_sub(std::uint64_t now) {
  std::vector<zmq::message_t> frames;
  for (int read = 0; read < frames_per_drain; ++read) {
    frames.clear();
    if (!zmq::recv_multipart(sub_, std::back_inserter(frames), zmq::recv_flags::dontwait)) return;
    if (frames.size() != 2) continue;  // not a publication (PROTOCOL.md 4)
    core_->on_publication(frames[1].to_string_view(), now);
  }
}

void connection::drain_dealer(std::uint64_t now) {
  for (int read = 0; read < frames_per_drain; ++read) {
    zmq::message_t frame;
    if (!dealer_.recv(frame, zmq::recv_flags::dontwait)) return;
    core_->on_reply(frame.to_string_view(), now);
  }
}

std::optional<client_event> connection::next_event() { return core_->next_event(); }

std::uint64_t connection::send(std::string text, std::string room) {
  return core_->send(std::move(text), std::move(room), mono_ms());
}

std::uint64_t connection::send_dm(std::string to, std::string text) {
  return core_->send_dm(std::move(to), std::move(text), mono_ms());
}

bool connection::who() { return core_->who(mono_ms()); }

bool connection::list_rooms() { return core_->list_rooms(mono_ms()); }

void connection::leave() { core_->leave(mono_ms()); }

bool connection::join_room(const std::string& room) {
  if (!core_->can_join_room(room)) return false;
  sub_.set(zmq::sockopt::subscribe, proto::room_topic(room));
  return core_->join_room(room, mono_ms());
}

bool connection::leave_room(const std::string& room) {
  if (!core_->leave_room(room)) return false;
  sub_.set(zmq::sockopt::unsubscribe, proto::room_topic(room));
  return true;
}

const std::vector<std::string>& connection::rooms() const { return core_->opts().rooms; }

bool connection::request_history(const std::string& room, std::size_t count) {
  return core_->request_history(room, count, mono_ms());
}

void connection::on_session(std::function<void(const std::string&, std::uint64_t)> f) {
  core_->on_session(std::move(f));
}

const std::string& connection::name() const { return core_->name(); }
bool connection::joined() const { return core_->joined(); }
bool connection::ever_connected() const { return core_->ever_connected(); }
bool connection::broadcasts_arrive() const { return core_->broadcasts_arrive(); }
bool connection::requests_answered() const { return core_->requests_answered(); }
bool connection::broadcasts_missing() const { return core_->broadcasts_missing(); }
std::size_t connection::unacked() const { return core_->unacked(); }
bool connection::caught_up() const { return core_->caught_up(); }
std::uint64_t connection::max_text() const { return core_->max_text(); }

std::optional<std::string> connection::why_unsendable(std::string_view text) const {
  if (!proto::is_valid_utf8(text)) return "is not valid UTF-8";
  if (text.size() > core_->max_text()) {
    return "is " + std::to_string(text.size()) + " bytes; the broker takes at most " +
           std::to_string(core_->max_text());
  }
  return std::nullopt;
}

}  // namespace bcast::client
