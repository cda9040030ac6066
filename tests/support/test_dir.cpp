// Naming a test's directory.
#include "test_dir.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

namespace bcast::test {

std::filesystem::path test_dir(const std::string& prefix) {
  return std::filesystem::temp_directory_path() /
         (prefix + "-" + std::to_string(::getpid()) + "-" +
          ::testing::UnitTest::GetInstance()->current_test_info()->name());
}

}  // namespace bcast::test
