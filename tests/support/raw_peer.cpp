// Raw DEALER/SUB peers for transcript-style integration tests.
#include "raw_peer.hpp"

#include <zmq_addon.hpp>

#include "bcast/proto/pack.hpp"

namespace bcast::test {

raw_peer::raw_peer(zmq::context_t& context, const std::string& in, const std::string& out,
                   const std::optional<curve_keys>& curve)
    : dealer_(context, zmq::socket_type::dealer), sub_(context, zmq::socket_type::sub) {
  dealer_.set(zmq::sockopt::linger, 0);
  sub_.set(zmq::sockopt::linger, 0);
  if (curve) {
    for (zmq::socket_t* s : {&dealer_, &sub_}) {
      s->set(zmq::sockopt::curve_serverkey, curve->server.public_key);
      s->set(zmq::sockopt::curve_publickey, curve->own.public_key);
      s->set(zmq::sockopt::curve_secretkey, curve->own.secret_key);
    }
  }
  sub_.set(zmq::sockopt::subscribe, "");
  sub_.connect(out);
  dealer_.connect(in);
}

void raw_peer::send(const proto::any_request& request) { send_frames({proto::encode(request)}); }

void raw_peer::send_frames(const std::vector<std::string>& frames) {
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const auto flags = i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
    dealer_.send(zmq::buffer(frames[i]), flags);
  }
}

std::optional<proto::any_event> raw_peer::reply(std::chrono::milliseconds limit) {
  std::vector<zmq::pollitem_t> items{{dealer_.handle(), 0, ZMQ_POLLIN, 0}};
  if (zmq::poll(items, limit) == 0) return std::nullopt;
  std::vector<zmq::message_t> frames;
  (void)zmq::recv_multipart(dealer_, std::back_inserter(frames));
  auto decoded = proto::decode_event(frames.back().to_string_view());
  if (auto* e = std::get_if<proto::any_event>(&decoded)) return std::move(*e);
  ADD_FAILURE() << "undecodable answer: " << std::get<proto::decode_error>(decoded).reason;
  return std::nullopt;
}

std::optional<published> raw_peer::publication(std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  std::vector<zmq::pollitem_t> items{{sub_.handle(), 0, ZMQ_POLLIN, 0}};
  while (unpacked_.empty()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0 || zmq::poll(items, left) == 0) return std::nullopt;
    std::vector<zmq::message_t> frames;
    (void)zmq::recv_multipart(sub_, std::back_inserter(frames));
    auto decoded = proto::decode_event(frames.at(1).to_string_view());
    auto* e = std::get_if<proto::any_event>(&decoded);
    if (e == nullptr) {
      ADD_FAILURE() << "undecodable publication";
      return std::nullopt;
    }
    if (std::holds_alternative<proto::event::hb>(*e)) continue;
    if (auto* pack = std::get_if<proto::event::pack>(e)) {
      ++packs_;
      for (auto& m : proto::messages_of(*pack)) unpacked_.push_back({frames[0].to_string(), std::move(m)});
    } else {
      unpacked_.push_back({frames[0].to_string(), std::move(*e)});
    }
  }
  published next = std::move(unpacked_.front());
  unpacked_.pop_front();
  return next;
}

std::size_t raw_peer::drain_publications() {
  unpacked_.clear();
  std::size_t frames = 0;
  zmq::message_t frame;
  while (sub_.recv(frame, zmq::recv_flags::dontwait)) ++frames;
  return frames;
}

bool raw_peer::wait_subscribed() { return wait_subscribed_within(patience); }

bool raw_peer::wait_subscribed_within(std::chrono::milliseconds limit) {
  std::vector<zmq::pollitem_t> items{{sub_.handle(), 0, ZMQ_POLLIN, 0}};
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (zmq::poll(items, std::chrono::milliseconds(50)) == 0) continue;
    std::vector<zmq::message_t> frames;
    (void)zmq::recv_multipart(sub_, std::back_inserter(frames));
    auto decoded = proto::decode_event(frames.at(1).to_string_view());
    auto* e = std::get_if<proto::any_event>(&decoded);
    if (e != nullptr && std::holds_alternative<proto::event::hb>(*e)) return true;
  }
  return false;
}

proto::event::welcome raw_peer::join(const std::string& name) {
  proto::request::hello hello;
  hello.name = name;
  send(hello);
  return expect<proto::event::welcome>();
}

proto::event::error raw_peer::expect_error(std::string_view code) {
  auto error = expect<proto::event::error>();
  EXPECT_EQ(error.code, code) << "reason: " << error.reason;
  return error;
}

}  // namespace bcast::test
