// Loading DIR/*.key into a key -> name map, again whenever the listing moves.
#include "bcast/broker/key_ring.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "bcast/proto/curve_cert.hpp"
#include "bcast/proto/validate.hpp"

namespace bcast::broker {

namespace fs = std::filesystem;

key_ring::key_ring(std::string dir) : dir_(std::move(dir)) {
  if (!fs::is_directory(dir_)) throw std::runtime_error("--allow " + dir_ + " is not a directory");
  refresh();
}

key_ring::listing key_ring::list() const {
  listing files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    if (entry.path().extension() != ".key") continue;
    std::error_code ignored;
    const auto size = entry.file_size(ignored);
    const auto mtime = entry.last_write_time(ignored).time_since_epoch().count();
    files[entry.path().filename().string()] = {size, static_cast<std::int64_t>(mtime)};
  }
  return files;
}

void key_ring::load(const listing& files) {
  std::map<std::string, std::string> keys;
  for (const auto& [file, stamp] : files) {
    const std::string name = file.substr(0, file.size() - 4);
    std::string why;
    if (auto problem = proto::check_name(name)) {
      spdlog::warn("key {}/{} skipped: '{}' is not a valid name ({})", dir_, file, name, *problem);
      continue;
    }
    const auto cert = proto::read_curve_cert(dir_ + "/" + file, false, why);
    if (!cert) {
      spdlog::warn("key {}/{} skipped: {}", dir_, file, why);
      continue;
    }
    keys[cert->public_key] = name;
  }
  name_by_key_ = std::move(keys);
  names_.clear();
  for (const auto& [key, name] : name_by_key_) names_.insert(name);
  seen_ = files;
}

void key_ring::refresh() {
  const listing files = list();
  std::lock_guard lock(mutex_);
  if (files == seen_) return;
  std::set<std::string> before = names_;
  load(files);
  for (const auto& name : names_) before.erase(name);
  spdlog::info("keys in {}: {} admitted{}", dir_, name_by_key_.size(),
               before.empty() ? "" : fmt::format(", {} removed", before.size()));
  removed_.merge(before);
}

std::set<std::string> key_ring::take_removed() {
  std::lock_guard lock(mutex_);
  return std::exchange(removed_, {});
}

std::optional<std::string> key_ring::name_of(const std::string& public_key) const {
  std::lock_guard lock(mutex_);
  const auto found = name_by_key_.find(public_key);
  if (found == name_by_key_.end()) return std::nullopt;
  return found->second;
}

bool key_ring::admits_name(const std::string& name) const {
  std::lock_guard lock(mutex_);
  return names_.contains(name);
}

std::size_t key_ring::size() const {
  std::lock_guard lock(mutex_);
  return name_by_key_.size();
}

}  // namespace bcast::broker
