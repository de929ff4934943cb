// Operator commands answered by the proxy: INFO (the proxy's sections, plus the upstream's),
// CLIENT LIST / KILL over every worker's clients, SLOWLOG, and the KEYWARDEN family.
// Queries that need every worker's view run on each worker's own thread (Worker::post) and are
// answered when the last worker has replied: no session state is read across threads.
#include <algorithm>
#include <atomic>
#include <charconv>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <span>

#include <unistd.h>

#include "cluster/fan_out.h"
#include "common/ascii.h"
#include "common/log.h"
#include "policy/policy.h"
#include "proxy/client_filter.h"
#include "proxy/cluster_admin.h"
#include "proxy/feature.h"
#include "proxy/reload.h"
#include "proxy/resp_writer.h"
#include "proxy/session.h"
#include "proxy/shared_state.h"
#include "proxy/tls_report.h"
#include "proxy/upstream_conn.h"
#include "proxy/worker.h"

namespace kw {
namespace {

constexpr const char* kVersion = "0.1.0";

// Runs `part` on every worker's thread, then `done` with all parts on `origin`'s thread.
void broadcast(Worker& origin, std::function<std::string(Worker&)> part,
               std::function<void(std::vector<std::string>&)> done) {
  struct State {
    std::mutex mu;
    std::vector<std::string> parts;
    size_t remaining;
    std::function<std::string(Worker&)> part;
    std::function<void(std::vector<std::string>&)> done;
    Worker* origin;
  };
  auto& workers = origin.shared().workers;
  auto st = std::make_shared<State>();
  st->parts.resize(workers.size());
  st->remaining = workers.size();
  st->part = std::move(part);
  st->done = std::move(done);
  st->origin = &origin;
  auto finishOne = [st](size_t i, std::string text) {
    bool last = false;
    {
      std::lock_guard<std::mutex> lock(st->mu);
      st->parts[i] = std::move(text);
      last = --st->remaining == 0;
    }
    if (last && !st->origin->post([st] { st->done(st->parts); })) {
      // The origin loop is gone (shutting down): nobody is waiting any more.
    }
  };
  for (size_t i = 0; i < workers.size(); ++i) {
    Worker* w = workers[i];
    if (!w->post([st, w, i, finishOne] { finishOne(i, st->part(*w)); }))
      finishOne(i, {});
  }
}

bool globMatch(std::string_view pat, std::string_view s) {
  // Iterative '*' / '?' matcher with one backtrack point: linear in practice, never exponential.
  size_t p = 0, i = 0, star = std::string_view::npos, mark = 0;
  while (i < s.size()) {
    if (p < pat.size() && (pat[p] == '?' || pat[p] == s[i])) {
      ++p;
      ++i;
    } else if (p < pat.size() && pat[p] == '*') {
      star = p++;
      mark = i;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      i = ++mark;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*')
    ++p;
  return p == pat.size();
}

std::string hostPort(const HostPort& hp) {
  if (hp.isUnix())
    return "unix:" + hp.unix_path;
  if (hp.empty())
    return "";  // server.listen = "": TLS only
  return (hp.host.find(':') != std::string::npos ? "[" + hp.host + "]" : hp.host) + ":" +
         std::to_string(hp.port);
}

// Every setting as "section.key" -> text, for KEYWARDEN CONFIG GET. Secrets are masked.
std::vector<std::pair<std::string, std::string>> flattenConfig(const Config& c) {
  std::vector<std::pair<std::string, std::string>> kv;
  auto add = [&](std::string k, std::string v) { kv.emplace_back(std::move(k), std::move(v)); };
  auto num = [](uint64_t v) { return std::to_string(v); };
  add("server.listen", hostPort(c.server.listen));
  if (c.server.listen.isUnix()) {
    char mode[8];
    snprintf(mode, sizeof mode, "%04o", c.server.unix_mode);
    add("server.unix_mode", mode);
  }
  add("server.workers", num(c.server.workers));
  add("server.shutdown_deadline_ms", num(c.server.shutdown_deadline_ms));
  add("server.log_level", logLevelName(c.server.log_level));
  add("upstream.mode", upstreamModeName(c.upstream.mode));
  add("upstream.address", hostPort(c.upstream.address));
  std::string seeds;
  for (const HostPort& seed : c.upstream.seeds)
    seeds += (seeds.empty() ? "" : ",") + hostPort(seed);
  add("upstream.seeds", seeds);
  add("upstream.topology_refresh_ms", num(c.upstream.topology_refresh_ms));
  add("upstream.max_redirects", num(c.upstream.max_redirects));
  std::string sentinels;
  for (const HostPort& s : c.upstream.sentinels)
    sentinels += (sentinels.empty() ? "" : ",") + hostPort(s);
  add("upstream.sentinels", sentinels);
  add("upstream.master_name", c.upstream.master_name);
  add("upstream.sentinel_username", c.upstream.sentinel_username);
  add("upstream.sentinel_password", c.upstream.sentinel_password.empty() ? "" : "********");
  add("upstream.username", c.upstream.username);
  add("upstream.password", c.upstream.password.empty() ? "" : "********");
  add("upstream.db", std::to_string(c.upstream.db));
  add("upstream.connections", num(c.upstream.connections));
  add("upstream.connect_timeout_ms", num(c.upstream.connect_timeout_ms));
  add("upstream.request_timeout_ms", num(c.upstream.request_timeout_ms));
  add("upstream.reconnect_backoff_min_ms", num(c.upstream.reconnect_backoff_min_ms));
  add("upstream.reconnect_backoff_max_ms", num(c.upstream.reconnect_backoff_max_ms));
  add("upstream.pinned_pool_size", num(c.upstream.pinned_pool_size));
  add("upstream.busy_threshold_ms", num(c.upstream.busy_threshold_ms));
  add("upstream.tls", c.upstream.tls.enabled ? "yes" : "no");
  add("upstream.tls_ca_file", c.upstream.tls.ca_file);
  add("upstream.tls_cert_file", c.upstream.tls.cert_file);
  add("upstream.tls_key_file", c.upstream.tls.key_file);
  add("upstream.tls_server_name", c.upstream.tls.server_name);
  add("upstream.tls_verify", c.upstream.tls.verify ? "yes" : "no");
  add("limits.max_clients", num(c.limits.max_clients));
  add("limits.idle_timeout_s", num(c.limits.idle_timeout_s));
  add("limits.max_reply_buffer_bytes", num(c.limits.max_reply_buffer_bytes));
  add("limits.reply_stall_timeout_s", num(c.limits.reply_stall_timeout_s));
  add("limits.max_query_buffer_bytes", num(c.limits.max_query_buffer_bytes));
  add("limits.max_bulk_len", num(c.limits.max_bulk_len));
  add("limits.max_array_len", num(c.limits.max_array_len));
  add("limits.max_inline_len", num(c.limits.max_inline_len));
  add("limits.preauth_max_bulk_len", num(c.limits.preauth_max_bulk_len));
  add("limits.preauth_max_array_len", num(c.limits.preauth_max_array_len));
  add("metrics.enabled", c.metrics.enabled ? "yes" : "no");
  add("metrics.collect", c.metrics.collect ? "yes" : "no");
  add("metrics.listen", hostPort(c.metrics.listen));
  add("tls.listen", c.tls.enabled ? hostPort(c.tls.listen) : "");  // "": no TLS listener
  add("tls.cert_file", c.tls.cert_file);
  add("tls.key_file", c.tls.key_file);
  add("tls.ca_file", c.tls.ca_file);
  add("tls.client_certs", c.tls.client_certs == ClientCerts::kRequire    ? "require"
                          : c.tls.client_certs == ClientCerts::kOptional ? "optional"
                                                                         : "off");
  add("tls.min_version", c.tls.min_version == TlsMinVersion::k13 ? "1.3" : "1.2");
  add("tls.ciphers", c.tls.ciphers);
  add("tls.ciphersuites", c.tls.ciphersuites);
  add("slowlog.threshold_us", std::to_string(c.slowlog.threshold_us));
  add("slowlog.max_len", num(c.slowlog.max_len));
  add("policy.default_user", c.policy.default_user);
  add("policy.outside_namespaces",
      c.policy.outside_namespaces == OutsidePolicy::kAllow ? "allow" : "refuse");
  add("policy.auth_max_failures", num(c.policy.auth_max_failures));
  add("policy.auth_failure_window_s", num(c.policy.auth_failure_window_s));
  add("policy.auth_block_s", num(c.policy.auth_block_s));
  for (const NamespaceConfig& ns : c.policy.namespaces) {
    const std::string p = "namespaces." + ns.name + ".";
    add(p + "kind", ns.kind == NamespaceKind::kBlacklist ? "blacklist" : "normal");
    add(p + "pattern", ns.pattern);
    add(p + "default_ttl_s", num(ns.default_ttl_s));
    add(p + "max_ttl_s", num(ns.max_ttl_s));
    add(p + "ttl_required", ns.ttl_required ? "yes" : "no");
    add(p + "enforce_shape", ns.enforce_shape ? "yes" : "no");
    add(p + "over_max_ttl", ns.over_max_ttl == OverMaxTtl::kClamp ? "clamp" : "refuse");
  }
  return kv;
}

struct Totals {
#define KW_SUM_FIELD(name, help) uint64_t name = 0;
  KW_WORKER_COUNTERS(KW_SUM_FIELD)
#undef KW_SUM_FIELD
  int64_t clients_connected = 0;
  int64_t upstream_connected = 0;
  int64_t upstream_inflight = 0;
};

Totals sumStats(SharedState& shared) {
  Totals t;
  for (Worker* w : shared.workers) {
    const WorkerStats& s = w->stats();
#define KW_SUM_ADD(name, help) t.name += s.name.get();
    KW_WORKER_COUNTERS(KW_SUM_ADD)
#undef KW_SUM_ADD
    t.clients_connected += s.clients_connected.get();
    t.upstream_connected += s.upstream_connected.get();
    t.upstream_inflight += s.upstream_inflight.get();
  }
  return t;
}

bool isProxySection(const SharedState& shared, std::string_view s) {
  if (equalsIgnoreCase(s, "server") || equalsIgnoreCase(s, "clients") ||
      equalsIgnoreCase(s, "stats") || equalsIgnoreCase(s, "keywarden") ||
      equalsIgnoreCase(s, "tls") || equalsIgnoreCase(s, "topology"))
    return true;
  for (const auto& f : shared.features)
    for (std::string_view own : f->infoSections())
      if (equalsIgnoreCase(s, own))
        return true;
  return false;
}

std::string upstreamInfoText(std::string_view reply) {
  // "$N\r\n<text>\r\n" (RESP2) or "=N\r\ntxt:<text>\r\n" (RESP3).
  if (reply.empty() || (reply[0] != '$' && reply[0] != '='))
    return {};
  size_t eol = reply.find("\r\n");
  if (eol == std::string_view::npos || reply.size() < eol + 4)
    return {};
  std::string_view body = reply.substr(eol + 2, reply.size() - eol - 4);
  if (reply[0] == '=' && body.size() >= 4)
    body.remove_prefix(4);
  return std::string(body);
}

}  // namespace

std::string Session::proxyInfo(std::string_view section) const {
  SharedState& sh = worker_->shared();
  const Config& c = worker_->config();
  const bool all = section.empty();
  std::string out;
  if (all || equalsIgnoreCase(section, "server")) {
    const uint64_t up_s = static_cast<uint64_t>(time(nullptr) - sh.start_unix_s);
    out += "# Server\r\n";
    out += "redis_version:";
    out +=
        sh.upstream_version_known.load(std::memory_order_acquire) ? sh.upstream_version : "7.2.0";
    out += "\r\nredis_mode:standalone\r\n";
    out += "keywarden_version:" + std::string(kVersion) + "\r\n";
    out += "process_id:" + std::to_string(getpid()) + "\r\n";
    out += "tcp_port:" + std::to_string(c.server.listen.port) + "\r\n";
    out += "uptime_in_seconds:" + std::to_string(up_s) + "\r\n";
    out += "uptime_in_days:" + std::to_string(up_s / 86400) + "\r\n";
    out += "workers:" + std::to_string(sh.workers.size()) + "\r\n";
    out += "upstream:" + sh.upstream_name + "\r\n";
    out += std::string("upstream_transport:") +
           (c.upstream.mode == UpstreamMode::kStandalone && c.upstream.address.isUnix() ? "unix"
            : c.upstream.tls.enabled                                                    ? "tls"
                                                                                        : "tcp") +
           "\r\n";
    out += "config_file:" + c.source_path + "\r\n";
    out += "config_reloads:" + std::to_string(sh.reloads.load()) + "\r\n";
    out += "\r\n";
  }
  Totals t = sumStats(sh);
  if (all || equalsIgnoreCase(section, "clients")) {
    out += "# Clients\r\n";
    out += "connected_clients:" + std::to_string(t.clients_connected) + "\r\n";
    out += "maxclients:" + std::to_string(c.limits.max_clients) + "\r\n";
    out += "\r\n";
  }
  if (all || equalsIgnoreCase(section, "stats")) {
    out += "# Stats\r\n";
    out += "total_connections_received:" + std::to_string(t.connections_accepted) + "\r\n";
    out += "total_commands_processed:" + std::to_string(t.commands_total) + "\r\n";
    out += "rejected_connections:" + std::to_string(t.connections_rejected_max_clients) + "\r\n";
    out += "total_net_input_bytes:" + std::to_string(t.bytes_in) + "\r\n";
    out += "total_net_output_bytes:" + std::to_string(t.bytes_out) + "\r\n";
    appendReadStats(&out);
    out += "\r\n";
  }
  if (all || equalsIgnoreCase(section, "keywarden")) {
    out += "# Keywarden\r\n";
#define KW_INFO_LINE(name, help) out += #name ":" + std::to_string(t.name) + "\r\n";
    KW_WORKER_COUNTERS(KW_INFO_LINE)
#undef KW_INFO_LINE
    out += "upstream_connected:" + std::to_string(t.upstream_connected) + "\r\n";
    out += "upstream_inflight:" + std::to_string(t.upstream_inflight) + "\r\n";
    appendNodeInfo(*worker_, &out);
    appendNamespaceInfo(&out);
    for (const auto& f : sh.features)
      f->appendInfo("keywarden", c, worker_->policy(), &out);
    out += "\r\n";
  }
  if ((all && c.upstream.mode != UpstreamMode::kStandalone) ||
      equalsIgnoreCase(section, "topology")) {
    // The topology source's own lines: sentinels, the current master, failovers seen (sentinel);
    // seeds and slot counts (cluster).
    out += "# Topology\r\n";
    if (sh.topology_source)
      out += sh.topology_source->describe();
    out += "\r\n";
  }
  if ((all && c.tls.enabled) || equalsIgnoreCase(section, "tls"))
    appendTlsInfo(sh.tls, c, &out);
  // The features' own sections (INFO readthrough...).
  const std::string lower = asciiLower(section);
  for (const auto& f : sh.features)
    if (lower != "keywarden")
      f->appendInfo(lower, c, worker_->policy(), &out);
  return out;
}

void Session::cmdInfo(const DecodedRequest& req) {
  if (!user_->admin)
    return infoForNonAdmin(req);
  bool want_all = req.args.size() == 1;
  bool want_upstream_only = false;
  std::string proxy_part;
  std::vector<std::string_view> others;
  for (size_t i = 1; i < req.args.size(); ++i) {
    std::string_view a = req.args[i];
    if (equalsIgnoreCase(a, "all") || equalsIgnoreCase(a, "everything") ||
        equalsIgnoreCase(a, "default")) {
      want_all = true;
    } else if (equalsIgnoreCase(a, "upstream")) {
      want_upstream_only = true;
    } else if (isProxySection(worker_->shared(), a)) {
      proxy_part += proxyInfo(a);
    } else {
      others.push_back(a);
    }
  }
  if (want_all)
    proxy_part = proxyInfo({});
  if (!want_all && others.empty() && !want_upstream_only) {
    worker_->stats().commands_local.add();
    std::string out;
    resp::verbatim(&out, proto_, proxy_part);
    return replyLocal(out);
  }
  // The upstream's text, with the proxy's sections in front (kept in the slot until it arrives).
  std::string raw;
  std::vector<std::string_view> fwd{"INFO"};
  if (want_all && req.args.size() > 1) {
    for (size_t i = 1; i < req.args.size(); ++i)
      if (!equalsIgnoreCase(req.args[i], "upstream") &&
          !isProxySection(worker_->shared(), req.args[i]))
        fwd.push_back(req.args[i]);
  } else {
    fwd.insert(fwd.end(), others.begin(), others.end());
  }
  resp::arrayHeader(&raw, static_cast<int64_t>(fwd.size()));
  for (std::string_view a : fwd)
    resp::bulk(&raw, a);
  DecodedRequest info{raw, {fwd.begin(), fwd.end()}};
  ReplySlot* slot = nullptr;
  if (const auto fan = clusterMode() ? cluster::fanOutOf(worker_->commands().find("info"),
                                                         std::span<const std::string_view>(fwd))
                                     : std::nullopt)
    slot = startFanOut(info, *fan, SlotEffect::kInfoMerge);  // keyspace summed over masters
  else
    slot = forward(info, RequestShape{}, SlotEffect::kInfoMerge);
  if (slot)
    slot->aux = std::move(proxy_part);  // "INFO upstream" alone: nothing in front
}

// Operators' counters and the upstream's own sections are for admins. Other users get the
// proxy's server section and a persistence section with what client libraries look for
// (ioredis waits for loading:0 before it reports ready): both for INFO, INFO default/all/
// everything, or when asked by name. Any other section is refused, saying why, rather than
// answered with sections that were not asked for.
void Session::infoForNonAdmin(const DecodedRequest& req) {
  worker_->stats().commands_local.add();
  bool server = req.args.size() == 1;
  bool persistence = server;
  for (size_t i = 1; i < req.args.size(); ++i) {
    const std::string_view a = req.args[i];
    if (equalsIgnoreCase(a, "default") || equalsIgnoreCase(a, "all") ||
        equalsIgnoreCase(a, "everything")) {
      server = persistence = true;
    } else if (equalsIgnoreCase(a, "server")) {
      server = true;
    } else if (equalsIgnoreCase(a, "persistence")) {
      persistence = true;
    } else {
      const std::string shown = resp::quotedInError(a.substr(0, 64));
      current_outcome_ = Outcome::kRefusedAcl;
      return replyError("NOPERM User " + user_->name + " has no permissions to read the INFO '" +
                        asciiLower(shown) +
                        "' section (users who are not admins get only 'server' and "
                        "'persistence')");
    }
  }
  std::string text = server ? proxyInfo("server") : std::string();
  if (persistence)
    text += "# Persistence\r\nloading:0\r\nasync_loading:0\r\n\r\n";
  std::string out;
  resp::verbatim(&out, proto_, text);
  replyLocal(out);
}

std::string Session::mergeInfo(ReplySlot* slot, std::string_view upstream_reply) {
  std::string text = upstreamInfoText(upstream_reply);
  if (clusterMode()) {
    // Clients see one standalone Redis: cluster-aware ones must not try to go around keywarden.
    const size_t at = text.find("cluster_enabled:1");
    if (at != std::string::npos)
      text[at + 16] = '0';
  }
  if (text.empty() && !upstream_reply.empty() && upstream_reply[0] == '-') {
    return std::string(upstream_reply);
  }
  std::string merged = std::move(slot->aux);  // the proxy's sections were parked here
  if (!merged.empty()) {
    // Upstream headings are renamed so the two "# Server" sections stay apart.
    std::string renamed;
    renamed.reserve(text.size() + 256);
    size_t pos = 0;
    while (pos < text.size()) {
      size_t eol = text.find("\r\n", pos);
      if (eol == std::string::npos)
        eol = text.size();
      std::string_view line(text.data() + pos, eol - pos);
      if (line.size() > 2 && line[0] == '#' && line[1] == ' ') {
        renamed += "# Upstream ";
        renamed.append(line.substr(2));
      } else {
        renamed.append(line);
      }
      renamed += "\r\n";
      pos = eol + 2;
    }
    merged += renamed;
  } else {
    merged = std::move(text);
  }
  std::string out;
  resp::verbatim(&out, proto_, merged);
  return out;
}

void Session::appendReadStats(std::string* out) const {
  uint64_t hits = 0, misses = 0;
  for (Worker* w : worker_->shared().workers)
    for (uint32_t ns = 0; ns < kNamespaceSlots; ++ns) {
      hits += w->metrics().reads(ns, true);
      misses += w->metrics().reads(ns, false);
    }
  *out += "keyspace_hits:" + std::to_string(hits) + "\r\n";
  *out += "keyspace_misses:" + std::to_string(misses) + "\r\n";
}

// Per namespace: commands, refusals, TTL actions, read hits and misses, summed over workers.
struct NamespaceCounters {
  uint64_t commands = 0, errors = 0, refused = 0, hits = 0, misses = 0;
  uint64_t ttl[kTtlCounters] = {};
};

// `ns` is a metrics index (metricsNs). Namespaces past the metrics' capacity share "other", so
// their own counts are not known: all zero.
static NamespaceCounters countNamespace(SharedState& sh, uint32_t ns, size_t command_rows) {
  NamespaceCounters c;
  if (ns == kOtherNamespace)
    return c;
  for (Worker* w : sh.workers) {
    const RequestMetrics& m = w->metrics();
    for (uint32_t cmd = 0; cmd < kMaxCommands; ++cmd) {
      if (cmd >= command_rows && cmd != kOtherCommand)
        continue;
      for (size_t o = 0; o < kOutcomes; ++o) {
        const uint64_t v = m.commands(cmd, ns, static_cast<Outcome>(o));
        c.commands += v;
        if (o == static_cast<size_t>(Outcome::kError) ||
            o == static_cast<size_t>(Outcome::kUpstreamDown))
          c.errors += v;
        else if (o != static_cast<size_t>(Outcome::kOk))
          c.refused += v;
      }
    }
    c.hits += m.reads(ns, true);
    c.misses += m.reads(ns, false);
    for (size_t a = 0; a < kTtlCounters; ++a)
      c.ttl[a] += m.ttl(ns, static_cast<TtlCounter>(a));
  }
  return c;
}

void Session::appendNamespaceInfo(std::string* out) const {
  const CompiledPolicy& policy = worker_->policy();
  for (uint32_t i = 0; i <= policy.namespaceCount(); ++i) {
    const bool none = i == policy.namespaceCount();
    const uint32_t ns = none ? kNoNamespace : metricsNs(policy.counterId(i));
    if (ns == kOtherNamespace)
      continue;  // not counted on its own
    NamespaceCounters c = countNamespace(worker_->shared(), ns, worker_->commands().size());
    // INFO parsers split "field:value" at the first ':', and namespace names contain ':', so the
    // field name gets '_' instead and the real name is in the value.
    std::string name = none ? std::string("none") : policy.ns(i).name;
    std::string field = name;
    for (char& ch : field)
      if (!isalnum(static_cast<unsigned char>(ch)))
        ch = '_';
    *out += "ns_" + field + ":name=" + name + ",";
    *out += "commands=" + std::to_string(c.commands) + ",errors=" + std::to_string(c.errors) +
            ",refused=" + std::to_string(c.refused) + ",hits=" + std::to_string(c.hits) +
            ",misses=" + std::to_string(c.misses);
    for (size_t a = 0; a < kTtlCounters; ++a)
      *out += ",ttl_" + std::string(ttlCounterName(static_cast<TtlCounter>(a))) + "=" +
              std::to_string(c.ttl[a]);
    *out += "\r\n";
  }
}

std::string Session::namespacesReply() const {
  const CompiledPolicy& policy = worker_->policy();
  std::string out;
  std::string extra;
  resp::arrayHeader(&out, static_cast<int64_t>(policy.namespaceCount()));
  for (uint32_t i = 0; i < policy.namespaceCount(); ++i) {
    const NamespaceConfig& ns = policy.ns(i);
    NamespaceCounters c = countNamespace(worker_->shared(), metricsNs(policy.counterId(i)),
                                         worker_->commands().size());
    // The features' fields (feature.h) come last; counted first, for the map's header.
    extra.clear();
    int64_t extra_fields = 0;
    for (const auto& f : worker_->shared().features)
      f->namespaceFields(worker_->config(), i, ns.name, &extra, &extra_fields);
    resp::mapHeader(&out, proto_, 12 + static_cast<int64_t>(kTtlCounters) + extra_fields);
    resp::bulk(&out, "name");
    resp::bulk(&out, ns.name);
    resp::bulk(&out, "pattern");
    resp::bulk(&out, ns.pattern);
    resp::bulk(&out, "default_ttl_s");
    resp::integer(&out, static_cast<int64_t>(ns.default_ttl_s));
    resp::bulk(&out, "max_ttl_s");
    resp::integer(&out, static_cast<int64_t>(ns.max_ttl_s));
    resp::bulk(&out, "ttl_required");
    resp::integer(&out, ns.ttl_required);
    resp::bulk(&out, "enforce_shape");
    resp::integer(&out, ns.enforce_shape);
    resp::bulk(&out, "over_max_ttl");
    resp::bulk(&out, ns.over_max_ttl == OverMaxTtl::kClamp ? "clamp" : "refuse");
    const std::pair<const char*, uint64_t> counters[] = {{"commands", c.commands},
                                                         {"errors", c.errors},
                                                         {"refused", c.refused},
                                                         {"hits", c.hits},
                                                         {"misses", c.misses}};
    for (const auto& [k, v] : counters) {
      resp::bulk(&out, k);
      resp::integer(&out, static_cast<int64_t>(v));
    }
    for (size_t a = 0; a < kTtlCounters; ++a) {
      resp::bulk(&out, "ttl_" + std::string(ttlCounterName(static_cast<TtlCounter>(a))));
      resp::integer(&out, static_cast<int64_t>(c.ttl[a]));
    }
    out += extra;
  }
  return out;
}

// Counted when the reply is known (not when it is written): outcome, latency from decode to
// reply, read hit/miss per namespace, and the slow log. With metrics off and the slow log off
// this costs one branch.
void Session::recordCompletion(ReplySlot* slot, std::string_view bytes) {
  const Config& config = worker_->config();
  if (!config.metrics.collect && config.slowlog.threshold_us < 0)
    return;
  const uint64_t now = worker_->nowNs();
  const uint64_t latency_ns = now > slot->start_ns ? now - slot->start_ns : 0;
  if (config.metrics.collect)
    recordMetrics(slot, bytes, latency_ns);
  if (config.slowlog.threshold_us >= 0 && !slot->request.empty() &&
      latency_ns / 1000 >= static_cast<uint64_t>(config.slowlog.threshold_us))
    recordSlow(slot, latency_ns);
}

void Session::recordMetrics(const ReplySlot* slot, std::string_view bytes, uint64_t latency_ns) {
  Outcome outcome = static_cast<Outcome>(slot->refusal);
  if (outcome == Outcome::kOk && !bytes.empty() && (bytes[0] == '-' || bytes[0] == '!'))
    outcome = bytes.compare(0, 13, "-UPSTREAMDOWN") == 0 ? Outcome::kUpstreamDown : Outcome::kError;
  const uint32_t ns = metricsNs(slot->ns);
  RequestMetrics& m = worker_->metrics();
  m.recordCommand(slot->cmd == CommandTable::kUnknownIndex ? kOtherCommand : slot->cmd, ns, outcome,
                  latency_ns);
  if (outcome != Outcome::kOk || slot->cmd >= worker_->commands().size())
    return;
  const uint32_t flags = worker_->commands().row(slot->cmd).flags;
  if ((flags & kRead) && !(flags & (kWrite | kNoKeys))) {
    const bool miss = bytes == "$-1\r\n" || bytes == "_\r\n" || bytes == "*-1\r\n";
    m.recordRead(ns, !miss);
  }
}

void Session::recordSlow(const ReplySlot* slot, uint64_t latency_ns) {
  const std::vector<std::string>& names = worker_->policy().counterNames();
  std::string_view ns_name =
      slot->ns < names.size() ? std::string_view(names[slot->ns]) : std::string_view("none");
  worker_->shared().slowlog.record(slot->request, latency_ns / 1000, addr_, cx().name, ns_name,
                                   worker_->config().slowlog.max_len);
}

// SLOWLOG is Redis's own: forwarded, so GET/LEN/RESET/HELP answer from the upstream's log, where
// CONFIG SET slowlog-log-slower-than takes effect. The proxy's log is KEYWARDEN SLOWLOG.
void Session::cmdSlowlog(const DecodedRequest& req) {
  forward(req, RequestShape{});
}

ClientType Session::clientType() const {
  // Redis's classes: a client whose pinned connection streams a subscription is a pub/sub
  // client; MONITOR and tracking clients stream too but are normal, as in Redis. Built-in rows
  // keep their index in every command table, so the slot's row is still the one it ran.
  const ReplySlot* entered = raw_ ? nullptr : stream_slot_;
  const CommandTable& builtin = CommandTable::builtin();
  if (entered != nullptr && entered->cmd < builtin.size() &&
      builtin.row(entered->cmd).id == CmdId::kSubscribe)
    return ClientType::kPubsub;
  return ClientType::kNormal;
}

void Session::cmdClientList(const DecodedRequest& req) {
  worker_->stats().commands_local.add();
  // CLIENT LIST [TYPE normal|pubsub|master|replica] [ID id ...]
  std::vector<uint64_t> ids;
  std::optional<ClientType> type;
  for (size_t i = 2; i < req.args.size(); ++i) {
    if (equalsIgnoreCase(req.args[i], "type") && i + 1 < req.args.size()) {
      type = parseClientType(req.args[++i]);
      if (!type) {
        return replyError("ERR Unknown client type '" + resp::quotedInError(req.args[i]) + "'");
      }
    } else if (equalsIgnoreCase(req.args[i], "id") && i + 1 < req.args.size()) {
      while (++i < req.args.size()) {
        unsigned long long v = 0;
        auto r = std::from_chars(req.args[i].data(), req.args[i].data() + req.args[i].size(), v);
        if (r.ec != std::errc() || v == 0)
          return replyError("ERR Invalid client ID");
        ids.push_back(v);
      }
    } else {
      return replyError("ERR syntax error");
    }
  }
  ReplySlot* slot = newSlot();
  slot->external = true;
  const int proto = proto_;
  broadcast(
      *worker_,
      [ids, type, caller = id_, qbuf = dispatch_input_](Worker& w) {
        std::string text;
        for (const Session* s : w.sessions()) {
          if (s->closed())
            continue;
          if (!ids.empty() && std::find(ids.begin(), ids.end(), s->id()) == ids.end())
            continue;
          if (type && s->clientType() != *type)
            continue;
          text += s->infoLine(s->id() == caller ? static_cast<int64_t>(qbuf) : -1);
        }
        return text;
      },
      [w = worker_, slot, proto](std::vector<std::string>& parts) {
        std::string text;
        for (auto& p : parts)
          text += p;
        std::string out;
        resp::verbatim(&out, proto, text);
        Session::deliver(w, slot, out);
      });
}

void Session::cmdClientKill(const DecodedRequest& req) {
  worker_->stats().commands_local.add();
  ClientKillFilter filter;
  std::string error;
  const CompiledPolicy& policy = worker_->policy();
  if (!parseClientKill(
          std::span<const std::string_view>(req.args),
          [&policy](std::string_view user) { return policy.findUser(user) != nullptr; }, &filter,
          &error))
    return replyError(error);
  ReplySlot* slot = newSlot();
  slot->external = true;
  const uint64_t caller = id_;
  // Set on this worker (the caller's) when the caller is among the victims: it is closed only
  // once its reply is delivered, below, since the reply comes after every worker has answered.
  auto kill_caller = std::make_shared<bool>(false);
  broadcast(
      *worker_,
      [filter, caller, kill_caller](Worker& w) {
        const uint64_t now_ms = w.nowMs();
        std::vector<Session*> victims;
        size_t killed = 0;
        for (Session* s : w.sessions()) {
          if (s->closed())
            continue;
          const std::string laddr = s->localAddr();
          const ClientFacts facts{s->id(),       s->addr_,        laddr,
                                  s->userName(), s->clientType(), (now_ms - s->created_ms_) / 1000};
          if (!filter.matches(facts, caller))
            continue;
          ++killed;
          if (s->id() == caller)
            *kill_caller = true;
          else
            victims.push_back(s);
        }
        for (Session* s : victims)
          s->close("killed by CLIENT KILL");
        return std::to_string(killed);
      },
      [w = worker_, slot, old_form = filter.old_form,
       kill_caller](std::vector<std::string>& parts) {
        long long killed = 0;
        for (auto& p : parts)
          killed += p.empty() ? 0 : std::stoll(p);
        std::string out;
        if (old_form)
          out = killed > 0 ? "+OK\r\n" : "-ERR No such client\r\n";
        else
          resp::integer(&out, killed);
        auto* self = static_cast<Session*>(slot->owner);  // null when the caller has gone
        Session::deliver(w, slot, out);
        if (*kill_caller && self != nullptr && !self->closed())
          self->closeAfterReplies();  // as Redis: the replies owed go out, then the close
      });
}

// Runs `fn` on `w`'s loop after `ms`.
static void runAfterMs(Worker& w, uint64_t ms, std::function<void()> fn) {
  struct Delayed {
    uv_timer_t timer;
    std::function<void()> fn;
  };
  auto* d = new Delayed{{}, std::move(fn)};
  uv_timer_init(w.loop(), &d->timer);
  d->timer.data = d;
  uv_timer_start(
      &d->timer,
      [](uv_timer_t* t) {
        auto* d = static_cast<Delayed*>(t->data);
        d->fn();
        uv_close(reinterpret_cast<uv_handle_t*>(t),
                 [](uv_handle_t* h) { delete static_cast<Delayed*>(h->data); });
      },
      ms, 0);
}

// The upstream connection id of keywarden client `kw_id` (its pinned link), -1 when it has
// none or is gone; `done` runs on `origin`'s loop. With `claim`, a client that has no link of
// its own is given one (Session::linkIdFor: as Redis, any existing client can be a REDIRECT
// target); while a link's id is being learned the lookup repeats.
// `done` gets the upstream id and the node of the link (ids are per node in a cluster).
static void findUpstreamId(Worker& origin, uint64_t kw_id, bool claim,
                           std::function<void(int64_t, NodeId)> done, int attempt = 0) {
  static constexpr int kMaxAttempts = 250;  // 2 ms apart: half a second for a new connection
  broadcast(
      origin,
      [kw_id, claim](Worker& w) {
        for (Session* s : w.sessions()) {
          if (s->id() != kw_id || s->closed())
            continue;
          bool pending = false;
          const int64_t id = s->linkIdFor(claim, &pending);
          return pending ? std::string("pending")
                         : std::to_string(id) + "@" + std::to_string(s->linkNode());
        }
        return std::string();
      },
      [w = &origin, kw_id, claim, attempt,
       done = std::move(done)](std::vector<std::string>& parts) {
        int64_t upstream_id = -1;
        NodeId node = kAnyNode;
        bool pending = false;
        for (const std::string& p : parts) {
          if (p == "pending") {
            pending = true;
          } else if (!p.empty()) {
            const size_t at = p.find('@');
            upstream_id = std::stoll(p.substr(0, at));
            if (at != std::string::npos)
              node = static_cast<NodeId>(std::stoul(p.substr(at + 1)));
          }
        }
        if (pending && attempt < kMaxAttempts) {
          runAfterMs(*w, 2, [w, kw_id, claim, attempt, done]() {
            findUpstreamId(*w, kw_id, claim, done, attempt + 1);
          });
          return;
        }
        done(upstream_id, node);
      });
}

// The same for a request holding `slot`: `then` runs only if the client is still there.
static void lookupUpstreamId(Worker& origin, uint64_t kw_id, bool claim, ReplySlot* slot,
                             std::function<void(Worker*, ReplySlot*, int64_t, NodeId)> then) {
  slot->external = true;
  findUpstreamId(origin, kw_id, claim,
                 [w = &origin, slot, then = std::move(then)](int64_t upstream_id, NodeId node) {
                   slot->external = false;
                   if (!slot->owner) {
                     w->slots().put(slot);
                     return;
                   }
                   then(w, slot, upstream_id, node);
                 });
}

// CLIENT TRACKING ... REDIRECT <keywarden id> rewritten with Redis's id for the same client.
static std::string redirectedToUpstream(std::vector<std::string> args, size_t redirect_arg,
                                        int64_t upstream_id) {
  args[redirect_arg] = std::to_string(upstream_id);
  std::string raw;
  resp::arrayHeader(&raw, static_cast<int64_t>(args.size()));
  for (const std::string& a : args)
    resp::bulk(&raw, a);
  return raw;
}

void Session::sendPrepared(std::string_view raw, ReplySlot* slot, NodeId node) {
  std::string cause;
  Destination to;
  to.node = node;
  to.epoch = worker_->routingEpoch();
  if (!router_.send(raw, slot, RequestShape{}, &cause, to))
    completeUnavailable(slot, cause);
}

// CLIENT UNBLOCK <id> [TIMEOUT|ERROR]: the id is keywarden's; a blocked client waits on its own
// pinned link, whose upstream id is what Redis needs.
void Session::cmdClientUnblock(const DecodedRequest& req) {
  worker_->stats().commands_forwarded.add();
  if (req.args.size() != 3 && req.args.size() != 4)
    return wrongArity("client|unblock");
  unsigned long long id = 0;
  auto r = std::from_chars(req.args[2].data(), req.args[2].data() + req.args[2].size(), id);
  if (r.ec != std::errc() || r.ptr != req.args[2].data() + req.args[2].size())
    return replyError("ERR value is not an integer or out of range");
  std::string reason;
  if (req.args.size() == 4) {
    if (equalsIgnoreCase(req.args[3], "timeout"))
      reason = "TIMEOUT";
    else if (equalsIgnoreCase(req.args[3], "error"))
      reason = "ERROR";
    else
      return replyError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
  }
  lookupUpstreamId(*worker_, id, false, newSlot(),
                   [reason](Worker*, ReplySlot* slot, int64_t upstream_id, NodeId node) {
                     auto* self = static_cast<Session*>(slot->owner);
                     if (upstream_id < 0)
                       return self->complete(slot, ":0\r\n");
                     std::string raw;
                     const std::string target = std::to_string(upstream_id);
                     resp::arrayHeader(&raw, reason.empty() ? 3 : 4);
                     resp::bulk(&raw, "CLIENT");
                     resp::bulk(&raw, "UNBLOCK");
                     resp::bulk(&raw, target);
                     if (!reason.empty())
                       resp::bulk(&raw, reason);
                     // To the blocked client's node: upstream ids are per node in a cluster.
                     self->sendPrepared(raw, slot, node);
                   });
}

// CLIENT TRACKING on ... REDIRECT <id>: the target is a keywarden client subscribed to
// __redis__:invalidate on its own pinned link; Redis needs that link's id. Input waits for the
// lookup, since everything after this command must follow it.
void Session::startTrackingRedirect(const DecodedRequest& req, size_t redirect_arg) {
  long long id = 0;
  const std::string_view v = req.args[redirect_arg];
  auto r = std::from_chars(v.data(), v.data() + v.size(), id);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size()) {
    worker_->stats().commands_local.add();
    return replyError("ERR value is not an integer or out of range");
  }
  std::vector<std::string> args(req.args.begin(), req.args.end());
  ReplySlot* slot = newSlot();
  barrier_slot_ = slot;
  holdInput();
  lookupUpstreamId(
      *worker_, static_cast<uint64_t>(id), true, slot,
      [args = std::move(args), redirect_arg, target = static_cast<uint64_t>(id)](
          Worker*, ReplySlot* slot, int64_t upstream_id, NodeId) mutable {
        auto* self = static_cast<Session*>(slot->owner);
        if (upstream_id < 0)
          return self->complete(slot, "-ERR The client ID you want redirect to does not exist\r\n");
        const std::string raw = redirectedToUpstream(std::move(args), redirect_arg, upstream_id);
        std::string cause;
        if (!self->router_.startStream(raw, &cause))
          return self->completeUnavailable(slot, cause);
        self->x().redirect_upstream_id = upstream_id;
        self->x().redirect_kw_id = target;
        self->worker_->stats().commands_forwarded.add();
        slot->effect = SlotEffect::kStream;
        self->stream_slot_ = slot;
        self->barrier_slot_ = nullptr;
        self->maybeContinue();
      });
}

// The same on a streaming link (the client already tracks, or is subscribed): the translated
// command goes down the stream, or the error comes back in stream order (streamLocal). Input
// waits; the session is found again by its id when the answer comes (it may have left).
void Session::streamTrackingRedirect(const DecodedRequest& req, size_t redirect_arg) {
  long long id = 0;
  const std::string_view v = req.args[redirect_arg];
  auto r = std::from_chars(v.data(), v.data() + v.size(), id);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size())
    return streamLocal("-ERR value is not an integer or out of range\r\n");
  std::vector<std::string> args(req.args.begin(), req.args.end());
  stream_lookup_pending_ = true;
  holdInput();
  findUpstreamId(*worker_, static_cast<uint64_t>(id), true,
                 [w = worker_, self_id = id_, redirect_arg, target = static_cast<uint64_t>(id),
                  args = std::move(args)](int64_t upstream_id, NodeId) mutable {
                   Session* self = nullptr;
                   for (Session* s : w->sessions())
                     if (s->id() == self_id && !s->closed())
                       self = s;
                   if (!self)
                     return;
                   self->stream_lookup_pending_ = false;
                   if (!self->router_.streaming()) {
                     self->maybeContinue();  // the link went away meanwhile: the session is closing
                     return;
                   }
                   if (upstream_id < 0)
                     self->streamLocal(
                         "-ERR The client ID you want redirect to does not exist\r\n");
                   else {
                     self->router_.sendStream(
                         redirectedToUpstream(std::move(args), redirect_arg, upstream_id));
                     self->x().redirect_upstream_id = upstream_id;
                     self->x().redirect_kw_id = target;
                   }
                   self->maybeContinue();
                 });
}

void Session::cmdKeywarden(const DecodedRequest& req) {
  const std::string_view sub = req.args[1];
  std::string out;
  if (equalsIgnoreCase(sub, "help")) {
    worker_->stats().commands_local.add();
    std::vector<std::string> lines = {
        "KEYWARDEN <subcommand> [<arg> ...]. Subcommands are:",
        "NAMESPACES",
        "    Every namespace with its configuration and live counters.",
        "CONFIG GET <pattern>",
        "    Settings whose name matches the glob-style pattern (secrets masked).",
        "RELOAD",
        "    Load the configuration file again; a bad file changes nothing.",
        "UPSTREAM",
        "    State of every upstream connection of every worker.",
        "CLUSTER",
        "    A cluster upstream: its nodes, slots, refreshes, redirects and links per worker.",
        "SLOWLOG GET [<count>] | LEN | RESET",
        "    The proxy's slow log: requests slower than slowlog.threshold_us from decode to",
        "    reply (default count 10, -1 for all). Entries are: id, timestamp, time in",
        "    microseconds, arguments, client IP and port, client name, namespace of the",
        "    first key. SLOWLOG itself is the upstream Redis's slow log."};
    for (const auto& f : worker_->shared().features)
      f->keywardenHelp(&lines);
    lines.emplace_back("HELP");
    lines.emplace_back("    Print this help.");
    resp::arrayHeader(&out, static_cast<int64_t>(lines.size()));
    for (const std::string& l : lines)
      resp::simple(&out, l);
    return replyLocal(out);
  }
  if (equalsIgnoreCase(sub, "config")) {
    worker_->stats().commands_local.add();
    if (req.args.size() != 4 || !equalsIgnoreCase(req.args[2], "get"))
      return replyError("ERR syntax error: KEYWARDEN CONFIG GET <pattern>");
    auto kv = flattenConfig(worker_->config());
    for (const auto& f : worker_->shared().features)
      f->appendConfig(worker_->config(), &kv);
    std::vector<std::pair<std::string, std::string>> hits;
    for (auto& [k, v] : kv)
      if (globMatch(req.args[3], k))
        hits.emplace_back(k, v);
    resp::mapHeader(&out, proto_, static_cast<int64_t>(hits.size()));
    for (auto& [k, v] : hits) {
      resp::bulk(&out, k);
      resp::bulk(&out, v);
    }
    return replyLocal(out);
  }
  if (equalsIgnoreCase(sub, "reload")) {
    worker_->stats().commands_local.add();
    ReloadResult r = reloadConfig(worker_->shared());
    if (!r.ok)
      return replyError("ERR reload failed, configuration unchanged: " + r.error);
    if (r.needs_restart.empty())
      return replyLocal("+OK\r\n");
    std::string msg = "OK reloaded; needs a restart to apply:";
    for (const auto& s : r.needs_restart)
      msg += " " + s;
    resp::simple(&out, msg);
    return replyLocal(out);
  }
  if (equalsIgnoreCase(sub, "slowlog")) {
    worker_->stats().commands_local.add();
    return replyLocal(slowlogCommandReply(worker_->shared().slowlog,
                                          std::span<const std::string_view>(req.args).subspan(2)));
  }
  {
    // The features' subcommands (feature.h).
    const std::string lower = asciiLower(sub);
    Admin admin(this, req);
    for (const auto& f : worker_->shared().features)
      if (f->keywarden(lower, admin)) {
        worker_->stats().commands_local.add();
        return;
      }
  }
  if (equalsIgnoreCase(sub, "namespaces")) {
    worker_->stats().commands_local.add();
    return replyLocal(namespacesReply());
  }
  if (equalsIgnoreCase(sub, "cluster")) {
    worker_->stats().commands_local.add();
    if (req.args.size() != 2)
      return replyError("ERR syntax error: KEYWARDEN CLUSTER takes no arguments");
    if (!worker_->topology().cluster())
      return replyError("ERR KEYWARDEN CLUSTER: the upstream is not a Redis Cluster (upstream.mode "
                        "is not \"cluster\"); KEYWARDEN UPSTREAM shows its connections");
    ReplySlot* slot = newSlot();
    slot->external = true;
    broadcast(
        *worker_, [](Worker& w) { return clusterWorkerLines(w); },
        [w = worker_, slot](std::vector<std::string>& parts) {
          Session::deliver(w, slot, clusterReport(*w, parts));
        });
    return;
  }
  if (equalsIgnoreCase(sub, "upstream")) {
    worker_->stats().commands_local.add();
    ReplySlot* slot = newSlot();
    slot->external = true;
    broadcast(
        *worker_,
        [](Worker& w) {
          std::string text;
          w.upstreams().forEach(
              [](UpstreamConn* c, void* arg) {
                auto* t = static_cast<std::string*>(arg);
                const char* state = c->state() == UpstreamConn::State::kReady        ? "ready"
                                    : c->state() == UpstreamConn::State::kConnecting ? "connecting"
                                    : c->state() == UpstreamConn::State::kDown       ? "down"
                                                                                     : "closed";
                *t += "role=" +
                      std::string(c->role() == UpstreamConn::Role::kShared ? "shared" : "pinned");
                *t += " proto=" + std::to_string(c->proto());
                *t += " state=" + std::string(state);
                *t += " inflight=" + std::to_string(c->inflight());
                *t += " db=" + std::to_string(c->db());
                *t += " owner=" +
                      (c->owner() ? std::to_string(c->owner()->ownerId()) : std::string("-"));
                *t += " node=" + c->pool()->name();
                *t += " upstream_id=" + std::to_string(c->upstreamId());
                if (c->upstreamId() < 0)
                  c->learnId();  // a quiet link's id is learned when asked for: -1 until then
                *t += " addr=" + c->pool()->name();  // "host:port" or "unix:/path"
                if (const std::string_view v = c->tlsVersion(); !v.empty())
                  *t += " tls=" + std::string(v) + (c->tlsResumed() ? " tls_resumed=1" : "");
                if (c->state() == UpstreamConn::State::kDown)
                  *t += " cause=" + c->downCause();
                *t += "\n";
              },
              &text);
          return text;
        },
        [w = worker_, slot](std::vector<std::string>& parts) {
          std::vector<std::string> lines;
          // The topology first ("topology master:host:port", "topology failovers_seen:1"...),
          // then one line per link.
          if (const TopologySource* source = w->shared().topology_source) {
            const std::string text = source->describe();
            size_t pos = 0;
            while (pos < text.size()) {
              size_t eol = text.find("\r\n", pos);
              if (eol == std::string::npos)
                eol = text.size();
              lines.push_back("topology " + text.substr(pos, eol - pos));
              pos = eol + 2;
            }
          }
          for (size_t i = 0; i < parts.size(); ++i) {
            size_t pos = 0;
            while (pos < parts[i].size()) {
              size_t eol = parts[i].find('\n', pos);
              lines.push_back("worker=" + std::to_string(i) + " " +
                              parts[i].substr(pos, eol - pos));
              pos = eol + 1;
            }
          }
          std::string o;
          resp::arrayHeader(&o, static_cast<int64_t>(lines.size()));
          for (auto& l : lines)
            resp::bulk(&o, l);
          Session::deliver(w, slot, o);
        });
    return;
  }
  worker_->stats().commands_local.add();
  replyError("ERR unknown subcommand '" + resp::quotedInError(sub) + "'. Try KEYWARDEN HELP.");
}

}  // namespace kw
