// The result tables: their columns, number formats, medians and spreads,
// printed as markdown or as aligned text.
#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace bench {
namespace {

enum class kind { rate, count, pct, ns, us, mib, kib, ratio, delta_us };

struct column {
  std::string metric;
  std::string header;
  kind k;
};

struct table_spec {
  std::string name;
  std::string title;
  std::vector<std::string> lead;
  std::vector<column> columns;
  std::string ratio_metric;                // "ours / proxy" of this metric
  std::vector<std::string> delta_metrics;  // ours − proxy
};

const std::vector<table_spec>& specs() {
  static const std::vector<table_spec> all{
      {"fanout",
       "Fan-out: 1 publisher, N subscribers (open loop: as fast as the publisher can; closed: at most "
       "the window ahead of the slowest subscriber)",
       {"loop", "text", "subs"},
       {{"published", "published msgs/s", kind::rate},
        {"delivered", "delivered msgs/s", kind::rate},
        {"loss", "loss", kind::count},
        {"loss_pct", "loss %", kind::pct},
        {"cpu_pct", "broker CPU", kind::pct},
        {"ns_per_delivery", "CPU ns/delivery", kind::ns}},
       "delivered",
       {}},
      {"chat",
       "Chat room: N clients, each sending at a fixed rate and receiving everything",
       {"clients"},
       {{"sent", "sent msgs/s", kind::rate},
        {"delivered", "delivered msgs/s", kind::rate},
        {"loss", "loss", kind::count},
        {"p50", "p50 µs", kind::us},
        {"p99", "p99 µs", kind::us},
        {"cpu_pct", "broker CPU", kind::pct},
        {"ns_per_delivery", "CPU ns/delivery", kind::ns}},
       "delivered",
       {}},
      {"latency",
       "Latency at a fixed rate (from the scheduled send time), 1 publisher → subscribers",
       {"rate", "subs"},
       {{"p50", "p50 µs", kind::us},
        {"p90", "p90 µs", kind::us},
        {"p99", "p99 µs", kind::us},
        {"p999", "p99.9 µs", kind::us},
        {"loss", "loss", kind::count},
        {"lag_p99", "sender lag p99 µs", kind::us},
        {"cpu_pct", "broker CPU", kind::pct}},
       "",
       {"p50", "p99"}},
      {"flood",
       "Floods: an honest room (1 publisher at the first --rates, --latency-subs subscribers) "
       "while an attacker runs; compare each attack with none and with the 4 KiB feed it rides on",
       {"attack"},
       {{"p50", "honest p50 µs", kind::us},
        {"p99", "honest p99 µs", kind::us},
        {"p999", "honest p99.9 µs", kind::us},
        {"loss", "honest loss", kind::count},
        {"rss_after", "broker peak RSS", kind::mib},
        {"cpu_pct", "broker CPU", kind::pct}},
       "",
       {}},
      {"memory",
       "Broker memory (RSS)",
       {"case"},
       {{"rss_before", "RSS before", kind::mib},
        {"rss_after", "RSS with clients / peak", kind::mib},
        {"per_client", "per client", kind::kib},
        {"delivered", "delivered msgs/s", kind::rate},
        {"loss", "loss", kind::count}},
       "",
       {}},
  };
  return all;
}

// `ours` is the broker as users start it (history in its default directory);
// `ours-memory` keeps history in memory only, `ours-durable` syncs first.
const std::vector<std::string> system_order{"ours", "ours-memory", "ours-durable", "proxy",
                                            "proxy-bytes", "direct", "nats", "redis"};

struct scale {
  double divisor = 1;
  std::string suffix;
};

scale si_scale(double v) {
  const double a = std::fabs(v);
  if (a >= 1e9) return {1e9, " G"};
  if (a >= 1e6) return {1e6, " M"};
  if (a >= 1e3) return {1e3, " k"};
  return {1, ""};
}

std::string number(double v, int significant) {
  if (v == 0) return "0";
  // Round to `significant` digits first, so 9.9996 prints as 10.0, not 10.00.
  const int magnitude = static_cast<int>(std::floor(std::log10(std::fabs(v))));
  const double unit = std::pow(10.0, magnitude - significant + 1);
  const double rounded = std::round(v / unit) * unit;
  const double a = std::fabs(rounded);
  int decimals = 0;
  if (a < 10) decimals = significant - 1;
  else if (a < 100) decimals = significant - 2;
  if (decimals < 0) decimals = 0;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, rounded);
  return buf;
}

