// The access gate: may this user run this command with these keys and channels? Pure and
// allocation-free on success in steady state (the scratch keeps its capacity between calls).
//
// Order of checks, first failure wins (replies are given without the leading '-' and CRLF):
//   1. dangerous commands (kDangerous, SCRIPT FLUSH, FUNCTION FLUSH|DELETE|RESTORE) need an
//      admin user:  NOPERM User u has no permissions to run the 'flushall' command (dangerous
//      commands need an admin user)        KEYS: ... (use SCAN instead of KEYS)
//   2. command categories: a command is allowed when any of its categories (read, write,
//      keyspace, pubsub, admin) is granted; scripting commands always need `scripting` (a script
//      can reach keys it does not declare); commands with no category are always allowed.
//   3. every key, in argument order: outside every namespace under outside_namespaces="refuse"
//      -> NOPERM key 'k' is outside every namespace; no permission -> NOPERM User u has no
//      permissions to access the 'k' key (namespace 'n' is not readable by this user); a key
//      under a namespace's prefix that does not match its pattern, when enforce_shape ->
//      ERR key 'k' does not match namespace 'n' (pattern). Read commands need read, write
//      commands write, scripts (not *_RO) both, commands that are neither (WATCH) read. The
//      sources of store commands (SINTERSTORE dest src..., COPY src dest, BITOP, SORT ... STORE)
//      need only read. SORT/SORT_RO BY or GET patterns need read access to every key.
//   4. channels of PUBLISH, SPUBLISH, SUBSCRIBE, SSUBSCRIBE (matched against the user's channel
//      globs) and PSUBSCRIBE (the pattern must equal a granted glob, or "*" is granted):
//      NOPERM User u has no permissions to access the 'ch' channel
// Admin users pass every check but the key shape: grants are access, a namespace's shape is a
// data rule that binds everyone (as do the TTL rules of ttl_policy.h). Keys and channels are
// shown escaped and cut to 128 bytes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policy/policy.h"
#include "proxy/command_table.h"

namespace kw {

struct PolicyScratch {
  std::vector<int> positions;  // key argument indexes, as CommandTable::keyPositions (+ SORT STORE)
  std::vector<uint32_t> ns_ids;  // namespace of each key, parallel to positions; Resolution::kNone
                                 // for keys in no namespace. Filled up to the refused key.
};

// args[0] is the command name. On refusal returns false and sets *error_reply.
bool checkAccess(const CompiledPolicy& policy, const CompiledUser& user, const CommandInfo& cmd,
                 std::span<const std::string_view> args, PolicyScratch* scratch,
                 std::string* error_reply);

}  // namespace kw
