// `overloaded{...}`: a visitor made of one lambda per alternative, for
// std::visit over the message variants (proto::any_request, any_event) and
// the client's events. Write no catch-all (`[](const auto&)`) beside them:
// then a new alternative that nobody handles fails to compile instead of
// being silently ignored.
#pragma once

namespace bcast::proto {

template <class... Handlers>
struct overloaded : Handlers... {
  using Handlers::operator()...;
};
template <class... Handlers>
overloaded(Handlers...) -> overloaded<Handlers...>;

}  // namespace bcast::proto
