// The client keys a CURVE broker admits (`start --allow DIR`): every
// DIR/NAME.key file (zcert format) admits the holder of its secret key,
// under the name NAME only. Re-read when the directory's listing changes, so
// keys are added and removed without a restart. Shared by the ZAP handler's
// thread and the broker's loop.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

namespace bcast::broker {

class key_ring {
 public:
  // Reads `dir` once; throws std::runtime_error if it is not a directory.
  explicit key_ring(std::string dir);

  // Re-reads the directory if any file in it was added, removed or changed.
  void refresh();
  // The names that lost their key since the last call (whoever refreshed).
  [[nodiscard]] std::set<std::string> take_removed();
  // The name bound to a public key (Z85), if the key is admitted.
  [[nodiscard]] std::optional<std::string> name_of(const std::string& public_key) const;
  [[nodiscard]] bool admits_name(const std::string& name) const;
  [[nodiscard]] std::size_t size() const;

 private:
  // (file name, size, mtime) of every file: what changed is seen cheaply.
  using listing = std::map<std::string, std::pair<std::uint64_t, std::int64_t>>;
  [[nodiscard]] listing list() const;
  void load(const listing& files);

  std::string dir_;
  mutable std::mutex mutex_;
  listing seen_;
  std::map<std::string, std::string> name_by_key_;
  std::set<std::string> names_;  // the values of name_by_key_
  std::set<std::string> removed_;
};

}  // namespace bcast::broker
