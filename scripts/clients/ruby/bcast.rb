# frozen_string_literal: true

# A small Ruby client for broadcast-server (BCAST/1; proto/PROTOCOL.md is the
# spec), on ffi-rzmq and msgpack (Debian ruby-ffi-rzmq, ruby-msgpack).
#
#   Bcast::Client.connect("alice", "tcp://127.0.0.1:5555", "tcp://127.0.0.1:5556") do |chat|
#     chat.send("hello")
#     chat.each_event(timeout: 5) { |e| puts "#{e['from']}: #{e['text']}" if e["t"] == "msg" }
#   end
#
# What the client does (PROTOCOL.md section 10):
# 1. A SUB connects to OUT and subscribes to sys/ and room/<r>/ before the
#    hello; a DEALER (IMMEDIATE, random routing id) connects to IN.
# 2. hello is repeated every 1000 ms (later: every hb_ivl) until welcome; SUB
#    traffic the client acts on (room msgs; join, leave, shutdown, hb on
#    sys/) is stashed until then: up to 100 000 publications or 64 MiB of
#    them (their strings, an hb's room names) for all rooms and sys/
#    together, the rest dropped. A room msg dropped is filled from history
#    (it is announced); a join or leave dropped is lost, as missed presence
#    cannot be refilled (PROTOCOL.md 10.2). A later welcome of the same
#    epoch (a resume) keeps every room's last and the sys position: what was
#    published before it may still wait on the SUB, so its rooms are applied
#    only once an hb with ts >= welcome.ts arrives (or after liveness *
#    hb_ivl), then fills as usual. The constructor also waits for a first
#    publication.
# 3. Each room is delivered in seq order, once: duplicates are dropped, later
#    seqs held (up to 100 000 or 64 MiB of them per room; past that the
#    newest are let go, as history has them), gaps filled with history; seqs
#    no longer kept are reported as {"t" => "lost"} events; an answer that
#    moves nothing (a seq announced that history never had) pauses that
#    room's fills for hb_ivl. A pack or batch publication is its msgs, each
#    handled as if published alone; a malformed one is ignored whole.
# 4. msg and dm carry ids and are re-sent (same id) every 2 * hb_ivl until
#    acked, at most WINDOW of them on the wire (the rest wait in id order).
#    A msg of ours delivered from a room acks the one pending msg with its
#    room and text, if only one matches: its ack may have been lost
#    (PROTOCOL.md 10.3). Order: pending requests are re-sent in id order, and
#    once one is refused rate-limited nothing newer goes out until it is
#    acked: it is retried alone after 10 ms, doubling while refused, up to
#    hb_ivl / 2.
# 5. An idle client pings every hb_ivl. no-session, shutdown, a new epoch, a
#    silent broker or our own leave (not bye) published after the welcome
#    make it say hello again (with its session token): once; no-session
#    errors while it waits, or for requests sent before the latest welcome,
#    are ignored, and pending requests are re-sent after the welcome, in id
#    order, before anything new. Bodies of an unknown t are ignored. At a
#    new epoch each room first delivers the old epoch's held messages and
#    reports as lost every seq of it announced (or acked to us) but never
#    delivered.
# Events are the wire bodies as Hashes with String keys.
require "ffi-rzmq"
require "msgpack"
require "securerandom"
# The key tables (REQUESTS, EVENTS, NESTED, POSITIONAL, STR_KEYS, UINT_KEYS,
# REQUEST_NONEMPTY), generated from proto/schema/bcast1.json.
require_relative "bcast_schema"

