#include "proxy/reload.h"

#include <memory>

#include "common/config_loader.h"
#include "common/log.h"
#include "policy/policy.h"
#include "proxy/shared_state.h"
#include "tls/tls_contexts.h"

namespace kw {
namespace {

bool sameHostPort(const HostPort& a, const HostPort& b) {
  return a.host == b.host && a.port == b.port && a.unix_path == b.unix_path;
}

// Listeners are made at startup, and so are connections to Redis: [tls] listen, and turning
// either side's TLS on or off, keep their running values (tls_contexts.h). Certificates, CAs and
// every other TLS setting apply to the next connection.
void keepTlsListeners(const Config& old, Config* next, std::vector<std::string>* needs_restart) {
  if (next->tls.enabled != old.tls.enabled) {
    needs_restart->push_back("tls");
    next->tls = old.tls;
  } else if (next->tls.enabled && !sameHostPort(next->tls.listen, old.tls.listen)) {
    needs_restart->push_back("tls.listen");
    next->tls.listen = old.tls.listen;
  }
  if (next->upstream.tls.enabled != old.upstream.tls.enabled) {
    needs_restart->push_back("upstream.tls");
    next->upstream.tls = old.upstream.tls;
  }
}

}  // namespace

ReloadResult reloadConfig(SharedState& shared) {
  std::lock_guard<std::mutex> lock(shared.reload_mu);
  ReloadResult result;
  auto old = shared.config();
  auto next = std::make_shared<Config>();
  if (old->source_path.empty()) {
    // Started on the built-in defaults: there is no file to read again (Redis refuses CONFIG
    // REWRITE the same way when it runs without a config file).
    result.error = "keywarden is running without a config file (built-in defaults); restart it "
                   "with -c FILE to use one";
    shared.reload_failures.fetch_add(1);
    KW_LOG_ERROR("reload failed, configuration unchanged: %s", result.error.c_str());
    return result;
  }
  if (!loadConfigFile(old->source_path, next.get(), &result.error)) {
    shared.reload_failures.fetch_add(1);
    KW_LOG_ERROR("reload failed, configuration unchanged: %s", result.error.c_str());
    return result;
  }
  applyCliOverrides(shared.cli, next.get());
  std::string policy_error;
  std::shared_ptr<const Config> current_config;
  std::shared_ptr<const CompiledPolicy> current_policy;
  std::shared_ptr<const CommandTable> commands;
  shared.snapshot(&current_config, &current_policy, &commands);
  // Built on the current policy, so every namespace keeps its counter id (and its counts).
  auto policy = CompiledPolicy::build(next->policy, &policy_error, current_policy.get());
  if (!policy) {
    result.error = old->source_path + ": " + policy_error;
    shared.reload_failures.fetch_add(1);
    KW_LOG_ERROR("reload failed, configuration unchanged: %s", result.error.c_str());
    return result;
  }
  // What the running process cannot change: keep the old value, say so.
  if (!sameHostPort(next->server.listen, old->server.listen)) {
    result.needs_restart.push_back("server.listen");
    next->server.listen = old->server.listen;
  }
  if (next->server.unix_mode != old->server.unix_mode) {
    result.needs_restart.push_back("server.unix_mode");
    next->server.unix_mode = old->server.unix_mode;
  }
  keepTlsListeners(*old, next.get(), &result.needs_restart);
  if (next->server.workers != old->server.workers) {
    result.needs_restart.push_back("server.workers");
    next->server.workers = old->server.workers;
  }
  if (!sameHostPort(next->upstream.address, old->upstream.address)) {
    result.needs_restart.push_back("upstream.address");
    next->upstream.address = old->upstream.address;
  }
  // The topology source was made for the mode at startup (its sentinels and master name too).
  auto sameNodes = [](const std::vector<HostPort>& a, const std::vector<HostPort>& b) {
    if (a.size() != b.size())
      return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (!sameHostPort(a[i], b[i]))
        return false;
    return true;
  };
  if (next->upstream.mode != old->upstream.mode ||
      !sameNodes(next->upstream.sentinels, old->upstream.sentinels) ||
      next->upstream.master_name != old->upstream.master_name ||
      next->upstream.sentinel_username != old->upstream.sentinel_username ||
      next->upstream.sentinel_password != old->upstream.sentinel_password) {
    result.needs_restart.push_back("upstream.mode/sentinels/master_name");
    next->upstream.mode = old->upstream.mode;
    next->upstream.sentinels = old->upstream.sentinels;
    next->upstream.master_name = old->upstream.master_name;
    next->upstream.sentinel_username = old->upstream.sentinel_username;
    next->upstream.sentinel_password = old->upstream.sentinel_password;
  }
  if (next->metrics.enabled != old->metrics.enabled ||
      !sameHostPort(next->metrics.listen, old->metrics.listen)) {
    result.needs_restart.push_back("metrics");
    next->metrics.enabled = old->metrics.enabled;
    next->metrics.listen = old->metrics.listen;
  }
  for (const auto& f : shared.features)
    f->keepOnReload(*old, next.get(), &result.needs_restart);
  // Certificates are read again now, even unchanged file names (a renewed certificate): a file
  // that is missing, unreadable, expired or does not match its key fails the reload here, before
  // anything is published, and open connections keep the certificate they started with.
  TlsContexts tls;
  if (std::string tls_error; !buildTlsContexts(*next, &tls, &tls_error)) {
    result.error = old->source_path + ": " + tls_error;
    shared.reload_failures.fetch_add(1);
    KW_LOG_ERROR("reload failed, configuration unchanged: %s", result.error.c_str());
    return result;
  }
  for (const std::string& warning : tls.warnings)
    KW_LOG_WARN("%s", warning.c_str());
  setLogLevel(next->server.log_level);
  if (next->upstream.busy_threshold_ms != 0)
    shared.busy_threshold_ms.store(next->upstream.busy_threshold_ms);
  shared.publishConfig(next, policy);
  shared.tls.publish(tls, *next);
  shared.reloads.fetch_add(1);
  result.ok = true;
  std::string restart;
  for (const auto& s : result.needs_restart)
    restart += (restart.empty() ? "" : ", ") + s;
  KW_LOG_INFO("configuration reloaded from %s%s%s", old->source_path.c_str(),
              restart.empty() ? "" : "; needs a restart to apply: ", restart.c_str());
  return result;
}

}  // namespace kw
