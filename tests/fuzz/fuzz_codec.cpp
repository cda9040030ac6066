// libFuzzer target for the BCAST/1 codec (proto/codec.hpp). Owns the codec's
// round-trip invariants on arbitrary bytes, not just "does not crash":
// whatever decode_request or decode_event accepts must re-encode to a body
// that decodes again, to the same message type, and re-encodes to the same
// bytes (encode is a function of the decoded value); a decoded `history`
// event must encode the same through encode_history over its encoded msgs as
// through encode; a refusal must say why; whatever the broker's in-place
// reader read_plain_msg accepts must decode to the same `msg`, and encode_msg
// must write what encode writes; whatever read_pack reads in place,
// decode_event reads as the same pack, and the broker's encode_pack writes
// what encode writes. Any violation abort()s, so
// libFuzzer keeps the input. Seeds: corpus/codec (tests/fuzz/make_corpus.py).
#include <algorithm>
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
#include "bcast/proto/pack.hpp"

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

// Receivers that count cycles read a pack in place: whatever read_pack
// accepts, decode_event reads as the same pack. And a pack as the broker
// writes it (names in order of first use, ts the smallest) is what
// encode_pack makes of its messages, each of which read_stored_msg reads back.
void check_pack(std::string_view bytes, const std::variant<any_event, decode_error>& decoded) {
  const auto* e = std::get_if<any_event>(&decoded);
  const auto* p = e != nullptr ? std::get_if<event::pack>(e) : nullptr;
  pack_view view;
  if (read_pack(bytes, view)) {
    if (p == nullptr) violated("pack", "read_pack accepts what decode_event does not read as a pack");
    bool same = view.epoch == p->epoch && view.seq == p->seq && view.ts == p->ts && view.room == p->room &&
                view.names.size() == p->names.size() && view.entries.size() == p->entries.size();
    for (std::size_t i = 0; same && i < view.names.size(); ++i) same = view.names[i] == p->names[i];
    for (std::size_t i = 0; same && i < view.entries.size(); ++i) {
      same = view.entries[i].dts == p->entries[i].dts && view.entries[i].sender == p->entries[i].sender &&
             view.entries[i].text == p->entries[i].text;
    }
    if (!same) violated("pack", "read_pack and decode_event read different fields");
  }
  if (p == nullptr) return;
  const auto msgs = messages_of(*p);
  std::vector<std::string> stored;
  std::vector<msg_event_view> views;
  for (const auto& m : msgs) stored.push_back(encode_msg({m.epoch, m.seq, m.ts, m.room, m.from, m.text}));
  for (const auto& body : stored) {
    const auto read = read_stored_msg(body);
    if (!read) violated("pack", "read_stored_msg refuses what encode_msg wrote");
    views.push_back(*read);
  }
  std::vector<std::string> first_use;
  std::uint64_t smallest = msgs.front().ts;
  for (const auto& m : msgs) {
    if (std::find(first_use.begin(), first_use.end(), m.from) == first_use.end()) first_use.push_back(m.from);
    smallest = std::min(smallest, m.ts);
  }
  const bool canonical = first_use == p->names && smallest == p->ts;
  std::string packed;
  encode_pack(views, packed);
  if (canonical && packed != encode(*e)) violated("pack", "encode_pack differs from encode(event::pack)");
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
  check_pack(bytes, event);
  if (const auto* e = std::get_if<any_event>(&event)) {
    check_round_trip(*e, decode_event, "event");
    check_history_encoders(*e);
  }
  return 0;
}
