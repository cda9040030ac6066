# frozen_string_literal: true

# The Ruby client against a broker on IPv6 (start --bind ::1): the library
# with tcp://[::1]:PORT endpoints and chat.rb with [::1]:PORT each send a
# message and receive it. Exits 77 (ctest: skipped) when the machine has no
# IPv6 loopback.
# Usage: BCAST_BINARY=build/app/broadcast-server ruby tests/clients/ruby/test_ipv6.rb
require "json"
require "open3"
require "rbconfig"
require "socket"

begin
  TCPServer.new("::1", 0).close
rescue SystemCallError, SocketError
  puts "skipped: this machine has no IPv6 loopback (::1)"
  exit 77
end

require "minitest/autorun"
require_relative "../../../scripts/clients/ruby/bcast"

class TestIPv6 < Minitest::Test
  CLIENT_DIR = File.expand_path("../../../scripts/clients/ruby", __dir__)
  LIMIT = 20.0 # s: the deadline of every wait

  def setup
    binary = ENV.fetch("BCAST_BINARY", "")
    flunk "BCAST_BINARY names the broadcast-server binary" if binary.empty?
    @broker_out, @broker_w = IO.pipe
    @broker = Process.spawn(binary, "start", "--bind", "::1", "--in", "0", "--out", "0", "--db", ":memory:",
                            "--heartbeat", "200", "--log-level", "off", out: @broker_w)
    @broker_w.close
    banner = read_until(@broker_out, "the broker's listening line") { |text| text.include?("\n") }
    match = banner.match(%r{in (tcp://\[::1\]:(\d+)) \(ROUTER\), out (tcp://\[::1\]:(\d+)) \(PUB\)})
    assert match, "the broker is not on [::1]: #{banner}"
    @in, @in_port, @out, @out_port = match.captures
  end

  def teardown
    return unless @broker

    waiter = Process.detach(@broker)
    Process.kill("INT", @broker)
    Process.kill("KILL", @broker) unless waiter.join(10)
  rescue Errno::ESRCH
    nil
  ensure
    @broker_out&.close
  end

  def test_endpoint_takes_ipv6
    assert_equal "tcp://[::1]:5555", Bcast.endpoint("[::1]:5555")
    assert_equal "tcp://[::1]:5555", Bcast.endpoint("tcp://[::1]:5555")
    assert_equal "tcp://example.org:5555", Bcast.endpoint("example.org:5555")
    assert_equal "tcp://localhost:5555", Bcast.endpoint("5555")
    assert_equal "ipc:///tmp/bcast", Bcast.endpoint("ipc:///tmp/bcast")
  end

  def test_library_sends_and_receives_over_ipv6
    Bcast::Client.connect("rb-v6", @in, @out, rooms: ["v6-lib"], timeout: LIMIT) do |client|
      client.send("hello over IPv6")
      got = nil
      client.each_event(timeout: LIMIT) do |e| # ends at the deadline
        got = e if e["t"] == "msg" && e["from"] == "rb-v6"
        break if got
      end
      refute_nil got, "our message never came back"
      assert_equal ["v6-lib", "hello over IPv6", 1], got.values_at("room", "text", "seq")
    end
  end

  def test_chat_with_bracketed_host_port
    cmd = [RbConfig.ruby, File.join(CLIENT_DIR, "chat.rb"), "--name", "rb-v6-chat", "--in", "[::1]:#{@in_port}",
           "--out", "[::1]:#{@out_port}", "--room", "v6-chat", "--json", "--timeout", LIMIT.to_s]
    Open3.popen3(*cmd) do |stdin, stdout, stderr, thread|
      stdin.write("hi from [::1]\n")
      stdin.close
      out = read_until(stdout, "chat.rb to finish", timeout: 3 * LIMIT) { false }
      status = thread.value
      assert_equal 0, status.exitstatus, "stdout:\n#{out}\nstderr:\n#{stderr.read}"
      msgs = out.lines.select { |l| l.start_with?("{") }.map { |l| JSON.parse(l) }.select { |e| e["type"] == "msg" }
      assert_equal [["v6-chat", 1, "rb-v6-chat", "hi from [::1]"]], msgs.map { |e| e.values_at("room", "seq", "from", "text") }
    end
  end

  private

  def now
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  # Reads +io+ until the block is true for the text so far or the output
  # ends; returns the text. Fails at the deadline.
  def read_until(io, what, timeout: LIMIT)
    text = +""
    deadline = now + timeout
    until yield(text)
      left = deadline - now
      flunk "no #{what} within #{timeout}s: #{text}" if left <= 0
      next unless IO.select([io], nil, nil, left)

      chunk = io.read_nonblock(4096, exception: false)
      break if chunk.nil? # end of output
      next if chunk == :wait_readable

      text << chunk
    end
    text.force_encoding(Encoding::UTF_8)
  end
end
