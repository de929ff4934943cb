#include "policy/policy.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "policy/byte_repr.h"
#include "policy/glob.h"
#include "policy/key_pattern.h"
#include "policy/password.h"

namespace kw {
namespace {

constexpr size_t kMaxNameLength = 128;

std::string quoted(std::string_view s) {
  std::string out = "'";
  appendByteRepr(&out, s, kMaxNameLength);
  out += '\'';
  return out;
}

// A hash of a password nobody knows, verified against for unknown user names.
const std::string& decoyHash() {
  static const std::string* hash = new std::string(hashPassword("keywarden decoy"));
  return *hash;
}

// Resolves a user's grant list to bits in user->ns_access; *outside is set by "@outside".
void applyGrants(const std::vector<std::string>& grants, const PolicyConfig& config, uint8_t bit,
                 CompiledUser* user, bool* outside) {
  for (const std::string& grant : grants) {
    if (grant == kOutsideGrant) {
      *outside = true;
      continue;
    }
    for (size_t i = 0; i < config.namespaces.size(); ++i) {
      if (globMatch(grant, config.namespaces[i].name))
        user->ns_access[i] |= bit;
    }
  }
}

}  // namespace

bool CompiledUser::checkPassword(std::string_view password) const {
  return nopass || verifyPassword(password_hash, password);
}

uint32_t parseCategory(std::string_view name) {
  if (name == "read")
    return kCatRead;
  if (name == "write")
    return kCatWrite;
  if (name == "keyspace")
    return kCatKeyspace;
  if (name == "pubsub")
    return kCatPubsub;
  if (name == "scripting")
    return kCatScripting;
  if (name == "admin")
    return kCatAdmin;
  if (name == "dangerous")
    return kCatDangerous;
  if (name == "all")
    return kCatAll;
  return 0;
}

std::string validateNamespaceTtl(const NamespaceConfig& ns) {
  if (ns.kind == NamespaceKind::kBlacklist) {
    // Each revocation carries its token's expiry: nothing gets a default, nothing is clamped.
    if (ns.max_ttl_s == 0)
      return "a blacklist namespace needs max_ttl_s > 0 (the longest token lifetime)";
    if (ns.default_ttl_s != 0)
      return "a blacklist namespace takes no default_ttl_s (writes without an expiry are refused)";
    if (ns.over_max_ttl != OverMaxTtl::kRefuse)
      return "a blacklist namespace refuses expiries over max_ttl_s (over_max_ttl = \"refuse\")";
    if (!ns.ttl_required)
      return "a blacklist namespace needs ttl_required = true";
    return "";
  }
  if (ns.ttl_required && ns.default_ttl_s == 0) {
    return "ttl_required needs default_ttl_s > 0 (the TTL given to keys created without one)";
  }
  if (ns.default_ttl_s != 0 && ns.max_ttl_s != 0 && ns.default_ttl_s > ns.max_ttl_s) {
    return "default_ttl_s (" + std::to_string(ns.default_ttl_s) + ") exceeds max_ttl_s (" +
           std::to_string(ns.max_ttl_s) + ")";
  }
  return "";
}

std::string validateNamespaceName(std::string_view name) {
  if (name.empty())
    return "must not be empty";
  if (name.size() > kMaxNameLength) {
    return "longer than " + std::to_string(kMaxNameLength) + " bytes";
  }
  if (name[0] == '@')
    return "must not start with '@' (reserved for grants like @outside)";
  for (char c : name) {
    if (c <= 0x20 || c >= 0x7f)
      return "only printable ASCII without spaces is allowed";
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') {
      return "must not contain glob characters * ? [ ] \\";
    }
  }
  return "";
}

std::string validateUserName(std::string_view name) {
  if (name.empty())
    return "must not be empty";
  if (name.size() > kMaxNameLength) {
    return "longer than " + std::to_string(kMaxNameLength) + " bytes";
  }
  for (char c : name) {
    if (c <= 0x20 || c >= 0x7f)
      return "only printable ASCII without spaces is allowed";
  }
  return "";
}

