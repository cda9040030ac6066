// The broker's sockets and event loop. Every send is non-blocking: a peer
// that cannot take a reply loses that reply (counted), never stalls the loop.
#include "bcast/broker/broker.hpp"

#include <spdlog/spdlog.h>
#include <linux/sockios.h>
#include <malloc.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <system_error>
#include <zmq_addon.hpp>

#include "bcast/proto/clock.hpp"
#include "bcast/proto/limits.hpp"
#include "bcast/proto/topics.hpp"
#include "bcast/proto/validate.hpp"
#include "peer_text.hpp"
#include "pub_batcher.hpp"
#include "socket_binding.hpp"

namespace bcast::broker {
namespace {

// Messages handled per wake-up before timers get a turn: a flood on IN
// cannot starve heartbeats or session expiry.
constexpr std::size_t drain_batch = 4096;
// Outputs handled before they are sent: one full batch of small messages,
// so a burst costs ZeroMQ and every subscriber one frame per 64 messages,
// and still small, so subscribers get the first messages of a burst while
// the rest is still being read. Measured against 32, 256 and 32 with 1 MiB
// socket buffers (docs/performance.md): 64 leads in open loop at 10
// subscribers (3.3x the proxy against 2.4x), within the spread elsewhere.
constexpr std::size_t flush_every = proto::max_batch_msgs;
// Half-open TCP connections (a peer that vanished without a FIN) are found
// by TCP keepalive: first probe after this many seconds idle, then every
// interval, given up after `count` unanswered. Not ZMTP heartbeats: with
// them libzmq 4.3.4 aborts the whole process (stream_engine_base.cpp:331,
// `!_io_error`, libzmq#4364) when a peer resets its connection while its
// input queue is full, which any client can do.
constexpr int keepalive_idle_s = 10;
constexpr int keepalive_interval_s = 5;
constexpr int keepalive_count = 3;

void keepalive(zmq::socket_t& socket) {
  socket.set(zmq::sockopt::tcp_keepalive, 1);
  socket.set(zmq::sockopt::tcp_keepalive_idle, keepalive_idle_s);
  socket.set(zmq::sockopt::tcp_keepalive_intvl, keepalive_interval_s);
  socket.set(zmq::sockopt::tcp_keepalive_cnt, keepalive_count);
}

// Time a new connection has to complete the ZeroMQ handshake.
constexpr int handshake_ms = 5000;
// Connection lines logged per second; past it they are counted.
constexpr std::uint64_t connection_logs_per_second = 20;

int linger_ms() { return static_cast<int>(shutdown_linger.count()); }

// A subscriber connection's kernel send queue: TCP's count of bytes the
// peer acknowledged, or (ipc) the bytes waiting, which change as it reads.
slow_subscribers::sample send_queue(int fd) {
  tcp_info info{};
  socklen_t size = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &size) == 0) {
    return {info.tcpi_notsent_bytes != 0 || info.tcpi_unacked != 0, info.tcpi_bytes_acked};
  }
  int waiting = 0;
  if (::ioctl(fd, SIOCOUTQ, &waiting) != 0) return {};
  return {waiting > 0, static_cast<std::uint64_t>(waiting)};
}

bool is_ipv6(const std::string& endpoint) { return endpoint.starts_with("tcp://["); }

// Polls; returns false when a signal interrupted the wait (the stop request
// it carries is then read from the eventfd on the next turn).
bool poll_interruptible(std::vector<zmq::pollitem_t>& items, std::chrono::milliseconds timeout) {
  try {
    zmq::poll(items, timeout);
    return true;
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) throw;
    return false;
  }
}

}  // namespace