// The unit-carrying text of `median` and the plain texts of min and max in the same unit.
struct rendered {
  std::string median, min, max;
};

rendered render(kind k, double median, double min, double max) {
  auto fixed = [](double v, int decimals) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return std::string(buf);
  };
  switch (k) {
    case kind::rate:
    case kind::count: {
      const scale s = si_scale(median);
      if (s.divisor == 1) return {fixed(median, 0), fixed(min, 0), fixed(max, 0)};
      return {number(median / s.divisor, 3) + s.suffix, number(min / s.divisor, 3), number(max / s.divisor, 3)};
    }
    case kind::pct: {
      const int d = std::fabs(median) >= 100 ? 0 : 1;
      return {fixed(median, d) + " %", fixed(min, d), fixed(max, d)};
    }
    case kind::ns: return {fixed(median, 0), fixed(min, 0), fixed(max, 0)};
    case kind::us: return {number(median / 1e3, 3), number(min / 1e3, 3), number(max / 1e3, 3)};
    case kind::mib: return {fixed(median / 1048576, 1) + " MiB", fixed(min / 1048576, 1), fixed(max / 1048576, 1)};
    case kind::kib: return {fixed(median / 1024, 1) + " KiB", fixed(min / 1024, 1), fixed(max / 1024, 1)};
    case kind::ratio: return {fixed(median, 2) + "×", fixed(min, 2), fixed(max, 2)};
    case kind::delta_us: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%+.1f", median / 1e3);
      return {std::string(buf), fixed(min / 1e3, 1), fixed(max / 1e3, 1)};
    }
  }
  return {};
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string summarise(kind k, const std::vector<double>& values) {
  if (values.empty()) return "–";
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  const rendered r = render(k, median_of(values), *lo, *hi);
  if (values.size() == 1 || r.min == r.max) return r.median;
  return r.median + " (" + r.min + "–" + r.max + ")";
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(s);
  while (std::getline(in, part, sep)) parts.push_back(part);
  return parts;
}

// (table, cell, system, metric) -> per run value (absent runs are nullopt).
using key = std::tuple<std::string, std::string, std::string, std::string>;

class result_index {
 public:
  explicit result_index(const std::vector<std::vector<record>>& runs) : runs_(runs.size()) {
    for (std::size_t r = 0; r < runs.size(); ++r) {
      for (const auto& rec : runs[r]) {
        auto& slot = values_[{rec.table, rec.cell, rec.system, rec.metric}];
        slot.resize(runs.size());
        slot[r] = rec.value;
        auto& cells = cells_[rec.table];
        if (std::find(cells.begin(), cells.end(), rec.cell) == cells.end()) cells.push_back(rec.cell);
      }
    }
  }
  [[nodiscard]] std::vector<std::optional<double>> get(const key& k) const {
    const auto it = values_.find(k);
    return it == values_.end() ? std::vector<std::optional<double>>(runs_) : it->second;
  }
  [[nodiscard]] std::vector<double> present(const key& k) const {
    std::vector<double> v;
    for (const auto& x : get(k)) {
      if (x) v.push_back(*x);
    }
    return v;
  }
  [[nodiscard]] bool has_any_system(const std::string& table, const std::string& system) const {
    for (const auto& [k, v] : values_) {
      if (std::get<0>(k) == table && std::get<2>(k) == system) return true;
    }
    return false;
  }
  [[nodiscard]] bool has_system(const std::string& table, const std::string& cell, const std::string& system) const {
    for (const auto& [k, v] : values_) {
      if (std::get<0>(k) == table && std::get<1>(k) == cell && std::get<2>(k) == system) return true;
    }
    return false;
  }
  [[nodiscard]] std::vector<std::string> cells(const std::string& table) const {
    const auto it = cells_.find(table);
    return it == cells_.end() ? std::vector<std::string>{} : it->second;
  }
  // Per run: f(system, baseline) where both exist.
  template <typename F>
  [[nodiscard]] std::vector<double> pairwise(const std::string& table, const std::string& cell,
                                             const std::string& metric, F f,
                                             const std::string& system = "ours",
                                             const std::string& baseline = "proxy") const {
    const auto ours = get({table, cell, system, metric});
    const auto proxy = get({table, cell, baseline, metric});
    std::vector<double> v;
    for (std::size_t r = 0; r < runs_; ++r) {
      if (ours[r] && proxy[r]) {
        if (auto x = f(*ours[r], *proxy[r])) v.push_back(*x);
      }
    }
    return v;
  }

 private:
  std::size_t runs_;
  std::map<key, std::vector<std::optional<double>>> values_;
  std::map<std::string, std::vector<std::string>> cells_;
};

