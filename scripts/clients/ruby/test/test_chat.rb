# frozen_string_literal: true

# The Ruby client against the real broker (BCAST_BINARY), in rooms shared with
# the C++ client (`broadcast-server connect`). Every wait has a deadline; every
# process started here is killed at the end.
require "json"
require "minitest/autorun"
require "rbconfig"
require "tmpdir"
require_relative "../bcast"

class TestChat < Minitest::Test
  HERE = File.expand_path("..", __dir__)
  RUBY = RbConfig.ruby
  Child = Struct.new(:name, :pid, :stdin, :stdout, :err, :buffer, :lines, :eof, :status)

  def setup
    @binary = ENV.fetch("BCAST_BINARY", nil)
    skip "BCAST_BINARY is not set (the broadcast-server binary)" if @binary.nil? || @binary.empty?
    @dir = Dir.mktmpdir("bcast-ruby-test")
    @children = []
    @broker = start("broker", @binary, "start", "--db", ":memory:", "--in", "0", "--out", "0", "--heartbeat", "200",
                    "--log-level", "off", stdin: false)
    line = wait_for(@broker, "the listening line", timeout: 10) { |lines| lines.grep(/listening:/).first }
    match = line.match(/ in (\S+) \(ROUTER\), out (\S+) \(PUB\)/)
    assert match, "unexpected line from the broker: #{line}"
    @in, @out = match[1], match[2]
  end

  def teardown
    (@children || []).reverse_each { |child| stop(child) }
    FileUtils.remove_entry(@dir) if @dir
  end

  # C++ and Ruby in one room: each sees the other's messages and its own, with
  # the right from, in one order, and prints the same JSON for them.
  def test_mixed_room_with_the_cpp_client
    room = "ruby-mix"
    cpp = start("cpp", @binary, "connect", "--in", @in, "--out", @out, "--name", "cxx", "--room", room, "--json")
    rb = start("ruby", RUBY, File.join(HERE, "chat.rb"), "--name", "rb", "--in", @in, "--out", @out,
               "--room", room, "--json")
    [cpp, rb].each { |c| wait_for(c, "joined") { |lines| lines.any? { |l| l.include?('"status":"joined"') } } }

    sent = { "cxx" => ["one from C++", "two: \"quoted\" \\ back", "/me waves from C++"],
             "rb" => ["one from Ruby", "héllo 👋 日本", "/me waves from Ruby"] }
    3.times do |i|
      cpp.stdin.puts(sent["cxx"][i])
      rb.stdin.puts(sent["rb"][i])
    end
    [cpp, rb].each { |c| c.stdin.flush }

    seen = [cpp, rb].to_h do |c|
      msgs = wait_for(c, "six messages") { |lines| (m = msg_lines(lines)).size >= 6 && m }
      [c.name, msgs]
    end
    [cpp, rb].each { |c| finish(c) }

    assert_equal seen["cpp"], seen["ruby"], "both clients print the same JSON for the room"
    events = seen["ruby"].map { |l| JSON.parse(l) }
    assert_equal (1..6).to_a, events.map { |e| e["seq"] }, "in seq order, once"
    assert(events.all? { |e| e["room"] == room })
    sent.each do |from, texts|
      assert_equal texts, events.select { |e| e["from"] == from }.map { |e| e["text"] }, "#{from}'s messages in order"
    end
    [cpp, rb].each do |c|
      acks = c.lines.map { |l| JSON.parse(l) }.select { |e| e["type"] == "ack" }
      assert_equal [1, 2, 3], acks.map { |e| e["id"] }.sort, "#{c.name} got an ack per message"
    end
  end

  # Text lines as the C++ client prints them in a pipe: messages, actions,
  # presence, for the same events.
  def test_text_lines_match_the_cpp_client
    room = "ruby-text"
    rb = start("ruby", RUBY, File.join(HERE, "chat.rb"), "--name", "rbwatch", "--in", @in, "--out", @out, "--room", room)
    cpp = start("cpp", @binary, "connect", "--in", @in, "--out", @out, "--name", "cxxwatch", "--room", room)
    # Text mode prints nothing on joining: the broker's who tells when both are in.
    Bcast::Client.connect("observer", @in, @out, rooms: ["observer"]) do |observer|
      wait_until(observer, "the watchers to join") { (observer.who.map { |u| u["name"] } & %w[rbwatch cxxwatch]).size == 2 }
    end

    speaker = start("speaker", @binary, "connect", "--in", @in, "--out", @out, "--name", "speaker", "--room", room)
    speaker.stdin.write("hi there\n/me waves\ntab\there\n")
    finish(speaker)

    about_speaker = [rb, cpp].to_h do |c|
      [c.name, wait_for(c, "the speaker to leave") { |lines| lines.include?("* speaker left") && lines.grep(/speaker/) }]
    end
    [rb, cpp].each { |c| finish(c) }

    clock = /\A\d\d:\d\d:\d\d /
    lines = about_speaker["ruby"]
    assert_equal ["* speaker joined", "speaker: hi there", "* speaker waves", "speaker: tab^Ihere", "* speaker left"],
                 lines.map { |l| l.sub(clock, "") }
    assert_equal 3, lines.count { |l| l.match?(clock) }
    assert_equal about_speaker["cpp"].sort, lines.sort, "the C++ client prints the same lines"
  end

  # The library directly: who, dm, and a burst larger than the send window.
  def test_library_who_dm_and_a_burst
    Bcast::Client.connect("alice", @in, @out, rooms: ["burst"]) do |alice|
      Bcast::Client.connect("bob", @in, @out, rooms: ["burst"]) do |bob|
        assert_equal %w[alice bob], alice.who.map { |u| u["name"] }
        alice.dm("bob", "psst")
        dm = first_event(bob) { |e| e["t"] == "dm" }
        assert_equal({ "from" => "alice", "text" => "psst" }, dm.slice("from", "text"))

        count = Bcast::WINDOW + 44
        count.times { |i| alice.send("line #{i}") }
        got = []
        deadline = now + 30
        until got.size >= count && alice.unacked.zero? && alice.caught_up?
          flunk "burst: #{got.size} of #{count} received, #{alice.unacked} unacked" if now > deadline
          alice.each_event(timeout: 0.01) { nil } # acks free the window
          bob.each_event(timeout: 0.01) { |e| got << e["text"] if e["t"] == "msg" }
        end
        assert_equal (0...count).map { |i| "line #{i}" }, got
      end
    end
  end

  # Messages the SUB never delivers are announced by hb and filled from history.
  def test_gap_repair_from_history
    Bcast::Client.connect("gappy", @in, @out, rooms: ["gap"]) do |gappy|
      gappy.instance_variable_get(:@sub).setsockopt(ZMQ::UNSUBSCRIBE, "room/gap/") # lose the room's traffic
      Bcast::Client.connect("talker", @in, @out, rooms: ["gap"]) do |talker|
        5.times { |i| talker.send("gap #{i}") }
        wait_until(talker, "talker's acks") { talker.unacked.zero? }
        got = []
        deadline = now + 20
        until got.size >= 5
          flunk "gap: only #{got.inspect}" if now > deadline
          gappy.each_event(timeout: 0.05) { |e| got << [e["seq"], e["text"]] if e["t"] == "msg" }
        end
        assert_equal (0...5).map { |i| [i + 1, "gap #{i}"] }, got
      end
    end
  end

  # The README example runs against the broker and sees its own message.
  def test_example
    example = start("example", RUBY, File.join(HERE, "example.rb"), @in, @out, stdin: false)
    wait_exit(example, 20)
    assert_equal 0, example.status.exitstatus, stderr_of(example)
    assert_includes example.lines, "ruby-#{example.pid}: hello from Ruby"
  end

  private

  def now
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  # Polls +client+ until the block is true for one of its events; returns it.
  def first_event(client, timeout: 20)
    deadline = now + timeout
    loop do
      client.each_event(timeout: 0.05) { |e| return e if yield(e) }
      flunk "timed out waiting for an event" if now > deadline
    end
  end

  # Polls +client+ (dropping its events) until the block is true.
  def wait_until(client, what, timeout: 20)
    deadline = now + timeout
    until yield
      flunk "timed out waiting for #{what}" if now > deadline
      client.each_event(timeout: 0.05) { nil }
    end
  end

  def start(name, *cmd, stdin: true)
    in_r, in_w = stdin ? IO.pipe : [File::NULL, nil]
    out_r, out_w = IO.pipe
    err = File.join(@dir, "#{name}.err")
    pid = Process.spawn(*cmd, in: in_r, out: out_w, err: err)
    out_w.close
    in_r.close if stdin
    child = Child.new(name, pid, in_w, out_r, err, +"", [], false, nil)
    @children << child
    child
  end

  # Reads the child's output until the block returns a truthy value for the
  # lines so far; returns it. Fails at the deadline or when output ends.
  def wait_for(child, what, timeout: 20)
    deadline = now + timeout
    loop do
      result = yield(child.lines)
      return result if result

      left = deadline - now
      flunk "#{child.name}: no #{what} within #{timeout}s\n#{report(child)}" if left <= 0
      flunk "#{child.name}: output ended before #{what}\n#{report(child)}" if child.eof

      pump(child, [left, 0.2].min)
    end
  end

  def pump(child, seconds)
    return if child.eof || IO.select([child.stdout], nil, nil, seconds).nil?

    chunk = child.stdout.read_nonblock(65_536, exception: false)
    return if chunk == :wait_readable

    if chunk.nil?
      child.eof = true
      return
    end
    child.buffer << chunk.force_encoding(Encoding::UTF_8)
    *complete, rest = child.buffer.split("\n", -1)
    child.lines.concat(complete)
    child.buffer = rest
  end

  # Ends the child's input and waits for it to exit 0.
  def finish(child)
    child.stdin.close unless child.stdin.closed?
    wait_exit(child, 20)
    assert_equal 0, child.status.exitstatus, "#{child.name} exit status\n#{report(child)}"
  end

  def wait_exit(child, timeout)
    deadline = now + timeout
    until child.status
      _, child.status = Process.waitpid2(child.pid, Process::WNOHANG)
      break if child.status

      flunk "#{child.name} did not exit within #{timeout}s\n#{report(child)}" if now > deadline
      child.eof ? IO.select(nil, nil, nil, 0.02) : pump(child, 0.02)
    end
    pump(child, 0.5) until child.eof
  end

  def stop(child)
    child.stdin&.close unless child.stdin.nil? || child.stdin.closed?
    unless child.status
      begin
        Process.kill("TERM", child.pid)
        deadline = now + 3
        until (child.status = Process.waitpid2(child.pid, Process::WNOHANG)&.last) || now > deadline
          IO.select(nil, nil, nil, 0.02)
        end
        unless child.status
          Process.kill("KILL", child.pid)
          child.status = Process.waitpid2(child.pid).last
        end
      rescue Errno::ESRCH, Errno::ECHILD
        nil
      end
    end
    child.stdout.close unless child.stdout.closed?
  end

  def msg_lines(lines)
    lines.select { |l| l.start_with?('{"type":"msg"') }
  end

  def stderr_of(child)
    File.exist?(child.err) ? File.read(child.err) : ""
  end

  def report(child)
    "stdout:\n#{(child.lines + [child.buffer]).join("\n")}\nstderr:\n#{stderr_of(child)}"
  end
end
