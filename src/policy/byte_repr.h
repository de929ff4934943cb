// Printable rendering of untrusted bytes (keys) inside error replies and logs, in the style of
// redis-cli / sdscatrepr: \n \r \t \a \b, \\ and \' escaped, other non-printable bytes as \xHH.
// The result never holds CR or LF, so it is safe inside a RESP simple error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kw {

// Appends the escaped form of the first `max_bytes` bytes of `bytes`, then "..." if any were cut.
void appendByteRepr(std::string* out, std::string_view bytes, size_t max_bytes = SIZE_MAX);

}  // namespace kw
