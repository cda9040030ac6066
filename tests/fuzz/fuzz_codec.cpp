// libFuzzer target for the BCAST/1 codec (proto/codec.hpp). Owns the codec's
// round-trip invariants on arbitrary bytes, not just "does not crash":
// whatever decode_request or decode_event accepts must re-encode to a body
// that decodes again, to the same message type, and re-encodes to the same
// bytes (encode is a function of the decoded value); a decoded `history`
// event must encode the same through encode_history over its encoded msgs as
// through encode; a refusal must say why; whatever the broker's in-place
// reader read_plain_msg accepts must decode to the same `msg`, and encode_msg
// must write what encode writes. Any violation abort()s, so
// libFuzzer keeps the input. Seeds: corpus/codec (tests/fuzz/make_corpus.py).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "bcast/proto/codec.hpp"
#include "bcast/proto/msg_view.hpp"

namespace {

using namespace bcast::proto;

[[noreturn]] void violated(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "fuzz_codec: invariant violated: %s %.*s\n", what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

// encode(decoded) must decode with `decode` to the same alternative and
// re-encode to the same bytes.
template <typename Message, typename Decode>
void check_round_trip(const Message& decoded, Decode decode, const char* kind) {
  const std::string once = encode(decoded);
  auto again = decode(once);
  if (const auto* error = std::get_if<decode_error>(&again)) {
    violated(kind, "encode of a decoded value does not decode: " + error->reason);
  }
  const auto& second = std::get<Message>(again);
  if (second.index() != decoded.index()) violated(kind, "round trip changed the message type");
  if (encode(second) != once) violated(kind, "decode(encode(m)) re-encodes to other bytes");
}

// The broker answers history from stored bodies via encode_history; it must
// agree with the typed encoding of the same answer.
void check_history_encoders(const any_event& decoded) {
  const auto* h = std::get_if<event::history>(&decoded);
  if (h == nullptr) return;
  std::vector<std::string> bodies;
  bodies.reserve(h->msgs.size());
  for (const auto& m : h->msgs) bodies.push_back(encode(any_event{m}));
  std::vector<std::string_view> views(bodies.begin(), bodies.end());
  if (encode_history(h->room, views, h->first, h->last, h->epoch, h->id) != encode(decoded)) {
    violated("event", "encode_history differs from encode(event::history)");
  }
}

template <typename Result>
void check_refusal(const Result& result, const char* kind) {
  if (const auto* error = std::get_if<decode_error>(&result); error && error->reason.empty()) {
    violated(kind, "decode_error without a reason");
  }
}

// The broker publishes what read_plain_msg reads and encode_msg writes: both
// must agree with the full codec.
void check_plain_msg(std::string_view bytes, const std::variant<any_request, decode_error>& decoded) {
  const auto plain = read_plain_msg(bytes);
  if (!plain) return;
  const auto* request = std::get_if<any_request>(&decoded);
  const auto* m = request != nullptr ? std::get_if<request::msg>(request) : nullptr;
  if (m == nullptr) violated("plain msg", "read_plain_msg accepts what decode_request does not read as a msg");
  if (m->room != plain->room || m->text != plain->text || m->id != plain->id) {
    violated("plain msg", "read_plain_msg and decode_request read different fields");
  }
  const event::msg published{1, 2, 3, m->room, "fuzz", m->text};
  if (encode_msg({1, 2, 3, plain->room, "fuzz", plain->text}) != encode(any_event{published})) {
    violated("plain msg", "encode_msg differs from encode(event::msg)");
  }
}

// Receivers take a batch apart with split_batch: wherever decode_event reads
// a batch, split_batch finds the same messages, and encode_batch over their
// bodies is the typed encoding.
void check_batch(std::string_view bytes, const std::variant<any_event, decode_error>& decoded) {
  const auto* e = std::get_if<any_event>(&decoded);
  const auto* b = e != nullptr ? std::get_if<event::batch>(e) : nullptr;
  const auto split = split_batch(bytes);
  if (split && !is_batch(bytes)) violated("batch", "is_batch denies what split_batch splits");
  if (e != nullptr && (b != nullptr) != is_batch(bytes)) {
    violated("batch", "is_batch disagrees with decode_event on a decodable body");
  }
  if (b == nullptr) return;
  if (!split || split->size() != b->msgs.size()) violated("batch", "split_batch misses a decoded batch");
  std::vector<std::string> bodies;
  for (std::size_t i = 0; i < b->msgs.size(); ++i) {
    const auto one = decode_event((*split)[i]);
    const auto* m = std::get_if<any_event>(&one);
    if (m == nullptr || !(std::get_if<event::msg>(m) != nullptr && *std::get_if<event::msg>(m) == b->msgs[i])) {
      violated("batch", "a body split_batch found is not the decoded msg");
    }
    bodies.push_back(encode(any_event{b->msgs[i]}));
  }
  std::vector<std::string_view> views(bodies.begin(), bodies.end());
  if (encode_batch(b->room, b->epoch, views) != encode(*e)) {
    violated("batch", "encode_batch differs from encode(event::batch)");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

  const auto request = decode_request(bytes);
  check_refusal(request, "request");
  check_plain_msg(bytes, request);
  if (const auto* r = std::get_if<any_request>(&request)) {
    check_round_trip(*r, decode_request, "request");
  }

  const auto event = decode_event(bytes);
  check_refusal(event, "event");
  check_batch(bytes, event);
  if (const auto* e = std::get_if<any_event>(&event)) {
    check_round_trip(*e, decode_event, "event");
    check_history_encoders(*e);
  }
  return 0;
}
