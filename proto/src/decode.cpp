// Decoding of untrusted bodies into typed messages. Each type is read by
// walking its schema's key list (schema_tables.hpp); body_reader records the
// first problem, and any problem turns into one decode_error carrying the
// request id if it had one.
#include <array>
#include <map>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "bcast/proto/codec.hpp"
#include "bcast/proto/limits.hpp"
#include "body_reader.hpp"
#include "msgpack_cursor.hpp"
#include "pack_rules.hpp"
#include "schema_tables.hpp"

namespace bcast::proto {
namespace {

using detail::body_reader;
using detail::field;
using detail::presence;
using detail::schema;

std::vector<std::string> read_string_array(body_reader& r, std::string_view key,
                                           std::size_t max_entries, bool required) {
  std::vector<std::string> out;
  const msgpack::object* array = r.opt_array(key);
  if (array == nullptr && required) r.fail("key '" + std::string(key) + "' is missing");
  if (array == nullptr) return out;
  if (array->via.array.size > max_entries) {
    r.fail("key '" + std::string(key) + "' has too many entries");
    return out;
  }
  for (std::uint32_t i = 0; i < array->via.array.size; ++i) {
    out.push_back(r.as_str(array->via.array.ptr[i], std::string(key) + " entry").value_or(""));
  }
  return out;
}

std::vector<event::room_seq> read_room_seqs(body_reader& r, std::string_view key) {
  std::vector<event::room_seq> out;
  const msgpack::object* map = r.opt_map(key);
  if (map == nullptr) {
    r.fail("key '" + std::string(key) + "' is missing");
    return out;
  }
  for (std::uint32_t i = 0; i < map->via.map.size; ++i) {
    const auto& kv = map->via.map.ptr[i];
    auto room = r.as_str(kv.key, std::string(key) + " key");
    auto seq = r.as_u64(kv.val, std::string(key) + " value");
    out.push_back({room.value_or(""), seq.value_or(0)});
  }
  return out;
}

template <typename Message>
Message read_map(body_reader& r);

// One value of a positional struct's array, `what` naming it in an error.
void read_value(body_reader& r, const msgpack::object& value, std::string_view what, std::uint64_t& into) {
  into = r.as_u64(value, what).value_or(0);
}
void read_value(body_reader& r, const msgpack::object& value, std::string_view what, std::string& into) {
  into = r.as_str(value, what).value_or("");
}

// The number of values of a positional struct, and their names in errors
// ("entries entry's dts"): made once per array, not once per entry.
template <typename Entry>
constexpr std::size_t value_count = std::tuple_size_v<std::remove_cvref_t<decltype(schema<Entry>::fields)>>;
template <typename Entry>
std::array<std::string, value_count<Entry>> value_names(std::string_view key) {
  return [&]<std::size_t... I>(std::index_sequence<I...>) {
    return std::array<std::string, value_count<Entry>>{
        (std::string(key) + " entry's " + std::string(std::get<I>(schema<Entry>::fields).key))...};
  }(std::make_index_sequence<value_count<Entry>>{});
}

// An entry of a positional struct (a `pack` entry): an array of exactly its
// values, in key order.
template <typename Entry>
Entry read_positional(body_reader& r, const msgpack::object& entry, std::string_view key,
                      const std::array<std::string, value_count<Entry>>& names) {
  Entry out;
  constexpr auto& fields = schema<Entry>::fields;
  constexpr std::size_t count = value_count<Entry>;
  if (entry.type != msgpack::type::ARRAY || entry.via.array.size != count) {
    r.fail(std::string(key) + " entry: not an array of " + std::to_string(count) + " values");
    return out;
  }
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (read_value(r, entry.via.array.ptr[I], names[I], out.*(std::get<I>(fields).member)), ...);
  }(std::make_index_sequence<count>{});
  return out;
}

// An array of nested maps (`history.msgs`, `who.users`): each entry is read
// as its schema says; an entry of a message type must have that `t`. A
// positional struct's entries are arrays of its values.
template <typename Entry>
std::vector<Entry> read_maps(body_reader& r, std::string_view key) {
  std::vector<Entry> out;
  const msgpack::object* array = r.opt_array(key);
  if (array == nullptr) r.fail("key '" + std::string(key) + "' is missing");
  if constexpr (requires { schema<Entry>::positional; }) {
    const auto names = value_names<Entry>(key);
    for (std::uint32_t i = 0; array != nullptr && i < array->via.array.size; ++i) {
      out.push_back(read_positional<Entry>(r, array->via.array.ptr[i], key, names));
    }
  } else {
    for (std::uint32_t i = 0; array != nullptr && i < array->via.array.size; ++i) {
      body_reader entry(array->via.array.ptr[i]);
      if constexpr (requires { schema<Entry>::type; }) {
        if (entry.str("t") != schema<Entry>::type) {
          entry.fail("its 't' is not \"" + std::string(schema<Entry>::type) + "\"");
        }
      }
      out.push_back(read_map<Entry>(entry));
      if (entry.failed()) r.fail(std::string(key) + " entry: " + entry.error());
    }
  }
  return out;
}

template <typename Message, typename Member>
void read_field(body_reader& r, const field<Message, Member>& f, Message& m) {
  Member& member = m.*f.member;
  if constexpr (std::is_same_v<Member, std::uint64_t>) {
    if (f.how == presence::required) {
      member = r.u64(f.key);
    } else if (auto v = r.opt_u64(f.key)) {
      member = *v;
    }
  } else if constexpr (std::is_same_v<Member, std::string>) {
    if (f.how == presence::required) {
      member = r.str(f.key);
    } else if (auto v = r.opt_str(f.key)) {
      member = std::move(*v);
    }
  } else if constexpr (std::is_same_v<Member, std::optional<std::uint64_t>>) {
    member = r.opt_u64(f.key);
  } else if constexpr (std::is_same_v<Member, std::optional<std::string>>) {
    member = r.opt_str(f.key);
  } else if constexpr (std::is_same_v<Member, std::vector<std::string>>) {
    member = read_string_array(r, f.key, f.max_entries, f.how == presence::required);
  } else if constexpr (std::is_same_v<Member, std::vector<event::room_seq>>) {
    member = read_room_seqs(r, f.key);
  } else {
    member = read_maps<typename Member::value_type>(r, f.key);
  }
}

// A message (or nested map) read key by key, in the schema's decode order.
template <typename Message>
Message read_map(body_reader& r) {
  using table = schema<Message>;
  Message m;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (read_field(r, std::get<table::decode_order[I]>(table::fields), m), ...);
  }(std::make_index_sequence<table::decode_order.size()>{});
  return m;
}

