#include <set>
#include <string>

#include <doctest.h>

#include "policy/password.h"

namespace kw {
namespace {

TEST_CASE("password: hash format and verification") {
  const std::string h = hashPassword("s3cret");
  CHECK(h.size() == 7 + 32 + 1 + 64);
  CHECK(h.rfind("sha256$", 0) == 0);
  CHECK(h[39] == '$');
  CHECK(isValidPasswordHash(h));
  CHECK(verifyPassword(h, "s3cret"));
  CHECK_FALSE(verifyPassword(h, "s3cret "));
  CHECK_FALSE(verifyPassword(h, ""));
  CHECK_FALSE(verifyPassword(h, "S3cret"));
}

TEST_CASE("password: salts differ") {
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i)
    seen.insert(hashPassword("same"));
  CHECK(seen.size() == 20);
}

TEST_CASE("password: known vector (salt || password)") {
  // sha256(16 zero bytes || "abc"), computed independently with Python's hashlib.
  const std::string h = "sha256$00000000000000000000000000000000$"
                        "277e7ff6d232b9763f4a66e8d05d210da32dac9c6dbce1026ad4cc98acb5fefe";
  CHECK(isValidPasswordHash(h));
  CHECK(verifyPassword(h, "abc"));
  CHECK_FALSE(verifyPassword(h, "abd"));
}

TEST_CASE("password: empty and binary passwords") {
  const std::string h = hashPassword("");
  CHECK(verifyPassword(h, ""));
  CHECK_FALSE(verifyPassword(h, std::string(1, '\0')));
  const std::string bin("a\0b\xff", 4);
  const std::string hb = hashPassword(bin);
  CHECK(verifyPassword(hb, bin));
  CHECK_FALSE(verifyPassword(hb, "a"));
}

TEST_CASE("password: malformed hashes never verify") {
  const std::string good = hashPassword("x");
  CHECK_FALSE(isValidPasswordHash(""));
  CHECK_FALSE(isValidPasswordHash("x"));
  CHECK_FALSE(isValidPasswordHash("sha256$"));
  CHECK_FALSE(isValidPasswordHash("sha256$$"));
  CHECK_FALSE(isValidPasswordHash("SHA256" + good.substr(6)));
  CHECK_FALSE(isValidPasswordHash("sha512" + good.substr(6)));
  CHECK_FALSE(isValidPasswordHash(good + "0"));
  CHECK_FALSE(isValidPasswordHash(good.substr(0, good.size() - 1)));
  std::string bad = good;
  bad[10] = 'g';
  CHECK_FALSE(isValidPasswordHash(bad));
  CHECK_FALSE(verifyPassword(bad, "x"));
  bad = good;
  bad[39] = ':';
  CHECK_FALSE(isValidPasswordHash(bad));
  std::string upper = good;
  for (char& c : upper) {
    if (c >= 'a' && c <= 'f')
      c = static_cast<char>(c - 'a' + 'A');
  }
  upper.replace(0, 6, "sha256");
  CHECK(isValidPasswordHash(upper));
  CHECK(verifyPassword(upper, "x"));
  CHECK_FALSE(verifyPassword("plaintext", "plaintext"));
}

}  // namespace
}  // namespace kw
