// Results: one record per (table, cell, system, metric) of a run, written to
// and read from TSV files, and the tables printed from one or more runs: the
// median of each number and its spread (min–max) over the runs. The "ours /
// proxy" ratio and the latency deltas are computed within each run first.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace bench {

struct record {
  std::string table;   // fanout, chat, latency, memory
  std::string cell;    // the leading columns, joined by '|'
  std::string system;  // ours, proxy, direct, nats, redis
  std::string metric;
  double value = 0;
};

class results {
 public:
  void add(const std::string& table, const std::string& cell, const std::string& system,
           const std::string& metric, double value);
  [[nodiscard]] const std::vector<record>& all() const { return records_; }
  void write_tsv(const std::string& path) const;
  static std::vector<record> read_tsv(const std::string& path);

 private:
  std::vector<record> records_;
};

// Prints a table per scenario found in `runs` (one record list per run).
void print_tables(const std::vector<std::vector<record>>& runs, bool markdown, std::ostream& out);

}  // namespace bench
