// The frames of an invalidation feed connection (a RESP3 connection with CLIENT TRACKING on BCAST):
// invalidation pushes, and the replies to the feed's own commands. Parsed from complete frames as
// the ReplyScanner framed them; untrusted bytes, so every length is checked and nothing throws.
//
//   >2 $10 invalidate *N $len key ...      keys written, expired, evicted or deleted
//   >2 $10 invalidate _                    FLUSHALL / FLUSHDB (of any db): everything
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kw {

enum class FeedFrameKind : uint8_t {
  kInvalidateKeys,  // keys in *keys
  kInvalidateAll,   // a null invalidation
  kOtherPush,       // a push the feed does not use (ignored)
  kReply,           // not a push: the reply to one of the feed's own commands
  kMalformed,       // a push that claims to be an invalidation but does not parse
};

// `frame` is one complete RESP frame. For kInvalidateKeys, *keys gets views into `frame` (cleared
// first; its capacity is kept, so steady-state parsing allocates nothing).
FeedFrameKind parseFeedFrame(std::string_view frame, std::vector<std::string_view>* keys);

// The BCAST prefixes to ask for: Redis refuses prefixes that overlap (one a prefix of another),
// and Redis 7.0 answers *two* replies (an error, then +OK) to one CLIENT TRACKING whose second or
// later prefix overlaps an earlier one, which would put a feed's replies out of step. So the set
// is made non-overlapping here: where one prefix starts another, only the shorter is kept (it
// covers the longer). Sorted, duplicates removed. An empty prefix covers every key.
std::vector<std::string> nonOverlappingPrefixes(std::vector<std::string> prefixes);

// True when `key` starts with one of `prefixes`.
bool underAnyPrefix(std::string_view key, const std::vector<std::string>& prefixes);

}  // namespace kw
