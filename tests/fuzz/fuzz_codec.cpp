// libFuzzer target for the BCAST/1 codec (proto/codec.hpp). Owns the codec's
// round-trip invariants on arbitrary bytes, not just "does not crash":
// whatever decode_request or decode_event accepts must re-encode to a body
// that decodes again, to the same message type, and re-encodes to the same
// bytes (encode is a function of the decoded value); a decoded `history`
// event must encode the same through encode_history over its encoded msgs as
// through encode; a refusal must say why. Any violation abort()s, so
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

  const auto request = decode_request(bytes);
  check_refusal(request, "request");
  if (const auto* r = std::get_if<any_request>(&request)) {
    check_round_trip(*r, decode_request, "request");
  }

  const auto event = decode_event(bytes);
  check_refusal(event, "event");
  if (const auto* e = std::get_if<any_event>(&event)) {
    check_round_trip(*e, decode_event, "event");
    check_history_encoders(*e);
  }
  return 0;
}
