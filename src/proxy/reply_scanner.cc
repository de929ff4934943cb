#include "proxy/reply_scanner.h"

#include <cstring>

namespace kw {

namespace {

// A length beyond this cannot be a real reply; refusing it also keeps `pending_` and the payload
// arithmetic far away from overflow.
constexpr int64_t kMaxLength = int64_t{1} << 40;
// Each aggregate header adds at most 2 * kMaxLength; no real reply has this many elements, and
// stopping here keeps the counter far from int64_t overflow.
constexpr int64_t kMaxPending = int64_t{1} << 50;

bool isKnownType(char type) {
  return std::strchr("+-:,(_#$!=*~>%|", type) != nullptr && type != '\0';
}

// Offset of the "\r\n" ending the line that starts at `from`, or npos. A lone '\r' is skipped, as
// hiredis does, so it is only an error where the line's content is checked (lengths, booleans).
size_t findCrlf(std::string_view in, size_t from) {
  while (from < in.size()) {
    const void* cr = std::memchr(in.data() + from, '\r', in.size() - from);
    if (cr == nullptr)
      return std::string_view::npos;
    size_t at = static_cast<const char*>(cr) - in.data();
    if (at + 1 >= in.size())
      return std::string_view::npos;
    if (in[at + 1] == '\n')
      return at;
    from = at + 1;
  }
  return std::string_view::npos;
}

// Parses the decimal length of an aggregate or bulk header; -1 is accepted only where RESP2 uses it
// for null. Returns false for anything else (sign, spaces, empty, overflow, absurd sizes).
bool parseLength(std::string_view digits, bool allow_null, int64_t* out) {
  if (digits == "-1" && allow_null) {
    *out = -1;
    return true;
  }
  if (digits.empty())
    return false;
  int64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9')
      return false;
    value = value * 10 + (c - '0');
    if (value > kMaxLength)
      return false;
  }
  *out = value;
  return true;
}

}  // namespace

ReplyScanner::Status ReplyScanner::scan(std::string_view in, Frame* frame) {
  if (*error_ != '\0')
    return Status::kError;
  auto fail = [this](const char* message) {
    error_ = message;
    return Status::kError;
  };

  need_ = 0;
  while (pending_ > 0) {
    if (pos_ >= in.size())
      return Status::kNeedMore;
    const char type = in[pos_];
    // Refused at once rather than after waiting for a line that may never come.
    if (!isKnownType(type))
      return fail("Protocol error: unknown reply type");
    const size_t cr = findCrlf(in, pos_ + 1);
    if (cr == std::string_view::npos)
      return Status::kNeedMore;
    const std::string_view line = in.substr(pos_ + 1, cr - pos_ - 1);
    const size_t after_line = cr + 2;

    // An attribute is metadata for the value that follows it; only a non-attribute header seen
    // while exactly one element is pending at the top can be the top-level value itself.
    if (!top_seen_ && pending_ == 1 && type != '|') {
      top_type_ = type;
      top_seen_ = true;
    }

    switch (type) {
    case '+':
    case '-':
    case ':':
    case ',':
    case '(':
      pos_ = after_line;
      --pending_;
      break;
    case '_':
      if (!line.empty())
        return fail("Protocol error: invalid null reply");
      pos_ = after_line;
      --pending_;
      break;
    case '#':
      if (line != "t" && line != "f")
        return fail("Protocol error: invalid boolean reply");
      pos_ = after_line;
      --pending_;
      break;
    case '$':
    case '!':
    case '=': {
      if (line == "?")
        return fail("Protocol error: streamed strings are not supported");
      int64_t len = 0;
      if (!parseLength(line, type == '$', &len)) {
        return fail("Protocol error: invalid bulk length");
      }
      if (len < 0) {
        pos_ = after_line;
        --pending_;
        break;
      }
      const size_t payload_end = after_line + static_cast<size_t>(len);
      // Needs the payload and its CRLF; the header is re-read next time, which is cheap, and the
      // payload itself is never looked at.
      if (in.size() < payload_end + 2) {
        need_ = payload_end + 2;
        return Status::kNeedMore;
      }
      if (in[payload_end] != '\r' || in[payload_end + 1] != '\n') {
        return fail("Protocol error: bulk payload not terminated by CRLF");
      }
      if (type == '=' && (len < 4 || in[after_line + 3] != ':')) {
        return fail("Protocol error: invalid verbatim string");
      }
      pos_ = payload_end + 2;
      --pending_;
      break;
    }
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
      if (line == "?")
        return fail("Protocol error: streamed aggregates are not supported");
      int64_t count = 0;
      if (!parseLength(line, type == '*', &count)) {
        return fail("Protocol error: invalid multibulk length");
      }
      if (count < 0)
        count = 0;  // null array: a complete element with no children
      const int64_t children = (type == '%' || type == '|') ? 2 * count : count;
      // The attribute header is not an element: the value it annotates is still pending.
      const int64_t next = pending_ - (type == '|' ? 0 : 1) + children;
      if (next > kMaxPending)
        return fail("Protocol error: reply too large");
      pending_ = next;
      pos_ = after_line;
      break;
    }
    default:
      return fail("Protocol error: unknown reply type");
    }
  }

  frame->length = pos_;
  frame->type = top_type_;
  frame->is_push = top_type_ == '>';
  return Status::kComplete;
}

}  // namespace kw
