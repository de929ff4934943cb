#include "proxy/request_decoder.h"

#include <doctest.h>

#include <string>
#include <vector>

using kw::DecodedRequest;
using kw::DecodeLimits;
using kw::RequestDecoder;
using Status = RequestDecoder::Status;

namespace {

using Args = std::vector<std::string>;

struct Result {
  Status status = Status::kNeedMore;
  size_t consumed = 0;
  Args args;
  std::string raw;
  std::string error;
};

Result decode(RequestDecoder& decoder, std::string_view in, const DecodeLimits& limits = {}) {
  Result r;
  DecodedRequest req;
  r.status = decoder.next(in, limits, &req, &r.consumed);
  if (r.status == Status::kRequest) {
    r.raw = std::string(req.raw);
    for (auto a : req.args)
      r.args.emplace_back(a);
  }
  if (r.status == Status::kError)
    r.error = decoder.error();
  return r;
}

Result decodeOnce(std::string_view in, const DecodeLimits& limits = {}) {
  RequestDecoder decoder;
  return decode(decoder, in, limits);
}

// The span grows one byte per call, as when every read returns a single byte.
Result decodeByteByByte(std::string_view in, const DecodeLimits& limits = {}) {
  RequestDecoder decoder;
  Result r;
  for (size_t k = 0; k <= in.size(); ++k) {
    r = decode(decoder, in.substr(0, k), limits);
    if (r.status != Status::kNeedMore)
      break;
    CHECK(r.consumed == 0);
  }
  return r;
}

void checkSame(const Result& a, const Result& b) {
  CHECK(a.status == b.status);
  CHECK(a.consumed == b.consumed);
  CHECK(a.args == b.args);
  CHECK(a.raw == b.raw);
  CHECK(a.error == b.error);
}

// Whole, byte by byte and split at every offset must agree.
Result checkAllSplits(std::string_view in, const DecodeLimits& limits = {}) {
  CAPTURE(in);
  Result whole = decodeOnce(in, limits);
  checkSame(whole, decodeByteByByte(in, limits));
  for (size_t cut = 0; cut < in.size(); ++cut) {
    CAPTURE(cut);
    RequestDecoder decoder;
    Result first = decode(decoder, in.substr(0, cut), limits);
    if (first.status == Status::kNeedMore) {
      CHECK(first.consumed == 0);
      checkSame(whole, decode(decoder, in, limits));
    } else {
      checkSame(whole, first);
    }
  }
  return whole;
}

void checkRequest(std::string_view in, const Args& args, const DecodeLimits& limits = {}) {
  Result r = checkAllSplits(in, limits);
  REQUIRE(r.status == Status::kRequest);
  CHECK(r.consumed == in.size());
  CHECK(r.args == args);
  CHECK(r.raw == in);
}

void checkError(std::string_view in, const std::string& message, const DecodeLimits& limits = {}) {
  Result r = checkAllSplits(in, limits);
  CHECK(r.status == Status::kError);
  CHECK(r.consumed == 0);
  CHECK(r.error == message);
}

// "<type><n>\r\n". Built by appending: GCC 12 warns (-Wrestrict, wrongly) where
// "literal" + std::string temporaries are inlined.
std::string lengthLine(char type, size_t n) {
  std::string line(1, type);
  line += std::to_string(n);
  line += "\r\n";
  return line;
}

// `head` followed by n copies of c, for over-long header lines (appended, as above).
std::string longLine(std::string_view head, size_t n, char c) {
  std::string line(head);
  line.append(n, c);
  return line;
}

std::string bulk(std::string_view s) {
  std::string out = lengthLine('$', s.size());
  out += s;
  out += "\r\n";
  return out;
}

std::string multibulk(const Args& args) {
  std::string out = lengthLine('*', args.size());
  for (const auto& a : args)
    out += bulk(a);
  return out;
}

// An inline line decodes to `args`, and its re-encoded raw form is the canonical multibulk.
void checkInline(std::string_view line, const Args& args) {
  Result r = checkAllSplits(line);
  REQUIRE(r.status == Status::kRequest);
  CHECK(r.consumed == line.size());
  CHECK(r.args == args);
  CHECK(r.raw == multibulk(args));
}

}  // namespace