broker::broker(zmq::context_t& context, const options& opts, history_store& history)
    : opts_(opts),
      history_(history),
      router_(context, zmq::socket_type::router),
      pub_(context, zmq::socket_type::xpub),
      connections_(opts.max_connections, opts.max_connections_per_address),
      connection_log_(connection_logs_per_second),
      refusal_log_(connection_logs_per_second),
      core_(opts, history),
      batcher_(std::make_unique<pub_batcher>()),
      replies_(opts.reply_queue_bytes, opts.reply_total_bytes),
      subscribers_(opts.sub_queue_bytes, opts.sub_total_bytes, static_cast<std::uint64_t>(opts.pub_hwm)) {
  // A reply to a vanished peer is an error we count, not a silent drop.
  router_.set(zmq::sockopt::router_mandatory, 1);
  // A client that reconnects with the same routing id takes it over.
  router_.set(zmq::sockopt::router_handover, 1);
  // A frame over max_frame but within the slack is read and answered
  // `too-large` (a client that does not check learns why); a larger one
  // disconnects its sender only, before the broker holds it.
  router_.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(opts.max_frame + oversize_read_bytes));
  keepalive(router_);
  router_.set(zmq::sockopt::linger, linger_ms());
  // Past this many queued messages a subscriber misses messages (and fills
  // the gap from history); memory per subscriber stays bounded.
  pub_.set(zmq::sockopt::sndhwm, opts.pub_hwm);
  // An XPUB, to see every subscription (and unsubscription) with the
  // connection it came on: ZeroMQ keeps them without a bound otherwise.
  pub_.set(zmq::sockopt::xpub_verboser, 1);
  pub_.set(zmq::sockopt::maxmsgsize, opts.curve ? max_subscriber_frame_curve : max_subscriber_frame);
  pub_.set(zmq::sockopt::linger, linger_ms());
  keepalive(pub_);
  // A connection that never completes the ZeroMQ handshake holds an fd for
  // at most this long (ZeroMQ's default is 30 s).
  router_.set(zmq::sockopt::handshake_ivl, handshake_ms);
  pub_.set(zmq::sockopt::handshake_ivl, handshake_ms);
  // An IPv6 address (tcp://[::1]:5555, tcp://[::]:5555) needs ZMQ_IPV6; it
  // is set for those only, since with it ZeroMQ binds an IPv4 address as
  // an IPv4-mapped IPv6 one (tcp://[::ffff:127.0.0.1]:5555).
  router_.set(zmq::sockopt::ipv6, is_ipv6(opts.in_endpoint));
  pub_.set(zmq::sockopt::ipv6, is_ipv6(opts.out_endpoint));
  monitors_[0] = watch(context, router_, "in");
  monitors_[1] = watch(context, pub_, "out");
  if (opts.curve) secure(context, *opts.curve);
  bind_checked(router_, opts.in_endpoint, true);
  bind_checked(pub_, opts.out_endpoint, false);
  stop_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (stop_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  frames_.reserve(4);
  // Who sent the request being handled (ZeroMQ's metadata: the IP, and
  // the name the ZAP handler gave the connection's key).
  identity_ = [this] {
    const auto property = [this](const char* name) {
      const char* value = zmq_msg_gets(frames_.back().handle(), name);
      return std::string(value != nullptr ? value : "");
    };
    core::peer_identity who{host_of(property("Peer-Address")), keys_ ? property("User-Id") : "",
                            false};
    who.key_revoked = keys_ && !keys_->admits_name(who.key_name);
    return who;
  };
}

broker::~broker() {
  zmq_socket_monitor(router_.handle(), nullptr, 0);
  zmq_socket_monitor(pub_.handle(), nullptr, 0);
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

std::size_t broker::held_publication_bytes() const { return batcher_->held(); }

void broker::secure(zmq::context_t& context, const proto::curve_cert& server) {
  if (!opts_.allow_dir.empty()) keys_ = std::make_unique<key_ring>(opts_.allow_dir);
  // Bound before the sockets are: no connection is admitted unasked.
  zap_ = std::make_unique<zap_handler>(context, keys_.get());
  std::array<std::uint8_t, 32> secret{};
  if (zmq_z85_decode(secret.data(), server.secret_key.c_str()) == nullptr) {
    throw std::runtime_error("the server's secret key is not Z85");
  }
  for (zmq::socket_t* socket : {&router_, &pub_}) {
    socket->set(zmq::sockopt::curve_server, 1);
    socket->set(zmq::sockopt::curve_secretkey, zmq::buffer(secret));
    socket->set(zmq::sockopt::zap_domain, "bcast");
  }
}

void broker::revoke_removed_keys(std::uint64_t now) {
  if (!keys_) return;
  if (recheck_keys_at_ != 0 && now >= recheck_keys_at_) {
    // Which subscriber connection holds which key is not known (a SUB never
    // sends a message that carries it): every one is closed, the admitted
    // ones reconnect (ZAP asks again) and fill their gap from history, the
    // removed ones are refused.
    recheck_keys_at_ = 0;
    for (const int fd : subscribers_.fds()) ::shutdown(fd, SHUT_RDWR);
  }
  keys_->refresh();
  const auto removed = keys_->take_removed();
  if (removed.empty()) return;
  core_.revoke(removed, now, out_);
  std::size_t closed = 0;
  for (const auto& [fd, key_name] : request_keys_) {
    if (removed.contains(key_name)) {
      ::shutdown(fd, SHUT_RDWR);
      ++closed;
    }
  }
  spdlog::warn("{} key(s) removed: their sessions ended, their {} request connection(s) are "
               "closed; every subscriber connection is closed in a heartbeat to check the keys "
               "again", removed.size(), closed);
  // A heartbeat later, so that the `leave`s reach everyone first.
  recheck_keys_at_ = now + opts_.heartbeat_ms;
}

std::string broker::in_endpoint() const { return router_.get(zmq::sockopt::last_endpoint); }
std::string broker::out_endpoint() const { return pub_.get(zmq::sockopt::last_endpoint); }

void broker::request_stop() noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto written = ::write(stop_fd_, &one, sizeof one);
}

