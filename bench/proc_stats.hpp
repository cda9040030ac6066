// What /proc says about a process (CPU time, resident memory) and about the
// machine (available memory), and the file-descriptor limit the benchmark
// raises for a thousand connections.
#pragma once

#include <cstdint>
#include <optional>

namespace bench {

// utime + stime of every thread of `pid`, in ns (10 ms resolution).
std::optional<std::uint64_t> cpu_ns(int pid);
// VmRSS and VmHWM (peak RSS) of `pid`, in bytes.
std::optional<std::uint64_t> rss_bytes(int pid);
std::optional<std::uint64_t> peak_rss_bytes(int pid);
// MemAvailable of /proc/meminfo, in bytes.
std::uint64_t mem_available_bytes();
// Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the new soft limit.
std::uint64_t raise_fd_limit();

}  // namespace bench
