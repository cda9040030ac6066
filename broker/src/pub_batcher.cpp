// pub_batcher: runs of one room's messages found in order and written as one
// `batch` body each: the header, then the stored bodies byte for byte. A
// holder keeps each frame's bytes and the count alive until ZeroMQ's free
// callback (on an I/O thread) gives them back.
#include "pub_batcher.hpp"

#include <cstring>

#include "bcast/proto/codec.hpp"
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

std::vector<pub_frame>& pub_batcher::frames(std::span<const publication> pubs, std::uint64_t epoch) {
  frames_.clear();
  for (std::size_t i = 0; i < pubs.size();) {
    const run r = run_from(pubs, i);
    const auto& first = pubs[i];
    frames_.push_back({first.topic, counted(r.msgs == 1 ? first.body : batch(pubs.subspan(i, r.msgs), r.bytes, epoch))});
    i += r.msgs;
  }
  return frames_;
}

pub_batcher::run pub_batcher::run_from(std::span<const publication> pubs, std::size_t first) {
  const publication& head = pubs[first];
  run r{1, head.body->size()};
  if (proto::room_of_topic(head.topic).empty()) return r;  // a sys/ event
  while (first + r.msgs < pubs.size() && r.msgs < proto::max_batch_msgs) {
    const publication& next = pubs[first + r.msgs];
    const std::size_t size = next.body->size();
    if (next.topic != head.topic || r.bytes + size > proto::max_batch_bytes) break;
    r.bytes += size;
    ++r.msgs;
  }
  return r;
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

shared_body pub_batcher::batch(std::span<const publication> msgs, std::size_t bytes,
                                  std::uint64_t epoch) {
  proto::encode_batch_header(proto::room_of_topic(msgs.front().topic), epoch, msgs.size(), header_);
  zmq::message_t out(header_.size() + bytes);
  char* at = static_cast<char*>(out.data());
  std::memcpy(at, header_.data(), header_.size());
  at += header_.size();
  for (const auto& p : msgs) {
    const std::string_view body = p.body.view();
    std::memcpy(at, body.data(), body.size());
    at += body.size();
  }
  return shared_body(std::move(out));
}

}  // namespace bcast::broker