void broker::run() {
  std::uint64_t now = proto::mono_ms();
  const std::uint64_t expire_every = std::max<std::uint64_t>(opts_.heartbeat_ms / 4, 10);
  std::uint64_t next_expire = now + expire_every;
  std::uint64_t next_heartbeat = now;
  std::vector<zmq::pollitem_t> items{{router_.handle(), 0, ZMQ_POLLIN, 0},
                                     {nullptr, stop_fd_, ZMQ_POLLIN, 0},
                                     {monitors_[0].handle(), 0, ZMQ_POLLIN, 0},
                                     {monitors_[1].handle(), 0, ZMQ_POLLIN, 0},
                                     {pub_.handle(), 0, ZMQ_POLLIN, 0},
                                     {nullptr, history_.commit_fd(), ZMQ_POLLIN, 0}};
  if (history_.commit_fd() < 0) items.pop_back();
  while (true) {
    now = proto::mono_ms();
    const std::uint64_t next = std::min(next_expire, next_heartbeat);
    const auto timeout = std::chrono::milliseconds(next > now ? next - now : 0);
    // Stop reading requests while too much waits for the disk.
    const bool backlogged = history_.appended() - history_.committed() > max_uncommitted_bytes;
    items[0].events = backlogged ? 0 : ZMQ_POLLIN;
    if (!poll_interruptible(items, timeout)) continue;
    if ((items[1].revents & ZMQ_POLLIN) != 0) break;
    now = proto::mono_ms();
    if ((items[0].revents & ZMQ_POLLIN) != 0) drain_inbound(now);
    // Subscriptions before connection events: a closed connection's last
    // ones are counted to it, not to a new connection given the same fd.
    if ((items[4].revents & ZMQ_POLLIN) != 0) read_subscriptions();
    if ((items[2].revents & ZMQ_POLLIN) != 0) watch_connections(monitors_[0], "in");
    if ((items[3].revents & ZMQ_POLLIN) != 0) watch_connections(monitors_[1], "out");
    if (items.size() > 5 && (items[5].revents & ZMQ_POLLIN) != 0) {
      std::uint64_t commits = 0;
      [[maybe_unused]] const auto r = ::read(history_.commit_fd(), &commits, sizeof commits);
    }
    if (now >= next_expire) {
      core_.expire(now, out_);
      judge_subscribers();
      next_expire = now + expire_every;
    }
    if (now >= next_heartbeat) {
      core_.heartbeat(now, out_);
      history_.tick(proto::wall_ms());
      replies_.sweep();
      revoke_removed_keys(now);
      // Queues of cut peers were freed since: give the pages back, or the
      // broker keeps an attack's peak for good.
      if (trim_after_cuts_) malloc_trim(0);
      trim_after_cuts_ = false;
      next_heartbeat = now + opts_.heartbeat_ms;
    }
    hold_or_flush();
  }
  spdlog::info("shutting down");
  core_.shutdown(out_);
  refuse_inbound();
  hold_or_flush();
  history_.flush();
  release_committed();
  const auto& s = core_.stats();
  std::uint64_t errors = 0;
  for (const auto e : s.errors) errors += e;
  spdlog::info("stopped: {} requests, {} published, {} errors answered, {} replies dropped, "
               "{} slow consumers cut ({} subscribers), {} connections refused, {} closed "
               "to make way for another host",
               s.requests, s.published, errors, sends_.replies_dropped.load(),
               sends_.slow_peers_cut.load() + sends_.slow_subscribers_cut.load(),
               sends_.slow_subscribers_cut.load(), refused_connections_.load(),
               evicted_connections_.load());
}

