# frozen_string_literal: true

# The Ruby client's sending and recovery rules (PROTOCOL.md 10.1-10.4)
# against a scripted broker on loopback: at most 256 unacked messages on the
# wire, its own publication as the ack of a message, the seqs an abandoned
# epoch took with it reported lost, a resume that waits for the SUB to catch
# up, one hello per no-session, order kept under rate-limited, its own leave
# as the end of its session, a pack delivered as its msgs and a malformed one
# ignored whole, its seqs filled from history, a fill answer that moves
# nothing pausing that room's fills for hb_ivl, a body beyond the decoder
# limits ignored, at most 64 MiB of messages held after a gap or kept until a
# welcome (the rest filled from history). The scripted broker speaks the
# bodies of proto/vectors/messages.json (the welcome of "alice" in an epoch
# where lobby is at seq 42, her msg "hi" with id 1, its publication and ack at
# seq 43), so the client's bytes are checked against them too. Then a real
# broker takes 300 messages through the window, each acked once. Every wait
# has a deadline.
# Usage: BCAST_BINARY=build/app/broadcast-server ruby tests/clients/ruby/test_client_rules.rb
require "json"
require "minitest/autorun"
require_relative "../../../scripts/clients/ruby/bcast"

VECTORS = JSON.parse(File.read(File.expand_path("../../../proto/vectors/messages.json", __dir__)))
               .to_h { |v| [v["name"], v] }
EPOCH = VECTORS["welcome"]["message"]["epoch"]
LIMIT = 20.0 # s: the deadline of every wait
HB_EVERY = 0.05 # s between the scripted broker's heartbeats

def vector(name, **changes)
  VECTORS[name]["message"].merge(changes.transform_keys(&:to_s))
end

def vector_bytes(name)
  [VECTORS[name]["msgpack"]].pack("H*")
end

# A ROUTER and a PUB on ephemeral loopback ports, run by a thread: it answers
# hello with +welcome+, who with the vectors' who answer, publishes +hb+ every
# HB_EVERY s and keeps every request it gets. Everything else it does when
# told, in the order told (publish, reply, set): one thread owns the sockets.
class ScriptedBroker
  attr_reader :in, :out, :requests, :hb_sent
  # answer.call(body) -> bodies to reply, or nil to answer as usual.
  attr_accessor :answer

  def initialize
    @ctx = ZMQ::Context.new
    @router, @pub = @ctx.socket(ZMQ::ROUTER), @ctx.socket(ZMQ::PUB)
    @router.bind("tcp://127.0.0.1:*")
    @pub.setsockopt(ZMQ::SNDHWM, 0) # a stalled client's queue is kept whole
    @pub.bind("tcp://127.0.0.1:*")
    @in, @out = last_endpoint(@router), last_endpoint(@pub)
    @requests = [] # [raw bytes, body, monotonic time], in arrival order
    @hb_sent = [] # ts of each hb
    @answer = ->(_body) {}
    @welcome = vector("welcome")
    @hb = vector("hb", sys_seq: 7, rooms: { "lobby" => 42 })
    @todo, @stop = Queue.new, false
    @thread = Thread.new { run }
  end

  # Publishes +body+ (bytes, or a Hash to encode) on +topic+.
  def publish(topic, body)
    data = body.is_a?(String) ? body : Bcast.encode(body)
    @todo << -> { @pub.send_strings([topic, data]) }
  end

  # Sends +body+ (bytes, or a Hash) to the client.
  def reply(body)
    data = body.is_a?(String) ? body : Bcast.encode(body)
    @todo << -> { @router.send_strings([@peer, data]) }
  end

  # From now on, answers hello with +welcome+ / heartbeats +hb+.
  def set(welcome: @welcome, hb: @hb)
    @todo << -> { @welcome, @hb = welcome, hb }
  end

  def bodies(t)
    @requests.map { |r| r[1] }.select { |b| b["t"] == t }
  end

  def close
    @stop = true
    @thread.join
    [@router, @pub].each do |s|
      s.setsockopt(ZMQ::LINGER, 0)
      s.close
    end
    @ctx.terminate
  end

  private

  def last_endpoint(socket)
    socket.getsockopt(ZMQ::LAST_ENDPOINT, value = [])
    value.first.delete("\0")
  end

  def run
    poller = ZMQ::Poller.new
    poller.register_readable(@router)
    next_hb = 0.0
    until @stop
      receive if poller.poll(10).positive?
      @todo.pop.call until @todo.empty?
      now = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      next if now < next_hb

      @pub.send_strings(["sys/", Bcast.encode(@hb)])
      @hb_sent << @hb["ts"]
      next_hb = now + HB_EVERY
    end
  end

  def receive
    while @router.recv_strings(frames = [], ZMQ::DONTWAIT) >= 0
      @peer, data = frames
      body = Bcast.decode(data, :request)
      @requests << [data, body, Process.clock_gettime(Process::CLOCK_MONOTONIC)]
      answers = @answer.call(body)
      answers ||= { "hello" => [@welcome], "who" => [vector("who_answer", id: body["id"])] }.fetch(body["t"], [])
      answers.each { |a| @router.send_strings([@peer, Bcast.encode(a)]) }
    end
  end
