// The codec's tables: for every message type its `t`, its keys in canonical
// order with their members and presence (encode.cpp and decode.cpp walk
// these; field.hpp says how), and the error codes' wire spellings.
// Generated from proto/schema/bcast1.json by proto/schema/generate.py: do not edit.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>
#include <tuple>

#include "bcast/proto/error_code.hpp"
#include "bcast/proto/limits.hpp"
#include "bcast/proto/messages.hpp"
#include "field.hpp"

namespace bcast::proto::detail {

// The schema's defaults and limits are the constants the code uses.
static_assert(max_hello_rooms == 64);
static_assert(default_room == std::string_view("lobby"));
static_assert(max_history_limit == 1000);
static_assert(protocol_version == 1);

template <>
struct schema<request::hello> {
  static constexpr std::string_view type = request::hello::type;
  static constexpr std::tuple fields{
      make_field("v", &request::hello::v, presence::required),
      make_field("name", &request::hello::name, presence::required),
      make_field("session", &request::hello::session, presence::optional),
      make_field("token", &request::hello::token, presence::optional),
      make_field("rooms", &request::hello::rooms, presence::omit_empty, max_hello_rooms),
  };
  static constexpr std::array<std::size_t, 5> decode_order{0, 1, 2, 3, 4};
};

template <>
struct schema<request::msg> {
  static constexpr std::string_view type = request::msg::type;
  static constexpr std::tuple fields{
      make_field("room", &request::msg::room, presence::defaulted),
      make_field("text", &request::msg::text, presence::required),
      make_field("id", &request::msg::id, presence::optional),
  };
  static constexpr std::array<std::size_t, 3> decode_order{1, 0, 2};
};

template <>
struct schema<request::dm> {
  static constexpr std::string_view type = request::dm::type;
  static constexpr std::tuple fields{
      make_field("to", &request::dm::to, presence::required),
      make_field("text", &request::dm::text, presence::required),
      make_field("id", &request::dm::id, presence::optional),
  };
  static constexpr std::array<std::size_t, 3> decode_order{0, 1, 2};
};

template <>
struct schema<request::ping> {
  static constexpr std::string_view type = request::ping::type;
  static constexpr std::tuple fields{
      make_field("id", &request::ping::id, presence::optional),
  };
  static constexpr std::array<std::size_t, 1> decode_order{0};
};

template <>
struct schema<request::who> {
  static constexpr std::string_view type = request::who::type;
  static constexpr std::tuple fields{
      make_field("id", &request::who::id, presence::optional),
  };
  static constexpr std::array<std::size_t, 1> decode_order{0};
};

template <>
struct schema<request::rooms> {
  static constexpr std::string_view type = request::rooms::type;
  static constexpr std::tuple fields{
      make_field("id", &request::rooms::id, presence::optional),
  };
  static constexpr std::array<std::size_t, 1> decode_order{0};
};

template <>
struct schema<request::history> {
  static constexpr std::string_view type = request::history::type;
  static constexpr std::tuple fields{
      make_field("room", &request::history::room, presence::defaulted),
      make_field("after", &request::history::after, presence::optional),
      make_field("limit", &request::history::limit, presence::defaulted),
      make_field("id", &request::history::id, presence::optional),
  };
  static constexpr std::array<std::size_t, 4> decode_order{0, 1, 2, 3};
};

template <>
struct schema<request::bye> {
  static constexpr std::string_view type = request::bye::type;
  static constexpr std::tuple fields{
      make_field("id", &request::bye::id, presence::optional),
  };
  static constexpr std::array<std::size_t, 1> decode_order{0};
};

template <>
struct schema<event::welcome> {
  static constexpr std::string_view type = event::welcome::type;
  static constexpr std::tuple fields{
      make_field("v", &event::welcome::v, presence::required),
      make_field("name", &event::welcome::name, presence::required),
      make_field("session", &event::welcome::session, presence::required),
      make_field("epoch", &event::welcome::epoch, presence::required),
      make_field("hb_ivl", &event::welcome::hb_ivl, presence::required),
      make_field("liveness", &event::welcome::liveness, presence::required),
      make_field("sys_seq", &event::welcome::sys_seq, presence::required),
      make_field("rooms", &event::welcome::rooms, presence::required),
      make_field("max_text", &event::welcome::max_text, presence::required),
      make_field("ts", &event::welcome::ts, presence::required),
  };
  static constexpr std::array<std::size_t, 10> decode_order{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
};

template <>
struct schema<event::ack> {
  static constexpr std::string_view type = event::ack::type;
  static constexpr std::tuple fields{
      make_field("id", &event::ack::id, presence::required),
      make_field("room", &event::ack::room, presence::optional),
      make_field("seq", &event::ack::seq, presence::optional),
  };
  static constexpr std::array<std::size_t, 3> decode_order{0, 1, 2};
};

template <>
struct schema<event::error> {
  static constexpr std::string_view type = event::error::type;
  static constexpr std::tuple fields{
      make_field("code", &event::error::code, presence::required),
      make_field("reason", &event::error::reason, presence::required),
      make_field("id", &event::error::id, presence::optional),
  };
  static constexpr std::array<std::size_t, 3> decode_order{0, 1, 2};
};

template <>
struct schema<event::pong> {
  static constexpr std::string_view type = event::pong::type;
  static constexpr std::tuple fields{
      make_field("id", &event::pong::id, presence::optional),
  };
  static constexpr std::array<std::size_t, 1> decode_order{0};
};

template <>
struct schema<event::who> {
  static constexpr std::string_view type = event::who::type;
  static constexpr std::tuple fields{
      make_field("users", &event::who::users, presence::required),
      make_field("id", &event::who::id, presence::optional),
  };
  static constexpr std::array<std::size_t, 2> decode_order{1, 0};
};

template <>
struct schema<event::rooms> {
  static constexpr std::string_view type = event::rooms::type;
  static constexpr std::tuple fields{
      make_field("list", &event::rooms::list, presence::required),
      make_field("id", &event::rooms::id, presence::optional),
  };
  static constexpr std::array<std::size_t, 2> decode_order{1, 0};
};

template <>
struct schema<event::history> {
  static constexpr std::string_view type = event::history::type;
  static constexpr std::tuple fields{
      make_field("room", &event::history::room, presence::required),
      make_field("msgs", &event::history::msgs, presence::required),
      make_field("first", &event::history::first, presence::required),
      make_field("last", &event::history::last, presence::required),
      make_field("epoch", &event::history::epoch, presence::required),
      make_field("id", &event::history::id, presence::optional),
  };
  static constexpr std::array<std::size_t, 6> decode_order{0, 2, 3, 4, 5, 1};
};

template <>
struct schema<event::dm> {
  static constexpr std::string_view type = event::dm::type;
  static constexpr std::tuple fields{
      make_field("from", &event::dm::from, presence::required),
      make_field("text", &event::dm::text, presence::required),
      make_field("ts", &event::dm::ts, presence::required),
  };
  static constexpr std::array<std::size_t, 3> decode_order{0, 1, 2};
};

template <>
struct schema<event::msg> {
  static constexpr std::string_view type = event::msg::type;
  static constexpr std::tuple fields{
      make_field("epoch", &event::msg::epoch, presence::required),
      make_field("seq", &event::msg::seq, presence::required),
      make_field("ts", &event::msg::ts, presence::required),
      make_field("room", &event::msg::room, presence::required),
      make_field("from", &event::msg::from, presence::required),
      make_field("text", &event::msg::text, presence::required),
  };
  static constexpr std::array<std::size_t, 6> decode_order{0, 1, 2, 3, 4, 5};
};

template <>
struct schema<event::batch> {
  static constexpr std::string_view type = event::batch::type;
  static constexpr std::tuple fields{
      make_field("epoch", &event::batch::epoch, presence::required),
      make_field("room", &event::batch::room, presence::required),
      make_field("msgs", &event::batch::msgs, presence::required),
  };
  static constexpr std::array<std::size_t, 3> decode_order{0, 1, 2};
};

template <>
struct schema<event::pack> {
  static constexpr std::string_view type = event::pack::type;
  static constexpr std::tuple fields{
      make_field("epoch", &event::pack::epoch, presence::required),
      make_field("room", &event::pack::room, presence::required),
      make_field("seq", &event::pack::seq, presence::required),
      make_field("ts", &event::pack::ts, presence::required),
      make_field("names", &event::pack::names, presence::required),
      make_field("entries", &event::pack::entries, presence::required),
  };
  static constexpr std::array<std::size_t, 6> decode_order{0, 1, 2, 3, 4, 5};
};

template <>
struct schema<event::join> {
  static constexpr std::string_view type = event::join::type;
  static constexpr std::tuple fields{
      make_field("epoch", &event::join::epoch, presence::required),
      make_field("seq", &event::join::seq, presence::required),
      make_field("ts", &event::join::ts, presence::required),
      make_field("name", &event::join::name, presence::required),
  };
  static constexpr std::array<std::size_t, 4> decode_order{0, 1, 2, 3};
};

template <>
struct schema<event::leave> {
  static constexpr std::string_view type = event::leave::type;
  static constexpr std::tuple fields{
      make_field("epoch", &event::leave::epoch, presence::required),
      make_field("seq", &event::leave::seq, presence::required),
      make_field("ts", &event::leave::ts, presence::required),
      make_field("name", &event::leave::name, presence::required),
      make_field("reason", &event::leave::reason, presence::required),
  };
  static constexpr std::array<std::size_t, 5> decode_order{0, 1, 2, 3, 4};
};

template <>
struct schema<event::hb> {
  static constexpr std::string_view type = event::hb::type;
  static constexpr std::tuple fields{
      make_field("epoch", &event::hb::epoch, presence::required),
      make_field("ts", &event::hb::ts, presence::required),
      make_field("sys_seq", &event::hb::sys_seq, presence::required),
      make_field("rooms", &event::hb::rooms, presence::required),
      make_field("clients", &event::hb::clients, presence::required),
  };
  static constexpr std::array<std::size_t, 5> decode_order{0, 1, 2, 3, 4};
};

template <>
struct schema<event::shutdown> {
  static constexpr std::string_view type = event::shutdown::type;
  static constexpr std::tuple fields{
      make_field("epoch", &event::shutdown::epoch, presence::required),
      make_field("seq", &event::shutdown::seq, presence::required),
      make_field("ts", &event::shutdown::ts, presence::required),
      make_field("reason", &event::shutdown::reason, presence::required),
  };
  static constexpr std::array<std::size_t, 4> decode_order{0, 1, 2, 3};
};

// A nested map, without `t`.
template <>
struct schema<event::user> {
  static constexpr std::tuple fields{
      make_field("name", &event::user::name, presence::required),
      make_field("since", &event::user::since, presence::required),
  };
  static constexpr std::array<std::size_t, 2> decode_order{0, 1};
};

// A nested map, without `t`.
template <>
struct schema<event::room_info> {
  static constexpr std::tuple fields{
      make_field("room", &event::room_info::room, presence::required),
      make_field("last", &event::room_info::last, presence::required),
      make_field("idle", &event::room_info::idle, presence::optional),
  };
  static constexpr std::array<std::size_t, 3> decode_order{0, 1, 2};
};

// An array of its values in key order, without `t`.
template <>
struct schema<event::pack_entry> {
  static constexpr bool positional = true;
  static constexpr std::tuple fields{
      make_field("dts", &event::pack_entry::dts, presence::required),
      make_field("sender", &event::pack_entry::sender, presence::required),
      make_field("text", &event::pack_entry::text, presence::required),
  };
  static constexpr std::array<std::size_t, 3> decode_order{0, 1, 2};
};

// Indexed by error_code.
inline constexpr std::array<std::string_view, error_code_count> error_code_spellings{
    "bad-request",
    "version",
    "no-session",
    "name-taken",
    "invalid-name",
    "invalid-room",
    "too-large",
    "rate-limited",
    "unknown-user",
    "unauthorized",
    "shutting-down",
    "session-moved",
    "unavailable",
};

}  // namespace bcast::proto::detail
