#include "proxy/request_decoder.h"

#include <hiredis/read.h>

#include <climits>
#include <cstring>
#include <string>

namespace kw {

namespace {

using Status = RequestDecoder::Status;

// Per-call context reachable from the hiredis callbacks through reader->privdata.
struct DecodeContext {
  std::string_view frame;  // the request bytes in the caller's span
  const char* base;        // where hiredis holds frame[0] in its own buffer
  std::vector<std::string_view>* args;
  bool unexpected;  // hiredis produced something other than bulk strings in one array
};

// hiredis treats a null object as out-of-memory, so every callback returns this token; nothing
// is allocated per argument.
char kToken;

DecodeContext* contextOf(const redisReadTask* task) {
  // Only the top-level task is guaranteed to carry the reader's privdata in every hiredis
  // release, so walk up to it.
  while (task->parent != nullptr)
    task = task->parent;
  return static_cast<DecodeContext*>(task->privdata);
}

void* onString(const redisReadTask* task, char* str, size_t len) {
  DecodeContext* ctx = contextOf(task);
  // The views point into the caller's span, not into hiredis's buffer: hiredis compacts that
  // buffer (memmove) before redisReaderGetReply returns.
  size_t offset = static_cast<size_t>(str - ctx->base);
  if (task->parent == nullptr || offset > ctx->frame.size() || len > ctx->frame.size() - offset) {
    ctx->unexpected = true;
  } else {
    ctx->args->push_back(ctx->frame.substr(offset, len));
  }
  return &kToken;
}

void* onArray(const redisReadTask* task, int /*elements*/) {
  if (task->parent != nullptr)
    contextOf(task)->unexpected = true;
  return &kToken;
}

void* onInteger(const redisReadTask* task, long long /*value*/) {
  contextOf(task)->unexpected = true;
  return &kToken;
}

void* onNil(const redisReadTask* task) {
  contextOf(task)->unexpected = true;
  return &kToken;
}

void freeObject(void* /*obj*/) {}

redisReplyObjectFunctions kCallbacks = {onString, onArray, onInteger, onNil, freeObject};

// Redis's string2ll rules: optional '-', no '+', no leading zeros, no spaces, no overflow.
bool parseRedisInt(std::string_view s, long long* out) {
  if (s.empty() || s.size() > 20)
    return false;
  if (s == "0") {
    *out = 0;
    return true;
  }
  bool negative = false;
  size_t i = 0;
  if (s[0] == '-') {
    negative = true;
    i = 1;
  }
  if (i >= s.size() || s[i] < '1' || s[i] > '9')
    return false;
  unsigned long long value = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    unsigned digit = static_cast<unsigned>(s[i] - '0');
    if (value > (ULLONG_MAX - digit) / 10)
      return false;
    value = value * 10 + digit;
  }
  if (negative) {
    if (value > static_cast<unsigned long long>(LLONG_MAX) + 1)
      return false;
    *out = value == static_cast<unsigned long long>(LLONG_MAX) + 1 ? LLONG_MIN
                                                                   : -static_cast<long long>(value);
  } else {
    if (value > static_cast<unsigned long long>(LLONG_MAX))
      return false;
    *out = static_cast<long long>(value);
  }
  return true;
}

enum class Line { kFound, kNeedMore, kTooLong, kBadTerminator };

// Locates the '\r' ending a header line that starts at in[from]. Like Redis, a line whose '\r'
// has not shown up within `max_len` bytes is refused; the check is on the '\r' position rather
// than on how much happened to be buffered, so the outcome does not depend on read sizes.
Line findHeaderEnd(std::string_view in, size_t from, size_t max_len, size_t* cr_at) {
  size_t window = in.size() - from;
  bool capped = window > max_len;
  if (capped)
    window = max_len + 1;
  const void* cr = std::memchr(in.data() + from, '\r', window);
  if (cr == nullptr)
    return capped ? Line::kTooLong : Line::kNeedMore;
  size_t at = static_cast<const char*>(cr) - in.data();
  if (at + 1 >= in.size())
    return Line::kNeedMore;
  // Redis skips whatever byte follows the '\r'; hiredis (which decodes the frame) would look for
  // the next "\r\n" instead. Refusing a lone '\r' keeps both readings of the frame identical.
  if (in[at + 1] != '\n')
    return Line::kBadTerminator;
  *cr_at = at;
  return Line::kFound;
}

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool isHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int hexValue(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return c - 'A' + 10;
}

void appendBulk(std::string* out, std::string_view arg) {
  out->push_back('$');
  out->append(std::to_string(arg.size()));
  out->append("\r\n");
  out->append(arg);
  out->append("\r\n");
}

// sdssplitargs from Redis, writing each argument as a RESP bulk into `out` (after a reserved
// multibulk header slot) and counting them. Returns false on unbalanced quotes. The line is a C
// string for Redis, so it ends at the first NUL.
bool splitInline(std::string_view line, std::string* out, size_t* argc) {
  if (const void* nul = std::memchr(line.data(), '\0', line.size())) {
    line = line.substr(0, static_cast<const char*>(nul) - line.data());
  }
  auto at = [&line](size_t i) { return i < line.size() ? line[i] : '\0'; };
  std::string current;
  size_t p = 0;
  *argc = 0;
  while (true) {
    while (p < line.size() && isSpace(line[p]))
      ++p;
    if (p >= line.size())
      return true;
    bool in_double = false;
    bool in_single = false;
    bool done = false;
    current.clear();
    while (!done) {
      const char c = at(p);
      if (in_double) {
        if (c == '\\' && at(p + 1) == 'x' && isHexDigit(at(p + 2)) && isHexDigit(at(p + 3))) {
          current.push_back(static_cast<char>(hexValue(at(p + 2)) * 16 + hexValue(at(p + 3))));
          p += 3;
        } else if (c == '\\' && at(p + 1) != '\0') {
          ++p;
          char e = at(p);
          switch (e) {
          case 'n':
            e = '\n';
            break;
          case 'r':
            e = '\r';
            break;
          case 't':
            e = '\t';
            break;
          case 'b':
            e = '\b';
            break;
          case 'a':
            e = '\a';
            break;
          default:
            break;
          }
          current.push_back(e);
        } else if (c == '"') {
          if (at(p + 1) != '\0' && !isSpace(at(p + 1)))
            return false;
          done = true;
        } else if (c == '\0') {
          return false;
        } else {
          current.push_back(c);
        }
      } else if (in_single) {
        if (c == '\\' && at(p + 1) == '\'') {
          ++p;
          current.push_back('\'');
        } else if (c == '\'') {
          if (at(p + 1) != '\0' && !isSpace(at(p + 1)))
            return false;
          done = true;
        } else if (c == '\0') {
          return false;
        } else {
          current.push_back(c);
        }
      } else {
        switch (c) {
        case ' ':
        case '\n':
        case '\r':
        case '\t':
        case '\0':
          done = true;
          break;
        case '"':
          in_double = true;
          break;
        case '\'':
          in_single = true;
          break;
        default:
          current.push_back(c);
          break;
        }
      }
      if (at(p) != '\0')
        ++p;
    }
    appendBulk(out, current);
    ++*argc;
  }
}

}  // namespace