TEST_CASE("request decoder: multibulk") {
  checkRequest("*1\r\n$4\r\nPING\r\n", {"PING"});
  checkRequest("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n", {"SET", "key", "value"});
  checkRequest("*2\r\n$3\r\nGET\r\n$0\r\n\r\n", {"GET", ""});
  // Like Redis, the two bytes after a payload are skipped unchecked.
  checkRequest("*1\r\n$4\r\nPINGxx", {"PING"});
  const std::string binary("a\r\nb\0c\r\n*1\r\n$", 14);
  checkRequest(multibulk({"SET", binary, std::string(1, '\0')}),
               {"SET", binary, std::string(1, '\0')});
}

TEST_CASE("request decoder: empty multibulk is skipped") {
  Result r = checkAllSplits("*0\r\n");
  CHECK(r.status == Status::kSkip);
  CHECK(r.consumed == 4);
  r = checkAllSplits("*-1\r\n");
  CHECK(r.status == Status::kSkip);
  CHECK(r.consumed == 5);
  r = checkAllSplits("*-5\r\n*1\r\n");
  CHECK(r.status == Status::kSkip);
  CHECK(r.consumed == 5);
}

TEST_CASE("request decoder: needs more") {
  for (const char* in : {"", "*", "*1", "*1\r", "*1\r\n", "*1\r\n$", "*1\r\n$4\r\n",
                         "*1\r\n$4\r\nPI", "*1\r\n$4\r\nPING\r", "PING", "PING\r", "set \"a b"}) {
    Result r = decodeOnce(in);
    CHECK(r.status == Status::kNeedMore);
    CHECK(r.consumed == 0);
  }
}

TEST_CASE("request decoder: 1 MiB bulk") {
  const std::string big(1 << 20, 'v');
  const std::string in = multibulk({"SET", "k", big});
  Result whole = decodeOnce(in);
  REQUIRE(whole.status == Status::kRequest);
  CHECK(whole.args.size() == 3);
  CHECK(whole.args[2] == big);
  CHECK(whole.consumed == in.size());
  RequestDecoder decoder;
  for (size_t k = 0; k < in.size(); k += 65536) {
    CHECK(decode(decoder, std::string_view(in).substr(0, k)).status == Status::kNeedMore);
  }
  checkSame(whole, decode(decoder, in));
  // The decoder stays usable (and hiredis's buffer stays small) afterwards.
  checkSame(decodeOnce("*1\r\n$4\r\nPING\r\n"), decode(decoder, "*1\r\n$4\r\nPING\r\n"));
}

TEST_CASE("request decoder: many arguments") {
  std::string in = "*200000\r\n$4\r\nMSET\r\n";
  for (int i = 1; i < 200000; ++i)
    in += "$1\r\nx\r\n";
  Result r = decodeOnce(in);
  REQUIRE(r.status == Status::kRequest);
  CHECK(r.args.size() == 200000);
  CHECK(r.args.front() == "MSET");
  CHECK(r.args.back() == "x");
  CHECK(r.consumed == in.size());
  CHECK(decodeOnce(std::string_view(in).substr(0, in.size() - 1)).status == Status::kNeedMore);
}

