// The compiled policy: namespaces (key -> namespace), users with their grants resolved to
// per-namespace bits, and the TTL rules. Built once per config load from PolicyConfig, then
// shared read-only by every worker thread as std::shared_ptr<const CompiledPolicy>.
//
// Grants: a user's `read`/`write` entries are Redis-style globs over namespace names ("*" is
// every namespace), plus "@outside" for keys that belong to no namespace (honoured only while
// [policy] outside_namespaces = "allow"). Admin users are granted everything: every command,
// every key, every channel, whatever outside_namespaces says. The data rules (key shapes, TTLs)
// are not grants: they apply to admins too.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/policy_config.h"
#include "policy/namespace_index.h"

namespace kw {

inline constexpr std::string_view kOutsideGrant = "@outside";

struct CompiledUser {
  enum : uint8_t { kCanRead = 1, kCanWrite = 2 };

  std::string name;
  std::string password_hash;  // empty for nopass users and certificate-only users
  std::string cert_subject;   // "": none (UserConfig::cert_subject)
  bool nopass = false;
  bool enabled = true;
  bool admin = false;
  uint32_t categories = 0;         // CategoryBit set (kCatAll for admins)
  std::vector<uint8_t> ns_access;  // per namespace id: kCanRead | kCanWrite
  bool outside_read = false;       // keys in no namespace (already false under "refuse")
  bool outside_write = false;
  std::vector<std::string> channels;  // pub/sub channel globs
  bool all_channels = false;          // admin, or a "*" channel grant
  bool read_everything = false;       // every namespace and outside readable (SORT BY/GET)
  bool full_key_access = false;

  // Every command, key and channel is granted (admins only, since other users never run
  // dangerous commands), so callers may skip checkAccess() unless the policy has a key shape to
  // enforce (CompiledPolicy::anyShapeRule): shapes bind admins too.
  bool fullAccess() const { return admin; }

  // Admin, or every namespace and the outside readable and writable with no namespace enforcing
  // a key shape: checkAccess() still checks the command, channels and key shapes, but no grant.
  bool fullKeyAccess() const { return full_key_access; }

  // ns is a namespace id or Resolution::kNone (no namespace).
  bool canRead(uint32_t ns) const {
    return ns == Resolution::kNone ? outside_read : (ns_access[ns] & kCanRead) != 0;
  }
  bool canWrite(uint32_t ns) const {
    return ns == Resolution::kNone ? outside_write : (ns_access[ns] & kCanWrite) != 0;
  }

  // nopass, or the password matches the hash (constant-time). Ignores `enabled`.
  bool checkPassword(std::string_view password) const;
};

class CompiledPolicy {
public:
  // nullptr with *error set ("namespace 'x': ...", "user 'y': ...") when the config is invalid.
  // config_loader.cc reports the same problems with line numbers first. `previous` (the policy
  // being replaced by a reload) passes on the counter ids of its namespaces' names.
  static std::shared_ptr<const CompiledPolicy> build(const PolicyConfig& config, std::string* error,
                                                     const CompiledPolicy* previous = nullptr);

  const NamespaceIndex& namespaces() const { return index_; }
  size_t namespaceCount() const { return config_.namespaces.size(); }
  const NamespaceConfig& ns(uint32_t id) const { return config_.namespaces[id]; }

  const CompiledUser* findUser(std::string_view name) const;  // nullptr if unknown
  // The user of clients that never AUTH; nullptr (clients must AUTH first) when default_user is
  // "" or names a disabled user.
  const CompiledUser* defaultUser() const { return default_user_; }
  bool requiresAuth() const { return default_user_ == nullptr; }

  // The user a verified client certificate logs in as: the first of its `names` (subject CN,
  // then subjectAltNames, as TlsChannel::peerSubjectNames lists them) that is an enabled user's
  // cert_subject, compared byte for byte. nullptr: none (the connection stays as any new one is:
  // the default user, or none when clients must AUTH).
  const CompiledUser* userForCertificate(std::span<const std::string> names) const;

  // The user `name` when it exists, is enabled and `password` is right; nullptr otherwise
  // (Redis: "WRONGPASS invalid username-password pair or user is disabled."). Unknown users cost
  // the same hashing as known ones, so timing does not reveal which names exist.
  const CompiledUser* authenticate(std::string_view name, std::string_view password) const;

  const std::vector<CompiledUser>& users() const { return users_; }
  OutsidePolicy outsideNamespaces() const { return config_.outside_namespaces; }
  const PolicyConfig& config() const { return config_; }

  // Counters kept per namespace (metrics, INFO, KEYWARDEN NAMESPACES) are indexed by a counter
  // id that belongs to the namespace's name, not to its place in the file: a name keeps the id
  // the previous policy gave it, a new name takes the next unused one. So a reload that reorders,
  // adds or removes namespaces leaves every count with its name. Resolution::kNone (no
  // namespace) maps to itself.
  uint32_t counterId(uint32_t ns) const { return ns == Resolution::kNone ? ns : counter_ids_[ns]; }
  // Every name that has had a counter id in this process, by id, including namespaces a reload
  // removed (their counts are still there).
  const std::vector<std::string>& counterNames() const { return counter_names_; }

  // Whether any namespace enforces its key shape (enforce_shape).
  bool anyShapeRule() const { return any_shape_rule_; }

  // Whether namespace `id` has any TTL rule (default, maximum or required).
  bool hasTtlRules(uint32_t id) const { return ttl_rules_[id] != 0; }
  bool anyTtlRules() const { return any_ttl_rules_; }

  CompiledPolicy(const CompiledPolicy&) = delete;  // users hold views of themselves
  CompiledPolicy& operator=(const CompiledPolicy&) = delete;

private:
  CompiledPolicy() = default;

  PolicyConfig config_;
  NamespaceIndex index_;
  std::vector<CompiledUser> users_;
  std::unordered_map<std::string_view, size_t> user_index_;  // views into users_[i].name
  std::unordered_map<std::string_view, size_t> cert_index_;  // views into users_[i].cert_subject
  const CompiledUser* default_user_ = nullptr;
  std::vector<uint8_t> ttl_rules_;
  bool any_ttl_rules_ = false;
  bool any_shape_rule_ = false;
  std::vector<uint32_t> counter_ids_;       // per namespace id
  std::vector<std::string> counter_names_;  // per counter id
};

// Parses one `commands` entry of a user: "read", "write", "keyspace", "pubsub", "scripting",
// "admin", "dangerous" or "all". Returns 0 when unknown.
uint32_t parseCategory(std::string_view name);

// The problem with one namespace's own settings ("ttl_required needs default_ttl_s > 0"), or ""
// when fine. Shared with config_loader.cc.
std::string validateNamespaceTtl(const NamespaceConfig& ns);

// Checks a namespace name: non-empty, printable, no glob characters, not starting with '@'.
// Returns the problem or "".
std::string validateNamespaceName(std::string_view name);

// Checks a user name: non-empty, printable, no spaces. Returns the problem or "".
std::string validateUserName(std::string_view name);

// Checks a cert_subject: non-empty, at most kMaxCertSubjectLength bytes, no control characters
// (a certificate name may hold spaces and UTF-8). Returns the problem or "".
inline constexpr size_t kMaxCertSubjectLength = 1024;
std::string validateCertSubject(std::string_view subject);

// Checks a `read`/`write` grant against the declared namespace names: "@outside", a glob, or
// the exact name of a namespace. Returns the problem or "".
std::string validateGrant(std::string_view grant, const std::vector<NamespaceConfig>& namespaces);

}  // namespace kw
