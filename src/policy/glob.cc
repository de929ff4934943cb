#include "policy/glob.h"

#include <cstddef>

namespace kw {
namespace {

// Matches one byte against the set starting just after `[` at pattern[p]. Returns the index just
// past the closing `]` (or the pattern's end: Redis treats an unterminated set as running to the
// end of the pattern) and sets *hit.
size_t matchSet(std::string_view pattern, size_t p, unsigned char c, bool* hit) {
  const size_t n = pattern.size();
  bool negate = false;
  if (p < n && pattern[p] == '^') {
    negate = true;
    ++p;
  }
  bool match = false;
  while (p < n && pattern[p] != ']') {
    if (pattern[p] == '\\' && p + 1 < n) {
      ++p;
      if (static_cast<unsigned char>(pattern[p]) == c)
        match = true;
      ++p;
    } else if (p + 2 < n && pattern[p + 1] == '-') {
      unsigned char lo = static_cast<unsigned char>(pattern[p]);
      unsigned char hi = static_cast<unsigned char>(pattern[p + 2]);
      if (lo > hi) {
        const unsigned char t = lo;
        lo = hi;
        hi = t;
      }
      if (c >= lo && c <= hi)
        match = true;
      p += 3;
    } else {
      if (static_cast<unsigned char>(pattern[p]) == c)
        match = true;
      ++p;
    }
  }
  if (p < n)
    ++p;  // the `]`
  *hit = negate ? !match : match;
  return p;
}

}  // namespace

bool globMatch(std::string_view pattern, std::string_view subject) {
  const size_t pn = pattern.size();
  const size_t sn = subject.size();
  size_t p = 0;
  size_t s = 0;
  // Where to resume after a mismatch: the pattern just past the last `*`, and the subject byte
  // that star will swallow next. Every other token matches exactly one byte, so retrying from the
  // last star alone is complete.
  size_t star_p = SIZE_MAX;
  size_t star_s = 0;
  while (s < sn) {
    if (p < pn) {
      const char pc = pattern[p];
      if (pc == '*') {
        while (p < pn && pattern[p] == '*')
          ++p;
        if (p == pn)
          return true;
        star_p = p;
        star_s = s;
        continue;
      }
      const unsigned char c = static_cast<unsigned char>(subject[s]);
      bool hit = false;
      size_t next = p + 1;
      if (pc == '?') {
        hit = true;
      } else if (pc == '[') {
        next = matchSet(pattern, p + 1, c, &hit);
      } else if (pc == '\\' && p + 1 < pn) {
        hit = static_cast<unsigned char>(pattern[p + 1]) == c;
        next = p + 2;
      } else {
        hit = static_cast<unsigned char>(pc) == c;
      }
      if (hit) {
        p = next;
        ++s;
        continue;
      }
    }
    if (star_p == SIZE_MAX)
      return false;
    p = star_p;
    s = ++star_s;
  }
  while (p < pn && pattern[p] == '*')
    ++p;
  return p == pn;
}

bool globHasWildcard(std::string_view pattern) {
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\') {
      ++i;
    } else if (c == '*' || c == '?' || c == '[') {
      return true;
    }
  }
  return false;
}

}  // namespace kw
