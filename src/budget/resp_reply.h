// One complete RESP2/RESP3 reply, parsed into a flat tree of views (no copies), for keywarden's
// own requests: SCAN pages, script results, CONFIG GET, INFO, ACL LIST, the lease's GET/PTTL.
// Redis's bytes are still treated as untrusted: every length is checked, nesting is bounded,
// nothing throws; a reply that does not parse is reported as such.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace kw {

struct RespNode {
  enum class Type : uint8_t {
    kSimple,   // +text
    kError,    // -text
    kInteger,  // :n (also RESP3 #t/#f as 1/0)
    kBulk,     // $n text (RESP3 =n verbatim: the text after "txt:")
    kNull,     // $-1, *-1, _
    kArray,    // *n, RESP3 ~n (set) and >n (push)
    kMap,      // RESP3 %n: 2n children, key then value
    kDouble,   // RESP3 ,text (the text) and (bignum
  };
  Type type = Type::kNull;
  int64_t integer = 0;
  std::string_view text;
  uint32_t first = 0;  // children: nodes [first, first + count)
  uint32_t count = 0;

  bool isText() const { return type == Type::kBulk || type == Type::kSimple; }
};

class RespReply {
public:
  static constexpr int kMaxDepth = 16;

  // False when `bytes` is not exactly one well-formed reply (then root() is a kNull).
  bool parse(std::string_view bytes);

  const RespNode& root() const { return nodes_.empty() ? kNullNode : nodes_[0]; }
  const RespNode& child(const RespNode& parent, size_t i) const {
    return i < parent.count ? nodes_[parent.first + i] : kNullNode;
  }
  // For a map (RESP3) or a flat key/value array (RESP2): the value of `key`, or a kNull.
  const RespNode& field(const RespNode& parent, std::string_view key) const;

private:
  bool parseAt(std::string_view in, size_t* pos, uint32_t node, int depth);

  std::vector<RespNode> nodes_;
  static const RespNode kNullNode;
};

// `reply` is an integer (or its text); false otherwise.
bool respInteger(const RespNode& node, int64_t* out);

}  // namespace kw
