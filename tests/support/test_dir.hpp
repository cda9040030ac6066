// Where a test may keep files: a path in the system's temporary directory
// named after the process and the running test, so parallel test processes
// never share one. Creating and removing it is the test's business.
#pragma once

#include <filesystem>
#include <string>

namespace bcast::test {

// temp/PREFIX-PID-TESTNAME for the test that is running.
[[nodiscard]] std::filesystem::path test_dir(const std::string& prefix);

}  // namespace bcast::test
