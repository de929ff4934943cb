#include "proxy/upstream_probe.h"

#include <hiredis/hiredis.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "cluster/node_query.h"
#include "common/config_loader.h"
#include "common/net_address.h"

namespace kw {
namespace {

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

// One complete RESP2 reply (NodeQuery's bytes) as hiredis's tree, which the command table
// learns from; null when it is not one.
ReplyPtr parseReply(const std::string& raw) {
  redisReader* reader = redisReaderCreate();
  if (reader == nullptr)
    return nullptr;
  void* reply = nullptr;
  if (redisReaderFeed(reader, raw.data(), raw.size()) != REDIS_OK ||
      redisReaderGetReply(reader, &reply) != REDIS_OK)
    reply = nullptr;
  redisReaderFree(reader);
  return ReplyPtr(static_cast<redisReply*>(reply));
}

// The reply to `args` parsed; null with *error when the connection failed or the reply is no
// RESP.
ReplyPtr run(cluster::NodeQuery& q, const std::vector<std::string_view>& args, std::string* error) {
  std::string raw;
  if (!q.command(args, &raw, error))
    return nullptr;
  ReplyPtr r = parseReply(raw);
  if (!r)
    *error = "unreadable reply to " + std::string(args[0]);
  return r;
}

std::string errorText(const redisReply* r, const std::string& error) {
  return r != nullptr && r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len) : error;
}

}  // namespace

bool probeUpstream(const UpstreamConfig& up, std::shared_ptr<const TlsContext> tls,
                   UpstreamFacts* out, std::string* error) {
  // A cluster is asked through its first seed: every node knows the same commands.
  const HostPort& target =
      up.mode == UpstreamMode::kCluster && !up.seeds.empty() ? up.seeds[0] : up.address;
  SocketAddress addr;
  if (!resolveHostPort(target, AddressUse::kConnect, &addr, error))
    return false;
  cluster::NodeTls node_tls;
  const bool use_tls = up.tls.enabled && tls != nullptr && !target.isUnix();
  if (use_tls) {
    node_tls.context = std::move(tls);
    node_tls.server_name = up.tls.server_name.empty() ? target.host : up.tls.server_name;
    node_tls.session_key = formatHostPort(target);
  }
  cluster::NodeQuery q;
  if (!q.connect(addr.storage, up.connect_timeout_ms, up.username, up.password, error,
                 use_tls ? &node_tls : nullptr))
    return false;
  std::string why;
  ReplyPtr info = run(q, {"INFO", "server"}, &why);
  if (!info || info->type != REDIS_REPLY_STRING) {
    *error = errorText(info.get(), why);
    return false;
  }
  const std::string text(info->str, info->len);
  static constexpr std::string_view kVersion = "redis_version:";
  size_t p = text.find(kVersion);
  if (p != std::string::npos) {
    p += kVersion.size();
    const size_t e = text.find_first_of("\r\n", p);
    out->version = text.substr(p, e == std::string::npos ? std::string::npos : e - p);
  }
  // Redis 7 calls it busy-reply-threshold; older ones lua-time-limit (7 knows both).
  for (const char* name : {"busy-reply-threshold", "lua-time-limit"}) {
    ReplyPtr r = run(q, {"CONFIG", "GET", name}, &why);  // (a failure shows at COMMAND)
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_STRING)
      out->busy_threshold_ms = std::strtoll(r->element[1]->str, nullptr, 10);
    if (out->busy_threshold_ms >= 0)
      break;
  }
  ReplyPtr commands = run(q, {"COMMAND"}, &why);
  if (!commands || commands->type != REDIS_REPLY_ARRAY) {
    *error = commands ? "COMMAND failed" : why;
    return false;
  }
  out->commands = CommandTable::learnFromUpstream(commands.get());
  return true;
}

}  // namespace kw
