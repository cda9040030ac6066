// Reading a broker's history directory with the broker's record codec.
#include "stored_history.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <unordered_map>
#include <utility>

#include "bcast/proto/codec.hpp"
#include "log_records.hpp"

namespace bcast::test {

std::vector<stored_msg> read_stored(const std::string& dir, std::string& error) {
  std::map<std::pair<std::string, std::uint64_t>, stored_msg> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".seg") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto header = broker::log::decode_header(bytes);
    if (!header) continue;
    broker::log::scan(std::string_view(bytes).substr(broker::log::header_size),
                      [&](const broker::log::record& r, std::size_t) {
                        const auto* m = std::get_if<broker::log::msg_record>(&r);
                        if (m == nullptr) return;
                        stored_msg s{std::string(m->room), m->seq, {}, std::string(m->name), std::nullopt};
                        if (m->id != 0) s.req = m->id;
                        const auto decoded = proto::decode_event(m->body);
                        if (const auto* e = std::get_if<proto::any_event>(&decoded)) {
                          if (const auto* msg = std::get_if<proto::event::msg>(e)) s.text = msg->text;
                        }
                        auto& slot = found[{s.room, s.seq}];
                        if (!slot.req) slot = std::move(s);  // a copy forward carries no origin
                      },
                      broker::log::seed_of(*header));
  }
  if (ec) error = "cannot list " + dir + ": " + ec.message();
  std::vector<stored_msg> out;
  for (auto& [key, m] : found) out.push_back(std::move(m));
  return out;
}

std::size_t acked_in_store(const scenario& s, const std::vector<stored_msg>& stored, std::vector<std::string>& missing,
                           const ack_filter& wanted) {
  std::unordered_map<std::string, const stored_msg*> by_text;
  for (const auto& m : stored) by_text[m.text] = &m;
  std::size_t found = 0;
  for (auto* sender : s.senders()) {
    for (const auto& [id, ack] : sender->acks()) {
      if (!wanted(*sender, id, ack)) continue;
      const std::string& text = sender->texts().at(id - 1);
      const auto it = by_text.find(text);
      if (it != by_text.end() && it->second->seq == ack.seq && it->second->room == ack.room &&
          it->second->sender == sender->label() && it->second->req == id) {
        ++found;
      } else if (missing.size() < 10) {
        missing.push_back(text + " (ack seq " + std::to_string(ack.seq) + ")" +
                          (it == by_text.end() ? " not stored" : " stored at seq " + std::to_string(it->second->seq)));
      }
    }
  }
  return found;
}

}  // namespace bcast::test
