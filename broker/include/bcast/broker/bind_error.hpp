// Why the broker could not bind one of its sockets, as a sentence that names
// the endpoint ("address already in use: tcp://127.0.0.1:5555"), never a raw
// ZeroMQ or errno text. The command line adds which of its options to
// change (sentence()), since only it knows their names.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace bcast::broker {

class bind_error : public std::runtime_error {
 public:
  // `problem` says what is wrong with `endpoint`; `hint` (may be empty) what
  // the user may be looking at, e.g. "another broker?".
  bind_error(std::string problem, std::string hint, bool in_socket)
      : std::runtime_error(problem), hint_(std::move(hint)), in_socket_(in_socket) {}

  // True for the requests socket (IN), false for the broadcasts one (OUT).
  [[nodiscard]] bool in_socket() const { return in_socket_; }

  // The whole sentence, naming `option` (e.g. "--in") as the one to change.
  [[nodiscard]] std::string sentence(std::string_view option) const {
    std::string text = what();
    text += " (";
    if (!hint_.empty()) text += hint_ + " ";
    text += "choose another ";
    text += option;
    text += ")";
    return text;
  }

 private:
  std::string hint_;
  bool in_socket_;
};

}  // namespace bcast::broker
