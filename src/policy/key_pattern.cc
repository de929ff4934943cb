#include "policy/key_pattern.h"

#include <array>

#include <cstring>

#include "policy/byte_repr.h"

namespace kw {
namespace {

constexpr size_t kUuidLength = 36;

bool isDigit(unsigned char c) {
  return c >= '0' && c <= '9';
}

bool isNameChar(unsigned char c) {
  return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
}

// What each byte may be at each of the 36 positions of a uuid, as one table lookup per byte:
// bit 0 = hex digit, bit 1 = '-'. Resolution runs on every keyed request of a uuid namespace.
constexpr std::array<uint8_t, 256> kUuidClass = [] {
  std::array<uint8_t, 256> t{};
  for (int c = '0'; c <= '9'; ++c)
    t[c] = 1;
  for (int c = 'a'; c <= 'f'; ++c)
    t[c] = 1;
  for (int c = 'A'; c <= 'F'; ++c)
    t[c] = 1;
  t['-'] = 2;
  return t;
}();

bool isUuid(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  // Accumulate instead of branching per byte: every position must have its required bit.
  unsigned ok = 1;
  for (size_t i = 0; i < kUuidLength; ++i) {
    const unsigned want = (i == 8 || i == 13 || i == 18 || i == 23) ? 2u : 1u;
    ok &= (kUuidClass[u[i]] & want) ? 1u : 0u;
  }
  return ok != 0;
}

// Length of the Redis integer (string2ll rules) at the front of p, or 0. The digit run is taken
// whole: a pattern never lets an int be followed by a digit, so a shorter split cannot match.
size_t scanInt(const char* p, size_t n) {
  size_t i = 0;
  const bool negative = n > 0 && p[0] == '-';
  if (negative)
    i = 1;
  if (i >= n || !isDigit(p[i]))
    return 0;
  if (p[i] == '0')
    return negative ? 0 : i + 1;  // "0" only: no leading zeros, no "-0"
  const uint64_t limit = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  uint64_t value = 0;
  for (; i < n && isDigit(p[i]); ++i) {
    const uint64_t digit = static_cast<unsigned char>(p[i]) - '0';
    if (value > (limit - digit) / 10)
      return 0;
    value = value * 10 + digit;
  }
  return i;
}

std::string quoted(std::string_view bytes) {
  std::string out = "'";
  appendByteRepr(&out, bytes, 64);
  out.push_back('\'');
  return out;
}

bool fail(std::string* error, size_t offset, std::string message) {
  if (error)
    *error = "column " + std::to_string(offset + 1) + ": " + message;
  return false;
}

std::string placeholderText(const PatternSegment& seg) {
  if (seg.type == SegmentType::kRest)
    return "{" + seg.text + "...}";
  if (seg.type == SegmentType::kAny)
    return "{" + seg.text + "}";
  return "{" + seg.text + ":" + std::string(segmentTypeName(seg.type)) + "}";
}

// Parses the body of `{...}` starting at text[open] into *seg. `close` indexes the '}'.
bool parsePlaceholder(std::string_view text, size_t open, size_t close, PatternSegment* seg,
                      std::string* error) {
  const size_t body_at = open + 1;
  std::string_view body = text.substr(body_at, close - body_at);
  const size_t colon = body.find(':');
  std::string_view name = body.substr(0, colon);
  bool rest = false;
  if (name.size() >= 3 && name.substr(name.size() - 3) == "...") {
    rest = true;
    name.remove_suffix(3);
  }
  if (name.empty())
    return fail(error, open, "empty placeholder name");
  for (size_t i = 0; i < name.size(); ++i) {
    if (!isNameChar(static_cast<unsigned char>(name[i]))) {
      return fail(error, body_at + i,
                  "invalid character " + quoted(name.substr(i, 1)) +
                      " in placeholder name (allowed: letters, digits, '_', '-')");
    }
  }
  seg->text = std::string(name);
  seg->column = static_cast<uint32_t>(open + 1);
  if (colon == std::string_view::npos) {
    seg->type = rest ? SegmentType::kRest : SegmentType::kAny;
    return true;
  }
  const size_t type_at = body_at + colon + 1;
  std::string_view type = body.substr(colon + 1);
  if (rest)
    return fail(error, type_at, "a rest placeholder takes no type: write {name...}");
  if (type.size() >= 3 && type.substr(type.size() - 3) == "...") {
    return fail(error, type_at, "a rest placeholder takes no type: write {name...}");
  }
  if (type == "any") {
    seg->type = SegmentType::kAny;
  } else if (type == "uuid") {
    seg->type = SegmentType::kUuid;
  } else if (type == "int") {
    seg->type = SegmentType::kInt;
  } else if (type.empty()) {
    return fail(error, type_at, "empty placeholder type (expected any, uuid or int)");
  } else {
    return fail(error, type_at,
                "unknown placeholder type " + quoted(type) + " (expected any, uuid or int)");
  }
  return true;
}

// Splits the pattern into literal and placeholder segments and checks each placeholder alone.
bool tokenize(std::string_view text, std::vector<PatternSegment>* segments, std::string* error) {
  std::string literal;
  size_t literal_at = 0;
  auto flush = [&] {
    if (literal.empty())
      return;
    segments->push_back(
        {SegmentType::kLiteral, std::move(literal), static_cast<uint32_t>(literal_at + 1)});
    literal.clear();
  };
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    const bool doubled = i + 1 < text.size() && text[i + 1] == c;
    if (c != '{' && c != '}') {
      if (literal.empty())
        literal_at = i;
      literal.push_back(c);
      ++i;
      continue;
    }
    if (doubled) {
      if (literal.empty())
        literal_at = i;
      literal.push_back(c);
      i += 2;
      continue;
    }
    if (c == '}')
      return fail(error, i, "unmatched '}' (write '}}' for a literal '}')");
    size_t close = i + 1;
    while (close < text.size() && text[close] != '}') {
      if (text[close] == '{') {
        return fail(error, close, "'{' inside a placeholder (write '{{' for a literal '{')");
      }
      ++close;
    }
    if (close == text.size())
      return fail(error, i, "unclosed '{' (write '{{' for a literal '{')");
    flush();
    PatternSegment seg;
    if (!parsePlaceholder(text, i, close, &seg, error))
      return false;
    segments->push_back(std::move(seg));
    i = close + 1;
  }
  flush();
  return true;
}

// Rules that involve neighbouring segments, all of which keep matching deterministic.
bool checkSequence(const std::vector<PatternSegment>& segments, std::string* error) {
  for (size_t i = 0; i < segments.size(); ++i) {
    const PatternSegment& seg = segments[i];
    if (seg.type == SegmentType::kLiteral)
      continue;
    for (size_t j = 0; j < i; ++j) {
      if (segments[j].type != SegmentType::kLiteral && segments[j].text == seg.text) {
        return fail(error, seg.column - 1, "duplicate placeholder name '" + seg.text + "'");
      }
    }
    if (i + 1 == segments.size())
      continue;
    const PatternSegment& next = segments[i + 1];
    if (seg.type == SegmentType::kRest) {
      return fail(error, seg.column - 1,
                  "rest placeholder " + placeholderText(seg) + " must end the pattern");
    }
    if (next.type != SegmentType::kLiteral) {
      return fail(error, next.column - 1,
                  "placeholders " + placeholderText(seg) + " and " + placeholderText(next) +
                      " need literal text between them");
    }
    if (seg.type == SegmentType::kInt && isDigit(static_cast<unsigned char>(next.text[0]))) {
      return fail(error, next.column - 1,
                  "placeholder " + placeholderText(seg) +
                      " is followed by a digit, so where the number ends is ambiguous");
    }
  }
  return true;
}

}  // namespace

