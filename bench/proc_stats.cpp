// Reading /proc/<pid>/stat, /proc/<pid>/status and /proc/meminfo; setrlimit.
#include "proc_stats.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace bench {
namespace {

std::optional<std::uint64_t> status_kib(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) == 0) {
      return std::stoull(line.substr(key.size())) * 1024;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::uint64_t> cpu_ns(int pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return std::nullopt;
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  std::uint64_t utime = 0;
  std::uint64_t stime = 0;
  // After "pid (comm) ": state is field 3; utime and stime are fields 14 and 15.
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  const auto ticks = static_cast<std::uint64_t>(sysconf(_SC_CLK_TCK));
  return (utime + stime) * (1'000'000'000 / ticks);
}

std::optional<std::uint64_t> rss_bytes(int pid) {
  if (pid <= 0) return std::nullopt;
  return status_kib("/proc/" + std::to_string(pid) + "/status", "VmRSS:");
}

std::optional<std::uint64_t> peak_rss_bytes(int pid) {
  if (pid <= 0) return std::nullopt;
  return status_kib("/proc/" + std::to_string(pid) + "/status", "VmHWM:");
}

std::uint64_t mem_available_bytes() {
  return status_kib("/proc/meminfo", "MemAvailable:").value_or(0);
}

std::uint64_t raise_fd_limit() {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  getrlimit(RLIMIT_NOFILE, &limit);
  return static_cast<std::uint64_t>(limit.rlim_cur);
}

}  // namespace bench
