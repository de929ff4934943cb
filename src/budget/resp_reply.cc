#include "budget/resp_reply.h"

#include <charconv>

namespace kw {

const RespNode RespReply::kNullNode{};

namespace {

// "<integer>\r\n" at *pos.
bool line(std::string_view in, size_t* pos, std::string_view* out) {
  const size_t eol = in.find("\r\n", *pos);
  if (eol == std::string_view::npos)
    return false;
  *out = in.substr(*pos, eol - *pos);
  *pos = eol + 2;
  return true;
}

bool toInt(std::string_view s, int64_t* out) {
  if (s.empty())
    return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

bool RespReply::parse(std::string_view bytes) {
  nodes_.clear();
  nodes_.emplace_back();
  size_t pos = 0;
  if (!parseAt(bytes, &pos, 0, 0) || pos != bytes.size()) {
    nodes_.clear();
    return false;
  }
  return true;
}

bool RespReply::parseAt(std::string_view in, size_t* pos, uint32_t node, int depth) {
  if (*pos >= in.size() || depth > kMaxDepth)
    return false;
  const char type = in[*pos];
  ++*pos;
  std::string_view head;
  if (!line(in, pos, &head))
    return false;
  RespNode n;
  switch (type) {
  case '+':
    n.type = RespNode::Type::kSimple;
    n.text = head;
    break;
  case '-':
    n.type = RespNode::Type::kError;
    n.text = head;
    break;
  case ':':
    n.type = RespNode::Type::kInteger;
    if (!toInt(head, &n.integer))
      return false;
    break;
  case '#':
    n.type = RespNode::Type::kInteger;
    if (head != "t" && head != "f")
      return false;
    n.integer = head == "t" ? 1 : 0;
    break;
  case ',':
  case '(':
    n.type = RespNode::Type::kDouble;
    n.text = head;
    break;
  case '_':
    if (!head.empty())
      return false;
    n.type = RespNode::Type::kNull;
    break;
  case '$':
  case '=': {
    int64_t len = 0;
    if (!toInt(head, &len) || len < -1)
      return false;
    if (len == -1) {
      if (type == '=')
        return false;
      n.type = RespNode::Type::kNull;
      break;
    }
    const auto size = static_cast<uint64_t>(len);
    if (size > in.size() - *pos || in.size() - *pos - size < 2 || in[*pos + size] != '\r' ||
        in[*pos + size + 1] != '\n')
      return false;
    n.type = RespNode::Type::kBulk;
    n.text = in.substr(*pos, size);
    *pos += size + 2;
    if (type == '=') {
      if (n.text.size() < 4 || n.text[3] != ':')
        return false;
      n.text.remove_prefix(4);
    }
    break;
  }
  case '*':
  case '~':
  case '>':
  case '%': {
    int64_t count = 0;
    if (!toInt(head, &count) || count < -1)
      return false;
    if (count == -1) {
      if (type != '*')
        return false;
      n.type = RespNode::Type::kNull;
      break;
    }
    uint64_t children = static_cast<uint64_t>(count);
    if (type == '%')
      children *= 2;
    // Every element takes at least 3 bytes: a bound that stops huge counts before allocating.
    if (children > (in.size() - *pos) / 3)
      return false;
    n.type = type == '%' ? RespNode::Type::kMap : RespNode::Type::kArray;
    n.count = static_cast<uint32_t>(children);
    n.first = static_cast<uint32_t>(nodes_.size());
    nodes_.resize(nodes_.size() + children);
    nodes_[node] = n;
    for (uint32_t i = 0; i < n.count; ++i)
      if (!parseAt(in, pos, n.first + i, depth + 1))
        return false;
    return true;
  }
  default:
    return false;
  }
  nodes_[node] = n;
  return true;
}

const RespNode& RespReply::field(const RespNode& parent, std::string_view key) const {
  if (parent.type != RespNode::Type::kMap && parent.type != RespNode::Type::kArray)
    return kNullNode;
  for (uint32_t i = 0; i + 1 < parent.count; i += 2) {
    const RespNode& k = nodes_[parent.first + i];
    if (k.isText() && k.text == key)
      return nodes_[parent.first + i + 1];
  }
  return kNullNode;
}

bool respInteger(const RespNode& node, int64_t* out) {
  if (node.type == RespNode::Type::kInteger) {
    *out = node.integer;
    return true;
  }
  return node.isText() && toInt(node.text, out);
}

}  // namespace kw
