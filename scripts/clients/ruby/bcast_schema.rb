# frozen_string_literal: true

# BCAST/1 key tables for bcast.rb.
# Generated from proto/schema/bcast1.json by proto/schema/generate.py: do not edit.

module Bcast
  # Keys of each type in canonical order (section 6); "?" marks optional keys.
  REQUESTS = {
    "hello" => %w[v name session? token? rooms?],
    "msg" => %w[room? text id?],
    "dm" => %w[to text id?],
    "ping" => %w[id?],
    "who" => %w[id?],
    "rooms" => %w[id?],
    "history" => %w[room? after? limit? id?],
    "bye" => %w[id?]
  }.freeze
  EVENTS = {
    "welcome" => %w[v name session epoch hb_ivl liveness sys_seq rooms max_text ts],
    "ack" => %w[id room? seq?],
    "error" => %w[code reason id?],
    "pong" => %w[id?],
    "who" => %w[users id?],
    "rooms" => %w[list id?],
    "history" => %w[room msgs first last epoch id?],
    "dm" => %w[from text ts],
    "msg" => %w[epoch seq ts room from text],
    "batch" => %w[epoch room msgs],
    "pack" => %w[epoch room seq ts names entries],
    "join" => %w[epoch seq ts name],
    "leave" => %w[epoch seq ts name reason],
    "hb" => %w[epoch ts sys_seq rooms clients],
    "shutdown" => %w[epoch seq ts reason]
  }.freeze
  # Keys whose value is an array of maps, and those maps' keys ("?": optional).
  NESTED = {
    "users" => %w[name since],
    "list" => %w[room last idle?],
    "entries" => %w[dts sender text]
  }.freeze
  # Keys of NESTED whose entries are arrays of the values in key order.
  POSITIONAL = %w[entries].freeze
  # The keys whose value is a str or a uint wherever they appear.
  STR_KEYS = %w[t name session token room text to code reason from].freeze
  UINT_KEYS = %w[
    v id after limit epoch hb_ivl liveness sys_seq max_text ts seq first last clients since idle
    dts sender
  ].freeze
  # Request keys whose value must not be empty (bad-request).
  REQUEST_NONEMPTY = {
    "msg" => %w[text],
    "dm" => %w[text]
  }.freeze
end
