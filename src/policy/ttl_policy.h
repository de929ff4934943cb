// The TTL stage: rewrites or refuses commands so keys of TTL-managed namespaces get and keep
// the TTLs their namespace demands, and lists follow-up commands for keys created without one.
// Pure: the clock is a parameter. The commands covered and how are documented at the top of
// ttl_policy.cc.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policy/access_check.h"
#include "policy/policy.h"
#include "proxy/command_table.h"

namespace kw {

enum class TtlDecision : uint8_t {
  kPass,     // send the command as it is
  kRefuse,   // answer scratch->error (without '-' and CRLF), send nothing
  kRewrite,  // send scratch->args instead of the command
};

// What happened, per namespace, for counters.
enum class TtlAction : uint8_t {
  kRewriteDefault,  // the namespace's default TTL was added (SET, GETSET, RESTORE ttl 0)
  kClamp,           // a TTL above max_ttl_s was lowered to it
  kRefuseMax,       // a TTL above max_ttl_s was refused (over_max_ttl = "refuse")
  kRefusePersist,   // PERSIST / GETEX PERSIST on a ttl_required namespace
  kRefuseNoExpiry,  // a blacklist write without the token's expiry
  kFollowup,        // an EXPIRE follow-up was queued for a key
};

struct TtlEvent {
  uint32_t ns;
  TtlAction action;
};

// Arguments of a rewritten command. clear() keeps the strings and their buffers, so rewriting
// the same kind of command again (every SET of a namespace with a default TTL) allocates nothing.
class ArgList {
public:
  void clear() { size_ = 0; }
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  void reserve(size_t n) {
    if (items_.size() < n)
      items_.resize(n);
  }
  void emplace_back(std::string_view s) { next().assign(s.data(), s.size()); }
  void push_back(std::string_view s) { emplace_back(s); }
  std::string& operator[](size_t i) { return items_[i]; }
  const std::string& operator[](size_t i) const { return items_[i]; }
  ArgList& operator=(std::initializer_list<std::string_view> list) {
    clear();
    for (std::string_view s : list)
      emplace_back(s);
    return *this;
  }
  const std::string* begin() const { return items_.data(); }
  const std::string* end() const { return items_.data() + size_; }
  operator std::vector<std::string>() const { return {begin(), end()}; }

private:
  std::string& next() {
    if (size_ == items_.size())
      items_.emplace_back();
    return items_[size_++];
  }
  std::vector<std::string> items_;
  size_t size_ = 0;
};

// Follow-up commands. clear() keeps every ArgList, so steady-state follow-ups allocate nothing.
class CommandList {
public:
  void clear() { size_ = 0; }
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  // A cleared ArgList at the end of the list, to fill in.
  ArgList& add() {
    if (size_ == items_.size())
      items_.emplace_back();
    ArgList& a = items_[size_++];
    a.clear();
    return a;
  }
  const ArgList* begin() const { return items_.data(); }
  const ArgList* end() const { return items_.data() + size_; }

private:
  std::vector<ArgList> items_;
  size_t size_ = 0;
};

struct TtlScratch {
  // Optional: namespaces the access check already resolved for these very arguments (same
  // views), so keys are not resolved twice. Must be null or filled for the current command.
  const PolicyScratch* resolved = nullptr;
  ArgList args;  // kRewrite: the command to send instead (args[0] included)
  // Unless kRefuse: commands to pipeline right after the command on the same upstream
  // connection, replies dropped: "EXPIRE key seconds NX" (and "EXPIRE key max LT").
  CommandList followups;
  std::vector<TtlEvent> events;
  std::string error;  // kRefuse: e.g. "ERR PERSIST refused: keys of namespace ..."
};

// args[0] is the command name. now_ms: the current Unix time in milliseconds, for EXAT, PXAT,
// EXPIREAT, PEXPIREAT and RESTORE ... ABSTTL. Clears the scratch first.
TtlDecision applyTtlPolicy(const CompiledPolicy& policy, const CommandInfo& cmd,
                           std::span<const std::string_view> args, int64_t now_ms,
                           TtlScratch* scratch);

}  // namespace kw
