// The Redis side of CL.THROTTLE: redis-cell's algorithm (cell_throttle.h) in Lua, atomic in
// Redis with Redis's own clock (TIME), so every keywarden in front of one Redis shares one
// limit and one clock. Loaded as a Redis 7 function library (FUNCTION LOAD: it persists with
// the dataset and replicates), or, where functions are missing, the same code as a script
// (EVALSHA, loaded with SCRIPT LOAD on NOSCRIPT).
//
// Calling it directly: FCALL keywarden_throttle_v1 1 <key> <max_burst> <count> <period> [<qty>]
// answers what CL.THROTTLE answers, except that an integer beyond 2^53 (a limit that large, or
// remaining saturated to 2^63-1 for intervals under 1 us) comes back as a bulk string: Lua
// numbers are doubles. keywarden turns those back into integers.
//
// The library's name carries a version, so two keywarden versions sharing a Redis during an
// upgrade do not replace each other's code.
#pragma once

#include <string>
#include <string_view>

namespace kw {

inline constexpr std::string_view kThrottleLibraryName = "keywarden_v1";
inline constexpr std::string_view kThrottleFunctionName = "keywarden_throttle_v1";

enum class ThrottleCallForm : uint8_t {
  kFunction,  // FCALL keywarden_throttle_v1 1 ...
  kScript,    // EVALSHA <sha> 1 ...
  kEval,      // EVAL <code> 1 ...  (inside MULTI: nothing can be reloaded at EXEC time)
};

// "#!lua name=keywarden_v1\n..." for FUNCTION LOAD REPLACE.
const std::string& throttleLibraryCode();
// The script form, for SCRIPT LOAD and EVAL, and its SHA-1.
const std::string& throttleScriptCode();
const std::string& throttleScriptSha();

// Appends the call of the Redis-side throttle in `form`. `args_tail` is the encoded arguments
// after the command name (the client's own bytes: "$<n>\r\n<key>\r\n$<n>\r\n<max_burst>..."),
// `tail_count` how many there are (4 or 5: key, max_burst, count, period [, quantity]; any
// other count gets redis-cell's usage error from the code itself).
void appendThrottleCall(std::string* out, ThrottleCallForm form, size_t tail_count,
                        std::string_view args_tail);

// The Redis side's reply with the integers it had to carry as bulk strings (beyond 2^53) made
// integers again: what CL.THROTTLE answers. Anything but a flat array of integers and
// integer-valued bulk strings is returned unchanged.
std::string throttleReplyIntegers(std::string_view reply);

// Appends the command that (re)loads the code for `form` (FUNCTION LOAD REPLACE / SCRIPT LOAD);
// nothing for kEval.
void appendThrottleLoad(std::string* out, ThrottleCallForm form);

}  // namespace kw
