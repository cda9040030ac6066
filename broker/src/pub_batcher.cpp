// pub_batcher: runs of one room's messages found in order and written as one
// `batch` body each: the header, then the stored bodies byte for byte.
#include "bcast/broker/pub_batcher.hpp"

#include <cstring>

#include "bcast/proto/codec.hpp"
#include "bcast/proto/limits.hpp"

namespace bcast::broker {

std::vector<pub_frame>& pub_batcher::frames(std::span<const publication> pubs, std::uint64_t epoch) {
  frames_.clear();
  for (std::size_t i = 0; i < pubs.size();) {
    const std::size_t n = run_length(pubs, i);
    const auto& first = pubs[i];
    frames_.push_back({first.topic, n == 1 ? first.body.share() : batch(pubs.subspan(i, n), epoch)});
    i += n;
  }
  return frames_;
}

std::size_t pub_batcher::run_length(std::span<const publication> pubs, std::size_t first) {
  const publication& head = pubs[first];
  if (head.room.empty()) return 1;  // a sys/ event
  std::size_t bytes = head.body->size();
  std::size_t n = 1;
  while (first + n < pubs.size() && n < proto::max_batch_msgs) {
    const publication& next = pubs[first + n];
    if (next.room != head.room || bytes + next.body->size() > proto::max_batch_bytes) break;
    bytes += next.body->size();
    ++n;
  }
  return n;
}

zmq::message_t pub_batcher::batch(std::span<const publication> run, std::uint64_t epoch) {
  proto::encode_batch_header(run.front().room, epoch, run.size(), header_);
  std::size_t bytes = header_.size();
  for (const auto& p : run) bytes += p.body->size();
  zmq::message_t out(bytes);
  char* at = static_cast<char*>(out.data());
  std::memcpy(at, header_.data(), header_.size());
  at += header_.size();
  for (const auto& p : run) {
    std::memcpy(at, p.body->data(), p.body->size());
    at += p.body->size();
  }
  return out;
}

}  // namespace bcast::broker
