#include "proxy/reply_scanner.h"

#include <doctest.h>

#include <cstring>
#include <string>
#include <vector>

using kw::ReplyScanner;
using Status = ReplyScanner::Status;

namespace {

struct Result {
  Status status = Status::kNeedMore;
  ReplyScanner::Frame frame;
  std::string error;
};

Result scanWhole(std::string_view in) {
  ReplyScanner scanner;
  Result r;
  r.status = scanner.scan(in, &r.frame);
  r.error = scanner.error();
  return r;
}

// Feeds the reply one byte at a time, as a socket delivering single bytes would.
Result scanByteByByte(std::string_view in) {
  ReplyScanner scanner;
  Result r;
  for (size_t k = 0; k <= in.size(); ++k) {
    r.status = scanner.scan(in.substr(0, k), &r.frame);
    if (r.status != Status::kNeedMore)
      break;
  }
  r.error = scanner.error();
  return r;
}

// Two reads: the span is cut at `cut`, then the rest arrives.
Result scanSplit(std::string_view in, size_t cut) {
  ReplyScanner scanner;
  Result r;
  r.status = scanner.scan(in.substr(0, cut), &r.frame);
  if (r.status == Status::kNeedMore)
    r.status = scanner.scan(in, &r.frame);
  r.error = scanner.error();
  return r;
}

void checkSame(const Result& a, const Result& b) {
  CHECK(a.status == b.status);
  CHECK(a.error == b.error);
  if (a.status == Status::kComplete && b.status == Status::kComplete) {
    CHECK(a.frame.length == b.frame.length);
    CHECK(a.frame.type == b.frame.type);
    CHECK(a.frame.is_push == b.frame.is_push);
  }
}

// A complete reply must scan the same whole, byte by byte and split at every offset, and must
// report kNeedMore for every proper prefix.
void checkComplete(std::string_view in, char type, bool is_push = false) {
  CAPTURE(in);
  Result whole = scanWhole(in);
  REQUIRE(whole.status == Status::kComplete);
  CHECK(whole.frame.length == in.size());
  CHECK(whole.frame.type == type);
  CHECK(whole.frame.is_push == is_push);
  checkSame(whole, scanByteByByte(in));
  for (size_t cut = 0; cut < in.size(); ++cut) {
    CAPTURE(cut);
    CHECK(scanWhole(in.substr(0, cut)).status == Status::kNeedMore);
    checkSame(whole, scanSplit(in, cut));
  }
}

void checkError(std::string_view in, const char* message) {
  CAPTURE(in);
  Result whole = scanWhole(in);
  CHECK(whole.status == Status::kError);
  CHECK(whole.error == message);
  checkSame(whole, scanByteByByte(in));
  for (size_t cut = 0; cut < in.size(); ++cut)
    checkSame(whole, scanSplit(in, cut));
}

}  // namespace

TEST_CASE("reply scanner: RESP2 types") {
  checkComplete("+OK\r\n", '+');
  checkComplete("+\r\n", '+');
  checkComplete("-ERR unknown command 'foo'\r\n", '-');
  checkComplete(":0\r\n", ':');
  checkComplete(":-12345\r\n", ':');
  checkComplete("$5\r\nhello\r\n", '$');
  checkComplete("$0\r\n\r\n", '$');
  checkComplete("$-1\r\n", '$');
  checkComplete("*0\r\n", '*');
  checkComplete("*-1\r\n", '*');
  checkComplete("*3\r\n:1\r\n$3\r\nfoo\r\n+bar\r\n", '*');
  checkComplete("*2\r\n*2\r\n:1\r\n:2\r\n*0\r\n", '*');
  checkComplete("*3\r\n$-1\r\n*-1\r\n-ERR x\r\n", '*');
}

TEST_CASE("reply scanner: RESP3 types") {
  checkComplete("_\r\n", '_');
  checkComplete("#t\r\n", '#');
  checkComplete("#f\r\n", '#');
  checkComplete(",3.14\r\n", ',');
  checkComplete(",inf\r\n", ',');
  checkComplete(",-nan\r\n", ',');
  checkComplete("(3492890328409238509324850943850943825024385\r\n", '(');
  checkComplete("!21\r\nSYNTAX invalid syntax\r\n", '!');
  checkComplete("=15\r\ntxt:Some string\r\n", '=');
  checkComplete("%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n", '%');
  checkComplete("%0\r\n", '%');
  checkComplete("~3\r\n+a\r\n+b\r\n#f\r\n", '~');
  checkComplete(">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n", '>', true);
  checkComplete(">0\r\n", '>', true);
}

