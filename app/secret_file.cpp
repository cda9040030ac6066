// Reading a one-line secret from a private file.
#include "secret_file.hpp"

#include <CLI/CLI.hpp>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace bcast::app {

namespace {

void require_private(const std::string& path, const char* flag) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw CLI::ValidationError(flag, "cannot read " + path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) throw CLI::ValidationError(flag, path + " is not a regular file");
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    throw CLI::ValidationError(flag, path + " is readable by other users: chmod 600 " + path);
  }
}

}  // namespace

proto::curve_cert read_key_file(const std::string& path, bool secret, const char* flag) {
  // What the file holds first: a public key given where the secret one
  // belongs is a wrong file, not a wrong mode.
  std::string why;
  auto cert = proto::read_curve_cert(path, secret, why);
  if (!cert) throw CLI::ValidationError(flag, why);
  if (secret) require_private(path, flag);
  return *cert;
}

std::string read_secret_file(const std::string& path, const char* flag) {
  require_private(path, flag);
  std::ifstream in(path);
  if (!in) throw CLI::ValidationError(flag, "cannot read " + path + ": " + std::strerror(errno));
  std::string line;
  if (!std::getline(in, line)) throw CLI::ValidationError(flag, path + " is empty");
  const auto begin = line.find_first_not_of(" \t\r");
  const auto end = line.find_last_not_of(" \t\r");
  if (begin == std::string::npos) throw CLI::ValidationError(flag, path + " is empty");
  return line.substr(begin, end - begin + 1);
}

}  // namespace bcast::app