end

class TestClientRules < Minitest::Test
  def setup
    @broker = ScriptedBroker.new
    @client = Bcast::Client.new("alice", @broker.in, @broker.out, rooms: ["lobby"], timeout: LIMIT, report_acks: true)
    @events = []
  end

  def teardown
    @client&.close
    @broker.close
  end

  # Polls the client (keeping its events) until the block holds.
  def wait_until(what)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + LIMIT
    until yield
      flunk "timed out waiting for #{what}: #{@events}" if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
      @client.each_event(timeout: 0.02) { |e| @events << e }
    end
  end

  # Returns once the client has handled all the broker sent before: a who
  # goes out after every request the client had to send, and its answer
  # comes after every reply the broker had sent.
  def sync
    @client.who(timeout: LIMIT)
    @client.each_event(timeout: 0) { |e| @events << e }
  end

  def msg_ids
    @broker.bodies("msg").map { |b| b["id"] }.uniq.sort
  end

  def of_type(t)
    @events.select { |e| e["t"] == t }
  end

  def test_at_most_256_unacked_on_the_wire_and_the_rest_wait_in_order
    assert_equal 256, Bcast::WINDOW
    ids = (1..300).map { |i| @client.send("line #{i}") }
    assert_equal (1..300).to_a, ids
    wait_until("256 messages") { msg_ids.size >= 256 }
    sync
    assert_equal (1..256).to_a, msg_ids, "the first 256 ids, no more"
    (1..10).each { |id| @broker.reply(vector("ack_msg", id: id, seq: 42 + id)) }
    wait_until("10 more messages") { msg_ids.size >= 266 }
    sync
    assert_equal (1..266).to_a, msg_ids, "10 acks let the next 10 out"
    assert_equal 290, @client.unacked
  end

  def test_own_publication_acks_the_message_and_the_late_ack_is_ignored
    id = @client.send("hi")
    wait_until("the msg") { @broker.bodies("msg").any? }
    assert_equal vector_bytes("msg"), @broker.requests.last.first, "the msg vector's bytes"
    @broker.publish("room/lobby/", vector_bytes("room_msg")) # and no ack
    wait_until("the ack") { of_type("ack").any? }
    assert_equal 0, @client.unacked
    assert_equal({ id => 43 }, @client.acked)
    @broker.reply(vector_bytes("ack_msg")) # the broker's ack, late
    sync
    assert_equal [{ "t" => "ack", "id" => 1, "room" => "lobby", "seq" => 43 }], of_type("ack"), "one ack, the late one ignored"
    assert_equal [43], of_type("msg").map { |e| e["seq"] }
  end

  def test_own_publication_matching_two_pending_waits_for_the_ack
    first, second = @client.send("hi"), @client.send("hi")
    wait_until("both msgs") { @broker.bodies("msg").size == 2 }
    @broker.publish("room/lobby/", vector_bytes("room_msg"))
    wait_until("the publication") { of_type("msg").any? }
    sync
    assert_equal 2, @client.unacked, "either could be the one published"
    @broker.reply(vector_bytes("ack_msg"))
    wait_until("the ack of the first") { @client.unacked == 1 }
    @broker.publish("room/lobby/", vector("room_msg", seq: 44))
    wait_until("the second acked") { @client.unacked.zero? }
    assert_equal({ first => 43, second => 44 }, @client.acked)
  end

  def test_new_epoch_reports_what_the_old_one_announced_but_never_delivered
    # Ours, acked at 48 and never published; 45 held after a gap; 46 announced.
    @client.send("hi")
    wait_until("the msg") { @broker.bodies("msg").any? }
    @broker.reply(vector("ack_msg", seq: 48))
    @broker.publish("room/lobby/", vector("room_msg", seq: 45, from: "bob", text: "held"))
    @broker.publish("sys/", vector("hb", sys_seq: 7, rooms: { "lobby" => 46 }))
    wait_until("a fill of the gap") { @broker.bodies("history").any? }
    sync
    assert_empty of_type("msg"), "45 waits for 43 and 44"
    new_epoch = EPOCH + 1
    @broker.set(welcome: vector("welcome", epoch: new_epoch, rooms: { "lobby" => 0 }),
                hb: vector("hb", epoch: new_epoch, sys_seq: 1, rooms: {}))
    wait_until("the welcome of the new epoch") { @client.epoch == new_epoch }
    @client.each_event(timeout: 0) { |e| @events << e }
    told = @events.select { |e| %w[lost msg].include?(e["t"]) }.map { |e| [e["t"], e["first_seq"] || e["seq"], e["count"]] }
    assert_equal [["lost", 43, 2], ["msg", 45, nil], ["lost", 46, 3]], told
    assert_equal VECTORS["welcome"]["message"]["session"], @broker.bodies("hello").last["session"], "it resumed"
  end

  def test_a_resume_waits_for_the_sub_to_catch_up_before_filling
    # Heartbeats from before the resume's welcome; 1300 messages published
    # after it reach the SUB before the first hb that follows it.
    ts = VECTORS["welcome"]["message"]["ts"]
    @broker.set(hb: vector("hb", ts: ts - 1, sys_seq: 7, rooms: { "lobby" => 42 }))
    sync
    @broker.set(welcome: vector("welcome", ts: ts + 1000, rooms: { "dev" => 0, "lobby" => 1342 }))
    @broker.reply({ "t" => "error", "code" => "no-session", "reason" => "no session" })
    wait_until("the resume's hello") { @broker.bodies("hello").size == 2 }
    sync # the welcome is handled: a fill it opened is out by now
    assert_empty @broker.bodies("history"), "no fill before an hb that follows the welcome"
    (43..1342).each { |seq| @broker.publish("room/lobby/", vector("room_msg", seq: seq, from: "bob", text: seq.to_s)) }
    @broker.set(hb: vector("hb", ts: ts + 1000, sys_seq: 7, rooms: { "lobby" => 1342 }))
    wait_until("1300 messages") { of_type("msg").size >= 1300 }
    sync
    assert_equal (43..1342).to_a, of_type("msg").map { |e| e["seq"] }, "each once, in order"
    assert_empty of_type("lost")
    assert_empty @broker.bodies("history"), "nothing was missing"
  end

  def test_no_session_says_hello_once_and_resends_pending_in_id_order
    @broker.answer = lambda do |body|
      next unless body["t"] == "msg" && @broker.bodies("hello").size == 1

      [{ "t" => "error", "code" => "no-session", "reason" => "no session", "id" => body["id"] }]
    end
    ids = (1..5).map { |i| @client.send("line #{i}") }
    wait_until("the resume's hello") { @broker.bodies("hello").size == 2 }
    wait_until("the messages again") { @broker.bodies("msg").size == 10 }
    sync
    sent = @broker.requests.map { |r| r[1] }.select { |b| %w[hello msg].include?(b["t"]) }
    assert_equal ["hello"] + ["msg"] * 5 + ["hello"] + ["msg"] * 5, sent.map { |b| b["t"] },
                 "exactly one hello for five no-session errors"
    assert_equal ids, sent[7..].map { |b| b["id"] }, "re-sent in id order"
  end

  def test_a_rate_limited_message_holds_the_newer_ones_back
    refusals = 3 # message 1 is refused three times, then accepted
    @broker.answer = lambda do |body|
      next unless body["t"] == "msg"

      if body["id"] == 1 && refusals.positive?
        refusals -= 1
        next [{ "t" => "error", "code" => "rate-limited", "reason" => "slow down", "id" => 1 }]
      end
      [vector("ack_msg", id: body["id"], seq: 42 + body["id"])]
    end
    @client.send("line 1")
    wait_until("message 1 retried") { @broker.bodies("msg").size == 2 }
    (2..5).each { |i| @client.send("line #{i}") }
    wait_until("all acked") { @client.unacked.zero? }
    assert_equal [1, 1, 1, 1, 2, 3, 4, 5], @broker.bodies("msg").map { |b| b["id"] }
  end

  def test_a_pack_is_its_msgs_and_a_malformed_pack_is_filled_from_history
    means = VECTORS["room_pack"]["means"].map { |m| m["message"] } # seqs 44-46
    fill = [vector("room_msg", seq: 47, from: "bob", text: "four"), vector("room_msg", seq: 48, text: "five")]
    last = vector("room_msg", seq: 49, from: "bob", text: "six")
    history = vector("history_answer", msgs: fill, last: 49).except("id")
    @broker.answer = ->(body) { [history] if body["t"] == "history" }
    @broker.publish("room/lobby/", vector_bytes("room_msg"))
    @broker.publish("room/lobby/", vector_bytes("room_pack"))
    # 47 and 48, but the second sender is past names: the pack is ignored whole.
    malformed = vector("room_pack", seq: 47, names: %w[bob alice], entries: [[0, 0, "four"], [0, 2, "five"]])
    @broker.publish("room/lobby/", malformed)
    @broker.publish("room/lobby/", last)
    wait_until("seqs 43-49") { of_type("msg").size >= 7 }
    sync
    assert_equal [vector("room_msg")] + means + fill + [last], of_type("msg"), "each once, in order, as published alone"
    assert_equal [46], @broker.bodies("history").map { |b| b["after"] }, "one fill, after 46: nothing of the malformed pack was kept"
    assert_empty of_type("lost")
  end

  # PROTOCOL.md 10.2: a msg at seq 2^64 - 1 that history never holds (a
  # forged one) is asked for once per heartbeat interval, not once per round
  # trip; an answer that moves last lets the next fill go at once.
  def test_a_fill_answer_that_moves_nothing_pauses_that_rooms_fills_for_hb_ivl
    hb_ivl = VECTORS["welcome"]["message"]["hb_ivl"] / 1000.0
    nothing = vector("history_answer", msgs: [], first: 1, last: 43).except("id")
    moves = vector("history_answer", msgs: [vector("room_msg", seq: 44, from: "bob")], first: 1, last: 44).except("id")
    answers = [nothing, nothing, nothing, moves] # then nothing again
    @broker.answer = ->(body) { [answers.shift || nothing] if body["t"] == "history" }
    fills = -> { @broker.requests.select { |r| r[1]["t"] == "history" }.map(&:last) } # arrival times
    @broker.publish("room/lobby/", vector("room_msg", seq: 43, from: "bob"))
    @broker.publish("room/lobby/", vector("room_msg", seq: 2**64 - 1, from: "bob"))
    (1..3).each do |n| # answers 1-3 move nothing: one fill per hb_ivl
      wait_until("fill #{n + 1}") { fills.call.size > n }
      gap = fills.call[n] - fills.call[n - 1]
      assert_operator gap, :>=, hb_ivl, "fill #{n + 1} came before hb_ivl"
      assert_operator gap, :<, 2 * hb_ivl, "fill #{n + 1} did not come once hb_ivl was over"
    end
    wait_until("fill 5") { fills.call.size > 4 } # answer 4 moved last to 44
    assert_operator fills.call[4] - fills.call[3], :<, hb_ivl / 2, "after an answer that moves last, at once"
    sync # answer 5 moved nothing: no fill for hb_ivl
    assert_equal [43, 43, 43, 43, 44], @broker.bodies("history").map { |b| b["after"] }
    assert_equal [43, 44], of_type("msg").map { |e| e["seq"] }
    assert_empty of_type("lost")
  end

  # PROTOCOL.md 10.2: after the gap at 43, 1500 msgs of 60000 bytes (90 MB)
  # are held only up to 64 MiB, the newest let go; once 43 comes, what was
  # held is delivered in order, and the rest asked for.
  def test_messages_held_after_a_gap_are_bounded_at_64_mib_and_the_rest_filled
    text = "x" * 60_000
    seqs = -> { of_type("msg").map { |e| e["seq"] } }
    @broker.answer = ->(body) { [] if body["t"] == "history" } # answered below
    (44..1543).each { |seq| @broker.publish("room/lobby/", vector("room_msg", seq: seq, text: text, from: "bob")) }
    @broker.publish("sys/", vector("join")) # seen once all before it are
    wait_until("the join after them") { of_type("join").any? }
    assert_empty seqs.call, "44 and on wait for 43"
    @broker.reply(vector("history_answer", msgs: [vector("room_msg", seq: 43, from: "bob")], last: 1543).except("id"))
    wait_until("the answer") { seqs.call.any? }
    sync # the next fill went out with what was held
    shown = seqs.call
    assert_equal (43...43 + shown.size).to_a, shown, "in order, from 43"
    assert_operator shown.size, :>, 1000
    assert_operator shown.size, :<=, 1 + (64 << 20) / 60_000, "more than 64 MiB held"
    assert_equal shown.last, @broker.bodies("history").last["after"], "the rest is asked for"
    # What was delivered no longer counts: a later msg is held again.
    @broker.publish("room/lobby/", vector("room_msg", seq: 1544, from: "bob"))
    @broker.publish("sys/", vector("join", seq: 9))
    wait_until("the join after it") { of_type("join").size == 2 }
    rest = (shown.last + 1..1543).map { |seq| vector("room_msg", seq: seq, from: "bob") }
    @broker.reply(vector("history_answer", msgs: rest, last: 1543).except("id"))
    wait_until("the answer") { seqs.call.size > shown.size }
    sync
    assert_equal (43..1544).to_a, seqs.call, "1544 was held"
    assert_empty of_type("lost")
  end

  # PROTOCOL.md 10.2 bounds what is held and kept by the strings it counts,
  # and unknown keys are ignored (section 6): msgs and a join padded with
  # unknown keys are held, kept and queued without them, so what is counted
  # is what is kept.
  def test_what_is_held_kept_or_queued_carries_only_the_keys_the_schema_defines
    pad = (0..7).to_h { |i| ["pad#{i}", "x" * 1000] }
    padded = ->(name, **changes) { MessagePack.pack(vector(name, **changes).merge(pad)) }
    extra = ->(m) { m.keys - ["t", *Bcast::EVENTS[m["t"]].map { |k| k.delete_suffix("?") }] }
    @broker.answer = ->(body) { [] if body["t"] == "history" } # answered below
    [44, 45].each { |seq| @broker.publish("room/lobby/", padded.call("room_msg", seq: seq, from: "bob")) }
    @broker.publish("sys/", padded.call("join"))
    wait_until("the join after them") { of_type("join").any? }
    held = @client.instance_variable_get(:@held)["lobby"]
    assert_equal [44, 45], held.keys.sort
    assert_equal [[], []], held.values.map(&extra), "held with its padding"
    assert_equal held.values.sum { |m| Bcast.footprint(m) }, @client.instance_variable_get(:@held_bytes)["lobby"]
    assert_equal [], extra.call(of_type("join").first), "queued with its padding"
    answer = vector("history_answer", msgs: [vector("room_msg", seq: 43, from: "bob").merge(pad)], last: 45).except("id")
    @broker.reply(MessagePack.pack(answer.merge(pad)))
    wait_until("the answer") { of_type("msg").size == 3 }
    assert_equal [[], [], []], of_type("msg").map(&extra), "delivered with its padding"
    # Kept until a welcome: a resume waits for one.
    @broker.answer = ->(body) { [] if body["t"] == "hello" }
    @broker.reply({ "t" => "error", "code" => "no-session", "reason" => "no session" })
    wait_until("the resume's hello") { @broker.bodies("hello").size == 2 }
    @broker.publish("room/lobby/", padded.call("room_msg", seq: 46, from: "bob"))
    @broker.publish("sys/", padded.call("join", seq: 9))
    kept = -> { @client.instance_variable_get(:@stash).reject { |m| m["t"] == "hb" } }
    wait_until("both kept") { kept.call.size == 2 }
    assert_equal [[], []], kept.call.map(&extra), "kept with its padding"
  end

  # PROTOCOL.md 10.2: 1200 msgs of 60000 bytes (72 MB) published while a
  # resume waits for its welcome are kept for it only up to 64 MiB; after it
  # the rest is asked for from history.
  def test_publications_kept_until_the_welcome_are_bounded_at_64_mib_and_the_rest_filled
    ts, text = VECTORS["welcome"]["message"]["ts"], "x" * 60_000
    @broker.answer = ->(body) { [] if body["t"] == "hello" } # welcomed below
    @broker.reply({ "t" => "error", "code" => "no-session", "reason" => "no session" })
    wait_until("the resume's hello") { @broker.bodies("hello").size == 2 }
    (43..1242).each { |seq| @broker.publish("room/lobby/", vector("room_msg", seq: seq, text: text, from: "bob")) }
    caught_up = vector("hb", ts: ts + 1000, sys_seq: 7, rooms: { "lobby" => 1242 })
    @broker.publish("sys/", caught_up)
    # Nothing shows what an unwelcomed client read: look at what it keeps.
    wait_until("the hb after them kept") { @client.instance_variable_get(:@stash).include?(caught_up) }
    @broker.reply(vector("welcome", ts: ts + 1000, rooms: { "dev" => 0, "lobby" => 1242 }))
    wait_until("the welcome") { of_type("msg").any? }
    sync # the fill went out with what was kept
    shown = of_type("msg").map { |e| e["seq"] }
    assert_equal (43...43 + shown.size).to_a, shown, "in order, from 43"
    assert_operator shown.size, :>, 1000
    assert_operator shown.size, :<=, (64 << 20) / 60_000, "more than 64 MiB kept"
    assert_equal [shown.last], @broker.bodies("history").map { |b| b["after"] }, "the rest is asked for"
    assert_empty of_type("lost")
  end

  # PROTOCOL.md 10.2: before a welcome only what is acted on when published
  # is kept, each charged its strings: 400 hbs of 2000 rooms with 120-byte
  # names (a charge of 121 MB; 64 bytes each before) are kept only up to 64
  # MiB, a dm published (never acted on) not at all; after the welcome the
  # client works as before.
  def test_publications_kept_until_the_welcome_are_charged_whole_and_the_rest_dropped
    ts = VECTORS["welcome"]["message"]["ts"]
    @broker.answer = ->(body) { [] if body["t"] == "hello" } # welcomed below
    @broker.reply({ "t" => "error", "code" => "no-session", "reason" => "no session" })
    wait_until("the resume's hello") { @broker.bodies("hello").size == 2 }
    read = Hash.new(0) # what the SUB gave
    @client.singleton_class.prepend(Module.new do
      define_method(:on_published) do |m|
        read[m["t"] == "hb" && m["rooms"].size == 2000 ? "big" : m["t"]] += 1
        super(m)
      end
    end)
    big = Bcast.encode(vector("hb", ts: ts + 1, sys_seq: 7, rooms: (0...2000).to_h { |i| [format("%05d", i) + "r" * 115, 0] }))
    400.times { @broker.publish("sys/", big) }
    @broker.publish("sys/", { "t" => "dm", "from" => "bob", "text" => "p" * 1000, "ts" => ts })
    wait_until("all read") { read["dm"].positive? }
    assert_equal 400, read["big"]
    stash = @client.instance_variable_get(:@stash)
    cost = lambda do |m| # PROTOCOL.md 10.2, as the C++ client charges it
      n = ->(*keys) { keys.sum { |k| m[k].bytesize } }
      64 + case m["t"]
           when "msg" then n.call("text", "from", "room")
           when "join" then n.call("name")
           when "leave" then n.call("name", "reason")
           when "shutdown" then n.call("reason")
           when "hb" then m["rooms"].each_key.sum { |r| 32 + r.bytesize }
           else 0
           end
    end
    charged = stash.sum(&cost)
    assert_operator charged, :<=, 64 << 20, "more than 64 MiB kept"
    refute_includes stash.map { |m| m["t"] }, "dm", "kept, though never acted on"
    assert_operator stash.count { |m| m["t"] == "hb" && m["rooms"].size == 2000 }, :>, 200, "up to it"
    assert_equal charged, @client.instance_variable_get(:@stash_bytes)
    stash = nil
    @broker.reply(vector("welcome", ts: ts + 1000, rooms: { "dev" => 0, "lobby" => 42 }))
    wait_until("the welcome") { @client.instance_variable_get(:@joined) }
    @broker.publish("room/lobby/", vector_bytes("room_msg"))
    wait_until("seq 43") { of_type("msg").any? }
    sync
    assert_equal [43], of_type("msg").map { |e| e["seq"] }
    assert_empty @client.instance_variable_get(:@stash)
  end

  # PROTOCOL.md 10.2: 100 000 msgs held after the gap at 43; each live one
  # above them is let go at once, not after a scan of all held (1-3 ms each,
  # so the client fell behind). A complexity check: the bound is generous.
  def test_a_room_full_of_held_messages_lets_newer_ones_go_without_scanning_them
    bob = { from: "bob", text: "x" }
    (44...100_044).each { |seq| @client.__send__(:on_published, vector("room_msg", seq: seq, **bob)) }
    held = @client.instance_variable_get(:@held)["lobby"]
    assert_equal 100_000, held.size
    live = (100_044...120_044).map { |seq| vector("room_msg", seq: seq, **bob) }
    start = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    live.each { |m| @client.__send__(:on_published, m) }
    took = Process.clock_gettime(Process::CLOCK_MONOTONIC) - start
    assert_operator took, :<, 2.0, "20 000 live msgs took #{took} s"
    assert_equal 100_043, held.keys.max, "the newest were let go"
    assert_equal 100_043, @client.instance_variable_get(:@held_newest)["lobby"]
    @client.__send__(:on_history, vector("history_answer", msgs: [vector("room_msg", seq: 43, **bob)], first: 1,
                                                        last: 120_043).except("id"))
    assert_equal 100_042, @client.instance_variable_get(:@last)["lobby"], "43 came: 100043 was let go"
    assert_equal [{}, 0], [@client.instance_variable_get(:@held)["lobby"], @client.instance_variable_get(:@held_newest)["lobby"]]
  end

  # PROTOCOL.md 10.2: an answer that moved nothing paused lobby's fills for
  # hb_ivl; the new epoch starts the room over, pause and all.
  def test_a_new_epoch_fills_at_once_though_the_old_one_paused_fills
    hb_ivl = VECTORS["welcome"]["message"]["hb_ivl"] / 1000.0
    new_epoch = EPOCH + 1
    nothing = vector("history_answer", msgs: [], first: 1, last: 43).except("id")
    @broker.answer = ->(body) { [nothing] if body["t"] == "history" && @broker.bodies("history").size == 1 }
    @broker.publish("sys/", vector("hb", sys_seq: 7, rooms: { "lobby" => 44 }))
    wait_until("the fill") { @broker.bodies("history").any? }
    sync # its answer moved nothing: paused
    paused = @client.instance_variable_get(:@fill_paused).fetch("lobby", 0)
    assert_operator paused, :>, Process.clock_gettime(Process::CLOCK_MONOTONIC) + hb_ivl / 2
    @broker.set(welcome: vector("welcome", epoch: new_epoch, rooms: { "lobby" => 5 }),
                hb: vector("hb", epoch: new_epoch, sys_seq: 1, rooms: { "lobby" => 5 }))
    wait_until("the new epoch's fill") { @broker.bodies("history").any? { |b| b["after"].zero? } }
    asked = @broker.requests.select { |r| %w[hello history].include?(r[1]["t"]) }
    assert_equal [["hello", nil], ["history", 0]], asked.last(2).map { |r| [r[1]["t"], r[1]["after"]] }
    gap = asked[-1][2] - asked[-2][2]
    assert_operator gap, :<, hb_ivl / 2, "the new epoch's first fill waited for the old pause"
  end

  # PROTOCOL.md 5 item 7, 12: at most 8 levels (the body's map is the first),
  # no str, array or map over 65536 bytes or entries; beyond them a body is
  # ignored, and an array declaring 2^32 - 1 entries costs nothing.
  def test_a_body_beyond_the_decoder_limits_is_ignored
    msg_with = lambda do |seq, text, x| # a msg whose extra key x holds the MessagePack bytes +x+
      data = Bcast.encode(vector("room_msg", seq: seq, text: text, from: "bob"))
      (data.getbyte(0) + 1).chr + data[1..] + "\xa1x".b + x
    end
    declares = ->(head, n, each = "".b) { [head, n].pack("CN") + each * n }
    keys = (0...65_537).map { |i| "\xa5".b + format("%05d", i) + "\0" }.join
    @broker.publish("room/lobby/", msg_with.call(43, "at the limits", "\x91".b * 6 + declares.call(0xdd, 65_536, "\0")))
    ["\x91".b * 8 + "\0", declares.call(0xdb, 65_537, "a"), declares.call(0xdd, 65_537, "\0"),
     declares.call(0xdf, 65_537) + keys, declares.call(0xdd, 2**32 - 1)].each do |x|
      @broker.publish("room/lobby/", msg_with.call(44, "beyond them", x))
    end
    @broker.publish("room/lobby/", vector("room_msg", seq: 44, text: "after", from: "bob"))
    wait_until("seq 44") { of_type("msg").any? { |e| e["seq"] == 44 } }
    sync
    assert_equal [[43, "at the limits"], [44, "after"]], of_type("msg").map { |e| e.values_at("seq", "text") }
  end

  def test_its_own_leave_after_the_welcome_says_hello_again
    @broker.publish("sys/", vector("leave", seq: 8, name: "alice", reason: "bye"))
    @broker.publish("sys/", Bcast.encode({ "t" => "unknown-type", "epoch" => EPOCH, "seq" => 8 })) # ignored
    @broker.reply(Bcast.encode({ "t" => "unknown-type", "id" => 1 }))
    wait_until("the bye seen") { of_type("leave").any? }
    sync
    assert_equal 1, @broker.bodies("hello").size, "a bye is not a lost session"
    @broker.publish("sys/", vector("leave", seq: 9, name: "alice", reason: "timeout"))
    wait_until("a second hello") { @broker.bodies("hello").size == 2 }
    assert_equal VECTORS["welcome"]["message"]["session"], @broker.bodies("hello").last["session"]
  end

  def test_hello_is_retried_every_second_before_the_first_welcome
    broker = ScriptedBroker.new
    broker.answer = ->(body) { [] if body["t"] == "hello" && broker.bodies("hello").size == 1 }
    Bcast::Client.connect("alice", broker.in, broker.out, rooms: ["lobby"], timeout: LIMIT) { nil }
    hellos = broker.requests.select { |r| r[1]["t"] == "hello" }.map(&:last)
    assert_equal 2, hellos.size
    assert_operator hellos[1] - hellos[0], :>=, 0.9
    assert_operator hellos[1] - hellos[0], :<, 1.5
  ensure
    broker&.close
  end