TEST_CASE("request decoder: pipelines") {
  const std::vector<Args> requests = {{"PING"}, {"SET", "a", "1"}, {"GET", "a"},
                                      {"PING"}, {"ECHO", "x y"},   {"DEL", "a", "b", "c"}};
  std::string stream;
  std::vector<Args> expected;
  for (size_t i = 0; i < requests.size(); ++i) {
    stream += multibulk(requests[i]);
    expected.push_back(requests[i]);
    if (i == 2) {
      stream += "*0\r\n";  // skipped
      stream += "SET b \"two words\"\r\n";
      expected.push_back({"SET", "b", "two words"});
      stream += "\r\n";  // blank inline line: skipped
    }
  }

  auto walk = [&](bool byte_by_byte) {
    RequestDecoder decoder;
    size_t offset = 0;
    size_t visible = byte_by_byte ? 0 : stream.size();
    std::vector<Args> got;
    while (offset < stream.size()) {
      DecodedRequest req;
      size_t consumed = 0;
      Status s = decoder.next(std::string_view(stream).substr(offset, visible - offset), {}, &req,
                              &consumed);
      if (s == Status::kNeedMore) {
        CHECK(consumed == 0);
        REQUIRE(visible < stream.size());
        ++visible;
        continue;
      }
      REQUIRE(s != Status::kError);
      REQUIRE(consumed > 0);
      if (s == Status::kRequest) {
        got.emplace_back(req.args.begin(), req.args.end());
        if (stream[offset] == '*')
          CHECK(req.raw == std::string_view(stream).substr(offset, consumed));
      }
      offset += consumed;
    }
    CHECK(got == expected);
  };
  walk(false);
  walk(true);

  // Many requests through one decoder: views stay right while hiredis compacts its buffer.
  std::string many;
  for (int i = 0; i < 500; ++i)
    many += multibulk({"SET", "key:" + std::to_string(i), "v"});
  RequestDecoder decoder;
  size_t offset = 0;
  for (int i = 0; i < 500; ++i) {
    Result r = decode(decoder, std::string_view(many).substr(offset));
    REQUIRE(r.status == Status::kRequest);
    CHECK(r.args == Args{"SET", "key:" + std::to_string(i), "v"});
    offset += r.consumed;
  }
  CHECK(offset == many.size());
}

TEST_CASE("request decoder: multibulk errors") {
  checkError("*abc\r\n", "Protocol error: invalid multibulk length");
  checkError("*\r\n", "Protocol error: invalid multibulk length");
  checkError("*+1\r\n", "Protocol error: invalid multibulk length");
  checkError("*01\r\n", "Protocol error: invalid multibulk length");
  checkError("* 1\r\n", "Protocol error: invalid multibulk length");
  checkError("*1 \r\n", "Protocol error: invalid multibulk length");
  checkError("*99999999999999999999\r\n", "Protocol error: invalid multibulk length");
  checkError("*2147483648\r\n", "Protocol error: invalid multibulk length");
  checkError("*1048577\r\n", "Protocol error: invalid multibulk length");
  checkError("*1\rX", "Protocol error: invalid multibulk length");
  checkError("*1\r\n$-1\r\n", "Protocol error: invalid bulk length");
  checkError("*1\r\n$-0\r\n", "Protocol error: invalid bulk length");
  checkError("*1\r\n$x\r\n", "Protocol error: invalid bulk length");
  checkError("*1\r\n$01\r\nx\r\n", "Protocol error: invalid bulk length");
  checkError("*1\r\n$\r\n", "Protocol error: invalid bulk length");
  checkError("*1\r\n$1\rX", "Protocol error: invalid bulk length");
  checkError("*1\r\n$536870913\r\n", "Protocol error: invalid bulk length");
  checkError("*1\r\n:1\r\n", "Protocol error: expected '$', got ':'");
  checkError("*2\r\n$1\r\na\r\n*1\r\n", "Protocol error: expected '$', got '*'");
  checkError("*1\r\n\r\n", "Protocol error: expected '$', got ' '");
  checkError(std::string("*1\r\n\0\r\n", 7), "Protocol error: expected '$', got ' '");
  // A bulk header is refused as soon as it is complete, before any payload arrives.
  checkError("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870913\r\n", "Protocol error: invalid bulk length");
  // Lines without CR: refused once more than 64 KiB are buffered, as Redis does.
  checkError(longLine("*", 70000, '1'), "Protocol error: too big mbulk count string");
  checkError(longLine("*1\r\n$", 70000, '1'), "Protocol error: too big bulk count string");
  CHECK(decodeOnce(longLine("*", 65535, '1')).status == Status::kNeedMore);
  CHECK(decodeOnce(longLine("*", 65536, '1')).error ==
        "Protocol error: too big mbulk count string");
  // A later request's error does not leak into an earlier complete one.
  Result r = decodeOnce("*1\r\n$4\r\nPING\r\n*x\r\n");
  CHECK(r.status == Status::kRequest);
  CHECK(r.consumed == 14);
}

