#include "budget/doctor.h"

#include <algorithm>
#include <charconv>

#include "budget/resp_reply.h"

namespace kw {
namespace {

std::string errorText(const RespReply& r, std::string_view reply) {
  if (r.root().type == RespNode::Type::kError)
    return std::string(r.root().text.substr(0, 200));
  const size_t eol = reply.find('\r');
  return "unexpected reply " + std::string(reply.substr(0, std::min<size_t>(eol, 80)));
}

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < s.size()) {
    while (pos < s.size() && s[pos] == ' ')
      ++pos;
    const size_t end = std::min(s.find(' ', pos), s.size());
    if (end > pos)
      out.push_back(s.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

// `bind` reaches beyond loopback: empty (every interface), a wildcard, or any other address.
bool bindExposed(std::string_view bind) {
  const std::vector<std::string_view> addrs = words(bind);
  if (addrs.empty())
    return true;
  for (std::string_view a : addrs) {
    if (!a.empty() && a[0] == '-')
      a.remove_prefix(1);  // "-::1": optional, same address
    if (!isLoopbackHost(a))
      return true;
  }
  return false;
}

std::string mib(uint64_t bytes) {
  char buf[64];
  snprintf(buf, sizeof buf, "%llu bytes (%.1f MiB)", static_cast<unsigned long long>(bytes),
           static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

}  // namespace

bool isLoopbackHost(std::string_view host) {
  if (host == "localhost" || host == "::1" || host == "0:0:0:0:0:0:0:1")
    return true;
  return host.substr(0, 4) == "127.";
}

void readConfigReply(std::string_view reply, DoctorFacts* f) {
  RespReply r;
  if (!r.parse(reply) ||
      (r.root().type != RespNode::Type::kArray && r.root().type != RespNode::Type::kMap)) {
    f->config_error = errorText(r, reply);
    return;
  }
  f->config_read = true;
  const RespNode& root = r.root();
  auto text = [&](std::string_view key) {
    const RespNode& v = r.field(root, key);
    return v.isText() ? std::string(v.text) : std::string();
  };
  int64_t maxmemory = 0;
  respInteger(r.field(root, "maxmemory"), &maxmemory);
  f->maxmemory = maxmemory > 0 ? static_cast<uint64_t>(maxmemory) : 0;
  f->policy = text("maxmemory-policy");
  f->save = text("save");
  f->appendonly = text("appendonly");
  f->bind = text("bind");
  f->protected_mode = text("protected-mode");
  f->full_coverage = text("cluster-require-full-coverage");
}

void readAclReply(std::string_view reply, DoctorFacts* f) {
  RespReply r;
  if (!r.parse(reply) || r.root().type != RespNode::Type::kArray) {
    f->acl_error = errorText(r, reply);
    return;
  }
  f->acl_read = true;
  f->default_user_on = false;
  f->default_user_nopass = false;
  for (uint32_t i = 0; i < r.root().count; ++i) {
    const RespNode& line = r.child(r.root(), i);
    if (!line.isText())
      continue;
    const std::vector<std::string_view> w = words(line.text);
    if (w.size() < 2 || w[0] != "user" || w[1] != "default")
      continue;
    for (std::string_view token : w) {
      if (token == "on")
        f->default_user_on = true;
      else if (token == "nopass")
        f->default_user_nopass = true;
    }
  }
}

void readCommandStatsReply(std::string_view reply, DoctorFacts* f) {
  RespReply r;
  if (!r.parse(reply) || r.root().type != RespNode::Type::kBulk) {
    f->info_error = errorText(r, reply);
    return;
  }
  f->info_read = true;
  constexpr std::string_view kLine = "cmdstat_keys:calls=";
  const std::string_view text = r.root().text;
  size_t pos = 0;
  while ((pos = text.find(kLine, pos)) != std::string_view::npos) {
    if (pos == 0 || text[pos - 1] == '\n') {
      const char* first = text.data() + pos + kLine.size();
      std::from_chars(first, text.data() + text.size(), f->keys_calls);
      return;
    }
    pos += kLine.size();
  }
}

std::vector<std::string> diagnose(const DoctorFacts& f) {
  std::vector<std::string> out;
  if (!f.config_read) {
    out.push_back("cannot read the upstream's configuration (CONFIG GET: " + f.config_error +
                  "): maxmemory, its policy, persistence and the budgets' total were not checked");
  } else {
    if (f.maxmemory == 0)
      out.push_back("maxmemory is not set: Redis grows until the machine runs out of memory; set "
                    "maxmemory (the platform runs 2gb) with maxmemory-policy allkeys-lru");
    if (f.policy == "noeviction")
      out.push_back("maxmemory-policy is noeviction: once memory is full every write fails with "
                    "-OOM; the platform runs allkeys-lru");
    if ((f.save.empty() || f.save == "\"\"") && f.appendonly != "yes")
      out.push_back("persistence is off (no save points, appendonly no): a restart loses every "
                    "key, sessions and revoked tokens included");
  }
  if (!f.acl_read) {
    out.push_back("cannot read the upstream's users (ACL LIST: " + f.acl_error +
                  "): password protection was not checked");
  } else if (f.default_user_on && f.default_user_nopass) {
    const bool upstream_remote = !isLoopbackHost(f.upstream_host);
    const bool exposed = f.config_read && f.protected_mode == "no" && bindExposed(f.bind);
    if (upstream_remote || exposed)
      out.push_back("the default user has no password (no requirepass, no ACL) on a Redis "
                    "reachable beyond loopback (" +
                    std::string(upstream_remote ? "keywarden reaches it at " + f.upstream_host
                                                : "bind '" + f.bind + "', protected-mode no") +
                    "): anyone who can reach it reads and writes every key");
  }
  if (!f.info_read)
    out.push_back("cannot read the upstream's command statistics (INFO commandstats: " +
                  f.info_error + "): use of KEYS was not checked");
  else if (f.keys_calls > 0)
    out.push_back("clients have called KEYS " + std::to_string(f.keys_calls) +
                  " times since Redis started (INFO commandstats): KEYS blocks Redis while it "
                  "walks every key; use SCAN");
  uint64_t sum = 0;
  for (const auto& [name, bytes] : f.budgets)
    sum += bytes;
  const uint64_t capacity = f.maxmemory * std::max<uint32_t>(1, f.masters);
  if (f.config_read && f.cluster && f.full_coverage == "yes")
    out.push_back("cluster-require-full-coverage is yes: while any slot has no master, every "
                  "node refuses every command (CLUSTERDOWN), so keys of healthy masters fail too; "
                  "set it to no");
  if (f.config_read && f.maxmemory > 0 && sum > capacity)
    out.push_back("the memory budgets add up to " + mib(sum) + ", more than maxmemory (" +
                  mib(capacity) + (f.masters > 1 ? " on all masters together" : "") +
                  "): Redis's own eviction, across every namespace, runs before the budgets "
                  "are reached");
  return out;
}

void runDoctor(BudgetRedis* redis, DoctorFacts facts,
               std::function<void(std::vector<std::string>)> done) {
  struct Run {
    DoctorFacts facts;
    int remaining = 3;
    std::function<void(std::vector<std::string>)> done;
    void finishOne() {
      if (--remaining == 0 && done)
        done(diagnose(facts));
    }
  };
  auto run = std::make_shared<Run>();
  run->facts = std::move(facts);
  run->done = std::move(done);
  const std::string_view config[] = {"CONFIG",
                                     "GET",
                                     "maxmemory",
                                     "maxmemory-policy",
                                     "save",
                                     "appendonly",
                                     "bind",
                                     "protected-mode",
                                     "cluster-require-full-coverage"};
  redis->send(config, [run](std::string_view reply) {
    readConfigReply(reply, &run->facts);
    run->finishOne();
  });
  const std::string_view acl[] = {"ACL", "LIST"};
  redis->send(acl, [run](std::string_view reply) {
    readAclReply(reply, &run->facts);
    run->finishOne();
  });
  const std::string_view info[] = {"INFO", "commandstats"};
  redis->send(info, [run](std::string_view reply) {
    readCommandStatsReply(reply, &run->facts);
    run->finishOne();
  });
}

}  // namespace kw
