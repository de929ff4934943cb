// The C++ CL.THROTTLE (src/ratelimit/cell_throttle.h) as a filter, so the integration suite can
// compare it with the Redis-side Lua on the same clock (tests/integration/ratelimit.test.js).
//
// stdin, one case per line:  <now_ns> <stored> <max_burst> <count> <period> [<qty>]
//   <stored>: the key's value, "-" for no key, "E" for an empty string
// stdout, one line per case: ok <limited> <limit> <remaining> <retry_s> <reset_s> <write>
//   where <write> is "set <tat_ns> <ttl_ms>", "del" or "none";  or:  err <error reply text>
#include <cstdint>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "ratelimit/cell_throttle.h"

int main() {
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string now_text, stored;
    in >> now_text >> stored;
    std::vector<std::string> words{"cl.throttle", "key"};
    for (std::string w; in >> w;)
      words.push_back(w);
    std::vector<std::string_view> args(words.begin(), words.end());
    const int64_t now = std::stoll(now_text);
    kw::ThrottleRequest req;
    kw::ThrottleParams params;
    kw::ThrottleReply reply;
    kw::ThrottleWrite write;
    std::string err;
    std::optional<uint64_t> tat;
    uint64_t value = 0;
    bool ok = kw::parseThrottle(args, &req, &err) && kw::throttleParams(req, &params, &err);
    if (ok && stored != "-") {
      ok = kw::parseStoredTat(stored == "E" ? "" : stored, &value, &err);
      tat = value;
    }
    ok = ok && kw::decideThrottle(params, tat, now, &reply, &write, &err);
    if (!ok) {
      std::cout << "err " << err << "\n";
      continue;
    }
    std::cout << "ok " << (reply.limited ? 1 : 0) << ' ' << reply.limit << ' ' << reply.remaining
              << ' ' << reply.retry_after_s << ' ' << reply.reset_after_s << ' ';
    if (write.kind == kw::ThrottleWrite::Kind::kSet)
      std::cout << "set " << write.tat_ns << ' ' << write.ttl_ms << "\n";
    else if (write.kind == kw::ThrottleWrite::Kind::kDelete)
      std::cout << "del\n";
    else
      std::cout << "none\n";
  }
  return 0;
}
