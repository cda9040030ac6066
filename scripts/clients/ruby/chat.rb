# frozen_string_literal: true

# A tiny chat program on bcast.rb: sends each stdin line to a room and prints
# what happens there, like `broadcast-server connect` in a pipe (or with
# --json, the same JSON objects). At end of input it waits until its messages
# are acknowledged and have come back, says bye and exits 0.
#
#   ruby chat.rb --name NAME --in EP --out EP [--room R]... [--token T] [--timeout S] [--json]
#
# Exit codes as the C++ client: 0 ok, 2 usage, 3 broker not answering,
# 4 name taken or invalid, 5 a message or request refused.
require "optparse"
require_relative "bcast"

module Chat
  module_function

  ACTION = "/me "
  JSON_FIELDS = {
    "msg" => %w[room seq ts from text], "join" => %w[name ts], "leave" => %w[name reason ts],
    "dm" => %w[from text ts], "lost" => %w[room first_seq count], "ack" => %w[id room seq],
    "error" => %w[code reason id]
  }.freeze

  # Control characters as the C++ client shows them: ^X, ^?, \u0085.
  def sanitize(text)
    text.to_s.each_char.map do |c|
      o = c.ord
      if o < 0x20 then "^#{(o + 0x40).chr}"
      elsif o == 0x7f then "^?"
      elsif o.between?(0x80, 0x9f) then format("\\u%04x", o)
      else c
      end
    end.join
  end

  def clock(ts)
    Time.at(ts / 1000).strftime("%H:%M:%S")
  end

  def text_line(e)
    case e["t"]
    when "msg"
      text = e["text"]
      if text.start_with?(ACTION)
        "#{clock(e['ts'])} * #{sanitize(e['from'])} #{sanitize(text.delete_prefix(ACTION))}"
      else
        "#{clock(e['ts'])} #{sanitize(e['from'])}: #{sanitize(text)}"
      end
    when "dm" then "#{clock(e['ts'])} (private) #{sanitize(e['from'])}: #{sanitize(e['text'])}"
    when "join" then "* #{sanitize(e['name'])} joined"
    when "leave"
      why = e["reason"].to_s
      "* #{sanitize(e['name'])} left#{why == 'bye' || why.empty? ? '' : " (#{sanitize(why)})"}"
    when "lost"
      last = e["first_seq"] + e["count"] - 1
      "* #{e['count']} message(s) in #{e['room']} could not be recovered (seq #{e['first_seq']}-#{last})"
    when "shutdown" then "* server shut down — waiting for it to return"
    end
  end

  # JSON strings as the C++ client writes them: only ", \ and controls escaped.
  def json_string(text)
    body = text.to_s.gsub(/["\\\x00-\x1f]/) { |c| c.ord < 0x20 ? format("\\u%04x", c.ord) : "\\#{c}" }
    "\"#{body}\""
  end

  def json_line(e)
    if e["t"] == "shutdown"
      return "{\"type\":\"status\",\"status\":\"server-shutdown\",\"detail\":#{json_string(e['reason'])}}"
    end

    fields = JSON_FIELDS.fetch(e["t"]).reject { |k| e[k].nil? }.map do |k|
      "\"#{k}\":#{e[k].is_a?(String) ? json_string(e[k]) : e[k]}"
    end
    "{#{["\"type\":\"#{e['t']}\"", *fields].join(',')}}"
  end

  def status_joined(name)
    "{\"type\":\"status\",\"status\":\"joined\",\"detail\":#{json_string(name)}}"
  end

  def parse(argv)
    opts = { in: "tcp://127.0.0.1:5555", out: "tcp://127.0.0.1:5556", rooms: [], timeout: 10.0, json: false,
             token: ENV.fetch("BCAST_TOKEN", nil) }
    parser = OptionParser.new do |o|
      o.banner = "Usage: ruby chat.rb --name NAME [options]"
      o.on("--name NAME", "Your name in the room") { |v| opts[:name] = v }
      o.on("--in EP", "Broker request port, host:port ([::1]:5555) or ZeroMQ endpoint") { |v| opts[:in] = v }
      o.on("--out EP", "Broker broadcast port, host:port ([::1]:5556) or ZeroMQ endpoint") { |v| opts[:out] = v }
      o.on("--room ROOM", "Room to follow (repeatable; the first gets what you send)") { |v| opts[:rooms] << v }
      o.on("--token TOKEN", "Join token, when the broker requires one (default: $BCAST_TOKEN)") { |v| opts[:token] = v }
      o.on("--token-file FILE", "File whose first line is the join token (wins over --token)") do |v|
        opts[:token_file] = v
      end
      o.on("--timeout SECONDS", Float, "Seconds to wait for the broker") { |v| opts[:timeout] = v }
      o.on("--json", "Print one JSON object per event") { opts[:json] = true }
    end
    parser.parse!(argv)
    raise OptionParser::MissingArgument, "--name" unless opts[:name]
    raise OptionParser::InvalidArgument, argv.join(" ") unless argv.empty?

    opts[:token] = File.open(opts[:token_file], &:readline).strip if opts[:token_file]

    opts
  end

  # Runs the chat; returns the exit code.
  def run(opts)
    client = Bcast::Client.new(opts[:name], opts[:in], opts[:out], rooms: opts[:rooms], token: opts[:token],
                                                                   timeout: opts[:timeout], report_acks: opts[:json])
    puts status_joined(opts[:name]) if opts[:json]
    code, partial, ended, number = 0, +"", nil, 0
    begin
      while ended.nil? || client.unacked.positive? || !client.caught_up?
        unless client.poll(0.1, ended ? [] : [$stdin]).empty?
          chunk = $stdin.read_nonblock(65_536, exception: false)
          chunk = "" if chunk == :wait_readable
          if chunk.nil?
            ended = Process.clock_gettime(Process::CLOCK_MONOTONIC)
            chunk = "\n" # the last line, even without its newline
          end
          *lines, partial = (partial + chunk.b).split("\n", -1)
          lines.each do |line|
            number += 1
            line = line.delete_suffix("\r").force_encoding(Encoding::UTF_8)
            next if line.empty?

            if !line.valid_encoding?
              warn "bcast_client: line #{number} not sent: not valid UTF-8"
              code = 5
            elsif line.bytesize > client.max_text
              warn "bcast_client: line #{number} not sent: is #{line.bytesize} bytes; the limit is #{client.max_text}"
              code = 5
            else
              client.send(line)
            end
          end
        end
        client.each_event(timeout: 0) do |e|
          if e["t"] == "error"
            code = 5
            ref = e["id"] ? "message #{e['id']} refused: " : ""
            warn "bcast_client: #{ref}#{e['code']}: #{e['reason']}" unless opts[:json]
          end
          line = opts[:json] ? json_line(e) : text_line(e)
          puts line if line
        end
        if ended && Process.clock_gettime(Process::CLOCK_MONOTONIC) - ended > opts[:timeout]
          warn "bcast_client: #{client.unacked} message(s) not acknowledged"
          return 3
        end
      end
      code
    rescue Interrupt
      code
    ensure
      client.close
    end
  end

  def main(argv)
    $stdout.sync = true
    run(parse(argv))
  rescue OptionParser::ParseError => e
    warn "chat.rb: #{e.message}"
    2
  rescue Bcast::ProtocolError => e
    warn "bcast_client: #{e.message}"
    %w[name-taken invalid-name].include?(e.code) ? 4 : 5
  rescue Bcast::TimeoutError => e
    warn "bcast_client: #{e.message}"
    3
  rescue Interrupt
    130
  end
end

exit(Chat.main(ARGV)) if $PROGRAM_NAME == __FILE__