template <typename Variant>
using decoder = Variant (*)(body_reader&);

// What a pack's keys alone do not say (6.3).
void check_meaning(body_reader& r, const event::pack& p) {
  if (auto problem = detail::pack_problem(p.seq, p.ts, p.names.size(), p.entries)) r.fail(std::move(*problem));
}
void check_meaning(body_reader& /*r*/, const auto& /*message*/) {}

template <typename Variant, typename Message>
Variant decode_as(body_reader& r) {
  Message m = read_map<Message>(r);
  check_meaning(r, m);
  return m;
}

// Every alternative of `Variant`, by its `t`.
template <typename Variant>
const std::map<std::string, decoder<Variant>, std::less<>>& decoders() {
  static const auto table = []<std::size_t... I>(std::index_sequence<I...>) {
    return std::map<std::string, decoder<Variant>, std::less<>>{
        {std::string(schema<std::variant_alternative_t<I, Variant>>::type),
         &decode_as<Variant, std::variant_alternative_t<I, Variant>>}...};
  }(std::make_index_sequence<std::variant_size_v<Variant>>{});
  return table;
}

template <typename Message>
std::variant<Message, decode_error> decode_with(std::string_view bytes) {
  const auto& table = decoders<Message>();
  body_reader r(bytes);
  if (r.failed()) return decode_error{r.error(), std::nullopt};
  const auto id = r.opt_u64("id");
  const std::string type = r.str("t");
  if (r.failed()) return decode_error{r.error(), id};
  const auto found = table.find(type);
  if (found == table.end()) return decode_error{"unknown message type '" + type + "'", id};
  Message message = found->second(r);
  if (r.failed()) return decode_error{type + ": " + r.error(), id};
  return message;
}

}  // namespace

std::variant<any_request, decode_error> decode_request(std::string_view bytes) {
  detail::cursor count(bytes);
  count.limit_objects(max_request_objects);
  if (!count.skip(max_decode_depth + 1) && count.objects_exhausted()) {
    return decode_error{"more than " + std::to_string(max_request_objects) +
                            " MessagePack objects in one request",
                        std::nullopt};
  }
  return decode_with<any_request>(bytes);
}

std::variant<any_event, decode_error> decode_event(std::string_view bytes) {
  return decode_with<any_event>(bytes);
}

}  // namespace bcast::proto
