// A log-bucket latency histogram in the manner of HdrHistogram: values below
// 128 ns are exact, above that each power of two has 64 linear buckets, so a
// bucket is at most 1/64 (1.6 %) of its value wide. Recording is a few
// instructions and never allocates; histograms of several threads merge.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>

namespace bench {

class histogram {
 public:
  void record(std::uint64_t value) {
    ++counts_[index(value)];
    ++total_;
  }
  void merge(const histogram& other) {
    for (std::size_t i = 0; i < buckets; ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
  }
  [[nodiscard]] std::uint64_t count() const { return total_; }
  // The value at quantile q (0..1): the middle of the bucket holding it.
  [[nodiscard]] double quantile(double q) const {
    if (total_ == 0) return 0;
    const auto rank = static_cast<std::uint64_t>(std::clamp(q, 0.0, 1.0) * static_cast<double>(total_ - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < buckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return middle(i);
    }
    return middle(buckets - 1);
  }

 private:
  static constexpr int linear_bits = 7;  // values below 2^7 have a bucket each
  static constexpr int sub_bits = 6;     // 64 buckets per power of two above
  static constexpr std::size_t buckets = (1u << linear_bits) + (64 - linear_bits) * (1u << sub_bits);

  static std::size_t index(std::uint64_t v) {
    const auto width = static_cast<int>(std::bit_width(v));
    if (width <= linear_bits) return static_cast<std::size_t>(v);
    const int shift = width - linear_bits;
    return (1u << linear_bits) + static_cast<std::size_t>(shift - 1) * (1u << sub_bits) +
           static_cast<std::size_t>((v >> shift) - (1u << sub_bits));
  }
  static double middle(std::size_t i) {
    if (i < (1u << linear_bits)) return static_cast<double>(i);
    const std::size_t above = i - (1u << linear_bits);
    const auto shift = static_cast<int>(above / (1u << sub_bits)) + 1;
    const auto mantissa = static_cast<std::uint64_t>(above % (1u << sub_bits) + (1u << sub_bits));
    const double low = static_cast<double>(mantissa << shift);
    return low + static_cast<double>(std::uint64_t{1} << shift) / 2;
  }

  std::array<std::uint64_t, buckets> counts_{};
  std::uint64_t total_ = 0;
};

}  // namespace bench
