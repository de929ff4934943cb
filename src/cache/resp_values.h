// Values out of Redis replies, for filling the near cache and the blacklist replicas. Replies are
// untrusted bytes framed by the ReplyScanner: each parser takes exactly one complete frame and
// accepts only the shapes it names (anything else: false, and the reply is not cached). Views
// point into the reply.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace kw {

// A bulk string, or a nil (RESP2 "$-1", RESP3 "_"): *out is nullopt for a nil.
bool parseBulkOrNil(std::string_view reply, std::optional<std::string_view>* out);
// ":<n>".
bool parseInteger(std::string_view reply, int64_t* out);
// An array ("*n") of bulk strings and nils; with `map_ok` also a RESP3 map ("%n", 2n elements,
// flattened in order). A nil array ("*-1") is not accepted.
bool parseBulkArray(std::string_view reply, bool map_ok,
                    std::vector<std::optional<std::string_view>>* out);
// SCAN's reply: [cursor, [key ...]].
bool parseScanReply(std::string_view reply, std::string_view* cursor,
                    std::vector<std::string_view>* keys);

}  // namespace kw
