#include "policy/access_check.h"

#include "policy/byte_repr.h"
#include "policy/command_traits.h"
#include "policy/glob.h"

namespace kw {
namespace {

constexpr size_t kMaxShown = 128;  // bytes of a key or channel quoted in a reply

enum Access : uint8_t { kNeedRead = 1, kNeedWrite = 2 };

// Container commands are named "name|subcommand" in NOPERM replies, as Redis 7.2 does.
bool isContainer(std::string_view name) {
  static constexpr std::string_view kContainers[] = {
      "acl",    "client", "cluster", "command", "config",  "function", "latency", "memory",
      "module", "object", "pubsub",  "script",  "slowlog", "xgroup",   "xinfo"};
  for (std::string_view c : kContainers) {
    if (c == name)
      return true;
  }
  return false;
}

void appendCommandName(std::string* out, const CommandInfo& cmd,
                       std::span<const std::string_view> args) {
  out->append(cmd.name);
  if (args.size() >= 2 && isContainer(cmd.name)) {
    out->push_back('|');
    std::string lower(args[1].substr(0, 32));
    for (char& c : lower) {
      if (c >= 'A' && c <= 'Z')
        c = static_cast<char>(c - 'A' + 'a');
    }
    appendByteRepr(out, lower, 32);
  }
}

bool refuseCommand(const CompiledUser& user, const CommandInfo& cmd,
                   std::span<const std::string_view> args, std::string_view why,
                   std::string* error_reply) {
  std::string& e = *error_reply;
  e = "NOPERM User ";
  e += user.name;
  e += " has no permissions to run the '";
  appendCommandName(&e, cmd, args);
  e += "' command (";
  e += why;
  e += ')';
  return false;
}

bool isDangerous(const CommandInfo& cmd, std::span<const std::string_view> args) {
  if (cmd.flags & kDangerous)
    return true;
  if (args.size() < 2)
    return false;
  if (cmd.name == "script")
    return optionIs(args[1], "flush");
  if (cmd.name == "function") {
    return optionIs(args[1], "flush") || optionIs(args[1], "delete") ||
           optionIs(args[1], "restore");
  }
  return false;
}

uint32_t categoriesOf(uint32_t flags) {
  uint32_t cats = 0;
  if (flags & kRead)
    cats |= kCatRead;
  if (flags & kWrite)
    cats |= kCatWrite;
  if (flags & kKeyspace)
    cats |= kCatKeyspace;
  if (flags & kPubsub)
    cats |= kCatPubsub;
  if (flags & kScripting)
    cats |= kCatScripting;
  if (flags & kAdmin)
    cats |= kCatAdmin;
  return cats;
}

bool checkCategories(const CompiledUser& user, const CommandInfo& cmd,
                     std::span<const std::string_view> args, std::string* error_reply) {
  if ((cmd.flags & kScripting) && !(user.categories & kCatScripting)) {
    return refuseCommand(user, cmd, args, "category 'scripting' is not granted", error_reply);
  }
  const uint32_t cats = categoriesOf(cmd.flags);
  if (cats == 0 || (cats & user.categories) != 0)
    return true;
  static constexpr struct {
    uint32_t bit;
    std::string_view name;
  } kNames[] = {{kCatRead, "read"},     {kCatWrite, "write"},         {kCatKeyspace, "keyspace"},
                {kCatPubsub, "pubsub"}, {kCatScripting, "scripting"}, {kCatAdmin, "admin"}};
  std::string why;
  int count = 0;
  for (const auto& n : kNames) {
    if (!(cats & n.bit))
      continue;
    why += count++ ? ", '" : "'";
    why += n.name;
    why += '\'';
  }
  why = (count == 1 ? "category " : "categories ") + why +
        (count == 1 ? " is not granted" : " are not granted");
  return refuseCommand(user, cmd, args, why, error_reply);
}

uint8_t baseAccess(const CommandInfo& cmd) {
  if (cmd.flags & kScripting)
    return (cmd.flags & kRead) ? kNeedRead : kNeedRead | kNeedWrite;
  if (cmd.flags & kWrite)
    return kNeedWrite;
  return kNeedRead;
}

uint8_t keyAccess(uint8_t base, KeyLayout layout, int pos, int sort_store) {
  if (base != kNeedWrite)
    return base;
  switch (layout) {
  case KeyLayout::kAllKeys:
    return base;
  case KeyLayout::kDestArg1:
    return pos == 1 ? kNeedWrite : kNeedRead;
  case KeyLayout::kDestArg2:
    return pos == 2 ? kNeedWrite : kNeedRead;
  case KeyLayout::kSortStore:
    return pos == sort_store ? kNeedWrite : kNeedRead;
  }
  return base;
}

bool refuseKey(const CompiledPolicy& policy, const CompiledUser& user, std::string_view key,
               uint32_t ns, std::string_view verb, std::string* error_reply) {
  std::string& e = *error_reply;
  e = "NOPERM User ";
  e += user.name;
  e += " has no permissions to access the '";
  appendByteRepr(&e, key, kMaxShown);
  e += "' key (";
  if (ns == Resolution::kNone) {
    e += "keys outside every namespace are not ";
    e += verb;
  } else {
    e += "namespace '";
    appendByteRepr(&e, policy.ns(ns).name);
    e += "' is not ";
    e += verb;
  }
  e += " by this user)";
  return false;
}

bool checkKey(const CompiledPolicy& policy, const CompiledUser& user, std::string_view key,
              Resolution r, uint8_t access, std::string* error_reply) {
  if (!r.found() && policy.outsideNamespaces() == OutsidePolicy::kRefuse) {
    std::string& e = *error_reply;
    e = "NOPERM key '";
    appendByteRepr(&e, key, kMaxShown);
    e += "' is outside every namespace";
    return false;
  }
  if ((access & kNeedRead) && !user.canRead(r.ns)) {
    return refuseKey(policy, user, key, r.ns, "readable", error_reply);
  }
  if ((access & kNeedWrite) && !user.canWrite(r.ns)) {
    return refuseKey(policy, user, key, r.ns, "writable", error_reply);
  }
  if (r.found() && !r.shape_ok && policy.ns(r.ns).enforce_shape) {
    *error_reply = "ERR " + policy.namespaces().describeMismatch(key, r.ns);
    return false;
  }
  return true;
}

bool channelAllowed(const CompiledUser& user, std::string_view channel, bool is_pattern) {
  if (user.all_channels)
    return true;
  for (const std::string& granted : user.channels) {
    // As Redis: a subscription pattern must be granted literally, since a pattern matching
    // a granted glob could still match channels outside it.
    if (is_pattern ? granted == channel : globMatch(granted, channel))
      return true;
  }
  return false;
}

bool checkChannels(const CompiledUser& user, const CommandInfo& cmd,
                   std::span<const std::string_view> args, std::string* error_reply) {
  size_t end = 0;
  bool is_pattern = false;
  if (cmd.name == "publish" || cmd.name == "spublish") {
    end = args.size() < 2 ? args.size() : 2;
  } else if (cmd.name == "subscribe" || cmd.name == "ssubscribe") {
    end = args.size();
  } else if (cmd.name == "psubscribe") {
    end = args.size();
    is_pattern = true;
  }
  for (size_t i = 1; i < end; ++i) {
    if (channelAllowed(user, args[i], is_pattern))
      continue;
    std::string& e = *error_reply;
    e = "NOPERM User ";
    e += user.name;
    e += " has no permissions to access the '";
    appendByteRepr(&e, args[i], kMaxShown);
    e += "' channel";
    return false;
  }
  return true;
}

// XREAD/XREADGROUP keys, found as Redis's xreadCommand parses its options: in order, each
// option skipping its values, keywords compared as C strings. A plain search for "STREAMS" would
// be fooled by `GROUP streams consumer STREAMS key id` or by "STREAMS\0x".
void streamKeyPositions(std::span<const std::string_view> args, std::vector<int>* out) {
  const size_t n = args.size();
  for (size_t i = 1; i < n; ++i) {
    const size_t more = n - i - 1;
    if ((optionIs(args[i], "block") || optionIs(args[i], "count")) && more >= 1) {
      ++i;
    } else if (optionIs(args[i], "group") && more >= 2) {
      i += 2;
    } else if (optionIs(args[i], "noack")) {
    } else if (optionIs(args[i], "streams") && more >= 1) {
      if (more % 2 != 0)
        return;  // Redis: unbalanced list of streams
      for (size_t k = 0; k < more / 2; ++k)
        out->push_back(static_cast<int>(i + 1 + k));
      return;
    } else {
      return;  // Redis: syntax error
    }
  }
}

}  // namespace

bool checkAccess(const CompiledPolicy& policy, const CompiledUser& user, const CommandInfo& cmd,
                 std::span<const std::string_view> args, PolicyScratch* scratch,
                 std::string* error_reply) {
  scratch->positions.clear();
  scratch->ns_ids.clear();
  if (!user.admin) {
    if (isDangerous(cmd, args)) {
      return refuseCommand(user, cmd, args,
                           cmd.id == CmdId::kKeys ? "use SCAN instead of KEYS"
                                                  : "dangerous commands need an admin user",
                           error_reply);
    }
    if (!checkCategories(user, cmd, args, error_reply))
      return false;
  }

  if (cmd.keys == KeySpec::kStreams) {
    streamKeyPositions(args, &scratch->positions);
  } else {
    CommandTable::keyPositions(cmd, args.size(), args.data(), &scratch->positions);
  }
  const bool is_sort = cmd.name == "sort" || cmd.name == "sort_ro";
  int sort_store = -1;
  if (is_sort) {
    const SortOptions sort = parseSortOptions(args);
    if ((sort.by_pattern || sort.get_pattern) && !user.read_everything) {
      *error_reply = sort.by_pattern
                         ? "ERR BY option of SORT denied due to insufficient ACL permissions."
                         : "ERR GET option of SORT denied due to insufficient ACL permissions.";
      return false;
    }
    if (cmd.name == "sort" && sort.last_store > 0) {
      sort_store = sort.last_store;
      scratch->positions.push_back(sort_store);
    }
  }

  const uint8_t base = baseAccess(cmd);
  KeyLayout layout = KeyLayout::kAllKeys;
  if (is_sort) {
    layout = KeyLayout::kSortStore;
  } else if (base == kNeedWrite && scratch->positions.size() > 1 && !user.full_key_access) {
    layout = commandTraitsFor(cmd).layout;
  }
  for (int pos : scratch->positions) {
    const std::string_view key = args[static_cast<size_t>(pos)];
    const Resolution r = policy.namespaces().resolve(key);
    scratch->ns_ids.push_back(r.ns);
    if (user.full_key_access) {
      // No grant to check; the key's shape is a data rule, not access: it binds admins too.
      if (!r.shape_ok && r.found() && policy.ns(r.ns).enforce_shape) {
        *error_reply = "ERR " + policy.namespaces().describeMismatch(key, r.ns);
        return false;
      }
      continue;
    }
    if (!checkKey(policy, user, key, r, keyAccess(base, layout, pos, sort_store), error_reply)) {
      return false;
    }
  }

  if ((cmd.flags & kPubsub) && !checkChannels(user, cmd, args, error_reply))
    return false;
  return true;
}

}  // namespace kw
