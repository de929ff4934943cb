#include "policy/password.h"

#include <sodium.h>

#include <cstdint>
#include <cstdlib>

namespace kw {
namespace {

constexpr std::string_view kScheme = "sha256$";
constexpr size_t kSaltBytes = 16;
constexpr size_t kDigestBytes = crypto_hash_sha256_BYTES;

void initSodium() {
  // Safe to call repeatedly and from several threads; fails only when no entropy source exists,
  // where issuing salts would be unsafe anyway.
  if (sodium_init() < 0)
    std::abort();
}

bool decodeHex(std::string_view hex, unsigned char* out, size_t out_len) {
  if (hex.size() != out_len * 2)
    return false;
  for (char c : hex) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!ok)
      return false;
  }
  size_t written = 0;
  return sodium_hex2bin(out, out_len, hex.data(), hex.size(), nullptr, &written, nullptr) == 0 &&
         written == out_len;
}

std::string encodeHex(const unsigned char* bytes, size_t len) {
  std::string out(len * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), bytes, len);
  out.pop_back();
  return out;
}

void digestOf(const unsigned char* salt, std::string_view password, unsigned char* digest) {
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  crypto_hash_sha256_update(&state, salt, kSaltBytes);
  crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(password.data()),
                            password.size());
  crypto_hash_sha256_final(&state, digest);
}

bool split(std::string_view hash, unsigned char* salt, unsigned char* digest) {
  if (hash.substr(0, kScheme.size()) != kScheme)
    return false;
  hash.remove_prefix(kScheme.size());
  const size_t dollar = hash.find('$');
  if (dollar == std::string_view::npos)
    return false;
  return decodeHex(hash.substr(0, dollar), salt, kSaltBytes) &&
         decodeHex(hash.substr(dollar + 1), digest, kDigestBytes);
}

}  // namespace

std::string hashPassword(std::string_view password) {
  initSodium();
  unsigned char salt[kSaltBytes];
  unsigned char digest[kDigestBytes];
  randombytes_buf(salt, sizeof salt);
  digestOf(salt, password, digest);
  std::string out(kScheme);
  out += encodeHex(salt, sizeof salt);
  out += '$';
  out += encodeHex(digest, sizeof digest);
  sodium_memzero(digest, sizeof digest);
  return out;
}

bool verifyPassword(std::string_view hash, std::string_view password) {
  initSodium();
  unsigned char salt[kSaltBytes];
  unsigned char want[kDigestBytes];
  if (!split(hash, salt, want))
    return false;
  unsigned char got[kDigestBytes];
  digestOf(salt, password, got);
  const bool ok = sodium_memcmp(got, want, kDigestBytes) == 0;
  sodium_memzero(got, sizeof got);
  return ok;
}

bool isValidPasswordHash(std::string_view hash) {
  unsigned char salt[kSaltBytes];
  unsigned char digest[kDigestBytes];
  return split(hash, salt, digest);
}

}  // namespace kw
