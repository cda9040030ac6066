// `broadcast-server keygen NAME`: a CURVE key pair for a broker or a user,
// written as NAME.key (public: give it to the other side) and
// NAME.key_secret (mode 600: keep it), in the zcert format pyzmq reads.
#include <sys/stat.h>
#include <zmq.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "bcast/proto/curve_cert.hpp"
#include "bcast/proto/validate.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"

namespace bcast::app {
namespace {

struct keygen_args {
  std::string name;
  std::string dir = ".";
};

// Writes `text` to a new file `path` with `mode`; never overwrites a key.
void write_new(const std::string& path, const std::string& text, mode_t mode) {
  if (std::filesystem::exists(path)) {
    throw CLI::ValidationError("NAME", path + " exists: keys are never overwritten");
  }
  const mode_t old = ::umask(0077);
  {
    std::ofstream out(path);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + path);
  }
  ::umask(old);
  ::chmod(path.c_str(), mode);
}

int run_keygen(const keygen_args& args) {
  if (auto why = proto::check_name(args.name)) throw CLI::ValidationError("NAME", std::string(*why));
  char public_key[41] = {};
  char secret_key[41] = {};
  if (zmq_curve_keypair(public_key, secret_key) != 0) {
    std::fprintf(stderr, "broadcast-server: this libzmq has no CURVE support\n");
    return exit_failure;
  }
  const std::string base = args.dir + "/" + args.name;
  const std::string comment = "broadcast-server keygen " + args.name;
  write_new(base + ".key_secret", proto::curve_cert_text({public_key, secret_key}, comment), 0600);
  write_new(base + ".key", proto::curve_cert_text({public_key, ""}, comment), 0644);
  std::printf("%s.key         public key: give it to the other side (a broker's --allow directory, "
              "or clients' --server-key)\n%s.key_secret  secret key (mode 600): keep it\n",
              base.c_str(), base.c_str());
  return exit_ok;
}

}  // namespace

runner add_keygen_command(CLI::App& app) {
  auto args = std::make_shared<keygen_args>();
  auto* cmd = app.add_subcommand("keygen", "Make a CURVE key pair (NAME.key, NAME.key_secret)");
  cmd->add_option("NAME", args->name, "Whose key: a user's name, or the broker's")->required();
  cmd->add_option("--dir", args->dir, "Where to write the two files")
      ->capture_default_str()
      ->check(CLI::ExistingDirectory);
  cmd->footer(exit_codes_help);
  return [args] { return run_keygen(*args); };
}

}  // namespace bcast::app
