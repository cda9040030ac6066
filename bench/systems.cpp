// The ZeroMQ systems under test: ours (broadcast-server in a child process,
// publishers are DEALERs that said hello), proxy (zmq_proxy in a child
// process, publishers are PUBs connected to its XSUB), direct (a bound PUB).
// Subscribers are SUB sockets on "room/bench/" for all three.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <vector>
#include <zmq.hpp>

#include "bcast/proto/clock.hpp"
#include "bcast/proto/codec.hpp"
#include "bcast/proto/pack.hpp"
#include "child.hpp"
#include "systems.hpp"

namespace bench {
namespace {

namespace proto = bcast::proto;

std::string publisher_name(std::uint32_t index) { return "bench-" + std::to_string(index); }

// "… in X (ROUTER), out Y (PUB)" -> {X, Y}; the words differ for the proxy.
std::pair<std::string, std::string> parse_endpoints(const std::string& line, const std::string& in_kind,
                                                    const std::string& out_kind) {
  const auto in_at = line.find(" in ");
  const auto in_end = line.find(" (" + in_kind + ")");
  const auto out_at = line.find(", out ");
  const auto out_end = line.find(" (" + out_kind + ")");
  if (in_at == std::string::npos || in_end == std::string::npos || out_at == std::string::npos ||
      out_end == std::string::npos) {
    throw std::runtime_error("cannot read endpoints from: " + line);
  }
  return {line.substr(in_at + 4, in_end - in_at - 4), line.substr(out_at + 6, out_end - out_at - 6)};
}

class zmq_sub final : public sub_conn {
 public:
  zmq_sub(zmq::context_t& context, int hwm) : socket_(context, zmq::socket_type::sub) {
    socket_.set(zmq::sockopt::rcvhwm, hwm);
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::subscribe, room_topic);
  }
  void connect(const std::string& endpoint) { socket_.connect(endpoint); }
  int fd() override { return static_cast<int>(socket_.get(zmq::sockopt::fd)); }
  bool drain(sub_state& state) override {
    for (int i = 0; i < 1024; ++i) {
      if (!socket_.recv(topic_, zmq::recv_flags::dontwait)) return false;
      if (!topic_.more()) {  // a single frame: the topic, then the text
        state.record(topic_.to_string_view());
        continue;
      }
      // A multipart message arrives whole: the body is already there.
      if (!socket_.recv(body_, zmq::recv_flags::none)) return false;
      record(body_.to_string_view(), state);
      while (body_.more() && socket_.recv(body_, zmq::recv_flags::none)) ++state.foreign;
    }
    return true;
  }

 private:
  // A pack counts as each of its messages, read in place: the tail is at
  // the end of each text, as it is at the end of a lone msg's body.
  void record(std::string_view body, sub_state& state) {
    if (!proto::read_pack(body, pack_)) return state.record(body);
    for (const auto& entry : pack_.entries) state.record(entry.text);
  }

  zmq::socket_t socket_;
  zmq::message_t topic_;
  zmq::message_t body_;
  proto::pack_view pack_;  // reused for every pack
};

// A SUB on the subscribers' context, `rcvhwm` deep (0: the run's --hwm),
// connected to each of `endpoints`.
std::unique_ptr<sub_conn> subscriber_to(const system_config& config, int rcvhwm,
                                        std::span<const std::string> endpoints) {
  auto sub = std::make_unique<zmq_sub>(*config.sub_ctx, rcvhwm > 0 ? rcvhwm : config.hwm);
  for (const auto& endpoint : endpoints) sub->connect(endpoint);
  return sub;
}

// How a PUB publisher frames a message: one frame, the topic then the text
// (what PUB/SUB users send: the best a plain PUB/SUB can do), or two frames,
// the topic and a body of the bytes our broker publishes for the text (the
// same bytes on the wire as ours).
enum class pub_framing { single, same_bytes };

// A PUB publisher. Bound (direct), it is the fan-out socket and
// drops at the high-water mark like a broker's PUB. Connected to a proxy, it
// blocks instead (ZMQ_XPUB_NODROP), as our DEALER blocks when the broker's
// queue is full: open loop means "as fast as the system takes messages".
class zmq_pub final : public pub_conn {
 public:
  zmq_pub(zmq::context_t& context, int hwm, std::uint32_t index, std::size_t text_size, pub_framing framing)
      : socket_(context, zmq::socket_type::pub),
        body_(framing == pub_framing::single ? std::string(room_topic) + std::string(text_size, 'x')
                                             : published_body(text_size, publisher_name(index))),
        framing_(framing),
        index_(index) {
    socket_.set(zmq::sockopt::sndhwm, hwm);
    socket_.set(zmq::sockopt::linger, 0);
  }
  zmq::socket_t& socket() { return socket_; }
  void send(char marker, std::uint64_t ts_ns) override {
    write_tail(body_.data() + body_.size(), marker, index_, ts_ns);
    const bool topic_sent = framing_ == pub_framing::single ||
                            socket_.send(zmq::buffer(std::string_view(room_topic)), zmq::send_flags::sndmore);
    if (!topic_sent || !socket_.send(zmq::buffer(body_), zmq::send_flags::none)) {
      throw std::runtime_error("the proxy took no message for 10 s");
    }
  }

