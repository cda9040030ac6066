// Names people can tell apart (Unicode TR39, through ICU's spoof checker):
// a name must be NFC, hold no default-ignorable (invisible, bidi-control,
// blank-looking filler) characters, and stay within one script (ICU's
// highly restrictive level: Latin may join Han/Kana or Han/Hangul, nothing
// else mixes). Two names with the same confusable skeleton, taken after
// folding case and dropping accents (`alice`, Cyrillic `аlice`, `Alice`,
// `alíce`), are the same name to the broker.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct USpoofChecker;

namespace bcast::broker {

class name_policy {
 public:
  name_policy();
  ~name_policy();
  name_policy(const name_policy&) = delete;
  name_policy& operator=(const name_policy&) = delete;

  // Why `name` (valid UTF-8, checked by proto::check_name) is refused, or
  // nullopt when it is fine.
  [[nodiscard]] std::optional<std::string> check(std::string_view name) const;
  // Its TR39 skeleton after case folding and without accents: names that
  // look alike have the same one.
  [[nodiscard]] std::string skeleton(std::string_view name) const;

 private:
  USpoofChecker* checker_;
};

}  // namespace bcast::broker
