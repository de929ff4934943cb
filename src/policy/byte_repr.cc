#include "policy/byte_repr.h"

namespace kw {

void appendByteRepr(std::string* out, std::string_view bytes, size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  const bool cut = bytes.size() > max_bytes;
  if (cut)
    bytes = bytes.substr(0, max_bytes);
  out->reserve(out->size() + bytes.size() + 3);
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
    case '\\':
      out->append("\\\\");
      break;
    case '\'':
      out->append("\\'");
      break;
    case '\n':
      out->append("\\n");
      break;
    case '\r':
      out->append("\\r");
      break;
    case '\t':
      out->append("\\t");
      break;
    case '\a':
      out->append("\\a");
      break;
    case '\b':
      out->append("\\b");
      break;
    default:
      // isprint() depends on the locale; the C locale's printable set is exactly 0x20..0x7e.
      if (c >= 0x20 && c <= 0x7e) {
        out->push_back(ch);
      } else {
        const char esc[4] = {'\\', 'x', kHex[c >> 4], kHex[c & 0xf]};
        out->append(esc, 4);
      }
    }
  }
  if (cut)
    out->append("...");
}

}  // namespace kw
