// The error replies a client gets when the upstream cannot answer a request, in one place. Each
// says whether the command may have run, so a client knows whether a write may be retried:
//   unavailable  nothing was sent (no link could take it): safe to retry
//   lost         it was sent, or may have been, when the link broke: it may or may not have run
#pragma once

#include <string>
#include <string_view>

namespace kw {

inline std::string upstreamUnavailableError(std::string_view upstream, std::string_view cause) {
  std::string e = "-UPSTREAMDOWN upstream ";
  e.append(upstream);
  e.append(" unavailable (");
  e.append(cause);
  e.append("); the command was not sent\r\n");
  return e;
}

inline std::string upstreamLostError(std::string_view upstream, std::string_view cause) {
  std::string e = "-UPSTREAMDOWN connection to upstream ";
  e.append(upstream);
  e.append(" lost (");
  e.append(cause);
  e.append("); the command may or may not have run\r\n");
  return e;
}

// A request that waited for its turn behind others on a link that broke: never sent.
inline std::string upstreamLostUnsentError(std::string_view upstream, std::string_view cause) {
  std::string e = "-UPSTREAMDOWN connection to upstream ";
  e.append(upstream);
  e.append(" lost (");
  e.append(cause);
  e.append("); the command was not sent\r\n");
  return e;
}

}  // namespace kw
