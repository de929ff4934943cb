// The policy chain of the request path, one gate per function, each answering a refusal with a
// canned error and a counter, and returning false when the request stops there:
//
//   gateAuth    no user yet: only AUTH, HELLO, PING, QUIT              -NOAUTH
//   gateAccess  command category, dangerous commands, every key's
//               namespace and read/write grant, key shape (admins:
//               only the shape), channels                             -NOPERM / -ERR key ...
//   gateTtl     default TTL added, TTL clamped or refused, PERSIST
//               refused, EXPIRE ... NX follow-ups for created keys      -ERR TTL ...
//
// The stages themselves are pure functions in src/policy/; this file only connects them to
// the session.
#include "common/log.h"
#include "policy/access_check.h"
#include "policy/policy.h"
#include "policy/ttl_policy.h"
#include "proxy/resp_writer.h"
#include "proxy/session.h"
#include "proxy/shared_state.h"
#include "proxy/worker.h"

#include <sys/time.h>

namespace kw {
namespace {

template <typename Args> void encodeCommand(std::string* out, const Args& args) {
  resp::arrayHeader(out, static_cast<int64_t>(args.size()));
  for (const std::string& a : args)
    resp::bulk(out, a);
}

TtlCounter ttlCounter(TtlAction a) {
  switch (a) {
  case TtlAction::kRewriteDefault:
    return TtlCounter::kDefaultApplied;
  case TtlAction::kClamp:
    return TtlCounter::kClamped;
  case TtlAction::kRefuseMax:
    return TtlCounter::kRefusedMax;
  case TtlAction::kRefusePersist:
    return TtlCounter::kRefusedPersist;
  case TtlAction::kFollowup:
    return TtlCounter::kFollowup;
  case TtlAction::kRefuseNoExpiry:
    return TtlCounter::kRefusedNoExpiry;
  }
  return TtlCounter::kFollowup;
}

// True when the first args.size() arguments of `out` are `args` byte for byte.
bool sameLeadingArgs(const ArgList& out, const std::vector<std::string_view>& args) {
  for (size_t i = 0; i < args.size(); ++i)
    if (std::string_view(out[i]) != args[i])
      return false;
  return true;
}

}  // namespace

uint32_t metricsNs(uint32_t counter_id) {
  if (counter_id == Resolution::kNone)
    return kNoNamespace;
  return counter_id < kMaxNamespaces ? counter_id : kOtherNamespace;
}

bool Session::gateAuth(const DecodedRequest& req, const CommandInfo* cmd) {
  if (user_)
    return true;
  if (cmd) {
    switch (cmd->id) {
    case CmdId::kAuth:
    case CmdId::kPing:
    case CmdId::kQuit:
      return true;
    case CmdId::kHello: {
      // HELLO may authenticate; without AUTH it is refused like any command.
      for (size_t i = 2; i < req.args.size(); ++i)
        if (req.args[i].size() == 4 && (req.args[i][0] == 'a' || req.args[i][0] == 'A'))
          return true;
      worker_->metrics().recordAuthFailure();
      replyError("NOAUTH HELLO must be called with the client already authenticated, otherwise "
                 "the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the "
                 "client and select the RESP protocol version at the same time");
      return false;
    }
    default:
      break;
    }
  }
  current_outcome_ = Outcome::kRefusedAuth;
  replyError("NOAUTH Authentication required.");
  return false;
}

bool Session::gateAccess(const DecodedRequest& req, const CommandInfo* cmd) {
  access_checked_ = false;
  // Only AUTH, HELLO AUTH, PING and QUIT get here without a user; they touch no keys.
  if (!user_)
    return true;
  const CompiledPolicy& policy = worker_->policy();
  if (user_->fullAccess()) {
    // Admins skip the grants, not the data rules. Without a key shape to enforce, the only
    // work is the first key's namespace, for the counters; with one, every key goes through
    // checkAccess below, which checks an admin's keys for their shape and nothing else.
    if (!cmd || policy.namespaceCount() == 0 || (cmd->flags & kNoKeys))
      return true;
    if (!policy.anyShapeRule()) {
      current_ns_ = policy.counterId(firstKeyNs(req, *cmd));
      return true;
    }
  }
  if (!cmd) {
    // Without a command-table row its keys are unknown, and keys are never guessed.
    current_outcome_ = Outcome::kRefusedAcl;
    replyError("NOPERM User " + user_->name + " has no permissions to run the '" +
               std::string(req.args[0].substr(0, 64)) + "' command (unknown command)");
    return false;
  }
  std::string err;
  if (!checkAccess(policy, *user_, *cmd, std::span<const std::string_view>(req.args),
                   &scratch_->access, &err)) {
    current_outcome_ =
        err.compare(0, 3, "ERR") == 0 ? Outcome::kRefusedShape : Outcome::kRefusedAcl;
    if (!scratch_->access.ns_ids.empty())
      current_ns_ = policy.counterId(scratch_->access.ns_ids.back());
    replyError(err);
    return false;
  }
  access_checked_ = true;  // the TTL stage reuses these resolutions
  if (!scratch_->access.ns_ids.empty())
    current_ns_ = policy.counterId(scratch_->access.ns_ids.front());
  // Commands that would show keys of every namespace.
  if (!user_->read_everything) {
    if (cmd->id == CmdId::kScan) {
      filter_scan_ = true;
    } else if (cmd->name == "randomkey") {
      current_outcome_ = Outcome::kRefusedAcl;
      replyError("NOPERM User " + user_->name +
                 " has no permissions to run the 'randomkey' command (it can return keys of "
                 "namespaces this user may not read; use SCAN)");
      return false;
    }
  }
  return true;
}

uint32_t Session::firstKeyNs(const DecodedRequest& req, const CommandInfo& cmd) {
  scratch_->access.positions.clear();
  scratch_->access.ns_ids.clear();
  CommandTable::keyPositions(cmd, req.args.size(), req.args.data(), &scratch_->access.positions);
  if (scratch_->access.positions.empty())
    return Resolution::kNone;
  const uint32_t ns =
      worker_->policy().namespaces().resolve(req.args[scratch_->access.positions[0]]).ns;
  scratch_->access.ns_ids.push_back(ns);  // the TTL stage reuses it
  access_checked_ = true;
  return ns;
}

bool Session::gateTtl(const DecodedRequest& req, const CommandInfo* cmd, DecodedRequest* rewritten,
                      const DecodedRequest** effective) {
  const CompiledPolicy& policy = worker_->policy();
  if (!cmd || !policy.anyTtlRules() || !(cmd->flags & (kWrite | kKeyspace | kScripting)))
    return true;
  scratch_->ttl.resolved = access_checked_ ? &scratch_->access : nullptr;
  TtlDecision d = applyTtlPolicy(policy, *cmd, std::span<const std::string_view>(req.args),
                                 worker_->unixNowMs(), &scratch_->ttl);
  for (const TtlEvent& e : scratch_->ttl.events)
    worker_->metrics().recordTtl(metricsNs(policy.counterId(e.ns)), ttlCounter(e.action));
  if (d == TtlDecision::kRefuse) {
    current_outcome_ = Outcome::kRefusedTtl;
    replyError(scratch_->ttl.error);
    return false;
  }
  if (d == TtlDecision::kRewrite) {
    const ArgList& out = scratch_->ttl.args;
    const size_t n = req.args.size();
    scratch_->rewrite_buf.clear();
    if (out.size() > n && !req.raw.empty() && req.raw[0] == '*' && sameLeadingArgs(out, req.args)) {
      // Only arguments were appended (SET k v -> SET k v EX ttl, the common case): keep the
      // client's bytes, patch the count, append the new arguments.
      const size_t body = req.raw.find("\r\n") + 2;
      resp::arrayHeader(&scratch_->rewrite_buf, static_cast<int64_t>(out.size()));
      scratch_->rewrite_buf.append(req.raw.substr(body));
      for (size_t i = n; i < out.size(); ++i)
        resp::bulk(&scratch_->rewrite_buf, out[i]);
    } else {
      encodeCommand(&scratch_->rewrite_buf, out);
    }
    rewritten->raw = scratch_->rewrite_buf;
    rewritten->args.assign(out.begin(), out.end());
    *effective = rewritten;
  }
  scratch_->followups.clear();
  scratch_->followup_count = 0;
  for (const ArgList& f : scratch_->ttl.followups) {
    encodeCommand(&scratch_->followups, f);
    ++scratch_->followup_count;
  }
  return true;
}

// Pipelined right behind the command on the same connection; their replies are dropped, so
// the client sees exactly the reply of its own command.
void Session::sendFollowups() {
  if (scratch_->followup_count == 0)
    return;
  if (in_multi_) {
    // Inside MULTI they would show up in EXEC's reply: they go right after EXEC instead.
    x().post_exec.append(scratch_->followups);
    x().post_exec_count += scratch_->followup_count;
  } else {
    router_.sendDropped(scratch_->followups, scratch_->followup_count);
  }
  scratch_->followups.clear();
  scratch_->followup_count = 0;
}

void Session::onPolicyChanged() {
  if (closed_)
    return;
  const CompiledPolicy& policy = worker_->policy();
  if (!explicit_auth_) {
    user_ = policy.defaultUser();
    return;
  }
  const CompiledUser* u = policy.findUser(cx().user_name);
  if (!u || !u->enabled) {
    KW_LOG_INFO("closing client %s: user '%s' no longer exists or is disabled", addr_.c_str(),
                cx().user_name.c_str());
    user_ = nullptr;
    closeAfterReplies();
    return;
  }
  user_ = u;
}

// Authenticates as `name` with `password`; on failure *err holds the reply (without '-').
bool Session::authenticate(std::string_view name, std::string_view password, bool one_arg_form,
                           std::string* err) {
  SharedState& sh = worker_->shared();
  const PolicyConfig& pc = worker_->config().policy;
  const AuthThrottle::Limits limits{pc.auth_max_failures, pc.auth_failure_window_s,
                                    pc.auth_block_s};
  const std::string_view host = hostOf(addr_);
  const int64_t now = static_cast<int64_t>(worker_->nowMs());
  if (!sh.auth_throttle.allowed(host, now, limits)) {
    worker_->metrics().recordAuthFailure();
    *err = "ERR too many failed authentication attempts from this address; try again later";
    return false;
  }
  const CompiledPolicy& policy = worker_->policy();
  const CompiledUser* known = policy.findUser(name);
  if (one_arg_form && known && known->nopass) {
    *err = "ERR AUTH <password> called without any password configured for the default user. "
           "Are you sure your configuration is correct?";
    return false;
  }
  const CompiledUser* u = policy.authenticate(name, password);
  if (!u) {
    worker_->metrics().recordAuthFailure();
    sh.auth_throttle.recordFailure(host, now, limits);
    KW_LOG_INFO("authentication failed for user '%.*s' from %s",
                static_cast<int>(std::min<size_t>(name.size(), 64)), name.data(), addr_.c_str());
    *err = "WRONGPASS invalid username-password pair or user is disabled.";
    return false;
  }
  sh.auth_throttle.recordSuccess(host);
  user_ = u;
  x().user_name = u->name;
  explicit_auth_ = true;
  return true;
}

// SCAN by a user who may not read everything: keys of namespaces it may not read are removed
// from the page; the cursor is untouched, so the iteration still completes.
std::string Session::filterScanReply(std::string_view reply) const {
  // *2\r\n $n\r\n<cursor>\r\n *k\r\n ($n\r\n<key>\r\n)*k   (same shape in RESP3)
  auto line = [&](size_t* pos, char type, long long* n) {
    if (*pos >= reply.size() || reply[*pos] != type)
      return false;
    size_t eol = reply.find("\r\n", *pos);
    if (eol == std::string_view::npos)
      return false;
    char* end = nullptr;
    *n = std::strtoll(reply.data() + *pos + 1, &end, 10);
    if (end != reply.data() + eol)
      return false;
    *pos = eol + 2;
    return true;
  };
  size_t pos = 0;
  long long n = 0, len = 0, count = 0;
  if (!line(&pos, '*', &n) || n != 2 || !line(&pos, '$', &len) || len < 0)
    return std::string(reply);
  const std::string_view cursor = reply.substr(pos, static_cast<size_t>(len));
  pos += static_cast<size_t>(len) + 2;
  if (!line(&pos, '*', &count) || count < 0)
    return std::string(reply);
  const CompiledPolicy& policy = worker_->policy();
  std::vector<std::string_view> keep;
  for (long long i = 0; i < count; ++i) {
    if (!line(&pos, '$', &len) || len < 0 || pos + static_cast<size_t>(len) > reply.size())
      return std::string(reply);
    std::string_view key = reply.substr(pos, static_cast<size_t>(len));
    pos += static_cast<size_t>(len) + 2;
    if (user_ && user_->canRead(policy.namespaces().resolve(key).ns))
      keep.push_back(key);
  }
  std::string out;
  resp::arrayHeader(&out, 2);
  resp::bulk(&out, cursor);
  resp::arrayHeader(&out, static_cast<int64_t>(keep.size()));
  for (std::string_view k : keep)
    resp::bulk(&out, k);
  return out;
}

}  // namespace kw
