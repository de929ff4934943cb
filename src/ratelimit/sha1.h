// SHA-1 (FIPS 180-4), only to name a Lua script the way Redis does (EVALSHA / SCRIPT LOAD):
// libsodium has no SHA-1. Never used for anything secret.
#pragma once

#include <string>
#include <string_view>

namespace kw {

// 40 lowercase hex digits.
std::string sha1Hex(std::string_view data);

}  // namespace kw
