// Reading the replies of a command's parts (a split over slots, a fan-out to every master): the
// few RESP shapes merging needs, checked exactly, since the bytes come from the network.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kw::cluster {

// The text of an error reply ('-' line or RESP3 '!' blob), or empty when `reply` is not one.
std::string_view errorText(std::string_view reply);
// `reply` is exactly one integer reply.
bool readInteger(std::string_view reply, int64_t* out);
// The byte ranges of the `count` elements of the array reply `reply`; false unless it is exactly
// an array of that many complete elements.
bool arrayElements(std::string_view reply, uint32_t count, std::vector<std::string_view>* out);
// The element count of an array reply ('*' header), or false.
bool arrayCount(std::string_view reply, uint64_t* count);
// "<type><n>\r\n": an array header ('*') or an integer reply (':').
std::string respLine(char type, int64_t n);
// Error texts are one line: a node's text may not carry CR or LF into ours.
std::string oneLine(std::string_view s);

}  // namespace kw::cluster
