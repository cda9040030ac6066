// Reading a one-line secret from a private file.
#include "secret_file.hpp"

#include <CLI/CLI.hpp>
#include <sys/stat.h>

#include <fstream>

namespace bcast::app {

std::string read_secret_file(const std::string& path, const char* flag) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw CLI::ValidationError(flag, "cannot read " + path);
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    throw CLI::ValidationError(flag, path + " is readable by other users: chmod 600 " + path);
  }
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) throw CLI::ValidationError(flag, "cannot read " + path);
  const auto begin = line.find_first_not_of(" \t\r");
  const auto end = line.find_last_not_of(" \t\r");
  if (begin == std::string::npos) throw CLI::ValidationError(flag, path + " is empty");
  return line.substr(begin, end - begin + 1);
}

}  // namespace bcast::app
