# frozen_string_literal: true

# The Ruby codec against proto/vectors: every logical message decodes from and
# encodes to its exact bytes, a pack expands to exactly the msgs it means, and
# the malformed bodies (and malformed packs), and those beyond the decoder
# limits, are rejected.
require "json"
require "minitest/autorun"
require_relative "../bcast"

class TestVectors < Minitest::Test
  VECTORS = File.expand_path("../../../../proto/vectors", __dir__)
  MESSAGES = JSON.parse(File.read(File.join(VECTORS, "messages.json")))
  INVALID = JSON.parse(File.read(File.join(VECTORS, "invalid.json")))
  # Refusals that need the broker's state or rules, not the decoder's.
  BROKER_RULES = {
    "too-large" => "max_text and the history limit are broker settings",
    "invalid-room" => "the room rule is checked by the broker, after decoding",
    "unknown-user" => "only the broker knows who is online",
    "version" => "the version is checked by the broker when it answers hello",
    "invalid-name" => "the name rule is checked by the broker when it answers hello"
  }.freeze

  def self.bytes(hex)
    [hex].pack("H*")
  end

  def kind(vector)
    vector["kind"] == "request" ? :request : :event
  end

  def test_vector_files_are_complete
    assert_operator MESSAGES.size, :>=, 28
    assert_equal MESSAGES.size, MESSAGES.map { |v| v["name"] }.uniq.size
    assert_equal (Bcast::REQUESTS.keys + Bcast::EVENTS.keys).uniq.sort,
                 MESSAGES.map { |v| v["message"]["t"] }.uniq.sort
  end

  MESSAGES.each do |v|
    define_method("test_decode_#{v['name']}") do
      assert_equal v["message"], Bcast.decode(self.class.bytes(v["msgpack"]), kind(v))
    end

    define_method("test_encode_#{v['name']}") do
      assert_equal v["msgpack"], Bcast.encode(v["message"]).unpack1("H*")
    end

    # Key order given by the caller does not matter: the encoder writes canonically.
    define_method("test_encode_reordered_#{v['name']}") do
      shuffled = v["message"].to_a.reverse.to_h
      assert_equal v["msgpack"], Bcast.encode(shuffled).unpack1("H*")
    end

    next if v["topic"].nil?

    define_method("test_topic_#{v['name']}") do
      message = v["message"]
      expected = %w[msg batch pack].include?(message["t"]) ? "room/#{message['room']}/" : "sys/"
      assert_equal expected, v["topic"]
    end
  end

  MESSAGES.select { |v| v["means"] }.each do |v|
    define_method("test_expand_#{v['name']}") do
      msgs = Bcast.pack_msgs(Bcast.decode(self.class.bytes(v["msgpack"])))
      assert_equal v["means"].map { |m| m["message"] }, msgs
      assert_equal v["means"].map { |m| m["msgpack"] }, msgs.map { |m| Bcast.encode(m).unpack1("H*") }
    end
  end

  # room_pack with +entries+ (and +names+) in place of its own, as a
  # broker would send it (MessagePack.pack: a binary String stays bin).
  def pack_bytes(entries, names: %w[alice bob])
    pack = MESSAGES.find { |v| v["name"] == "room_pack" }["message"]
    MessagePack.pack(pack.merge("names" => names, "entries" => entries))
  end

  def test_pack_entries_are_arrays_of_exactly_dts_sender_text
    assert_equal 3, Bcast.decode(pack_bytes([[0, 0, "one"], [1, 1, "two"], [2, 1, "three"]]))["entries"].size
    malformed = {
      "no entries" => [],
      "two values" => [[0, 0]],
      "four values" => [[0, 0, "one", 1]],
      "a map" => [{ "dts" => 0, "sender" => 0, "text" => "one" }],
      "negative dts" => [[-1, 0, "one"]],
      "float dts" => [[0.5, 0, "one"]],
      "sender a str" => [[0, "alice", "one"]],
      "text a uint" => [[0, 0, 1]],
      "text bin" => [[0, 0, "one".b]],
      "nil text" => [[0, 0, nil]],
      "one bad entry of two" => [[0, 0, "one"], [0, 0]]
    }
    malformed.each do |what, entries|
      assert_raises(Bcast::DecodeError, what) { Bcast.decode(pack_bytes(entries)) }
    end
  end

  # An entry's text is a str, and "" is one (PROTOCOL.md 6.3); only a
  # request's text must be non-empty, and the broker checks that.
  def test_a_pack_entry_with_an_empty_text_is_a_msg_with_that_text
    msgs = Bcast.pack_msgs(Bcast.decode(pack_bytes([[0, 0, "one"], [1, 1, ""]])))
    assert_equal [[44, "alice", "one"], [45, "bob", ""]], msgs.map { |m| m.values_at("seq", "from", "text") }
  end

  def test_pack_senders_index_its_names
    assert_raises(Bcast::DecodeError) { Bcast.decode(pack_bytes([[0, 0, "one"], [0, 2, "two"]])) }
    assert_raises(Bcast::DecodeError) { Bcast.decode(pack_bytes([[0, 0, "one"]], names: [])) }
    assert_raises(Bcast::DecodeError) { Bcast.decode(pack_bytes([[0, 0, "one"]], names: [7])) }
  end

  def test_packs_of_more_than_64_entries_or_past_uint64_are_refused
    assert_raises(Bcast::DecodeError) { Bcast.decode(pack_bytes([[0, 0, "x"]] * 65)) }
    pack = MESSAGES.find { |v| v["name"] == "room_pack" }["message"]
    late = MessagePack.pack(pack.merge("ts" => 2**64 - 1, "entries" => [[1, 0, "x"]]))
    assert_raises(Bcast::DecodeError) { Bcast.decode(late) }
    wrap = MessagePack.pack(pack.merge("seq" => 2**64 - 1, "entries" => [[0, 0, "x"], [0, 0, "y"]]))
    assert_raises(Bcast::DecodeError) { Bcast.decode(wrap) }
  end

  INVALID.each do |v|
    define_method("test_invalid_#{v['name']}") do
      skip "#{v['error']}: #{BROKER_RULES.fetch(v['error'])}" unless v["error"] == "bad-request"
      assert_raises(Bcast::DecodeError) { Bcast.decode(self.class.bytes(v["msgpack"]), :request) }
    end
  end

  def test_binary_strings_are_encoded_as_str
    assert_equal "82a174a470696e67a2696403", Bcast.encode({ "t" => "ping".b, id: 3 }).unpack1("H*")
  end

  def test_events_of_unknown_type_are_accepted
    assert_equal({ "t" => "launch", "id" => 6 }, Bcast.decode(self.class.bytes("82a174a66c61756e6368a2696406")))
  end

  def test_nesting_deeper_than_eight_is_rejected
    deep = { "t" => "ping", "x" => [[[[[[[[1]]]]]]]] }
    assert_raises(Bcast::DecodeError) { Bcast.decode(MessagePack.pack(deep)) }
  end

  # PROTOCOL.md 5 item 7, 12: at most 8 levels (the body's map is the first),
  # no str, bin, array or map over 65536 bytes or entries, checked before the
  # body is built: msgpack reserves room for every entry an array declares.
  def test_the_decoder_limits_hold_for_every_body
    hb = self.class.bytes("87a174a26862a565706f636801a2747302a77379735f73657100a5726f6f6d7380a7636c69656e747300a178")
    declares = ->(head, n, each = "".b) { [head, n].pack("CN") + each * n }
    keys = (0...65_537).map { |i| "\xa5".b + format("%05d", i) + "\0" }.join
    within = { "8 levels" => "\x91".b * 7 + "\0", "a str of 65536 bytes" => declares.call(0xdb, 65_536, "a"),
               "an array of 65536" => declares.call(0xdd, 65_536, "\0"),
               "a map of 65536" => declares.call(0xdf, 65_536) + keys[0, 7 * 65_536] }
    beyond = { "9 levels" => "\x91".b * 8 + "\0", "100000 levels" => "\x91".b * 100_000 + "\0",
               "a str of 65537 bytes" => declares.call(0xdb, 65_537, "a"), "a bin of 65537" => declares.call(0xc6, 65_537, "a"),
               "an array of 65537" => declares.call(0xdd, 65_537, "\0"), "a map of 65537" => declares.call(0xdf, 65_537) + keys,
               "an array declaring 2^32 - 1" => declares.call(0xdd, 2**32 - 1),
               "a map declaring 2^32 - 1" => declares.call(0xdf, 2**32 - 1) }
    within.each { |what, x| assert_equal "hb", Bcast.decode(hb + x)["t"], what }
    beyond.each { |what, x| assert_raises(Bcast::DecodeError, what) { Bcast.decode(hb + x) } }
  end
end
