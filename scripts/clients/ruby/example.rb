# Join the lobby, say hello, print the room for a few seconds.
# Usage: ruby example.rb [IN_ENDPOINT] [OUT_ENDPOINT]
require_relative "bcast"

in_ep = ARGV[0] || "tcp://127.0.0.1:5555"
out_ep = ARGV[1] || "tcp://127.0.0.1:5556"
Bcast::Client.connect("ruby-#{Process.pid}", in_ep, out_ep, rooms: ["lobby"]) do |chat|
  chat.send("hello from Ruby")
  chat.each_event(timeout: 3) do |event|
    puts "#{event['from']}: #{event['text']}" if event["t"] == "msg"
  end
end
