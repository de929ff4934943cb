// CL.THROTTLE on the proxy's own memory: the fallback while Redis cannot be reached. The same
// decision as the Redis side (cell_throttle.h), on keywarden's clock, in a table shared by the
// workers of this process (not with other keywarden instances). Keys keep redis-cell's meaning:
// the TAT in ns since the Unix epoch, expiring when the limiter would be full again.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ratelimit/cell_throttle.h"
#include "ratelimit/expiring_table.h"

namespace kw {

// `now_ns`: ns since the Unix epoch. false: *error holds the error reply (out of range...).
bool throttleLocally(ExpiringTable& table, std::string_view key, const ThrottleParams& p,
                     int64_t now_ns, ThrottleReply* reply, std::string* error);

// The answers of the other two fallback modes, from the parameters alone: "allow" answers as
// for a full limiter but never limits; "deny" answers as for an empty one.
ThrottleReply throttleAllowAll(const ThrottleParams& p, int64_t now_ns);
ThrottleReply throttleDenyAll(const ThrottleParams& p, int64_t now_ns);

}  // namespace kw