TEST_CASE("reply scanner: nested aggregates and attributes") {
  // Map whose values are a set, a push-free nested map and an array holding an attribute.
  checkComplete("%3\r\n"
                "+set\r\n~2\r\n:1\r\n_\r\n"
                "+map\r\n%1\r\n$1\r\nk\r\n%1\r\n#t\r\n,1.5\r\n"
                "+arr\r\n*2\r\n|1\r\n+ttl\r\n:3600\r\n$1\r\nv\r\n=7\r\ntxt:abc\r\n",
                '%');
  // A leading attribute is part of the frame, but the frame's type is the value's.
  checkComplete(
      "|1\r\n+key-popularity\r\n*2\r\n$1\r\na\r\n,0.1923\r\n*2\r\n:2039123\r\n:9543892\r\n", '*');
  checkComplete("|1\r\n+a\r\n+b\r\n|1\r\n+c\r\n+d\r\n:1\r\n", ':');
  checkComplete("|0\r\n+OK\r\n", '+');
  // An attribute whose entries are themselves attributed and aggregated.
  checkComplete("|1\r\n|1\r\n+x\r\n+y\r\n+k\r\n*1\r\n%1\r\n:1\r\n~0\r\n-ERR after\r\n", '-');
  // A push with attributes in front and inside it.
  checkComplete("|1\r\n+m\r\n+n\r\n>2\r\n+pubsub\r\n|1\r\n+a\r\n+b\r\n*1\r\n:1\r\n", '>', true);
  // Deep nesting needs no stack.
  std::string deep;
  for (int i = 0; i < 10000; ++i)
    deep += "*1\r\n";
  deep += ":1\r\n";
  checkSame(scanWhole(deep), scanByteByByte(deep));
  CHECK(scanWhole(deep).frame.length == deep.size());
}

// "<type><n>\r\n". Built by appending: GCC 12 warns (-Wrestrict, wrongly) where
// "literal" + std::string temporaries are inlined.
std::string lengthLine(char type, size_t n) {
  std::string line(1, type);
  line += std::to_string(n);
  line += "\r\n";
  return line;
}

TEST_CASE("reply scanner: binary-safe bulk payloads") {
  const std::string payload("a\r\nb\0c\r\n\r\n*1\r\n$", 16);
  checkComplete(lengthLine('$', payload.size()) + payload + "\r\n", '$');
  checkComplete(lengthLine('!', payload.size()) + payload + "\r\n", '!');
  checkComplete(lengthLine('=', payload.size() + 4) + "txt:" + payload + "\r\n", '=');
  checkComplete("*2\r\n" + lengthLine('$', payload.size()) + payload + "\r\n:1\r\n", '*');
}

TEST_CASE("reply scanner: 1 MiB bulk") {
  const std::string payload(1 << 20, 'x');
  const std::string reply = lengthLine('$', payload.size()) + payload + "\r\n";
  Result whole = scanWhole(reply);
  REQUIRE(whole.status == Status::kComplete);
  CHECK(whole.frame.length == reply.size());
  for (size_t cut :
       {size_t{1}, size_t{5}, size_t{9}, size_t{4096}, reply.size() - 2, reply.size() - 1}) {
    checkSame(whole, scanSplit(reply, cut));
  }
  // Growing 64 KiB at a time, as reads would.
  ReplyScanner scanner;
  ReplyScanner::Frame frame;
  size_t k = 0;
  Status status = Status::kNeedMore;
  while (status == Status::kNeedMore && k < reply.size()) {
    k = std::min(reply.size(), k + 65536);
    status = scanner.scan(std::string_view(reply).substr(0, k), &frame);
  }
  CHECK(status == Status::kComplete);
  CHECK(frame.length == reply.size());
}

TEST_CASE("reply scanner: pipelines back to back") {
  const std::vector<std::string> replies = {"+OK\r\n",
                                            "$3\r\nfoo\r\n",
                                            "*2\r\n:1\r\n$-1\r\n",
                                            ">2\r\n+a\r\n+b\r\n",
                                            "|1\r\n+a\r\n+b\r\n#t\r\n",
                                            "-ERR nope\r\n",
                                            "%1\r\n+k\r\n~1\r\n_\r\n",
                                            "*-1\r\n"};
  std::string stream;
  for (const auto& r : replies)
    stream += r;

  auto walk = [&](std::string_view in, bool byte_by_byte) {
    ReplyScanner scanner;
    size_t offset = 0;
    size_t index = 0;
    size_t visible = byte_by_byte ? 0 : in.size();
    while (index < replies.size()) {
      ReplyScanner::Frame frame;
      Status s = scanner.scan(in.substr(offset, visible - offset), &frame);
      if (s == Status::kNeedMore) {
        REQUIRE(visible < in.size());
        ++visible;
        continue;
      }
      REQUIRE(s == Status::kComplete);
      CHECK(frame.length == replies[index].size());
      CHECK(frame.is_push == (index == 3));
      offset += frame.length;
      ++index;
      scanner.reset();
    }
    CHECK(offset == in.size());
  };
  walk(stream, false);
  walk(stream, true);
}