module Bcast
  VERSION = 1
  # Unacked requests on the wire at once (PROTOCOL.md 10.3, as the C++
  # client): well below the broker's 1024 remembered ids.
  WINDOW = 256
  # The first retry of a request refused as rate-limited (PROTOCOL.md 10.3),
  # in s; the pause doubles while it is refused, up to hb_ivl / 2.
  RATE_LIMITED_PAUSE = 0.01
  # hello is repeated this often (s) until the first welcome tells hb_ivl
  # (PROTOCOL.md 10.1 step 3: the broker's default).
  HELLO_RETRY = 1.0
  # What is held per room after a gap, and what is kept until a welcome, is
  # bounded (PROTOCOL.md 10.2, as the C++ client): at most MAX_HELD messages
  # and MAX_HELD_BYTES of them (footprint, stash_cost). Past either the
  # newest are let go: a room msg is still announced, so the fill brings it
  # from history; presence (join, leave) let go before a welcome cannot be
  # refilled (PROTOCOL.md 10.2).
  MAX_HELD = 100_000
  MAX_HELD_BYTES = 64 << 20
  # Decoder limits (PROTOCOL.md 5 item 7, 12): the body's map is level 1.
  MAX_DEPTH = 8
  MAX_ENTRIES = 65_536
  # MessagePack heads followed by a length of 1, 2 or 4 bytes (bin, ext, str,
  # array, map), and the bytes of those followed by a fixed number of them.
  LENGTH_WIDTH = { 0xc4 => 1, 0xc5 => 2, 0xc6 => 4, 0xc7 => 1, 0xc8 => 2, 0xc9 => 4, 0xd9 => 1, 0xda => 2, 0xdb => 4,
                   0xdc => 2, 0xdd => 4, 0xde => 2, 0xdf => 4 }.freeze
  FIXED_SIZE = { 0xc0 => 0, 0xc2 => 0, 0xc3 => 0, 0xca => 4, 0xcb => 8, 0xcc => 1, 0xcd => 2, 0xce => 4, 0xcf => 8,
                 0xd0 => 1, 0xd1 => 2, 0xd2 => 4, 0xd3 => 8, 0xd4 => 2, 0xd5 => 3, 0xd6 => 5, 0xd7 => 9, 0xd8 => 17 }.freeze
  # The largest frame read (PROTOCOL.md 6.3, 12): twice the largest a broker sends.
  MAX_FRAME = 2 * 1024 * 1024
  # The keys kept of each event: its "t" and those EVENTS defines (see known).
  KEPT_KEYS = EVENTS.transform_values { |keys| ["t", *keys.map { |k| k.delete_suffix("?") }].freeze }.freeze

  class Error < StandardError; end

  # The bytes are not a valid BCAST/1 body.
  class DecodeError < Error; end

  # The broker refused the hello (code is the error code, e.g. "name-taken").
  class ProtocolError < Error
    attr_reader :code, :reason

    def initialize(code, reason)
      @code, @reason = code, reason
      super("#{code}: #{reason}")
    end
  end

  # The broker did not answer in time.
  class TimeoutError < Error; end

  module_function

  # A Hash -> MessagePack bytes: keys in canonical order, shortest integers,
  # every String as str (UTF-8). Raises ArgumentError on invalid UTF-8.
  def encode(body)
    MessagePack.pack(canonical(body))
  end

  # MessagePack bytes -> Hash (String keys), checked like the broker checks:
  # within the decoder limits before it is built (PROTOCOL.md 5), one map,
  # no trailing bytes, str keys once each, `t` a str, `id` a uint, the known
  # keys of a known type present and well typed, a pack well formed
  # (PROTOCOL.md 6.3). kind is :event (broker -> client; unknown types pass)
  # or :request (client -> broker).
  def decode(bytes, kind = :event)
    bytes = bytes.to_s.b
    check_limits(bytes)
    unpacker = MessagePack::Unpacker.new
    unpacker.feed(bytes)
    body = {}
    unpacker.read_map_header.times do
      key = unpacker.read
      value = unpacker.read
      raise DecodeError, "map key is not a valid UTF-8 str" unless str?(key)
      raise DecodeError, "key '#{key}' appears twice" if body.key?(key)

      body[key] = value
    end
    raise DecodeError, "body has bytes after its MessagePack map" unless unpacker.buffer.empty?

    check_body(body, kind == :request ? REQUESTS : EVENTS, kind == :request)
    body
  rescue DecodeError
    raise
  rescue MessagePack::UnexpectedTypeError
    raise DecodeError, "body is not a MessagePack map"
  rescue StandardError => e # EOFError, MalformedFormatError, StackError...
    raise DecodeError, "body is not valid MessagePack (#{e.message})"
  end

  # "5555" -> "tcp://localhost:5555", "example.org:5555" and "[::1]:5555" ->
  # "tcp://...:5555"; full endpoints unchanged.
  def endpoint(spec, host = "localhost")
    spec = spec.to_s
    return "tcp://#{host}:#{spec}" if spec.match?(/\A\d+\z/)
    return "tcp://#{spec}" if spec.match?(/\A(?:\[[^\[\]\/]+\]|[^\[\]:\/]+):\d+\z/)

    spec
  end

  # An IPv6 literal (tcp://[::1]:5555) needs the socket's IPV6 option (host
  # names stay IPv4, as in the C++ client).
  def ipv6?(endpoint)
    endpoint.to_s.start_with?("tcp://[")
  end

  def str?(value)
    value.is_a?(String) && value.encoding == Encoding::UTF_8 && value.valid_encoding?
  end

  def uint?(value)
    value.is_a?(Integer) && value >= 0
  end

  def utf8(text)
    s = text.is_a?(Symbol) ? text.to_s : text
    s = s.dup.force_encoding(Encoding::UTF_8) unless s.encoding == Encoding::UTF_8
    raise ArgumentError, "not valid UTF-8: #{s.inspect}" unless s.valid_encoding?

    s
  end

  def canonical(body, table = nil)
    body = body.to_h { |k, v| [utf8(k), v] }
    keys = table_for(body, table)&.map { |k| k.delete_suffix("?") } || []
    ordered = (%w[t] + keys).select { |k| body.key?(k) }
    (ordered | body.keys).to_h { |k| [k, canonical_value(k, body[k])] }
  end

  def table_for(body, table)
    return table[body["t"]] if table

    request = REQUESTS[body["t"]]
    known = request && %w[t] + request.map { |k| k.delete_suffix("?") }
    known && (body.keys - known).empty? ? request : EVENTS[body["t"]]
  end

  def canonical_value(key, value)
    case value
    when String, Symbol then utf8(value)
    when Array
      value.map do |v|
        next canonical(v, EVENTS) if key == "msgs" && v.is_a?(Hash)
        next canonical(v, { nil => NESTED[key] }) if NESTED.key?(key) && v.is_a?(Hash)

        canonical_value(nil, v)
      end
    when Hash
      pairs = value.map { |k, v| [utf8(k), canonical_value(nil, v)] }
      (key == "rooms" ? pairs.sort_by { |k, _| k.b } : pairs).to_h
    else value
    end
  end

  # Steps over the MessagePack object at +pos+ of +bytes+ (at level +depth+)
  # without building it; returns where it ends. Raises DecodeError if it is
  # cut short, nests deeper than MAX_DEPTH or declares a str, bin, ext, array
  # or map of more than MAX_ENTRIES bytes or entries: msgpack would reserve
  # room for every entry an array declares (2^32 - 1 of them: NoMemoryError).
  def check_limits(bytes, pos = 0, depth = 1)
    head = bytes.getbyte(pos) or raise DecodeError, "body is cut short"
    pos += 1
    if (0x80..0x9f).cover?(head) || (0xdc..0xdf).cover?(head) # a map or an array
      raise DecodeError, "nested deeper than #{MAX_DEPTH} levels" if depth > MAX_DEPTH

      width = LENGTH_WIDTH.fetch(head, 0)
      entries = width.zero? ? head & 0x0f : declared(bytes, pos, width)
      objects = head <= 0x8f || head >= 0xde ? 2 * entries : entries # a map's keys and values
      pos += width
      objects.times { pos = check_limits(bytes, pos, depth + 1) }
      pos
    elsif (width = LENGTH_WIDTH[head])
      pos + width + declared(bytes, pos, width) + (head.between?(0xc7, 0xc9) ? 1 : 0) # an ext's type
    elsif (0xa0..0xbf).cover?(head) # a fixstr
      pos + (head & 0x1f)
    else
      raise DecodeError, "0xc1 is not MessagePack" if head == 0xc1

      pos + FIXED_SIZE.fetch(head, 0) # fixints: the head alone
    end
  end

  # The length of +width+ bytes at +pos+, at most MAX_ENTRIES.
  def declared(bytes, pos, width)
    raise DecodeError, "body is cut short" if pos + width > bytes.bytesize

    n = bytes.unpack1({ 1 => "C", 2 => "n", 4 => "N" }.fetch(width), offset: pos)
    raise DecodeError, "declares #{n} entries or bytes; the limit is #{MAX_ENTRIES}" if n > MAX_ENTRIES

    n
  end

  def check_body(body, table, strict)
    raise DecodeError, "key 't' is missing" unless body.key?("t")
    raise DecodeError, "key 't' must be a string" unless str?(body["t"])
    raise DecodeError, "key 'id' must be an unsigned integer" if body.key?("id") && !uint?(body["id"])

    keys = table[body["t"]]
    raise DecodeError, "unknown type '#{body['t']}'" if keys.nil? && strict
    return if keys.nil? # clients ignore types they do not know

    keys.each do |spec|
      key = spec.delete_suffix("?")
      next unless body.key?(key) || spec == key

      raise DecodeError, "key '#{key}' is missing" unless body.key?(key)

      check_value(body["t"], key, body[key])
    end
    check_pack(body) if body["t"] == "pack"
    REQUEST_NONEMPTY.fetch(body["t"], []).each do |key|
      raise DecodeError, "empty #{key}" if strict && body.key?(key) && body[key].empty?
    end

    true
  end

  def check_value(type, key, value)
    ok =
      if STR_KEYS.include?(key) then str?(value)
      elsif UINT_KEYS.include?(key) then uint?(value)
      elsif key == "rooms" && type == "hello" then value.is_a?(Array) && value.size <= 64 && value.all? { |r| str?(r) }
      elsif key == "rooms" then value.is_a?(Hash) && value.all? { |r, s| str?(r) && uint?(s) }
      elsif key == "names" then value.is_a?(Array) && value.all? { |n| str?(n) }
      elsif key == "msgs" then value.is_a?(Array) && value.all? { |m| m.is_a?(Hash) && msg_body?(m) }
      elsif NESTED.key?(key) then value.is_a?(Array) && value.all? { |e| nested_entry?(key, e) }
      else true
      end
    raise DecodeError, "key '#{key}' has the wrong type" unless ok
  end

  # An entry of the array under +key+ (NESTED: `who.users`, `pack.entries`...):
  # for a POSITIONAL key an array of exactly its keys' values in key order,
  # else a map with every required key; each value of its key's type.
  def nested_entry?(key, entry)
    keys = NESTED[key]
    if POSITIONAL.include?(key)
      entry.is_a?(Array) && entry.size == keys.size && keys.zip(entry).all? { |k, v| typed?(k, v) }
    else
      entry.is_a?(Hash) && keys.none? { |k| !k.end_with?("?") && !entry.key?(k) } &&
        entry.all? { |k, v| typed?(k, v) }
    end
  end

  # Whether +value+ may be the value of +key+: a str for STR_KEYS, a uint for
  # UINT_KEYS, anything for other keys.
  def typed?(key, value)
    (!STR_KEYS.include?(key) || str?(value)) && (!UINT_KEYS.include?(key) || uint?(value))
  end

  # What makes a well-typed pack malformed (PROTOCOL.md 6.3): no entries or
  # more than 64, a sender past the end of names, a seq or ts past 2^64 - 1.
  # The whole pack is refused.
  def check_pack(pack)
    entries = pack["entries"]
    raise DecodeError, "a pack of #{entries.size} entries, not 1 to 64" unless (1..64).cover?(entries.size)

    names = pack["names"].size
    past = entries.any? { |_dts, sender, _text| sender >= names }
    raise DecodeError, "a pack entry's sender is past its #{names} names" if past
    top = 2**64 - 1
    too_far = pack["seq"] + entries.size - 1 > top || entries.any? { |dts, _s, _t| pack["ts"] + dts > top }
    raise DecodeError, "a pack entry's seq or ts passes 2^64 - 1" if too_far
  end

  # The msg bodies a decoded pack stands for, in seq order: entry i is
  # {t: "msg", epoch, seq: seq + i, ts: ts + dts, room, from: names[sender], text}.
  def pack_msgs(pack)
    pack["entries"].each_with_index.map do |(dts, sender, text), i|
      { "t" => "msg", "epoch" => pack["epoch"], "seq" => pack["seq"] + i, "ts" => pack["ts"] + dts,
        "room" => pack["room"], "from" => pack["names"][sender], "text" => text }
    end
  end

  # What a held msg costs, in bytes: its strings, and 64 besides.
  def footprint(body)
    64 + body["text"].bytesize + body["from"].bytesize + body["room"].bytesize
  end

  # +body+ with only the keys KEPT_KEYS has for its type (an unknown type as
  # it is: it is not kept). Unknown keys are ignored on input, and dropped
  # before an event is kept (held, stashed for the welcome, queued): what
  # footprint and stash_cost count is then what is kept (PROTOCOL.md 10.2).
  def known(body)
    keys = KEPT_KEYS[body["t"]]
    keys ? body.slice(*keys) : body
  end

  # What keeping publication +body+ until the welcome costs, in bytes (as the
  # C++ client; PROTOCOL.md 10.2), or nil for one not kept: only what is
  # acted on when published is, each charged 64 and its strings (an hb 32 and
  # the name per room), so no body is kept for free.
  def stash_cost(body)
    case body["t"]
    when "msg" then footprint(body)
    when "join", "leave", "shutdown" then 64 + body.values_at("name", "reason").sum { |s| s.nil? ? 0 : s.bytesize }
    when "hb" then 64 + body["rooms"].each_key.sum { |room| 32 + room.bytesize }
    end
  end

  def msg_body?(body)
    body.each_key { |k| raise DecodeError, "map key is not a valid UTF-8 str" unless str?(k) }
    check_body(body, EVENTS, false)
    body["t"] == "msg"
  end

  # One named session: send to speak, each_event to hear.
  class Client
    # A msg or dm until its ack: its bytes, when last sent (nil: not yet), and
    # for a msg its room and text, to know it when it is published.
    Pending = Struct.new(:bytes, :sent, :room, :text)

    attr_reader :name, :rooms, :session, :epoch, :hb_ivl, :liveness, :max_text, :acked

    # Connects; with a block, yields the client and closes it afterwards.
    def self.connect(*args, **opts)
      client = new(*args, **opts)
      return client unless block_given?

      begin
        yield client
      ensure
        client.close
      end
    end

    # Joins as +name+; returns once welcomed and hearing the PUB socket.
    # Raises ProtocolError if the broker refuses, TimeoutError after +timeout+ s.
    def initialize(name, in_endpoint, out_endpoint, rooms: ["lobby"], token: nil, timeout: 10.0,
                   report_acks: false)
      @name, @token, @report_acks = Bcast.utf8(name.to_s), token, report_acks
      @rooms = Array(rooms).map(&:to_s)
      @rooms = ["lobby"] if @rooms.empty?
      @hb_ivl, @liveness, @max_text = HELLO_RETRY, 3, 4096
      @session = @epoch = nil
      @joined = @heard_sub = @closed = @displaced = false
      @last = @rooms.to_h { |r| [r, 0] }      # last seq delivered (or skipped)
      @announced = @rooms.to_h { |r| [r, 0] } # highest seq known to exist
      @held = @rooms.to_h { |r| [r, {}] }     # seq -> msg after a gap
      @held_bytes = @rooms.to_h { |r| [r, 0] } # their footprints
      @held_newest = @rooms.to_h { |r| [r, 0] } # the highest held seq, 0: none
      @fill_sent, @sys_last, @acked_seq, @acked = {}, 0, {}, {}
      @fill_paused = {} # room -> no fill before this time (PROTOCOL.md 10.2)
      @pending = {} # id -> Pending, in id order
      @blocked = nil # the rate-limited request's [id, pause, next try]
      @welcome_sys_seq, @welcome_at = 0, -Float::INFINITY
      @deferred = nil # a resume's [rooms, welcome ts, deadline]
      @events, @stash, @replies = [], [], {}
      @stash_bytes = 0 # the stash_costs of what @stash keeps for the welcome
      @next_id, @last_sent, @hello_sent = 0, 0.0, -Float::INFINITY
      open_sockets(Bcast.endpoint(in_endpoint), Bcast.endpoint(out_endpoint))
      @last_heard = now
      deadline = @last_heard + timeout
      begin
        say_hello
        until @joined && @heard_sub
          raise TimeoutError, "no welcome from the broker at #{in_endpoint}" if now >= deadline

          poll(deadline - now)
        end
      rescue StandardError, Interrupt
        close_sockets(0)
        raise
      end
    end

    # Queues a message to +room+ (default: the first followed room), sent until
    # acked; returns its id.
    def send(text, room: nil)
      request({ "t" => "msg", "room" => room || @rooms.first, "text" => text })
    end
    alias say send

    # Queues a private message, sent until acked; returns its id.
    def dm(to, text)
      request({ "t" => "dm", "to" => to, "text" => text })
    end

    # The users online: an Array of {"name" => ..., "since" => ms}.
    def who(timeout: 5.0)
      id = next_id
      deadline, sent = now + timeout, -Float::INFINITY
      until @replies.key?(id)
        raise TimeoutError, "no answer to who" if now >= deadline

        sent = now if now - sent >= @hb_ivl && transmit({ "t" => "who", "id" => id })
        poll(deadline - now)
      end
      @replies.delete(id).fetch("users", [])
    end

    # Yields events in order for +timeout+ s (nil: for ever): msg, join,
    # leave, shutdown, dm and error bodies; ack bodies with report_acks;
    # {"t" => "lost", "room", "first_seq", "count"} for seqs gone for good.
    # Without a block, returns an Enumerator.
    def each_event(timeout: nil)
      return enum_for(:each_event, timeout: timeout) unless block_given?

      deadline = timeout && now + timeout
      loop do
        yield @events.shift until @events.empty?
        left = deadline ? deadline - now : 3600.0
        return self if left <= 0

        poll(left)
      end
    end

    # Requests not acknowledged yet.
    def unacked
      @pending.size
    end

    # True when every acked message of ours has come back on SUB.
    def caught_up?
      @acked_seq.all? { |room, seq| @last.fetch(room, seq) >= seq }
    end

    # Says bye when joined; closes the sockets (bounded linger).
    def close
      return if @closed

      transmit({ "t" => "bye" }) if @joined
      close_sockets(1000)
    end

    def closed?
      @closed
    end

    # Handles traffic and timers for up to +timeout+ s (a quarter heartbeat at
    # most); returns those of +ios+ that are ready to read.
    def poll(timeout = 0.1, ios = [])
      cap = @hello_sent.finite? ? @hb_ivl / 4 : 0.02 # the first hello is not out yet
      cap = [cap, [@blocked[2] - now, 0.001].max].min if @blocked # a rate-limited retry is due sooner
      ms = ([[timeout, cap].min, 0].max * 1000).round
      sub, dealer, *ready = wait([@sub, @dealer] + ios, ms)
      drain(@sub, 2) { |body| on_published(body) } if sub
      drain(@dealer, 1) { |body| on_reply(body) } if dealer
      timers
      ios.select.with_index { |_, i| ready[i] }
    end

    private

    def now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    def next_id
      @next_id += 1
    end

    def open_sockets(in_endpoint, out_endpoint)
      @ctx = ZMQ::Context.new
      @sub = @ctx.socket(ZMQ::SUB)
      @dealer = @ctx.socket(ZMQ::DEALER)
      [@sub, @dealer].each do |s|
        option(s, ZMQ::LINGER, 1000)
        option(s, ZMQ::RECONNECT_IVL, 100)
        option(s, ZMQ::RECONNECT_IVL_MAX, 5000)
        option(s, ZMQ::HEARTBEAT_IVL, 5000)
        option(s, ZMQ::HEARTBEAT_TIMEOUT, 15_000)
        option(s, ZMQ::MAXMSGSIZE, MAX_FRAME, :int64)
      end
      option(@sub, ZMQ::IPV6, Bcast.ipv6?(out_endpoint) ? 1 : 0)
      option(@dealer, ZMQ::IPV6, Bcast.ipv6?(in_endpoint) ? 1 : 0)
      option(@sub, ZMQ::RCVHWM, 10_000)
      (["sys/"] + @rooms.map { |r| "room/#{r}/" }).each { |topic| check(@sub.setsockopt(ZMQ::SUBSCRIBE, topic), "subscribe") }
      check(@sub.connect(out_endpoint), "connect to #{out_endpoint}") # SUB first
      option(@dealer, ZMQ::IMMEDIATE, 1)
      check(@dealer.setsockopt(ZMQ::IDENTITY, "R".b + SecureRandom.random_bytes(15)), "routing id")
      check(@dealer.connect(in_endpoint), "connect to #{in_endpoint}")
    rescue StandardError
      close_sockets(0)
      raise
    end

    # zmq_poll on sockets and IOs for +ms+ ms: which are readable (an IO also
    # at end of file or on error, which zmq_poll reports as POLLERR).
    def wait(pollables, ms)
      items = FFI::MemoryPointer.new(::LibZMQ::PollItem, pollables.size)
      structs = pollables.each_with_index.map do |pollable, i|
        item = ::LibZMQ::PollItem.new(items + i * ::LibZMQ::PollItem.size)
        if pollable.is_a?(ZMQ::Socket)
          item[:socket] = pollable.socket
        else
          item[:fd] = pollable.fileno
        end
        item[:events] = ZMQ::POLLIN
        item
      end
      rc = ::LibZMQ.zmq_poll(items, pollables.size, ms)
      return pollables.map { false } unless rc.positive? # none, or EINTR

      structs.map { |item| (item[:revents] & (ZMQ::POLLIN | ZMQ::POLLERR)).positive? }
    end

    # An int socket option, also those ffi-rzmq does not know (heartbeats).
    # An int option; +type+ :int64 for the few that are 64-bit (MAXMSGSIZE).
    def option(socket, name, value, type = :int)
      pointer = FFI::MemoryPointer.new(type)
      type == :int64 ? pointer.write_int64(value) : pointer.write_int(value)
      check(::LibZMQ.zmq_setsockopt(socket.socket, name, pointer, pointer.size), "socket option #{name}")
    end

    def check(rc, what)
      raise Error, "#{what}: #{ZMQ::Util.error_string}" unless ZMQ::Util.resultcode_ok?(rc)
    end

    def close_sockets(linger)
      @closed = true
      @sub&.setsockopt(ZMQ::LINGER, 0)
      @sub&.close
      @dealer&.setsockopt(ZMQ::LINGER, linger)
      @dealer&.close
      @ctx&.terminate
    end

    # Reads every waiting message of +socket+; yields the bodies that decode
    # and have +frames+ frames (others are ignored).
    def drain(socket, frames)
      loop do
        parts = []
        break unless ZMQ::Util.resultcode_ok?(socket.recv_strings(parts, ZMQ::DONTWAIT))

        body = parts.size == frames ? (Bcast.decode(parts.last) rescue nil) : nil
        yield body if body
      end
    end

    def request(body)
      body["id"] = id = next_id
      @pending[id] = Pending.new(Bcast.encode(body), nil, body["room"], body["text"])
      send_queued
      id
    end

    # Sends the pending requests within the window not sent yet.
    def send_queued
      resend(Float::INFINITY) if @joined
    end

    def transmit(body)
      bytes = body.is_a?(String) ? body : Bcast.encode(body)
      return false unless ZMQ::Util.resultcode_ok?(@dealer.send_string(bytes, ZMQ::DONTWAIT))

      @last_sent = now
      true
    end

    # Sends the never-sent requests, and those unacked for +older_than+ s, of
    # the first WINDOW pending; while one is refused as rate-limited, only
    # that one, when its pause is over.
    def resend(older_than)
      t = now
      if @blocked
        id, pause, next_try = @blocked
        @blocked = [id, pause, t + 2 * @hb_ivl] if t >= next_try && transmit(@pending[id].bytes) # unless answered
        return
      end
      @pending.each_value.first(WINDOW).each do |entry|
        next unless entry.sent.nil? || t - entry.sent >= older_than
        return unless transmit(entry.bytes)

        entry.sent = t
      end
    end

    def say_hello
      return if @displaced # our session was resumed elsewhere: never take it back

      hello = { "t" => "hello", "v" => VERSION, "name" => @name }
      hello["session"] = @session if @session
      hello["token"] = @token if @token
      hello["rooms"] = @rooms
      # Until the DEALER is connected (IMMEDIATE), the hello cannot leave:
      # then it is tried again at the next poll, not a heartbeat later.
      @hello_sent = now if transmit(hello)
    end

    def rejoin
      return unless @joined

      @joined = false
      say_hello
    end

    def timers
      t = now
      rejoin if @joined && t - @last_heard > @liveness * @hb_ivl # gone, or restarted
      unless @joined
        say_hello if t - @hello_sent >= @hb_ivl
        return
      end
      apply_deferred if @deferred && t >= @deferred[2] # no hb after the welcome: a clock stepped back
      transmit({ "t" => "ping" }) if t - @last_sent >= @hb_ivl
      resend(2 * @hb_ivl)
      request_fills
    end

    def on_reply(m)
      m = Bcast.known(m) # what is queued or kept, no more (PROTOCOL.md 10.2)
      @last_heard = now
      t, id, code = m["t"], m["id"], m["code"]
      case t
      when "welcome" then on_welcome(m)
      when "ack" then on_ack(id, m["room"], m["seq"])
      when "error"
        if code == "session-moved"
          @joined = false
          @displaced = true
          @session = nil
          raise ProtocolError.new(code, m["reason"])
        elsif code == "no-session"
          # One hello per lost session: while it waits, or for a request sent
          # before the latest welcome, the error is stale.
          sent = @pending[id]&.sent
          rejoin if sent.nil? || sent > @welcome_at
        elsif code == "rate-limited" && @pending.key?(id)
          on_rate_limited(id)
        elsif id.nil? && @epoch.nil?
          raise ProtocolError.new(code, m["reason"])
        elsif !(%w[shutting-down rate-limited unavailable].include?(code) && @pending.key?(id))
          if @pending.delete(id) # refused for good (else retried later): the window moved
            @blocked = nil if @blocked&.first == id
            send_queued
          end
          @events << m
        end
      when "history" then on_history(m)
      when "dm" then @events << m
      when "who", "pong" then @replies[id] = m unless id.nil?
      end
    end

    # Holds everything newer than +id+ until it is accepted; retries it alone
    # after a pause that doubles while it is refused.
    def on_rate_limited(id)
      pause = RATE_LIMITED_PAUSE
      if @blocked
        blocked, last_pause, = @blocked
        return if id > blocked # sent before the refusal of an older one

        pause = [2 * last_pause, @hb_ivl / 2].min if id == blocked
      end
      @blocked = [id, pause, now + pause]
    end

    # Ends pending request +id+; a second ack for it is ignored.
    def on_ack(id, room, seq)
      return unless @pending.delete(id)

      @blocked = nil if @blocked&.first == id # back to the whole window

      @acked[id] = seq
      @acked_seq[room] = [@acked_seq.fetch(room, 0), seq].max if @last.key?(room) && seq
      @events << { "t" => "ack", "id" => id, "room" => room, "seq" => seq }.compact if @report_acks
      send_queued # the window moved
    end

    # The broker carries out a session's messages in order and publishes each
    # once, so a publication under our name is one of ours on the wire:
    # certain only when a single pending msg has its room and text. One at or
    # below a seq already acked to us is that message or an earlier one, never
    # a later pending one with the same text.
    def ack_by_publication(m)
      return if m["seq"] <= @acked_seq.fetch(m["room"], 0)

      on_wire = @pending.first(WINDOW).take_while { |_, p| p.sent }
      matches = on_wire.select { |_, p| p.room == m["room"] && p.text == m["text"] }
      on_ack(matches.first.first, m["room"], m["seq"]) if matches.size == 1
    end

    def on_welcome(w)
      return if @joined # the answer to a repeated hello

      first = @epoch.nil?
      new_epoch = !first && @epoch != w["epoch"]
      end_epoch if new_epoch
      @session, @epoch = w["session"], w["epoch"]
      @hb_ivl = [w["hb_ivl"], 10].max / 1000.0
      @liveness, @max_text = [w["liveness"], 1].max, w["max_text"]
      @deferred = nil
      if first || new_epoch
        start_rooms(w, new_epoch)
      else
        # A resume: what was published before this welcome may still wait on
        # the SUB (a client that stalled has a queue there); a fill opened now
        # would report it lost (PROTOCOL.md 10.1 step 5).
        @deferred = [w["rooms"], w.fetch("ts", 0), now + @liveness * @hb_ivl]
      end
      @acked_seq = {} if new_epoch # seqs of an old epoch mean nothing in the new one
      @welcome_sys_seq, @welcome_at = w["sys_seq"], now
      @joined, @fill_sent = true, {}
      resend(0) # pending requests first, in id order
      stash, @stash, @stash_bytes = @stash, [], 0
      stash.each { |m| on_published(m) if m["epoch"].nil? || m["epoch"] == @epoch }
      request_fills
    end

    # The rooms and the sys position at a first welcome, or a new epoch's
    # (a new history: every room starts over from its beginning).
    def start_rooms(w, new_epoch)
      @rooms.each do |r|
        if new_epoch
          @last[r], @announced[r], @held[r], @held_bytes[r], @held_newest[r] = 0, 0, {}, 0, 0
          @fill_paused.delete(r) # the new epoch's first fill goes at once
        else
          @last[r] = w["rooms"].fetch(r, 0)
        end
      end
      announce(w["rooms"])
      @sys_last = w["sys_seq"]
    end

    # Raises each followed room's announced seq (an hb's or a welcome's).
    def announce(rooms)
      rooms.each { |room, last| @announced[room] = [@announced[room], last].max if @announced.key?(room) }
    end

    def apply_deferred
      announce(@deferred.first)
      @deferred = nil
    end

    def on_published(m)
      # Several msgs of one room in one publication: each in turn.
      return m["msgs"].each { |item| on_published(item) } if m["t"] == "batch"
      return Bcast.pack_msgs(m).each { |item| on_published(item) } if m["t"] == "pack"

      m = Bcast.known(m) # what is stashed, held or queued, no more (PROTOCOL.md 10.2)
      @last_heard, @heard_sub = now, true
      rejoin if @joined && !m["epoch"].nil? && m["epoch"] != @epoch # a new epoch
      unless @joined
        # Kept for the welcome, as much as fits (PROTOCOL.md 10.2).
        cost = Bcast.stash_cost(m)
        if cost && @stash.size < MAX_HELD && @stash_bytes + cost <= MAX_HELD_BYTES
          @stash << m
          @stash_bytes += cost
        end
        return
      end
      t, seq, r = m["t"], m["seq"], m["room"]
      case t
      when "msg"
        if @last.key?(r) && seq > @last[r]
          @announced[r] = [@announced[r], seq].max
          hold(r, m)
          release(r)
        end
      when "join", "leave", "shutdown"
        if seq > @sys_last
          @sys_last = seq
          @events << m
          @joined = false if t == "shutdown" # then hello until it is back
          rejoin if own_leave?(m) # the broker ended our session (a timeout we did not see)
        end
      when "hb"
        announce(m["rooms"])
        @sys_last = [@sys_last, m["sys_seq"]].max
        apply_deferred if @deferred && m["ts"] >= @deferred[1] # the SUB has read all before the welcome
      end
      request_fills
    end

    def own_leave?(m)
      m["t"] == "leave" && m["name"] == @name && m["reason"] != "bye" && m["seq"] > @welcome_sys_seq
    end

    def on_history(h)
      r = h["room"]
      return unless @last.key?(r) && h["epoch"] == @epoch # not ours, or an old epoch

      @fill_sent.delete(r)
      held, last = @held[r], @last[r]
      @announced[r] = [@announced[r], h["last"]].max
      h["msgs"].each { |m| hold(r, Bcast.known(m)) if m["seq"] > last }
      # Seqs older than the oldest kept, and not held from SUB, are gone.
      gone_until = [h["first"], held.empty? ? @announced[r] + 1 : held.keys.min].min
      lose(r, gone_until - 1)
      release(r)
      # History has nothing past last, yet a later seq was announced (one never
      # stored, such as a forged msg at 2^64 - 1): ask again after hb_ivl, not
      # once per round trip (PROTOCOL.md 10.2).
      @fill_paused[r] = now + @hb_ivl if @last[r] == last
      request_fills
    end

    # The old epoch's last word, before a new one resets the rooms: held
    # messages are delivered; gaps, and seqs announced (or acked to us) but
    # never received, are reported lost (PROTOCOL.md 10.4).
    def end_epoch
      @rooms.each do |r|
        announced = [@announced[r], @acked_seq.fetch(r, 0)].max
        @held[r].keys.sort.each do |seq|
          lose(r, seq - 1)
          @last[r] = seq
          deliver(unhold(r, seq))
        end
        lose(r, announced)
      end
    end

    # Reports the seqs after the room's last, up to +until_seq+, lost and skips them.
    def lose(r, until_seq)
      return unless until_seq > @last[r]

      @events << { "t" => "lost", "room" => r, "first_seq" => @last[r] + 1, "count" => until_seq - @last[r] }
      @last[r] = until_seq
    end

    # Holds msg +m+ of room +r+ until the seqs before it are delivered, unless
    # held already. Past MAX_HELD messages or MAX_HELD_BYTES the newest are let
    # go (PROTOCOL.md 10.2): a message newer than all held is simply not kept.
    def hold(r, m)
      held, seq, cost = @held[r], m["seq"], Bcast.footprint(m)
      return if held.key?(seq)
      # It would be the one let go: no scan of what is held.
      return if seq > @held_newest[r] && (held.size >= MAX_HELD || @held_bytes[r] + cost > MAX_HELD_BYTES)

      held[seq] = m
      @held_bytes[r] += cost
      @held_newest[r] = seq if seq > @held_newest[r]
      unhold(r, @held_newest[r]) while held.size > MAX_HELD || @held_bytes[r] > MAX_HELD_BYTES
    end

    # Takes held message +seq+ of room +r+ out, keeping the byte count right.
    def unhold(r, seq)
      m = @held[r].delete(seq)
      @held_bytes[r] -= Bcast.footprint(m)
      @held_newest[r] = @held[r].keys.max || 0 if seq == @held_newest[r] # the one scan, and only then
      m
    end

    def release(r)
      while @held[r].key?(@last[r] + 1)
        @last[r] += 1
        deliver(unhold(r, @last[r]))
      end
    end

    def deliver(m)
      ack_by_publication(m) if m["from"] == @name
      @events << m
    end

    def request_fills
      return unless @joined

      t = now
      @rooms.each do |r|
        sent = @fill_sent[r]
        next if t < @fill_paused.fetch(r, t) # an answer moved nothing
        next unless @announced[r] > @last[r] && (sent.nil? || t - sent >= 2 * @hb_ivl)

        @fill_sent[r] = t if transmit({ "t" => "history", "room" => r, "after" => @last[r], "limit" => 1000 })
      end
    end
  end

  def self.connect(*args, **opts, &block)
    Client.connect(*args, **opts, &block)
  end
end
