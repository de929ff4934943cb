#include "proxy/upstream_probe.h"

#include <hiredis/hiredis.h>

#include <cstdlib>
#include <cstring>

namespace kw {

bool probeUpstream(const UpstreamConfig& up, UpstreamFacts* out, std::string* error) {
  timeval tv{static_cast<time_t>(up.connect_timeout_ms / 1000),
             static_cast<suseconds_t>((up.connect_timeout_ms % 1000) * 1000)};
  redisContext* c = redisConnectWithTimeout(up.address.host.c_str(), up.address.port, tv);
  if (!c || c->err) {
    *error = c ? c->errstr : "cannot allocate a redis context";
    if (c)
      redisFree(c);
    return false;
  }
  redisSetTimeout(c, tv);
  auto run = [&](int argc, const char** argv) {
    return static_cast<redisReply*>(redisCommandArgv(c, argc, argv, nullptr));
  };
  bool ok = true;
  if (!up.password.empty()) {
    const char* with_user[] = {"AUTH", up.username.c_str(), up.password.c_str()};
    const char* without[] = {"AUTH", up.password.c_str()};
    redisReply* r = up.username.empty() ? run(2, without) : run(3, with_user);
    if (!r || r->type == REDIS_REPLY_ERROR) {
      *error = r ? std::string(r->str, r->len) : std::string(c->errstr);
      ok = false;
    }
    if (r)
      freeReplyObject(r);
  }
  if (ok) {
    const char* info[] = {"INFO", "server"};
    redisReply* r = run(2, info);
    if (r && (r->type == REDIS_REPLY_STRING)) {
      std::string text(r->str, r->len);
      const char* key = "redis_version:";
      size_t p = text.find(key);
      if (p != std::string::npos) {
        p += strlen(key);
        size_t e = text.find_first_of("\r\n", p);
        out->version = text.substr(p, e == std::string::npos ? std::string::npos : e - p);
      }
    } else {
      *error =
          r && r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len) : std::string(c->errstr);
      ok = false;
    }
    if (r)
      freeReplyObject(r);
  }
  if (ok) {
    // Redis 7 calls it busy-reply-threshold; older ones lua-time-limit (7 knows both).
    for (const char* name : {"busy-reply-threshold", "lua-time-limit"}) {
      const char* get[] = {"CONFIG", "GET", name};
      redisReply* r = run(3, get);
      if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
          r->element[1]->type == REDIS_REPLY_STRING)
        out->busy_threshold_ms = std::strtoll(r->element[1]->str, nullptr, 10);
      if (r)
        freeReplyObject(r);
      if (out->busy_threshold_ms >= 0)
        break;
    }
  }
  if (ok) {
    const char* cmd[] = {"COMMAND"};
    redisReply* r = run(1, cmd);
    if (r && r->type == REDIS_REPLY_ARRAY) {
      out->commands = CommandTable::learnFromUpstream(r);
    } else {
      *error = "COMMAND failed";
      ok = false;
    }
    if (r)
      freeReplyObject(r);
  }
  redisFree(c);
  return ok;
}

}  // namespace kw
