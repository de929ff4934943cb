#include "pg/notify_payload.h"

namespace kw::pg {
namespace {

void skipSpace(std::string_view s, size_t* i) {
  while (*i < s.size() && (s[*i] == ' ' || s[*i] == '\t' || s[*i] == '\n' || s[*i] == '\r'))
    ++*i;
}

// A JSON string without \u escapes beyond ASCII (keys are built from what patterns accept).
bool parseString(std::string_view s, size_t* i, std::string* out) {
  if (*i >= s.size() || s[*i] != '"')
    return false;
  ++*i;
  out->clear();
  while (*i < s.size()) {
    char c = s[(*i)++];
    if (c == '"')
      return true;
    if (c != '\\') {
      *out += c;
      continue;
    }
    if (*i >= s.size())
      return false;
    char e = s[(*i)++];
    switch (e) {
    case '"':
    case '\\':
    case '/':
      *out += e;
      break;
    case 'n':
      *out += '\n';
      break;
    case 't':
      *out += '\t';
      break;
    case 'r':
      *out += '\r';
      break;
    case 'u': {
      if (*i + 4 > s.size())
        return false;
      unsigned v = 0;
      for (int k = 0; k < 4; ++k) {
        char h = s[(*i)++];
        v <<= 4;
        if (h >= '0' && h <= '9')
          v |= static_cast<unsigned>(h - '0');
        else if (h >= 'a' && h <= 'f')
          v |= static_cast<unsigned>(h - 'a' + 10);
        else if (h >= 'A' && h <= 'F')
          v |= static_cast<unsigned>(h - 'A' + 10);
        else
          return false;
      }
      if (v >= 0x80)
        return false;
      *out += static_cast<char>(v);
      break;
    }
    default:
      return false;
    }
  }
  return false;
}

}  // namespace

bool parseNotifyPayload(std::string_view payload, size_t count, std::vector<std::string>* values) {
  values->clear();
  if (count == 1) {
    values->emplace_back(payload);
    return !payload.empty();
  }
  size_t i = 0;
  skipSpace(payload, &i);
  if (i >= payload.size() || payload[i] != '[')
    return false;
  ++i;
  std::string v;
  while (true) {
    skipSpace(payload, &i);
    if (!parseString(payload, &i, &v))
      return false;
    values->push_back(v);
    skipSpace(payload, &i);
    if (i < payload.size() && payload[i] == ',') {
      ++i;
      continue;
    }
    if (i < payload.size() && payload[i] == ']') {
      ++i;
      break;
    }
    return false;
  }
  skipSpace(payload, &i);
  return i == payload.size() && values->size() == count;
}

}  // namespace kw::pg
