// A namespace's key shape, e.g. `session:{user_id:uuid}:{session_id}`: literal text and named
// placeholders. Parsed once at config load; matching is a single left-to-right pass over the key
// with no allocation and no backtracking, so a hostile key (any bytes, any length) costs O(len).
//
// Pattern syntax:
//   literal bytes        matched exactly (binary-safe); `{{` and `}}` stand for `{` and `}`, so
//                        Redis Cluster hash tags can be written: `cart:{{{user_id}}}`
//   {name} {name:any}    one or more bytes, none of them ':' nor the first byte of the literal
//                        that follows the placeholder (its delimiter): `img:{id}.png` gives id no
//                        '.', so segment ends never need guessing
//   {name:uuid}          8-4-4-4-12 hex digits, either case
//   {name:int}           an integer as Redis parses one (string2ll): optional '-', no leading
//                        zeros, no "-0", within int64. Must not be followed by a digit.
//   {name...}            rest of the key: one or more arbitrary bytes, ':' included; only as
//                        the last segment
// Names are [A-Za-z0-9_-]+ and unique; two placeholders need literal text between them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kw {

enum class SegmentType : uint8_t { kLiteral, kAny, kUuid, kInt, kRest };

// "literal", "any", "uuid", "int", "rest".
std::string_view segmentTypeName(SegmentType type);

struct PatternSegment {
  SegmentType type = SegmentType::kLiteral;
  std::string text;     // the literal bytes (escapes resolved), or the placeholder name
  uint32_t column = 0;  // 1-based byte column in the pattern text where the segment starts
};

class KeyPattern {
public:
  static constexpr size_t kMaxPatternLength = 1024;

  // Returns nullopt and sets *error (e.g. "column 9: unknown placeholder type 'uid' (expected
  // any, uuid or int)") on a malformed pattern. `error` may be null.
  static std::optional<KeyPattern> parse(std::string_view text, std::string* error);

  bool matches(std::string_view key) const { return match(key, {}); }

  // As matches(), and on success stores each placeholder's value, in pattern order, into
  // captures[0 .. placeholderCount()) (views into `key`). captures may be empty or shorter than
  // placeholderCount(); extra placeholders are then matched but not reported. On failure the
  // captures hold garbage.
  bool match(std::string_view key, std::span<std::string_view> captures) const {
    return matchFrom(key, 0, 0, captures);
  }

  const std::string& text() const { return text_; }
  // Literal bytes before the first placeholder (the whole text for a placeholder-free pattern).
  std::string_view literalPrefix() const { return {literals_.data(), prefix_len_}; }
  const std::vector<PatternSegment>& segments() const { return segments_; }
  size_t placeholderCount() const { return placeholder_count_; }
  bool hasRest() const { return has_rest_; }
  size_t literalLength() const { return literals_.size(); }

  // Higher is more specific: more literal bytes first, then no rest segment over one, then more
  // typed (uuid/int) placeholders over `any` ones.
  uint64_t specificity() const { return specificity_; }

private:
  struct Op {
    SegmentType type;
    // kAny only: the delimiter byte (first byte of the following literal); meaningful if has_stop.
    bool has_stop;
    uint8_t stop;
    uint32_t lit_offset;  // kLiteral only: bytes are literals_[lit_offset, +lit_len)
    uint32_t lit_len;
  };

  friend class NamespaceIndex;

  KeyPattern() = default;

  // Matches key[pos..] against ops_[first_op..].
  bool matchFrom(std::string_view key, size_t first_op, size_t pos,
                 std::span<std::string_view> captures) const;
  // For a caller that has already seen literalPrefix() at the front of the key.
  bool matchesAfterPrefix(std::string_view key) const {
    return prefix_len_ == 0 ? matchFrom(key, 0, 0, {}) : matchFrom(key, 1, prefix_len_, {});
  }

  std::string text_;
  std::string literals_;  // all literal bytes, concatenated in pattern order
  std::vector<Op> ops_;
  std::vector<PatternSegment> segments_;
  size_t prefix_len_ = 0;
  size_t placeholder_count_ = 0;
  bool has_rest_ = false;
  uint64_t specificity_ = 0;
};

}  // namespace kw
