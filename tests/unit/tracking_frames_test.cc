#include <string>
#include <vector>

#include <doctest.h>

#include "tracking/tracking_frames.h"

namespace kw {
namespace {

TEST_CASE("invalidation pushes are parsed; anything else is a reply or ignored") {
  std::vector<std::string_view> keys;
  const std::string two = ">2\r\n$10\r\ninvalidate\r\n*2\r\n$3\r\nk:1\r\n$5\r\nk:abc\r\n";
  REQUIRE(parseFeedFrame(two, &keys) == FeedFrameKind::kInvalidateKeys);
  REQUIRE(keys.size() == 2);
  CHECK(keys[0] == "k:1");
  CHECK(keys[1] == "k:abc");

  CHECK(parseFeedFrame(">2\r\n$10\r\ninvalidate\r\n_\r\n", &keys) == FeedFrameKind::kInvalidateAll);
  CHECK(keys.empty());
  // A key with CR LF inside is framed by its length.
  CHECK(parseFeedFrame(">2\r\n$10\r\ninvalidate\r\n*1\r\n$4\r\na\r\nb\r\n", &keys) ==
        FeedFrameKind::kInvalidateKeys);
  CHECK(keys.at(0) == "a\r\nb");
  CHECK(parseFeedFrame("+OK\r\n", &keys) == FeedFrameKind::kReply);
  CHECK(parseFeedFrame("-ERR x\r\n", &keys) == FeedFrameKind::kReply);
  CHECK(parseFeedFrame(">2\r\n$21\r\ntracking-redir-broken\r\n:5\r\n", &keys) ==
        FeedFrameKind::kOtherPush);
  CHECK(parseFeedFrame(">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n", &keys) ==
        FeedFrameKind::kOtherPush);
}

TEST_CASE("malformed invalidation pushes are reported, never half-parsed") {
  std::vector<std::string_view> keys;
  for (const char* bad :
       {">2\r\n$10\r\ninvalidate\r\n*2\r\n$3\r\nk:1\r\n",
        ">2\r\n$10\r\ninvalidate\r\n*1\r\n$9\r\nk:1\r\n", ">2\r\n$10\r\ninvalidate\r\n*-5\r\n",
        ">2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nk:1\r\nEXTRA", ">1\r\n$10\r\ninvalidate\r\n",
        ">x\r\n", ">2\r\n$99\r\nshort\r\n",
        ">2\r\n$10\r\ninvalidate\r\n*99999999999999999999\r\n"}) {
    CAPTURE(std::string(bad));
    CHECK(parseFeedFrame(bad, &keys) == FeedFrameKind::kMalformed);
    CHECK(keys.empty());
  }
}

TEST_CASE("prefixes sent to Redis never overlap: the shorter of two overlapping ones is kept") {
  using V = std::vector<std::string>;
  CHECK(nonOverlappingPrefixes({"user:id:", "user:", "profile:"}) == V{"profile:", "user:"});
  CHECK(nonOverlappingPrefixes({"b:", "a:", "b:", "a:x"}) == V{"a:", "b:"});
  CHECK(nonOverlappingPrefixes({"blacklist:access:", "blacklist:refresh:"}) ==
        V{"blacklist:access:", "blacklist:refresh:"});
  // Sorted order puts strings between a prefix and its extensions: they are still dropped.
  CHECK(nonOverlappingPrefixes({"ab", "a", "a!", "abc", "b"}) == V{"a", "b"});
  CHECK(nonOverlappingPrefixes({"x", ""}) == V{""});
  CHECK(nonOverlappingPrefixes({}).empty());
  // No result has one element starting another.
  const V out = nonOverlappingPrefixes({"s:1:", "s:", "s:2", "t", "tt", "u:v", "u:"});
  for (size_t i = 0; i < out.size(); ++i)
    for (size_t j = 0; j < out.size(); ++j)
      if (i != j)
        CHECK(out[j].rfind(out[i], 0) != 0);
  CHECK(underAnyPrefix("user:id:7", {"profile:", "user:"}));
  CHECK_FALSE(underAnyPrefix("use", {"user:"}));
}

}  // namespace
}  // namespace kw
