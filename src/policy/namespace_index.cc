#include "policy/namespace_index.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "policy/byte_repr.h"

namespace kw {
namespace {

constexpr size_t kMaxKeyInMessage = 128;

}  // namespace

// Uncompressed byte trie used only while building.
struct NamespaceIndex::BuildNode {
  std::map<uint8_t, uint32_t> kids;
  std::vector<uint32_t> ns;
};

std::optional<NamespaceIndex> NamespaceIndex::build(std::vector<NamespaceDef> defs,
                                                    std::string* error) {
  auto fail = [&](std::string message) -> std::optional<NamespaceIndex> {
    if (error)
      *error = std::move(message);
    return std::nullopt;
  };
  auto quoted = [](std::string_view bytes) {
    std::string out = "'";
    appendByteRepr(&out, bytes, kMaxKeyInMessage);
    out.push_back('\'');
    return out;
  };
  if (defs.size() >= Resolution::kNone)
    return fail("too many namespaces");
  std::map<std::string_view, uint32_t> names;
  std::map<std::string_view, uint32_t> texts;
  for (uint32_t i = 0; i < defs.size(); ++i) {
    if (defs[i].name.empty())
      return fail("namespace #" + std::to_string(i + 1) + " has no name");
    if (!names.emplace(defs[i].name, i).second) {
      return fail("duplicate namespace name " + quoted(defs[i].name));
    }
    auto [it, fresh] = texts.emplace(defs[i].pattern.text(), i);
    if (!fresh) {
      return fail("namespace " + quoted(defs[i].name) + " has the same pattern as namespace " +
                  quoted(defs[it->second].name) + " (" + defs[i].pattern.text() + ")");
    }
  }

  NamespaceIndex index;
  index.defs_ = std::move(defs);
  for (const NamespaceDef& def : index.defs_) {
    index.specificity_.push_back(def.pattern.specificity());
  }
  std::vector<BuildNode> tmp(1);
  for (uint32_t i = 0; i < index.defs_.size(); ++i) {
    const std::string_view prefix = index.defs_[i].pattern.literalPrefix();
    if (prefix.empty()) {
      index.unprefixed_.push_back(i);
      continue;
    }
    uint32_t at = 0;
    for (char c : prefix) {
      auto [it, fresh] = tmp[at].kids.emplace(static_cast<uint8_t>(c), 0);
      if (fresh)
        it->second = static_cast<uint32_t>(tmp.size());
      const uint32_t next = it->second;
      if (fresh)
        tmp.emplace_back();  // may move tmp[at], so `it` is not used past here
      at = next;
    }
    tmp[at].ns.push_back(i);
  }
  const auto by_rank = [&index](uint32_t a, uint32_t b) { return index.better(a, b); };
  std::sort(index.unprefixed_.begin(), index.unprefixed_.end(), by_rank);
  for (BuildNode& node : tmp)
    std::sort(node.ns.begin(), node.ns.end(), by_rank);
  index.flatten(tmp, 0, {});
  return index;
}

// Emits the node for tmp[at] (reached by `label`), folding chains of single-child nodes that end
// no prefix into one labelled edge, so a key walk costs one step per branching point.
uint32_t NamespaceIndex::flatten(const std::vector<BuildNode>& tmp, uint32_t at,
                                 std::string_view label) {
  const uint32_t id = static_cast<uint32_t>(nodes_.size());
  const BuildNode& src = tmp[at];
  Node node{};
  node.label_offset = static_cast<uint32_t>(labels_.size());
  node.label_length = static_cast<uint32_t>(label.size());
  labels_.append(label);
  node.ns_begin = static_cast<uint32_t>(node_ns_.size());
  node.ns_count = static_cast<uint32_t>(src.ns.size());
  node_ns_.insert(node_ns_.end(), src.ns.begin(), src.ns.end());
  node.edge_begin = static_cast<uint32_t>(edge_first_.size());
  node.edge_count = static_cast<uint32_t>(src.kids.size());
  edge_first_.resize(edge_first_.size() + src.kids.size());
  edge_target_.resize(edge_target_.size() + src.kids.size());
  nodes_.push_back(node);

  uint32_t edge = node.edge_begin;
  std::string child_label;
  for (const auto& [byte, kid] : src.kids) {
    child_label.assign(1, static_cast<char>(byte));
    uint32_t end = kid;
    while (tmp[end].ns.empty() && tmp[end].kids.size() == 1) {
      child_label.push_back(static_cast<char>(tmp[end].kids.begin()->first));
      end = tmp[end].kids.begin()->second;
    }
    edge_first_[edge] = byte;
    edge_target_[edge] = flatten(tmp, end, child_label);
    ++edge;
  }
  return id;
}

bool NamespaceIndex::better(uint32_t a, uint32_t b) const {
  if (specificity_[a] != specificity_[b])
    return specificity_[a] > specificity_[b];
  return a < b;
}

Resolution NamespaceIndex::resolve(std::string_view key) const {
  uint32_t best = Resolution::kNone;
  uint32_t longest_prefix = Resolution::kNone;
  if (!nodes_.empty()) {
    const char* p = key.data();
    size_t depth = 0;
    uint32_t at = 0;
    while (true) {
      const Node& node = nodes_[at];
      if (node.ns_count > 0) {
        const uint32_t* ns = node_ns_.data() + node.ns_begin;
        longest_prefix = ns[0];
        // Sorted best first: stop at the first match or at the first that cannot win anyway.
        for (uint32_t i = 0; i < node.ns_count; ++i) {
          if (best != Resolution::kNone && !better(ns[i], best))
            break;
          if (defs_[ns[i]].pattern.matchesAfterPrefix(key)) {  // the walk saw the prefix
            best = ns[i];
            break;
          }
        }
      }
      if (depth == key.size() || node.edge_count == 0)
        break;
      const void* hit = std::memchr(edge_first_.data() + node.edge_begin,
                                    static_cast<unsigned char>(p[depth]), node.edge_count);
      if (!hit)
        break;
      const size_t edge =
          static_cast<size_t>(static_cast<const uint8_t*>(hit) - edge_first_.data());
      const uint32_t next = edge_target_[edge];
      const Node& child = nodes_[next];
      if (key.size() - depth < child.label_length ||
          std::memcmp(p + depth, labels_.data() + child.label_offset, child.label_length) != 0) {
        break;
      }
      depth += child.label_length;
      at = next;
    }
  }
  for (uint32_t ns : unprefixed_) {
    if (best != Resolution::kNone && !better(ns, best))
      break;
    if (defs_[ns].pattern.matches(key)) {
      best = ns;
      break;
    }
  }
  if (best != Resolution::kNone)
    return {best, true};
  return {longest_prefix, false};
}

std::string NamespaceIndex::describeMismatch(std::string_view key, uint32_t ns) const {
  return describeNamespaceMismatch(key, defs_[ns].name, defs_[ns].pattern.text());
}

std::string describeNamespaceMismatch(std::string_view key, std::string_view ns_name,
                                      std::string_view pattern_text) {
  std::string out = "key '";
  appendByteRepr(&out, key, kMaxKeyInMessage);
  out += "' does not match namespace '";
  appendByteRepr(&out, ns_name);
  out += "' (";
  appendByteRepr(&out, pattern_text);
  out += ')';
  return out;
}

}  // namespace kw
