#include <chrono>
#include <string>

#include <doctest.h>

#include "policy/glob.h"

namespace kw {
namespace {

TEST_CASE("glob: literals, * and ?") {
  CHECK(globMatch("session", "session"));
  CHECK_FALSE(globMatch("session", "sessions"));
  CHECK_FALSE(globMatch("session", "sessio"));
  CHECK(globMatch("*", ""));
  CHECK(globMatch("*", "anything:at:all"));
  CHECK(globMatch("blacklist:*", "blacklist:access"));
  CHECK(globMatch("blacklist:*", "blacklist:"));
  CHECK_FALSE(globMatch("blacklist:*", "blacklist"));
  CHECK(globMatch("*:access", "blacklist:access"));
  CHECK(globMatch("b*l*t:*s", "blacklist:access"));
  CHECK(globMatch("user:??", "user:id"));
  CHECK_FALSE(globMatch("user:??", "user:email"));
  CHECK_FALSE(globMatch("?", ""));
  CHECK(globMatch("a**b", "ab"));
  CHECK(globMatch("", ""));
  CHECK_FALSE(globMatch("", "a"));
  CHECK(globMatch("*a*a*a", "aaa"));
  CHECK_FALSE(globMatch("*a*a*a*a", "aaa"));
}

TEST_CASE("glob: sets, ranges, negation and escapes, as Redis") {
  CHECK(globMatch("h[ae]llo", "hello"));
  CHECK(globMatch("h[ae]llo", "hallo"));
  CHECK_FALSE(globMatch("h[ae]llo", "hillo"));
  CHECK(globMatch("h[^e]llo", "hallo"));
  CHECK_FALSE(globMatch("h[^e]llo", "hello"));
  CHECK(globMatch("h[a-b]llo", "hbllo"));
  CHECK(globMatch("h[b-a]llo", "hallo"));  // reversed range
  CHECK_FALSE(globMatch("h[a-b]llo", "hcllo"));
  CHECK(globMatch("a\\*b", "a*b"));
  CHECK_FALSE(globMatch("a\\*b", "axb"));
  CHECK(globMatch("[\\]]", "]"));
  CHECK(globMatch("a\\", "a\\"));  // trailing backslash is literal
  CHECK(globMatch("[abc", "b"));   // unterminated set runs to the end
  CHECK_FALSE(globMatch("[abc", "d"));
  CHECK(globMatch("*[0-9]", "rl9"));
}

TEST_CASE("glob: binary subjects") {
  CHECK(globMatch("a?c", std::string("a\0c", 3)));
  CHECK(globMatch(std::string("a\0*", 3), std::string("a\0zz", 4)));
  CHECK(globMatch("[\x80-\xff]", "\xc3"));
}

TEST_CASE("glob: adversarial input stays polynomial") {
  const std::string subject(20000, 'a');
  const std::string pattern = std::string(30, 'a') + "*a*a*a*a*a*a*a*a*a*a*a*b";
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(globMatch(pattern, subject));
  CHECK_FALSE(globMatch(std::string(5000, '*') + "b", subject));
  CHECK(globMatch(std::string(5000, '*') + "a", subject));
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(took < std::chrono::seconds(2));
}

TEST_CASE("glob: wildcard detection") {
  CHECK_FALSE(globHasWildcard("session"));
  CHECK_FALSE(globHasWildcard("blacklist:access"));
  CHECK(globHasWildcard("blacklist:*"));
  CHECK(globHasWildcard("user:?d"));
  CHECK(globHasWildcard("[ab]"));
  CHECK_FALSE(globHasWildcard("a\\*"));
}

}  // namespace
}  // namespace kw