 private:
  zmq::socket_t socket_;
  std::string body_;
  pub_framing framing_;
  std::uint32_t index_;
};

// Our client side: a DEALER that said hello; `msg` requests without `id`
// (no acks to read back; the closed loop counts deliveries instead).
class ours_pub final : public pub_conn {
 public:
  ours_pub(zmq::context_t& context, const std::string& in, std::uint32_t index, std::size_t text_size)
      : socket_(context, zmq::socket_type::dealer), index_(index) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::sndtimeo, 10000);  // a broker that stops reading fails the cell
    socket_.connect(in);
    proto::request::hello hello;
    hello.name = publisher_name(index);
    hello.rooms = {"bench"};
    send_body(proto::encode(proto::any_request{hello}));
    wait_welcome();
    proto::request::msg msg;
    msg.room = "bench";
    msg.text = std::string(text_size, 'x');
    body_ = proto::encode(proto::any_request{msg});
    if (!body_.ends_with(msg.text)) throw std::logic_error("msg body does not end with its text");
    ping_ = proto::encode(proto::any_request{proto::request::ping{}});
  }
  void send(char marker, std::uint64_t ts_ns) override {
    write_tail(body_.data() + body_.size(), marker, index_, ts_ns);
    send_body(body_);
  }
  void service() override {
    zmq::message_t reply;
    while (socket_.recv(reply, zmq::recv_flags::dontwait)) note(reply.to_string_view());
  }
  void keepalive() override {
    send_body(ping_);
    service();
  }
  [[nodiscard]] std::string problem() const override {
    return errors_ == 0 ? std::string() : std::to_string(errors_) + " errors, first: " + first_error_;
  }

 private:
  void send_body(const std::string& body) {
    if (!socket_.send(zmq::buffer(body), zmq::send_flags::none)) {
      throw std::runtime_error("the broker took no request for 10 s");
    }
  }
  void wait_welcome() {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    for (int waited_ms = 0; waited_ms < 10000; waited_ms += 100) {
      if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) == 0) continue;
      zmq::message_t reply;
      while (socket_.recv(reply, zmq::recv_flags::dontwait)) {
        auto decoded = proto::decode_event(reply.to_string_view());
        if (auto* event = std::get_if<proto::any_event>(&decoded)) {
          if (std::holds_alternative<proto::event::welcome>(*event)) return;
          if (auto* e = std::get_if<proto::event::error>(event)) {
            throw std::runtime_error("hello refused: " + e->code + ": " + e->reason);
          }
        }
      }
    }
    throw std::runtime_error("no welcome from the broker in 10 s");
  }
  void note(std::string_view reply) {
    auto decoded = proto::decode_event(reply);
    if (auto* event = std::get_if<proto::any_event>(&decoded)) {
      if (auto* e = std::get_if<proto::event::error>(event)) {
        if (errors_++ == 0) first_error_ = e->code + ": " + e->reason;
      }
    }
  }

  zmq::socket_t socket_;
  std::uint32_t index_;
  std::string body_;
  std::string ping_;
  std::uint64_t errors_ = 0;
  std::string first_error_;
};

// A fresh directory for one broker's history, removed with it.
class history_dir {
 public:
  history_dir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/bcast-bench-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp: " + pattern);
    path_ = pattern;
  }
  ~history_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  history_dir(const history_dir&) = delete;
  history_dir& operator=(const history_dir&) = delete;
  [[nodiscard]] std::string db() const { return path_ + "/rooms"; }

 private:
  std::string path_;
};

// The broker with one of its stores: `ours` as users start it (the default
// history directory), `ours-memory` (--db :memory:), `ours-durable`.
std::vector<std::string> ours_command(const system_config& config, const std::string& name,
                                      const history_dir& dir) {
  // Every benchmark peer comes from 127.0.0.1: here one address is the whole
  // machine, so the per-address limits (for the open network) are raised to
  // the total: 1000 subscribers get in, and 1000 idle clients say hello.
  std::vector<std::string> argv{config.broker_path, "start", "--in", "0", "--out", "0", "--log-level",
                                "warn", "--pub-hwm", std::to_string(config.hwm),
                                "--max-connections-per-address", "4096", "--hello-rate", "100000", "--db"};
  argv.push_back(name == "ours-memory" ? ":memory:" : dir.db());
  if (name == "ours-durable") argv.emplace_back("--durable");
  return argv;
}