RequestDecoder::RequestDecoder() : reader_(redisReaderCreateWithFunctions(&kCallbacks)) {
  // hiredis only copies the bytes we feed it; a large request must not leave a large buffer
  // behind, so let it drop its buffer whenever more than this much is unused.
  if (reader_ != nullptr)
    reader_->maxbuf = 16 * 1024;
}

RequestDecoder::~RequestDecoder() {
  if (reader_ != nullptr)
    redisReaderFree(reader_);
}

RequestDecoder::Status RequestDecoder::next(std::string_view in, const DecodeLimits& limits,
                                            DecodedRequest* out, size_t* consumed) {
  *consumed = 0;
  need_ = 0;
  if (in.empty())
    return Status::kNeedMore;
  auto fail = [this](const char* message) {
    error_ = message;
    return Status::kError;
  };

  if (in[0] != '*') {
    const void* nl = std::memchr(in.data(), '\n', in.size());
    size_t nl_at = nl ? static_cast<size_t>(static_cast<const char*>(nl) - in.data()) : in.size();
    // Redis refuses once more than max_inline_len bytes are buffered without a newline; judging
    // by the newline's position gives that answer regardless of how the bytes were split.
    if (nl_at > limits.max_inline_len)
      return fail("Protocol error: too big inline request");
    if (nl == nullptr)
      return Status::kNeedMore;
    size_t line_len = nl_at;
    if (line_len > 0 && in[line_len - 1] == '\r')
      --line_len;

    inline_scratch_.clear();
    size_t argc = 0;
    if (!splitInline(in.substr(0, line_len), &inline_scratch_, &argc)) {
      return fail("Protocol error: unbalanced quotes in request");
    }
    *consumed = nl_at + 1;
    if (argc == 0)
      return Status::kSkip;
    // Built in front rather than inserted: inline requests are rare, and inserting at the front
    // is where GCC 12 warns (-Wrestrict) about an overlap that cannot happen.
    std::string framed = "*";
    framed += std::to_string(argc);
    framed += "\r\n";
    framed += inline_scratch_;
    inline_scratch_.swap(framed);

    // Views are taken only now that the scratch is final and will not reallocate.
    out->args.clear();
    const std::string_view scratch = inline_scratch_;
    size_t pos = scratch.find('\n') + 1;
    for (size_t i = 0; i < argc; ++i) {
      size_t len = 0;
      for (pos += 1; scratch[pos] != '\r'; ++pos)
        len = len * 10 + (scratch[pos] - '0');
      out->args.push_back(scratch.substr(pos + 2, len));
      pos += 2 + len + 2;
    }
    out->raw = scratch;
    return Status::kRequest;
  }

  // Multibulk: validate every header and find the end of the frame before hiredis sees it.
  size_t cr = 0;
  switch (findHeaderEnd(in, 0, limits.max_inline_len, &cr)) {
  case Line::kFound:
    break;
  case Line::kNeedMore:
    return Status::kNeedMore;
  case Line::kTooLong:
    return fail("Protocol error: too big mbulk count string");
  case Line::kBadTerminator:
    return fail("Protocol error: invalid multibulk length");
  }
  long long count = 0;
  if (!parseRedisInt(in.substr(1, cr - 1), &count) || count > INT_MAX ||
      count > static_cast<long long>(limits.max_array_len)) {
    return fail("Protocol error: invalid multibulk length");
  }
  size_t pos = cr + 2;
  if (count <= 0) {
    *consumed = pos;
    return Status::kSkip;
  }
  for (long long i = 0; i < count; ++i) {
    if (pos >= in.size())
      return Status::kNeedMore;
    const Line line = findHeaderEnd(in, pos, limits.max_inline_len, &cr);
    if (line == Line::kNeedMore)
      return Status::kNeedMore;
    if (line == Line::kTooLong)
      return fail("Protocol error: too big bulk count string");
    if (in[pos] != '$') {
      // Redis blanks CR and LF in error replies; a NUL is blanked too so the text stays a string.
      const char c = in[pos];
      const char got = c == '\r' || c == '\n' || c == '\0' ? ' ' : c;
      error_ = std::string("Protocol error: expected '$', got '") + got + "'";
      return Status::kError;
    }
    long long len = 0;
    if (line == Line::kBadTerminator || !parseRedisInt(in.substr(pos + 1, cr - pos - 1), &len) ||
        len < 0 || static_cast<unsigned long long>(len) > limits.max_bulk_len) {
      return fail("Protocol error: invalid bulk length");
    }
    pos = cr + 2;
    // Like Redis, the two bytes after the payload are skipped without being looked at.
    if (in.size() - pos < static_cast<unsigned long long>(len) + 2) {
      need_ = pos + static_cast<size_t>(len) + 2;
      return Status::kNeedMore;
    }
    pos += static_cast<size_t>(len) + 2;
  }

  const std::string_view frame = in.substr(0, pos);
  if (hiredis_max_ != 0 && frame.size() > hiredis_max_) {
    // Every header was checked above: the arguments are read off them again.
    out->args.clear();
    out->args.reserve(static_cast<size_t>(count));
    size_t at = frame.find("\r\n") + 2;
    for (long long i = 0; i < count; ++i) {
      const size_t eol = frame.find("\r\n", at);
      size_t len = 0;
      for (size_t k = at + 1; k < eol; ++k)
        len = len * 10 + static_cast<size_t>(frame[k] - '0');
      out->args.push_back(frame.substr(eol + 2, len));
      at = eol + 2 + len + 2;
    }
    out->raw = frame;
    *consumed = pos;
    return Status::kRequest;
  }
  if (reader_ == nullptr)
    return fail("Protocol error: out of memory");
  out->args.clear();
  out->args.reserve(static_cast<size_t>(count));
  if (redisReaderFeed(reader_, frame.data(), frame.size()) != REDIS_OK) {
    return fail("Protocol error: out of memory");
  }
  DecodeContext ctx{frame, reader_->buf + (reader_->len - frame.size()), &out->args, false};
  reader_->privdata = &ctx;
  void* reply = nullptr;
  const int rc = redisReaderGetReply(reader_, &reply);
  reader_->privdata = nullptr;
  if (rc != REDIS_OK || reply == nullptr || ctx.unexpected ||
      out->args.size() != static_cast<size_t>(count)) {
    // The header scan and hiredis disagree: a bug, not a client error, but the reader is left in
    // an unknown state, so replace it.
    redisReaderFree(reader_);
    reader_ = redisReaderCreateWithFunctions(&kCallbacks);
    if (reader_ != nullptr)
      reader_->maxbuf = 16 * 1024;
    return fail("Protocol error: invalid multibulk request");
  }
  out->raw = frame;
  *consumed = pos;
  return Status::kRequest;
}

}  // namespace kw