TEST_CASE("reply scanner: resumes without rescanning completed elements") {
  const std::string reply = "*3\r\n+first\r\n$5\r\nhello\r\n:42\r\n";
  ReplyScanner scanner;
  ReplyScanner::Frame frame;
  const size_t cut = reply.find(":42");
  REQUIRE(scanner.scan(std::string_view(reply).substr(0, cut), &frame) == Status::kNeedMore);
  // Bytes already scanned are garbage in the extended span; the scanner must not look back.
  std::string extended = reply;
  std::memset(extended.data(), '?', cut);
  REQUIRE(scanner.scan(extended, &frame) == Status::kComplete);
  CHECK(frame.length == reply.size());
  CHECK(frame.type == '*');
}

TEST_CASE("reply scanner: a scanner stays failed and reset clears it") {
  ReplyScanner scanner;
  ReplyScanner::Frame frame;
  CHECK(scanner.scan("@oops\r\n", &frame) == Status::kError);
  CHECK(scanner.scan("+OK\r\n", &frame) == Status::kError);
  scanner.reset();
  CHECK(scanner.scan("+OK\r\n", &frame) == Status::kComplete);
  CHECK(std::string(scanner.error()).empty());
}

TEST_CASE("reply scanner: errors") {
  checkError("@oops\r\n", "Protocol error: unknown reply type");
  checkError("\r\n", "Protocol error: unknown reply type");
  checkError("*2\r\n:1\r\nX\r\n", "Protocol error: unknown reply type");
  checkError("*?\r\n", "Protocol error: streamed aggregates are not supported");
  checkError("%?\r\n", "Protocol error: streamed aggregates are not supported");
  checkError("$?\r\n", "Protocol error: streamed strings are not supported");
  checkError("$-2\r\n", "Protocol error: invalid bulk length");
  checkError("$\r\n", "Protocol error: invalid bulk length");
  checkError("$1a\r\n", "Protocol error: invalid bulk length");
  checkError("$ 1\r\n", "Protocol error: invalid bulk length");
  checkError("$+1\r\n", "Protocol error: invalid bulk length");
  checkError("$1\r2\r\n", "Protocol error: invalid bulk length");
  checkError("$99999999999999999999999999\r\n", "Protocol error: invalid bulk length");
  checkError("$1099511627777\r\n", "Protocol error: invalid bulk length");
  checkError("!-1\r\n", "Protocol error: invalid bulk length");
  checkError("=-1\r\n", "Protocol error: invalid bulk length");
  checkError("*-2\r\n", "Protocol error: invalid multibulk length");
  checkError("~-1\r\n", "Protocol error: invalid multibulk length");
  checkError("%-1\r\n", "Protocol error: invalid multibulk length");
  checkError(">-1\r\n", "Protocol error: invalid multibulk length");
  checkError("|x\r\n", "Protocol error: invalid multibulk length");
  checkError("*18446744073709551617\r\n", "Protocol error: invalid multibulk length");
  checkError("*1099511627777\r\n", "Protocol error: invalid multibulk length");
  checkError("$3\r\nfooXY", "Protocol error: bulk payload not terminated by CRLF");
  checkError("$3\r\nfoo\n\r", "Protocol error: bulk payload not terminated by CRLF");
  checkError("#x\r\n", "Protocol error: invalid boolean reply");
  checkError("#\r\n", "Protocol error: invalid boolean reply");
  checkError("#tt\r\n", "Protocol error: invalid boolean reply");
  checkError("_x\r\n", "Protocol error: invalid null reply");
  checkError("=3\r\ntxt\r\n", "Protocol error: invalid verbatim string");
  checkError("=5\r\ntxt-a\r\n", "Protocol error: invalid verbatim string");
  // Lengths at the cap are accepted (and then wait for data) instead of being refused.
  CHECK(scanWhole("$1099511627776\r\n").status == Status::kNeedMore);
  CHECK(scanWhole("%1099511627776\r\n").status == Status::kNeedMore);
  // Many huge aggregate headers in a row cannot overflow the pending counter.
  std::string many;
  for (int i = 0; i < 1 << 12; ++i)
    many += "%1099511627776\r\n";
  Result r = scanWhole(many);
  CHECK(r.status == Status::kError);
  CHECK(r.error == "Protocol error: reply too large");
}