void broker::drain_inbound(std::uint64_t now) {
  for (std::size_t i = 0; i < drain_batch; ++i) {
    frames_.clear();
    if (!zmq::recv_multipart(router_, std::back_inserter(frames_), zmq::recv_flags::dontwait)) {
      return;
    }
    const std::string_view routing_id = frames_[0].to_string_view();
    const std::size_t answered = out_.replies.size();
    // The connection (socket) it came in on: a session is bound to one.
    const int fd = frames_.back().get(ZMQ_SRCFD);
    if (keys_ && !request_keys_.contains(fd)) {
      const char* name = zmq_msg_gets(frames_.back().handle(), "User-Id");
      request_keys_.emplace(fd, name != nullptr ? name : "");
    }
    if (frames_.back().size() > opts_.max_frame) {
      on_oversize(fd, routing_id, frames_.size() == 3 && frames_[1].size() == 0);
    } else if (frames_.size() == 2) {
      core_.on_request(routing_id, false, frames_[1].to_string_view(), now, out_, identity_, fd);
    } else if (frames_.size() == 3 && frames_[1].size() == 0) {
      core_.on_request(routing_id, true, frames_[2].to_string_view(), now, out_, identity_, fd);
    } else {
      core_.on_bad_envelope(routing_id, frames_.size() - 1, out_);
    }
    // The answers name the connection they answer, for cutting a slow one.
    for (std::size_t r = answered; r < out_.replies.size(); ++r) {
      if (out_.replies[r].routing_id == routing_id) out_.replies[r].fd = fd;
    }
    if (out_.replies.size() + out_.publications.size() >= flush_every) hold_or_flush();
  }
}

void broker::on_oversize(int fd, std::string_view routing_id, bool delimiter) {
  const std::string_view body = frames_.back().to_string_view();
  core_.on_oversize(routing_id, delimiter, body, out_);
  // Once per connection: a client retrying its message must not fill the log.
  if (!oversize_logged_.insert(fd).second) return;
  std::uint64_t suppressed = 0;
  if (!refusal_log_.allow(proto::mono_ms(), suppressed)) return;
  const std::string address = peer_address(fd);
  spdlog::warn("a request of {} bytes from {} answered too-large: over --max-frame ({} bytes); "
               "later ones on this connection are answered without a log line",
               body.size(), address.empty() ? "a local socket" : address, opts_.max_frame);
}

