// Maps a key to its namespace. Built once per config load (allocates then); resolve() allocates
// nothing and touches only the namespaces whose literal prefix starts the key, found by walking
// a radix tree of the prefixes, plus the few patterns that start with a placeholder.
//
// Rules: a key belongs to the most specific namespace whose pattern it fully matches (ties: the
// one declared first). Failing that, if it starts with the non-empty literal prefix of some
// namespaces, it belongs to the one with the longest such prefix (most specific, then first
// declared, among equals) but with shape_ok = false: the "does not match namespace" refusal.
// A pattern that begins with a placeholder only ever claims keys it fully matches.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/key_pattern.h"

namespace kw {

struct NamespaceDef {
  std::string name;
  KeyPattern pattern;
};

struct Resolution {
  static constexpr uint32_t kNone = UINT32_MAX;
  uint32_t ns = kNone;  // index into the definitions given to build()
  bool shape_ok = false;
  bool found() const { return ns != kNone; }
};

class NamespaceIndex {
public:
  NamespaceIndex() = default;  // no namespaces: every key resolves to none

  // Fails (nullopt, *error set; error may be null) on an empty or duplicate name or a pattern
  // text declared twice.
  static std::optional<NamespaceIndex> build(std::vector<NamespaceDef> defs, std::string* error);

  Resolution resolve(std::string_view key) const;

  size_t size() const { return defs_.size(); }
  const NamespaceDef& at(uint32_t ns) const { return defs_[ns]; }

  // "key 'session:abc' does not match namespace 'session' (session:{user_id:uuid}:{session_id})"
  // without the "ERR " code. The key is escaped redis-cli style and cut to 128 bytes.
  std::string describeMismatch(std::string_view key, uint32_t ns) const;

private:
  struct Node {
    uint32_t label_offset;  // label of the edge into this node: labels_[offset, +length)
    uint32_t label_length;
    uint32_t edge_begin;  // children: edge_first_[begin, +count) / edge_target_[...]
    uint32_t edge_count;
    uint32_t ns_begin;  // namespaces whose prefix ends here: node_ns_[begin, +count), best first
    uint32_t ns_count;
  };
  struct BuildNode;

  bool better(uint32_t a, uint32_t b) const;
  uint32_t flatten(const std::vector<BuildNode>& tmp, uint32_t at, std::string_view label);

  std::vector<NamespaceDef> defs_;
  std::vector<uint64_t> specificity_;  // per namespace, kept hot next to the tree
  std::vector<Node> nodes_;            // nodes_[0] is the root (empty prefix)
  std::string labels_;
  std::vector<uint8_t> edge_first_;  // first byte of each child's label, sorted per node
  std::vector<uint32_t> edge_target_;
  std::vector<uint32_t> node_ns_;
  std::vector<uint32_t> unprefixed_;  // patterns starting with a placeholder, best first
};

// The message alone, for callers that hold the name and pattern rather than an index.
std::string describeNamespaceMismatch(std::string_view key, std::string_view ns_name,
                                      std::string_view pattern_text);

}  // namespace kw
