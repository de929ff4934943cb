// The platform's namespaces and users (as in the design doc), shared by the policy unit tests
// and the policy fuzz target.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "common/policy_config.h"
#include "policy/password.h"
#include "policy/policy.h"

namespace kw::testing {

inline NamespaceConfig makeNs(std::string name, std::string pattern, uint64_t default_ttl = 0,
                              uint64_t max_ttl = 0, bool required = false,
                              OverMaxTtl over = OverMaxTtl::kClamp, bool enforce_shape = true) {
  NamespaceConfig ns;
  ns.name = std::move(name);
  ns.pattern = std::move(pattern);
  ns.default_ttl_s = default_ttl;
  ns.max_ttl_s = max_ttl;
  ns.ttl_required = required;
  ns.over_max_ttl = over;
  ns.enforce_shape = enforce_shape;
  return ns;
}

// Password of every platform user: "<name>-secret". Hashing is done once per process.
inline PolicyConfig platformConfig() {
  static const std::string auth_hash = hashPassword("auth-service-secret");
  static const std::string user_hash = hashPassword("user-service-secret");
  static const std::string ops_hash = hashPassword("ops-secret");
  PolicyConfig c;
  c.default_user = "";
  c.outside_namespaces = OutsidePolicy::kRefuse;
  c.namespaces = {
      makeNs("session", "session:{user_id:uuid}:{session_id}", 2592000, 2592000, true),
      makeNs("blacklist:access", "blacklist:access:{jti}", 900, 900, true),
      makeNs("blacklist:refresh", "blacklist:refresh:{jti}", 2592000, 2592000, true),
      makeNs("profile", "profile:{user_id:int}"),
      makeNs("doc:processing", "doc:processing:{doc_id}", 600, 3600, true, OverMaxTtl::kRefuse),
      makeNs("rl", "rl:{bucket}:{client}", 60, 3600, true),
      makeNs("user:id", "user:id:{user_id:int}"),
      makeNs("user:email", "user:email:{email}"),
      makeNs("tenant-cache", "{tenant}:cache:{rest...}", 300, 86400, false),
  };
  UserConfig auth;
  auth.name = "auth-service";
  auth.password_hash = auth_hash;
  auth.read = {"session", "blacklist:*", "rl"};
  auth.write = {"session", "blacklist:*", "rl"};
  auth.categories = kCatRead | kCatWrite | kCatKeyspace;
  auth.channels = {"*"};
  UserConfig users;
  users.name = "user-service";
  users.password_hash = user_hash;
  users.read = {"profile", "user:*", "session"};
  users.write = {"profile", "user:*"};
  users.categories = kCatRead | kCatWrite | kCatKeyspace | kCatPubsub;
  users.channels = {"user:*", "profile.updated"};
  UserConfig ops;
  ops.name = "ops";
  ops.password_hash = ops_hash;
  ops.admin = true;
  c.users = {auth, users, ops};
  return c;
}

inline std::shared_ptr<const CompiledPolicy> platformPolicy() {
  std::string error;
  auto policy = CompiledPolicy::build(platformConfig(), &error);
  if (!policy)
    throw std::runtime_error("platform policy: " + error);
  return policy;
}

}  // namespace kw::testing