zmq::socket_t broker::watch(zmq::context_t& context, zmq::socket_t& socket, const char* name) {
  const std::string endpoint = "inproc://bcast-connections-" + std::string(name) + "-" +
                               std::to_string(reinterpret_cast<std::uintptr_t>(this));
  if (zmq_socket_monitor(socket.handle(), endpoint.c_str(),
                         ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0) {
    throw zmq::error_t();
  }
  zmq::socket_t monitor(context, zmq::socket_type::pair);
  monitor.set(zmq::sockopt::linger, 0);
  monitor.connect(endpoint);
  return monitor;
}

void broker::watch_connections(zmq::socket_t& monitor, const char* side) {
  std::vector<zmq::message_t> frames;
  while (zmq::recv_multipart(monitor, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
    std::uint16_t event = 0;
    std::uint32_t fd = 0;
    if (frames.size() == 2 && frames[0].size() >= sizeof event + sizeof fd) {
      std::memcpy(&event, frames[0].data(), sizeof event);
      std::memcpy(&fd, frames[0].data<char>() + sizeof event, sizeof fd);
      if (event == ZMQ_EVENT_ACCEPTED) {
        on_accepted(static_cast<int>(fd), side);
      } else if (event == ZMQ_EVENT_DISCONNECTED) {
        connections_.close(static_cast<int>(fd));
        subscribers_.forget(static_cast<int>(fd));
        subscriptions_.erase(static_cast<int>(fd));
        request_keys_.erase(static_cast<int>(fd));
        oversize_logged_.erase(static_cast<int>(fd));
        if (std::strcmp(side, "in") == 0) core_.on_connection_closed(static_cast<int>(fd));
        open_connections_ = connections_.open();
        log_connection(spdlog::level::debug, fmt::format("connection closed on {} ({} open)", side, open_connections_.load()));
      }
    }
    frames.clear();
  }
}

void broker::on_accepted(int fd, const char* side) {
  const std::string address = peer_address(fd);
  // Bounds count hosts, not ports (nor the addresses of one IPv6 /64).
  const std::string host = host_of(address);
  const auto admission = connections_.accept(fd, host);
  open_connections_ = connections_.open();
  if (admission.evict >= 0) {
    // Its close is reported as for any other; a live client reconnects and
    // is refused while its host holds more than its share.
    subscribers_.forget(admission.evict);
    ++evicted_connections_;
    log_connection(spdlog::level::info, fmt::format("connection {} closed to make way for {}: its host holds the "
                               "most of the {} slots", peer_address(admission.evict), address,
                               opts_.max_connections));
    ::shutdown(admission.evict, SHUT_RDWR);
  }
  if (admission.admitted) {
    if (std::strcmp(side, "out") == 0) {
      subscribers_.watch(fd, {batcher_->made(), batcher_->frames_made()});
      subscriptions_[fd] = 0;  // a new connection starts with none
    }
    log_connection(spdlog::level::debug, fmt::format("connection accepted on {} from {} ({} open)", side,
                               address.empty() ? "a local socket" : address, open_connections_.load()));
    return;
  }
  ++refused_connections_;
  std::uint64_t suppressed = 0;
  if (refusal_log_.allow(proto::mono_ms(), suppressed)) {
    spdlog::warn("connection from {} refused on {}: {} open from it, {} in all (limits {} per "
                 "address, {} in all)",
                 address, side, connections_.from(host), connections_.open(),
                 opts_.max_connections_per_address, opts_.max_connections);
  }
  if (suppressed != 0) spdlog::warn("{} more connections refused, not logged", suppressed);
  ::shutdown(fd, SHUT_RDWR);  // ZeroMQ closes it and reports it disconnected
}

// Connections come and go with every client (two each): a debug matter; the
// people behind them are logged at info as they join and leave.
void broker::log_connection(spdlog::level::level_enum level, const std::string& line) {
  if (!spdlog::should_log(level)) return;
  std::uint64_t suppressed = 0;
  const bool log = connection_log_.allow(proto::mono_ms(), suppressed);
  if (suppressed != 0) spdlog::log(level, "{} connection events not logged", suppressed);
  if (log) spdlog::log(level, "{}", line);
}

void broker::refuse_inbound() {
  for (std::size_t i = 0; i < drain_batch; ++i) {
    frames_.clear();
    if (!zmq::recv_multipart(router_, std::back_inserter(frames_), zmq::recv_flags::dontwait)) {
      return;
    }
    const bool delimiter = frames_.size() == 3 && frames_[1].size() == 0;
    core_.refuse(frames_[0].to_string_view(), delimiter, frames_.back().to_string_view(), out_);
  }
}

void broker::hold_or_flush() {
  // The turn's messages reach the OS before anything that tells of them.
  const bool written = history_.write_pending();
  if (written && held_.empty() && history_.committed() >= history_.appended()) return flush(out_);
  if (!out_.replies.empty() || !out_.publications.empty()) {
    held_.push_back({history_.appended(), std::move(out_)});
    out_ = outbox{};
  }
  release_committed();
}

void broker::release_committed() {
  const std::uint64_t committed = history_.committed();
  while (!held_.empty() && held_.front().ticket <= committed) {
    flush(held_.front().out);
    held_.pop_front();
  }
}

void broker::flush(outbox& out) {
  // Publications first: an ack then follows its message onto the wire, so a
  // crash in between costs the sender an ack (it retries), rarely the
  // listeners a message they were never told of.
  for (auto& frame : batcher_->frames(out.publications)) {
    pub_.send(zmq::buffer(frame.topic), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    pub_.send(frame.body, zmq::send_flags::dontwait);
  }
  for (auto& r : out.replies) send_reply(r);
  out.clear();
}

void broker::send_reply(reply& r) {
  switch (replies_.admit(r.routing_id, r.body.size())) {
    case reply_queues::verdict::send: break;
    case reply_queues::verdict::cut: cut_slow_peer(r); [[fallthrough]];
    case reply_queues::verdict::drop: ++sends_.replies_dropped; return;
  }
  try {
    if (!router_.send(zmq::buffer(r.routing_id), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      ++sends_.replies_dropped;
      return;
    }
    // Once the first frame is accepted, ZeroMQ takes the whole message.
    if (r.delimiter) {
      router_.send(zmq::message_t(), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    }
    router_.send(replies_.message(r.routing_id, std::move(r.body)), zmq::send_flags::dontwait);
  } catch (const zmq::error_t&) {
    ++sends_.replies_dropped;  // EHOSTUNREACH: the peer is gone
  }
}

void broker::cut_slow_peer(const reply& r) {
  ++sends_.slow_peers_cut;
  std::string address = r.fd >= 0 ? peer_address(r.fd) : std::string();
  if (address.empty()) address = "address unknown";
  spdlog::warn("slow consumer cut: connection {} ({}) has {} bytes of replies unread (limit {}, "
               "all peers {} of {})",
               hex(r.routing_id, 8), address, replies_.queued(r.routing_id), opts_.reply_queue_bytes,
               replies_.total(), opts_.reply_total_bytes);
  // The fd is the connection this request came in on, a moment ago; ZeroMQ
  // sees the shutdown as a closed connection, frees its queue (which gives
  // the bytes back) and the client reconnects and resumes if it is alive.
  if (r.fd >= 0) ::shutdown(r.fd, SHUT_RDWR);
}

void broker::read_subscriptions() {
  zmq::message_t note;
  for (std::size_t i = 0; i < drain_batch && pub_.recv(note, zmq::recv_flags::dontwait); ++i) {
    // A connection's closing unsubscribes it without a connection (-1).
    const int fd = zmq_msg_get(note.handle(), ZMQ_SRCFD);
    // Counted only for a connection seen accepted and not yet closed: a
    // closed one's late notes must not mark the fd for its next owner. A
    // connection's acceptance is reported before it can subscribe: one not
    // known yet, or known as cut (the cut one's close and a new owner's
    // acceptance of its fd may be waiting), is looked for among the
    // connection events first.
    auto counted = subscriptions_.find(fd);
    const auto cut = [](std::size_t held) { return held > max_subscriptions_per_connection + 1; };
    if (fd >= 0 && (counted == subscriptions_.end() || cut(counted->second))) {
      watch_connections(monitors_[1], "out");
      counted = subscriptions_.find(fd);
    }
    if (fd < 0 || note.size() == 0 || counted == subscriptions_.end()) continue;
    std::size_t& held = counted->second;
    if (note.data<std::uint8_t>()[0] == 0) {
      if (held > 0) --held;
      continue;
    }
    const std::string_view topic(note.data<char>() + 1, note.size() - 1);
    const bool known = topic.empty() || topic == proto::sys_topic || topic == proto::room_topic_prefix ||
                       (!proto::room_of_topic(topic).empty() && !proto::check_room(proto::room_of_topic(topic)));
    const bool over = ++held > max_subscriptions_per_connection;
    if (cut(held) || (known && !over)) continue;  // cut already
    held = max_subscriptions_per_connection + 2;
    ++sends_.subscription_floods_cut;
    const std::string address = peer_address(fd);
    spdlog::warn("subscriber {} cut: {}", address.empty() ? "on a local socket" : address,
                 known ? fmt::format("more than {} subscriptions on one connection",
                                     max_subscriptions_per_connection)
                       : fmt::format("subscribed to a topic no publication has ({} bytes)", topic.size()));
    ::shutdown(fd, SHUT_RDWR);
  }
}

void broker::judge_subscribers() {
  const slow_subscribers::position published{batcher_->made(), batcher_->frames_made()};
  const std::size_t held = batcher_->held();
  // Nothing published, nobody behind, nothing held: nothing to look at.
  if (published.frames == judged_at_ && subscribers_.stopped() == 0 && held <= opts_.sub_total_bytes) {
    return;
  }
  judged_at_ = published.frames;
  for (const int fd : subscribers_.judge(published, held, send_queue)) {
    ++sends_.slow_subscribers_cut;
    trim_after_cuts_ = true;
    std::string address = peer_address(fd);
    spdlog::warn("slow consumer cut: subscriber {} stopped reading {} bytes of publications ago "
                 "(limit {}; publications held for all subscribers {} of {})",
                 address.empty() ? "on a local socket" : address,
                 subscribers_.behind(fd, published), opts_.sub_queue_bytes, held,
                 opts_.sub_total_bytes);
    // ZeroMQ sees a closed connection and frees its queue; a live client
    // reconnects and fills its gap from history.
    ::shutdown(fd, SHUT_RDWR);
  }
}

}  // namespace bcast::broker
