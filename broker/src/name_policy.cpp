// TR39 checks and skeletons with ICU's uspoof and unorm2.
#include "bcast/broker/name_policy.hpp"

#include <unicode/uchar.h>
#include <unicode/utf16.h>
#include <unicode/unorm2.h>
#include <unicode/uspoof.h>
#include <unicode/ustring.h>

#include <stdexcept>
#include <vector>

namespace bcast::broker {
namespace {

// The name as UTF-16, for the ICU calls that take no UTF-8.
std::vector<UChar> utf16(std::string_view name) {
  std::vector<UChar> out(name.size() + 1);
  int32_t length = 0;
  UErrorCode status = U_ZERO_ERROR;
  u_strFromUTF8(out.data(), static_cast<int32_t>(out.size()), &length, name.data(),
                static_cast<int32_t>(name.size()), &status);
  out.resize(U_SUCCESS(status) ? static_cast<std::size_t>(length) : 0);
  return out;
}

// `units` case-folded, decomposed (NFD) and without its nonspacing marks:
// the letters a reader takes the name for.
std::vector<UChar> fold_case_and_marks(const std::vector<UChar>& units) {
  UErrorCode status = U_ZERO_ERROR;
  const auto size = static_cast<int32_t>(units.size());
  std::vector<UChar> folded(2 * units.size() + 16);
  int32_t length = u_strFoldCase(folded.data(), static_cast<int32_t>(folded.size()), units.data(),
                                 size, U_FOLD_CASE_DEFAULT, &status);
  folded.resize(U_SUCCESS(status) ? static_cast<std::size_t>(length) : 0);
  status = U_ZERO_ERROR;
  const UNormalizer2* nfd = unorm2_getNFDInstance(&status);
  std::vector<UChar> decomposed(4 * folded.size() + 16);
  length = U_SUCCESS(status)
               ? unorm2_normalize(nfd, folded.data(), static_cast<int32_t>(folded.size()),
                                  decomposed.data(), static_cast<int32_t>(decomposed.size()), &status)
               : 0;
  if (U_FAILURE(status)) return folded;
  std::vector<UChar> letters;
  for (int32_t i = 0; i < length;) {
    const int32_t start = i;
    UChar32 c = 0;
    U16_NEXT(decomposed.data(), i, length, c);
    if (u_charType(c) == U_NON_SPACING_MARK) continue;
    letters.insert(letters.end(), decomposed.begin() + start, decomposed.begin() + i);
  }
  return letters;
}

// `units` back as UTF-8 (empty if they are not valid UTF-16).
std::string utf8(const std::vector<UChar>& units) {
  std::string out(3 * units.size() + 1, '\0');
  int32_t length = 0;
  UErrorCode status = U_ZERO_ERROR;
  u_strToUTF8(out.data(), static_cast<int32_t>(out.size()), &length, units.data(),
              static_cast<int32_t>(units.size()), &status);
  out.resize(U_SUCCESS(status) ? static_cast<std::size_t>(length) : 0);
  return out;
}

}  // namespace

name_policy::name_policy() {
  UErrorCode status = U_ZERO_ERROR;
  checker_ = uspoof_open(&status);
  uspoof_setChecks(checker_, USPOOF_RESTRICTION_LEVEL | USPOOF_INVISIBLE | USPOOF_MIXED_NUMBERS,
                   &status);
  uspoof_setRestrictionLevel(checker_, USPOOF_HIGHLY_RESTRICTIVE);
  if (U_FAILURE(status)) throw std::runtime_error("ICU spoof checker: " + std::string(u_errorName(status)));
}

name_policy::~name_policy() { uspoof_close(checker_); }

std::optional<std::string> name_policy::check(std::string_view name) const {
  const auto length = static_cast<int32_t>(name.size());
  const auto units = utf16(name);
  std::vector<UChar32> points(units.size() + 1);
  int32_t count = 0;
  UErrorCode status = U_ZERO_ERROR;
  u_strToUTF32(points.data(), static_cast<int32_t>(points.size()), &count, units.data(),
               static_cast<int32_t>(units.size()), &status);
  if (U_FAILURE(status)) return "name is not valid UTF-8";
  for (int32_t i = 0; i < count; ++i) {
    if (u_hasBinaryProperty(points[static_cast<std::size_t>(i)], UCHAR_DEFAULT_IGNORABLE_CODE_POINT)) {
      return "name contains an invisible character (a joiner, a variation selector, a bidi "
             "control or a blank filler)";
    }
  }
  const UNormalizer2* nfc = unorm2_getNFCInstance(&status);
  if (U_FAILURE(status) ||
      !unorm2_isNormalized(nfc, units.data(), static_cast<int32_t>(units.size()), &status) ||
      U_FAILURE(status)) {
    return "name is not in Unicode NFC form (compose its accents)";
  }
  status = U_ZERO_ERROR;
  const int32_t failed = uspoof_checkUTF8(checker_, name.data(), length, nullptr, &status);
  if (U_FAILURE(status)) return "name cannot be checked";
  if ((failed & USPOOF_RESTRICTION_LEVEL) != 0) {
    return "name mixes scripts (e.g. Latin with Cyrillic): use one script";
  }
  if ((failed & USPOOF_MIXED_NUMBERS) != 0) return "name mixes digits of different scripts";
  if ((failed & USPOOF_INVISIBLE) != 0) return "name repeats an invisible combining mark";
  return std::nullopt;
}

std::string name_policy::skeleton(std::string_view name) const {
  // Case and accents are folded first: `Alice` and `alice`, `ali\u0307ce`
  // (an extra dot over the i) and `alice` are one name to people reading a
  // chat, as on IRC; TR39's skeleton keeps both apart.
  const auto folded = fold_case_and_marks(utf16(name));
  UErrorCode status = U_ZERO_ERROR;
  std::vector<UChar> out(4 * folded.size() + 16);
  int32_t length = uspoof_getSkeleton(checker_, 0, folded.data(), static_cast<int32_t>(folded.size()),
                                      out.data(), static_cast<int32_t>(out.size()), &status);
  if (status == U_BUFFER_OVERFLOW_ERROR) {
    out.resize(static_cast<std::size_t>(length) + 1);
    status = U_ZERO_ERROR;
    length = uspoof_getSkeleton(checker_, 0, folded.data(), static_cast<int32_t>(folded.size()),
                                out.data(), static_cast<int32_t>(out.size()), &status);
  }
  if (U_FAILURE(status)) return std::string(name);
  out.resize(static_cast<std::size_t>(length));
  return utf8(out);
}

}  // namespace bcast::broker
