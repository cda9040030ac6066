// CURVE key files, in the format of CZMQ's zcert and pyzmq's zmq.auth
// (so keys made by either work here, and ours work there): NAME.key holds
// the public key, NAME.key_secret (mode 600) the public and the secret key,
// each as 40 Z85 characters on a `public-key = "..."` / `secret-key = "..."`
// line of a `curve` section.
#pragma once

#include <optional>
#include <string>

namespace bcast::proto {

struct curve_cert {
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;  // Z85, 40 characters; empty in a public file
};

// Reads a key file; nullopt (with `why` set) when it cannot be read or holds
// no valid public key (and, if `need_secret`, secret key).
[[nodiscard]] std::optional<curve_cert> read_curve_cert(const std::string& path, bool need_secret,
                                                        std::string& why);

// The text of a key file for `cert` (with its secret key if it has one).
[[nodiscard]] std::string curve_cert_text(const curve_cert& cert, const std::string& comment);

// True for a string of 40 Z85 characters (a 32-byte key).
[[nodiscard]] bool is_z85_key(const std::string& text);

}  // namespace bcast::proto