std::string_view segmentTypeName(SegmentType type) {
  switch (type) {
  case SegmentType::kLiteral:
    return "literal";
  case SegmentType::kAny:
    return "any";
  case SegmentType::kUuid:
    return "uuid";
  case SegmentType::kInt:
    return "int";
  case SegmentType::kRest:
    return "rest";
  }
  return "?";
}

std::optional<KeyPattern> KeyPattern::parse(std::string_view text, std::string* error) {
  if (text.empty()) {
    fail(error, 0, "empty pattern");
    return std::nullopt;
  }
  if (text.size() > kMaxPatternLength) {
    fail(error, kMaxPatternLength,
         "pattern longer than " + std::to_string(kMaxPatternLength) + " bytes");
    return std::nullopt;
  }
  KeyPattern pattern;
  if (!tokenize(text, &pattern.segments_, error) || !checkSequence(pattern.segments_, error)) {
    return std::nullopt;
  }
  pattern.text_ = std::string(text);
  size_t typed = 0;
  for (size_t i = 0; i < pattern.segments_.size(); ++i) {
    const PatternSegment& seg = pattern.segments_[i];
    Op op{seg.type, false, 0, 0, 0};
    switch (seg.type) {
    case SegmentType::kLiteral:
      op.lit_offset = static_cast<uint32_t>(pattern.literals_.size());
      op.lit_len = static_cast<uint32_t>(seg.text.size());
      pattern.literals_ += seg.text;
      if (i == 0)
        pattern.prefix_len_ = seg.text.size();
      break;
    case SegmentType::kAny:
      // checkSequence() guarantees a non-final placeholder is followed by a literal.
      if (i + 1 < pattern.segments_.size()) {
        op.has_stop = true;
        op.stop = static_cast<uint8_t>(pattern.segments_[i + 1].text[0]);
      }
      ++pattern.placeholder_count_;
      break;
    case SegmentType::kUuid:
    case SegmentType::kInt:
      ++typed;
      ++pattern.placeholder_count_;
      break;
    case SegmentType::kRest:
      pattern.has_rest_ = true;
      ++pattern.placeholder_count_;
      break;
    }
    pattern.ops_.push_back(op);
  }
  // literals_ <= 1024 bytes and typed < 1024, so the fields cannot overlap.
  pattern.specificity_ = (uint64_t{pattern.literals_.size()} << 20) |
                         (uint64_t{pattern.has_rest_ ? 0u : 1u} << 19) | typed;
  return pattern;
}