end

class TestRealBroker < Minitest::Test
  def test_300_messages_through_the_window_each_acked_once_in_order
    binary = ENV.fetch("BCAST_BINARY", "")
    flunk "BCAST_BINARY names the broadcast-server binary" if binary.empty?
    out, writer = IO.pipe
    pid = spawn(binary, "start", "--db", ":memory:", "--in", "0", "--out", "0", "--heartbeat", "200",
                "--log-level", "off", out: writer)
    writer.close
    begin
      line = out.gets
      in_ep, out_ep = line.match(/in (\S+) \(ROUTER\), out (\S+) \(PUB\)/).captures
      texts = (1..300).map { |i| "line #{i}" }
      events = []
      client = Bcast::Client.connect("alice", in_ep, out_ep, rooms: ["lobby"], timeout: LIMIT, report_acks: true) do |c|
        texts.each { |text| c.send(text) }
        deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + LIMIT
        until c.unacked.zero? && c.caught_up?
          flunk "#{c.unacked} unacked" if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
          c.each_event(timeout: 0.02) { |e| events << e }
        end
        c.each_event(timeout: 0) { |e| events << e }
        c
      end
      assert_equal texts, events.select { |e| e["t"] == "msg" }.map { |e| e["text"] }
      assert_equal (1..300).to_a, events.select { |e| e["t"] == "ack" }.map { |e| e["id"] }.sort
      assert_equal (1..300).to_h { |i| [i, i] }, client.acked
    ensure
      Process.kill("INT", pid)
      Process.wait(pid)
    end
  end
end
