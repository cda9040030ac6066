// pub_batcher: runs of one room's messages found in order and written as one
// `pack` body each, from the stored bodies read in place. A
// holder keeps each frame's bytes and the count alive until ZeroMQ's free
// callback (on an I/O thread) gives them back.
#include "pub_batcher.hpp"

#include <algorithm>

#include "bcast/proto/pack.hpp"
#include "bcast/proto/limits.hpp"
#include "bcast/proto/topics.hpp"

namespace bcast::broker {
namespace {

struct held_frame {
  shared_body body;
  std::shared_ptr<std::atomic<std::size_t>> held;
};

void release(void* /*data*/, void* hint) {
  auto* frame = static_cast<held_frame*>(hint);
  frame->held->fetch_sub(frame->body->size(), std::memory_order_relaxed);
  delete frame;
}

}  // namespace

std::vector<pub_frame>& pub_batcher::frames(std::span<const publication> pubs) {
  frames_.clear();
  for (std::size_t i = 0; i < pubs.size();) {
    const std::size_t n = run_from(pubs, i);
    frames_.push_back({pubs[i].topic, counted(n == 1 ? pubs[i].body : pack())});
    i += n;
  }
  return frames_;
}

std::size_t pub_batcher::run_from(std::span<const publication> pubs, std::size_t first) {
  const publication& head = pubs[first];
  if (proto::room_of_topic(head.topic).empty()) return 1;  // a sys/ event
  run_.clear();
  std::size_t bytes = 0;  // of the bodies in run_
  for (std::size_t i = first; i < pubs.size() && run_.size() < proto::max_batch_msgs; ++i) {
    const publication& next = pubs[i];
    if (i > first && (next.topic != head.topic || bytes + next.body->size() > proto::max_batch_bytes)) break;
    const auto m = proto::read_stored_msg(next.body.view());
    // Every room publication is a body encode_msg wrote, of one epoch.
    if (!m || (!run_.empty() && (m->epoch != run_.back().epoch || m->seq != run_.back().seq + 1))) break;
    bytes += next.body->size();
    run_.push_back(*m);
  }
  return std::max<std::size_t>(run_.size(), 1);
}

zmq::message_t pub_batcher::counted(shared_body body) {
  auto* frame = new held_frame{std::move(body), held_};
  // Viewed where it now lives: a short body is stored inside its message.
  const std::string_view bytes = frame->body.view();
  made_ += bytes.size();
  ++frames_made_;
  held_->fetch_add(bytes.size(), std::memory_order_relaxed);
  return zmq::message_t(const_cast<char*>(bytes.data()), bytes.size(), release, frame);
}

shared_body pub_batcher::pack() {
  proto::encode_pack(run_, packed_);
  return shared_body(zmq::message_t(packed_.data(), packed_.size()));
}

}  // namespace bcast::broker