bool KeyPattern::matchFrom(std::string_view key, size_t first_op, size_t pos,
                           std::span<std::string_view> captures) const {
  const char* p = key.data();
  const size_t n = key.size();
  size_t capture = 0;
  for (size_t i = first_op; i < ops_.size(); ++i) {
    const Op& op = ops_[i];
    const size_t start = pos;
    const size_t left = n - pos;
    switch (op.type) {
    case SegmentType::kLiteral:
      if (left < op.lit_len || std::memcmp(p + pos, literals_.data() + op.lit_offset, op.lit_len))
        return false;
      pos += op.lit_len;
      continue;
    case SegmentType::kUuid:
      if (left < kUuidLength || !isUuid(p + pos))
        return false;
      pos += kUuidLength;
      break;
    case SegmentType::kInt: {
      const size_t len = scanInt(p + pos, left);
      if (len == 0)
        return false;
      pos += len;
      break;
    }
    case SegmentType::kAny: {
      if (left == 0)
        return false;
      // The value ends at the first ':' or delimiter; it must, since neither may occur inside.
      size_t len = left;
      if (op.has_stop) {
        if (const void* hit = std::memchr(p + pos, op.stop, left)) {
          len = static_cast<size_t>(static_cast<const char*>(hit) - (p + pos));
        }
      }
      if (!op.has_stop || op.stop != ':') {
        if (const void* hit = std::memchr(p + pos, ':', len)) {
          len = static_cast<size_t>(static_cast<const char*>(hit) - (p + pos));
        }
      }
      if (len == 0)
        return false;
      pos += len;
      break;
    }
    case SegmentType::kRest:
      if (left == 0)
        return false;
      pos = n;
      break;
    }
    if (capture < captures.size())
      captures[capture] = key.substr(start, pos - start);
    ++capture;
  }
  return pos == n;
}

}  // namespace kw
