// Redis-style glob matching (stringmatchlen's syntax): `*` any run of bytes, `?` one byte,
// `[abc]` `[^a-z]` a byte set, `\x` a literal x. Used for user grants over namespace names and
// for pub/sub channel grants.
//
// Unlike Redis's recursive matcher, this one backtracks only to the most recent `*`, so any
// pattern against any subject costs O(len(pattern) * len(subject)) at worst, never exponential.
#pragma once

#include <string_view>

namespace kw {

bool globMatch(std::string_view pattern, std::string_view subject);

// True when the pattern holds an unescaped `*`, `?` or `[`, i.e. may match more than one string.
bool globHasWildcard(std::string_view pattern);

}  // namespace kw