class ours_system final : public system_under_test {
 public:
  ours_system(const system_config& config, std::string name)
      : config_(config), name_(std::move(name)), child_(ours_command(config, name_, dir_)) {
    std::tie(in_, out_) = parse_endpoints(child_.line_containing("listening:"), "ROUTER", "PUB");
  }
  ~ours_system() override { child_.stop(); }
  ours_system(const ours_system&) = delete;
  ours_system& operator=(const ours_system&) = delete;
  [[nodiscard]] std::string name() const override { return name_; }
  [[nodiscard]] std::pair<std::string, std::string> endpoints() const override { return {in_, out_}; }
  [[nodiscard]] int pid() const override { return child_.pid(); }
  std::unique_ptr<pub_conn> publisher(std::uint32_t index, std::size_t text_size) override {
    return std::make_unique<ours_pub>(*config_.pub_ctx, in_, index, text_size);
  }
  std::unique_ptr<sub_conn> make_subscriber(int rcvhwm) override {
    return subscriber_to(config_, rcvhwm, {&out_, 1});
  }

 private:
  system_config config_;
  std::string name_;
  history_dir dir_;
  child_process child_;
  std::string in_, out_;
};

// `proxy`: single frames of the text's size; `proxy-bytes`: the same bytes as
// ours, in two frames.
class proxy_system final : public system_under_test {
 public:
  proxy_system(const system_config& config, pub_framing framing)
      : config_(config), framing_(framing),
        child_({config.self_path, "--internal-proxy", std::to_string(config.hwm)}) {
    std::tie(in_, out_) = parse_endpoints(child_.line_containing("listening:"), "XSUB", "XPUB");
  }
  [[nodiscard]] std::string name() const override {
    return framing_ == pub_framing::single ? "proxy" : "proxy-bytes";
  }
  [[nodiscard]] int pid() const override { return child_.pid(); }
  std::unique_ptr<pub_conn> publisher(std::uint32_t index, std::size_t text_size) override {
    auto pub = std::make_unique<zmq_pub>(*config_.pub_ctx, config_.hwm, index, text_size, framing_);
    pub->socket().set(zmq::sockopt::xpub_nodrop, true);
    pub->socket().set(zmq::sockopt::sndtimeo, 10000);
    pub->socket().connect(in_);
    return pub;
  }
  std::unique_ptr<sub_conn> make_subscriber(int rcvhwm) override {
    return subscriber_to(config_, rcvhwm, {&out_, 1});
  }

 private:
  system_config config_;
  pub_framing framing_;
  child_process child_;
  std::string in_, out_;
};

// PUB bound by each publisher, SUBs connected to all: single frames.
class direct_system final : public system_under_test {
 public:
  explicit direct_system(const system_config& config) : config_(config) {}
  [[nodiscard]] std::string name() const override { return "direct"; }
  std::unique_ptr<pub_conn> publisher(std::uint32_t index, std::size_t text_size) override {
    auto pub = std::make_unique<zmq_pub>(*config_.pub_ctx, config_.hwm, index, text_size, pub_framing::single);
    pub->socket().bind("tcp://127.0.0.1:*");
    endpoints_.push_back(pub->socket().get(zmq::sockopt::last_endpoint));
    return pub;
  }
  std::unique_ptr<sub_conn> make_subscriber(int rcvhwm) override {
    return subscriber_to(config_, rcvhwm, endpoints_);
  }

 private:
  system_config config_;
  std::vector<std::string> endpoints_;
};

}  // namespace

std::string published_body(std::size_t text_size, const std::string& from) {
  proto::event::msg msg;
  msg.epoch = proto::wall_ms();
  msg.seq = 100000;  // a typical seq width (uint32) for a busy room
  msg.ts = proto::wall_ms();
  msg.room = "bench";
  msg.from = from;
  msg.text = std::string(text_size, 'x');
  std::string body = proto::encode(proto::any_event{msg});
  if (!body.ends_with(msg.text)) throw std::logic_error("published body does not end with its text");
  return body;
}

std::unique_ptr<system_under_test> start_system(const std::string& name, const system_config& config) {
  if (name.rfind("ours", 0) == 0) return std::make_unique<ours_system>(config, name);
  if (name == "proxy") return std::make_unique<proxy_system>(config, pub_framing::single);
  if (name == "proxy-bytes") return std::make_unique<proxy_system>(config, pub_framing::same_bytes);
  if (name == "direct") return std::make_unique<direct_system>(config);
  if (name == "nats") return make_nats(config);
  if (name == "redis") return make_redis(config);
  throw std::invalid_argument("unknown system " + name);
}

int run_proxy_child(int hwm) {
  zmq::context_t context;
  zmq::socket_t xsub(context, zmq::socket_type::xsub);
  zmq::socket_t xpub(context, zmq::socket_type::xpub);
  xpub.set(zmq::sockopt::sndhwm, hwm);  // as the broker's --pub-hwm
  xsub.bind("tcp://127.0.0.1:*");
  xpub.bind("tcp://127.0.0.1:*");
  std::printf("proxy listening: in %s (XSUB), out %s (XPUB)\n",
              xsub.get(zmq::sockopt::last_endpoint).c_str(), xpub.get(zmq::sockopt::last_endpoint).c_str());
  std::fflush(stdout);
  zmq::proxy(xsub, xpub);
  return 0;
}

}  // namespace bench