TEST_CASE("request decoder: caps") {
  DecodeLimits limits;
  limits.max_array_len = 3;
  limits.max_bulk_len = 10;
  limits.max_inline_len = 16;
  checkRequest(multibulk({"a", "b", "c"}), {"a", "b", "c"}, limits);
  checkError("*4\r\n", "Protocol error: invalid multibulk length", limits);
  checkRequest(multibulk({"0123456789"}), {"0123456789"}, limits);
  checkError("*1\r\n$11\r\n", "Protocol error: invalid bulk length", limits);
  checkInline("0123456789abcde\n", {"0123456789abcde"});
  Result ok = decodeOnce("0123456789abcdef\n", limits);
  CHECK(ok.status == Status::kRequest);
  checkError("0123456789abcdefg\n", "Protocol error: too big inline request", limits);
  checkError("0123456789abcdefg", "Protocol error: too big inline request", limits);
  CHECK(decodeOnce("0123456789abcdef", limits).status == Status::kNeedMore);
  checkError(longLine("*", 17, '1'), "Protocol error: too big mbulk count string", limits);
  // The default caps: 1M elements, 512 MiB bulks.
  CHECK(decodeOnce("*1048576\r\n").status == Status::kNeedMore);
  CHECK(decodeOnce("*1\r\n$536870912\r\n").status == Status::kNeedMore);
}

TEST_CASE("request decoder: inline") {
  checkInline("PING\r\n", {"PING"});
  checkInline("PING\n", {"PING"});
  checkInline("set a b\r\n", {"set", "a", "b"});
  checkInline("  set\t a \t b  \r\n", {"set", "a", "b"});
  checkInline("set \"a b\" 'c d'\r\n", {"set", "a b", "c d"});
  checkInline("echo \"\\x41\\x6a\\n\\r\\t\\b\\a\\\\\\\"\\q\"\r\n",
              {"echo", std::string("Aj\n\r\t\b\a\\\"q")});
  checkInline("echo \"\\x4\"\n", {"echo", "x4"});
  checkInline("echo 'it\\'s' 'a\\b'\n", {"echo", "it's", "a\\b"});
  checkInline("echo \"\" ''\n", {"echo", "", ""});
  checkInline("echo ab\"cd ef\" x\n", {"echo", "abcd ef", "x"});
  checkInline("echo \"a\"\n", {"echo", "a"});
  checkInline("echo \"a\"\t\"b\"\n", {"echo", "a", "b"});
  // \v and \f are blanks between arguments but ordinary bytes inside one (isspace vs switch).
  checkInline("echo \va\vb\n", {"echo", "a\vb"});
  checkInline("a\rb\r\n", {"a", "b"});
  // The line is a C string for Redis: a NUL ends it.
  checkInline(std::string("get a\0b c\n", 10), {"get", "a"});
  // The scratch is re-encoded as RESP; it decodes back to the same arguments.
  const std::string line = "set k \"\\x00\\r\\n*1\\r\\n$\"\n";
  Result r = decodeOnce(line);
  REQUIRE(r.status == Status::kRequest);
  CHECK(r.args == Args{"set", "k", std::string("\0\r\n*1\r\n$", 8)});
  Result again = decodeOnce(r.raw);
  CHECK(again.args == r.args);
}

TEST_CASE("request decoder: blank inline lines are skipped") {
  for (const char* in : {"\r\n", "\n", "   \r\n", "\t \n", "\r\r\n"}) {
    Result r = checkAllSplits(in);
    CHECK(r.status == Status::kSkip);
    CHECK(r.consumed == std::string_view(in).size());
  }
  Result r = decodeOnce(std::string("\0abc\n", 5));
  CHECK(r.status == Status::kSkip);
  CHECK(r.consumed == 5);
}

TEST_CASE("request decoder: inline errors") {
  const std::string unbalanced = "Protocol error: unbalanced quotes in request";
  checkError("set \"a b\r\n", unbalanced);
  checkError("set 'a b\r\n", unbalanced);
  checkError("set \"a\"b\r\n", unbalanced);
  checkError("set 'a'b\r\n", unbalanced);
  checkError("set \"a\\\"\r\n", unbalanced);
  checkError("set \"a\\\n", unbalanced);
  checkError("set 'a\\'\r\n", unbalanced);
  checkError(std::string(70000, 'a'), "Protocol error: too big inline request");
  checkError(std::string(65537, 'a') + "\n", "Protocol error: too big inline request");
  CHECK(decodeOnce(std::string(65536, 'a') + "\n").status == Status::kRequest);
  CHECK(decodeOnce(std::string(65536, 'a')).status == Status::kNeedMore);
}
