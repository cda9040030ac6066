// ZAP requests in, verdicts out: 200 with the key's name, or 400.
#include "bcast/broker/zap_handler.hpp"

#include <spdlog/spdlog.h>
#include <zmq_addon.hpp>

#include <iterator>
#include <optional>
#include <string>

#include "bcast/broker/log_limiter.hpp"
#include "bcast/proto/clock.hpp"

namespace bcast::broker {
namespace {

constexpr const char* zap_endpoint = "inproc://zeromq.zap.01";
// How often the thread looks at its stop flag.
constexpr std::chrono::milliseconds stop_check{100};
// Refusals logged per second.
constexpr std::uint64_t refusal_logs_per_second = 10;

}  // namespace

zap_handler::zap_handler(zmq::context_t& context, key_ring* keys)
    : socket_(context, zmq::socket_type::rep), keys_(keys) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.bind(zap_endpoint);
  thread_ = std::thread([this] { run(); });
}

zap_handler::~zap_handler() {
  stop_ = true;
  thread_.join();
}

void zap_handler::run() {
  std::vector<zmq::message_t> request;
  while (!stop_) {
    std::vector<zmq::pollitem_t> items{{socket_.handle(), 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, stop_check);
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return;
      continue;
    }
    if ((items[0].revents & ZMQ_POLLIN) == 0) continue;
    request.clear();
    if (!zmq::recv_multipart(socket_, std::back_inserter(request), zmq::recv_flags::dontwait)) continue;
    answer(request);
  }
}

void zap_handler::answer(std::vector<zmq::message_t>& request) {
  // version, request id, domain, address, routing id, mechanism, credentials
  static log_limiter log(refusal_logs_per_second);
  std::string status = "400";
  std::string text = "key not admitted";
  std::string user;
  const bool curve = request.size() == 7 && request[5].to_string_view() == "CURVE" &&
                     request[6].size() == 32;
  if (curve) {
    char z85[41] = {};
    zmq_z85_encode(z85, request[6].data<std::uint8_t>(), 32);
    // Without a key ring every key passes, with no name bound.
    std::optional<std::string> name = keys_ == nullptr ? std::optional<std::string>("") : keys_->name_of(z85);
    if (!name && keys_ != nullptr) {
      keys_->refresh();  // a key just added is admitted at once
      name = keys_->name_of(z85);
    }
    if (name) {
      status = "200";
      text = "OK";
      user = *name;
    } else {
      ++refused_;
      std::uint64_t suppressed = 0;
      if (log.allow(proto::mono_ms(), suppressed)) {
        spdlog::warn("connection from {} refused: key {} is not admitted", request[3].to_string_view(), z85);
      }
      if (suppressed != 0) spdlog::warn("{} more connections refused, not logged", suppressed);
    }
  }
  const std::string_view version = request.empty() ? "1.0" : request[0].to_string_view();
  const std::string id = request.size() > 1 ? request[1].to_string() : std::string();
  std::vector<zmq::const_buffer> reply{zmq::buffer(version), zmq::buffer(id), zmq::buffer(status),
                                       zmq::buffer(text), zmq::buffer(user), zmq::const_buffer()};
  zmq::send_multipart(socket_, reply);
}

}  // namespace bcast::broker