std::string validateCertSubject(std::string_view subject) {
  if (subject.empty())
    return "must not be empty";
  if (subject.size() > kMaxCertSubjectLength)
    return "longer than " + std::to_string(kMaxCertSubjectLength) + " bytes";
  for (char c : subject) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return "control characters are not allowed";
  }
  return "";
}

std::string validateGrant(std::string_view grant, const std::vector<NamespaceConfig>& namespaces) {
  if (grant.empty())
    return "empty grant";
  if (grant == kOutsideGrant || globHasWildcard(grant))
    return "";
  for (const NamespaceConfig& ns : namespaces) {
    if (globMatch(grant, ns.name))
      return "";
  }
  return "no namespace is named " + quoted(grant);
}

std::shared_ptr<const CompiledPolicy> CompiledPolicy::build(const PolicyConfig& config,
                                                            std::string* error,
                                                            const CompiledPolicy* previous) {
  auto fail = [error](std::string message) -> std::shared_ptr<const CompiledPolicy> {
    if (error != nullptr)
      *error = std::move(message);
    return nullptr;
  };
  std::shared_ptr<CompiledPolicy> policy(new CompiledPolicy());
  policy->config_ = config;

  std::vector<NamespaceDef> defs;
  defs.reserve(config.namespaces.size());
  for (const NamespaceConfig& ns : config.namespaces) {
    const std::string where = "namespace " + quoted(ns.name) + ": ";
    std::string problem = validateNamespaceName(ns.name);
    if (!problem.empty())
      return fail(where + "name " + problem);
    problem = validateNamespaceTtl(ns);
    if (!problem.empty())
      return fail(where + problem);
    std::optional<KeyPattern> pattern = KeyPattern::parse(ns.pattern, &problem);
    if (!pattern)
      return fail(where + "pattern: " + problem);
    if (ns.kind == NamespaceKind::kBlacklist && pattern->literalPrefix().empty())
      return fail(where + "a blacklist namespace's pattern must start with literal text");
    defs.push_back({ns.name, std::move(*pattern)});
  }
  std::string problem;
  std::optional<NamespaceIndex> index = NamespaceIndex::build(std::move(defs), &problem);
  if (!index)
    return fail(problem);
  policy->index_ = std::move(*index);

  policy->ttl_rules_.resize(config.namespaces.size());
  for (size_t i = 0; i < config.namespaces.size(); ++i) {
    const NamespaceConfig& ns = config.namespaces[i];
    policy->ttl_rules_[i] = ns.default_ttl_s != 0 || ns.max_ttl_s != 0 || ns.ttl_required;
    policy->any_ttl_rules_ |= policy->ttl_rules_[i] != 0;
  }

  bool any_shape_rule = false;
  for (const NamespaceConfig& ns : config.namespaces)
    any_shape_rule |= ns.enforce_shape;
  policy->any_shape_rule_ = any_shape_rule;

  if (previous != nullptr)
    policy->counter_names_ = previous->counter_names_;
  for (const NamespaceConfig& ns : config.namespaces) {
    const auto& names = policy->counter_names_;
    const auto known = std::find(names.begin(), names.end(), ns.name);
    policy->counter_ids_.push_back(static_cast<uint32_t>(known - names.begin()));
    if (known == names.end())
      policy->counter_names_.push_back(ns.name);
  }
  const bool outside_allowed = config.outside_namespaces == OutsidePolicy::kAllow;

  if (config.users.empty()) {
    // No users declared: one implicit user that may do everything, as Redis's default user.
    CompiledUser user;
    user.name = "default";
    user.nopass = true;
    user.admin = true;
    policy->users_.push_back(std::move(user));
  }
  for (const UserConfig& uc : config.users) {
    const std::string where = "user " + quoted(uc.name) + ": ";
    problem = validateUserName(uc.name);
    if (!problem.empty())
      return fail(where + "name " + problem);
    if (!uc.cert_subject.empty()) {
      problem = validateCertSubject(uc.cert_subject);
      if (!problem.empty())
        return fail(where + "cert_subject " + problem);
    }
    const bool certificate_only = uc.password_hash.empty() && !uc.cert_subject.empty();
    if (!uc.nopass && !certificate_only && !isValidPasswordHash(uc.password_hash)) {
      return fail(where + (uc.password_hash.empty()
                               ? "needs password_hash, nopass = true or cert_subject"
                               : "password_hash is not \"sha256$<32 hex>$<64 hex>\""));
    }
    if ((uc.categories & ~static_cast<uint32_t>(kCatAll)) != 0) {
      return fail(where + "unknown command category bits");
    }
    for (const auto* list : {&uc.read, &uc.write}) {
      for (const std::string& grant : *list) {
        problem = validateGrant(grant, config.namespaces);
        if (!problem.empty())
          return fail(where + problem);
      }
    }
    CompiledUser user;
    user.name = uc.name;
    user.password_hash = uc.nopass ? "" : uc.password_hash;
    user.cert_subject = uc.cert_subject;
    user.nopass = uc.nopass;
    user.enabled = uc.enabled;
    user.admin = uc.admin;
    user.categories = uc.categories;
    user.channels = uc.channels;
    policy->users_.push_back(std::move(user));
  }

  for (size_t u = 0; u < policy->users_.size(); ++u) {
    CompiledUser& user = policy->users_[u];
    user.ns_access.assign(config.namespaces.size(), 0);
    if (user.admin) {
      user.categories = kCatAll;
      user.ns_access.assign(config.namespaces.size(),
                            CompiledUser::kCanRead | CompiledUser::kCanWrite);
      user.outside_read = user.outside_write = true;
      user.all_channels = true;
    } else {
      const UserConfig& uc = config.users[u];
      bool outside_read = false;
      bool outside_write = false;
      applyGrants(uc.read, config, CompiledUser::kCanRead, &user, &outside_read);
      applyGrants(uc.write, config, CompiledUser::kCanWrite, &user, &outside_write);
      user.outside_read = outside_allowed && outside_read;
      user.outside_write = outside_allowed && outside_write;
      for (const std::string& ch : user.channels)
        user.all_channels |= ch == "*";
    }
    bool all_read = user.outside_read;
    bool all_write = user.outside_write;
    for (uint8_t bits : user.ns_access) {
      all_read &= (bits & CompiledUser::kCanRead) != 0;
      all_write &= (bits & CompiledUser::kCanWrite) != 0;
    }
    user.read_everything = user.admin || all_read;
    user.full_key_access = user.admin || (all_read && all_write && !any_shape_rule);
    if (!policy->user_index_.emplace(user.name, u).second) {
      return fail("user " + quoted(user.name) + ": declared twice");
    }
    if (!user.cert_subject.empty()) {
      const auto [it, added] = policy->cert_index_.emplace(user.cert_subject, u);
      if (!added)
        return fail("user " + quoted(user.name) + ": cert_subject " + quoted(user.cert_subject) +
                    " is already user " + quoted(policy->users_[it->second].name) + "'s");
    }
  }

  if (!config.default_user.empty()) {
    const CompiledUser* user = policy->findUser(config.default_user);
    if (user == nullptr) {
      return fail("default_user " + quoted(config.default_user) + " is not a declared user");
    }
    policy->default_user_ = user->enabled ? user : nullptr;
  }
  return policy;
}

const CompiledUser* CompiledPolicy::findUser(std::string_view name) const {
  auto it = user_index_.find(name);
  return it == user_index_.end() ? nullptr : &users_[it->second];
}

const CompiledUser* CompiledPolicy::userForCertificate(std::span<const std::string> names) const {
  for (const std::string& name : names) {
    const auto it = cert_index_.find(name);
    if (it != cert_index_.end() && users_[it->second].enabled)
      return &users_[it->second];
  }
  return nullptr;
}

const CompiledUser* CompiledPolicy::authenticate(std::string_view name,
                                                 std::string_view password) const {
  const CompiledUser* user = findUser(name);
  if (user == nullptr || (user->password_hash.empty() && !user->nopass)) {
    // Unknown, or a user with no password (its certificate logs it in): the same hashing, so
    // timing does not tell which.
    (void)verifyPassword(decoyHash(), password);
    return nullptr;
  }
  const bool ok = user->checkPassword(password);
  return ok && user->enabled ? user : nullptr;
}

}  // namespace kw
