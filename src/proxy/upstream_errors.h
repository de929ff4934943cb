// The error replies a client gets when the upstream cannot answer a request, in one place. Each
// says whether the command may have run, so a client knows whether a write may be retried:
//   unavailable  nothing was sent (no link could take it): safe to retry
//   lost         it was sent, or may have been, when the link broke: it may or may not have run
#pragma once

#include <string>
#include <string_view>

namespace kw {

// "-UPSTREAMDOWN <what> <upstream> <state> (<cause>); <outcome>\r\n"
inline std::string upstreamError(std::string_view what, std::string_view upstream,
                                 std::string_view state, std::string_view cause,
                                 std::string_view outcome) {
  std::string e = "-UPSTREAMDOWN ";
  e.append(what).append(upstream).append(state).append(" (").append(cause).append("); ");
  e.append(outcome).append("\r\n");
  return e;
}

inline std::string upstreamUnavailableError(std::string_view upstream, std::string_view cause) {
  return upstreamError("upstream ", upstream, " unavailable", cause, "the command was not sent");
}

inline std::string upstreamLostError(std::string_view upstream, std::string_view cause) {
  return upstreamError("connection to upstream ", upstream, " lost", cause,
                       "the command may or may not have run");
}

// A request that waited for its turn behind others on a link that broke: never sent.
inline std::string upstreamLostUnsentError(std::string_view upstream, std::string_view cause) {
  return upstreamError("connection to upstream ", upstream, " lost", cause,
                       "the command was not sent");
}

}  // namespace kw
