#include "common/unix_address.h"

namespace kw {

bool parseUnixAddress(std::string_view text, std::string* path, std::string* error) {
  auto fail = [error](const char* why) {
    if (error != nullptr)
      *error = why;
    return false;
  };
  if (!isUnixAddress(text))
    return fail("not a unix: address");
  const std::string_view p = text.substr(kUnixAddressPrefix.size());
  if (p.empty())
    return fail("no path after unix:");
  if (p.front() != '/')
    return fail("the socket path must be absolute");
  if (p.back() == '/')
    return fail("the socket path names a directory");
  if (p.size() > kMaxUnixPathBytes)
    return fail("the socket path is longer than 107 bytes");
  for (char c : p) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return fail("control character in the socket path");
  }
  path->assign(p);
  return true;
}

}  // namespace kw
