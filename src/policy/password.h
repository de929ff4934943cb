// Password hashes of configured users: "sha256$<salt hex>$<digest hex>", digest =
// SHA-256(salt || password), salt 16 random bytes. Produced by tools/hash-password.
#pragma once

#include <string>
#include <string_view>

namespace kw {

// A fresh random salt every call.
std::string hashPassword(std::string_view password);

// Constant-time in the digest comparison; false on a malformed hash.
bool verifyPassword(std::string_view hash, std::string_view password);

// "sha256$" + 32 hex digits + "$" + 64 hex digits (either case).
bool isValidPasswordHash(std::string_view hash);

}  // namespace kw
