// A broker child process and what it leaves behind.
#include "broker_process.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <limits>

#include "broker_banner.hpp"
#include "report.hpp"

namespace bcast::test {

const std::string binary = BCAST_BINARY;

broker_process::broker_process(std::vector<std::string> args, const std::string& in, const std::string& out,
                               std::vector<std::string> env) {
  std::vector<std::string> argv{binary, "start", "--in", in, "--out", out};
  argv.insert(argv.end(), args.begin(), args.end());
  proc_ = std::make_unique<process>(argv, std::move(env));
  const auto endpoints = read_banner(*proc_);
  if (!endpoints) {
    ADD_FAILURE() << "no banner from the broker; stderr: " << proc_->err();
    return;
  }
  in_ = endpoints->in;
  out_ = endpoints->out;
}

void broker_process::kill_hard() {
  proc_->signal(SIGKILL);
  EXPECT_EQ(proc_->wait(), 128 + SIGKILL);
}

std::optional<int> broker_process::stop() {
  proc_->signal(SIGTERM);
  return proc_->wait();
}

memory_kib memory_of(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  memory_kib m;
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") status >> m.rss;
    if (key == "VmHWM:") status >> m.hwm;
    status.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return m;
}

std::size_t log_lines_with(const std::string& log, const std::string& text) {
  std::size_t n = 0;
  for (auto at = log.find(text); at != std::string::npos; at = log.find(text, at + text.size())) ++n;
  return n;
}

void report_broker_log(const std::string& prefix, const std::string& log) {
  const auto line_from = [&log](std::size_t at) { return log.substr(at, log.find('\n', at) - at); };
  if (const auto opened = log.find(" info history "); opened != std::string::npos) {
    report(prefix + "opened", line_from(opened + 6));
  }
  if (const auto stopped = log.find("stopped: "); stopped != std::string::npos) {
    report(prefix + "stats", line_from(stopped));
  }
  report(prefix + "resumed_sessions", log_lines_with(log, " info resume "));
  report(prefix + "rejoined_sessions", log_lines_with(log, "with its earlier session"));
}

}  // namespace bcast::test