void print_grid(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                bool markdown, std::ostream& out) {
  if (markdown) {
    auto line = [&](const std::vector<std::string>& cells) {
      out << "|";
      for (const auto& c : cells) out << " " << c << " |";
      out << "\n";
    };
    line(header);
    out << "|";
    for (std::size_t i = 0; i < header.size(); ++i) out << (i < 2 ? "---|" : "--:|");
    out << "\n";
    for (const auto& r : rows) line(r);
    return;
  }
  // Display width, counting UTF-8 code points (µ, ×, –).
  auto width = [](const std::string& s) {
    std::size_t w = 0;
    for (const char c : s) w += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
    return w;
  };
  std::vector<std::size_t> widths(header.size(), 0);
  for (std::size_t i = 0; i < header.size(); ++i) widths[i] = width(header[i]);
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size(); ++i) widths[i] = std::max(widths[i], width(r[i]));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < cells.size(); ++i) {
      out << cells[i] << std::string(widths[i] - width(cells[i]) + 2, ' ');
    }
    out << "\n";
  };
  line(header);
  for (const auto& r : rows) line(r);
}

}  // namespace

void results::add(const std::string& table, const std::string& cell, const std::string& system,
                  const std::string& metric, double value) {
  if (!std::isfinite(value)) return;
  records_.push_back({table, cell, system, metric, value});
}

void results::write_tsv(const std::string& path) const {
  std::ofstream out(path);
  if (!out) throw std::runtime_error("cannot write " + path);
  out.precision(17);
  for (const auto& r : records_) {
    out << r.table << '\t' << r.cell << '\t' << r.system << '\t' << r.metric << '\t' << r.value << '\n';
  }
}

std::vector<record> results::read_tsv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<record> records;
  std::string line;
  while (std::getline(in, line)) {
    const auto f = split(line, '\t');
    if (f.size() != 5) continue;
    records.push_back({f[0], f[1], f[2], f[3], std::stod(f[4])});
  }
  return records;
}

void print_tables(const std::vector<std::vector<record>>& runs, bool markdown, std::ostream& out) {
  const result_index idx(runs);
  for (const auto& spec : specs()) {
    const auto cells = idx.cells(spec.name);
    if (cells.empty()) continue;
    std::vector<std::string> header = spec.lead;
    header.push_back("system");
    for (const auto& c : spec.columns) header.push_back(c.header);
    if (!spec.ratio_metric.empty()) header.push_back("ours / proxy");
    // The stores side by side: each against history in memory, run by run.
    const bool stores = !spec.ratio_metric.empty() && idx.has_any_system(spec.name, "ours-memory");
    if (stores) header.push_back("÷ ours-memory");
    for (const auto& m : spec.delta_metrics) header.push_back("Δ" + m + " vs proxy µs");
    std::vector<std::vector<std::string>> rows;
    for (const auto& cell : cells) {
      for (const auto& system : system_order) {
        if (!idx.has_system(spec.name, cell, system)) continue;
        std::vector<std::string> row = split(cell, '|');
        row.resize(spec.lead.size());
        row.push_back(system);
        for (const auto& c : spec.columns) row.push_back(summarise(c.k, idx.present({spec.name, cell, system, c.metric})));
        const bool ours = system == "ours";
        if (!spec.ratio_metric.empty()) {
          auto ratio = idx.pairwise(spec.name, cell, spec.ratio_metric, [](double o, double p) {
            return p > 0 ? std::optional<double>(o / p) : std::nullopt;
          });
          row.push_back(ours ? summarise(kind::ratio, ratio) : "");
        }
        if (stores) {
          auto ratio = idx.pairwise(
              spec.name, cell, spec.ratio_metric,
              [](double s, double m) { return m > 0 ? std::optional<double>(s / m) : std::nullopt; },
              system, "ours-memory");
          const bool store = system == "ours" || system == "ours-durable";
          row.push_back(store ? summarise(kind::ratio, ratio) : "");
        }
        for (const auto& m : spec.delta_metrics) {
          auto delta = idx.pairwise(spec.name, cell, m, [](double o, double p) { return std::optional<double>(o - p); });
          row.push_back(ours ? summarise(kind::delta_us, delta) : "");
        }
        rows.push_back(std::move(row));
      }
    }
    out << (markdown ? "\n**" : "\n") << spec.title << (markdown ? "**\n\n" : "\n\n");
    print_grid(header, rows, markdown, out);
  }
}

}  // namespace bench
