// Policy configuration ([policy], [[namespaces]], [[users]] in the TOML file). Plain data; the
// compiled, fast form lives in src/policy/policy.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kw {

enum class OverMaxTtl { kClamp, kRefuse };
// kBlacklist: a token blacklist (revoked token ids). Every write must carry the token's expiry
// (refused otherwise, and refused beyond max_ttl_s: never clamped, since a clamped revocation makes
// a revoked token valid again); EXISTS/GET are answered from a replica in every worker
// (src/cache/blacklist_replica.h).
enum class NamespaceKind : uint8_t { kNormal, kBlacklist };
enum class OutsidePolicy { kAllow, kRefuse };

struct NamespaceConfig {
  std::string name;
  std::string pattern;         // e.g. "session:{user_id:uuid}:{session_id}"
  uint64_t default_ttl_s = 0;  // 0: none. SET without an expiry gets it.
  uint64_t max_ttl_s = 0;      // 0: no cap
  bool ttl_required = false;   // no key of this namespace may live without a TTL (needs default,
                               // except in a blacklist, where writes without one are refused)
  bool enforce_shape = true;   // keys under the prefix that do not match the pattern are refused
  OverMaxTtl over_max_ttl = OverMaxTtl::kClamp;
  NamespaceKind kind = NamespaceKind::kNormal;
  int line = 0;  // where it was declared, for messages
};

// Command categories a user may be granted (Redis ACL categories, coarse).
enum CategoryBit : uint32_t {
  kCatRead = 1u << 0,
  kCatWrite = 1u << 1,
  kCatKeyspace = 1u << 2,
  kCatPubsub = 1u << 3,
  kCatScripting = 1u << 4,
  kCatAdmin = 1u << 5,
  kCatDangerous = 1u << 6,
  kCatAll = 0x7f,
};

struct UserConfig {
  std::string name;
  std::string password_hash;  // "sha256$<salt hex>$<digest hex>"; see tools/hash-password
  bool nopass = false;        // any password (or none) authenticates, like Redis's nopass
  bool enabled = true;
  bool admin = false;             // admin commands, dangerous commands, every namespace
  std::vector<std::string> read;  // globs over namespace names; "@outside": keys in no namespace
  std::vector<std::string> write;
  uint32_t categories = 0;            // CategoryBit set
  std::vector<std::string> channels;  // pub/sub channel globs
  // A verified TLS client certificate whose subject CN or a subjectAltName (DNS, email, URI) is
  // exactly this logs its connection in as this user at the handshake, without AUTH. With it,
  // password_hash is optional. Needs [tls] client_certs = "require" or "optional".
  std::string cert_subject;
  int line = 0;
};

struct PolicyConfig {
  std::vector<NamespaceConfig> namespaces;
  std::vector<UserConfig> users;         // empty: one implicit "default" user with full access
  std::string default_user = "default";  // user of clients that never AUTH; "": none (NOAUTH)
  OutsidePolicy outside_namespaces = OutsidePolicy::kAllow;
  uint32_t auth_max_failures = 5;  // per client address within the window
  uint32_t auth_failure_window_s = 60;
  uint32_t auth_block_s = 30;
};

}  // namespace kw
