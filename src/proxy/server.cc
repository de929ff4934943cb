#include "proxy/server.h"

#include "proxy/topology.h"

#include <fcntl.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "common/config_loader.h"
#include "common/log.h"
#include "common/net_address.h"
#include "policy/policy.h"
#include "proxy/client_listener.h"
#include "proxy/metrics/collector.h"
#include "proxy/metrics/families.h"
#include "proxy/metrics/http_endpoint.h"
#include "proxy/reload.h"
#include "proxy/service_manager.h"
#include "proxy/shared_state.h"
#include "proxy/tls_report.h"
#include "proxy/upstream_probe.h"
#include "proxy/worker.h"

namespace kw {
namespace {

// What the metrics collector reads: every worker's shards, and names for the label indexes.
class WorkerMetricsSource : public MetricsSource {
public:
  explicit WorkerMetricsSource(SharedState* shared) : shared_(shared) {}
  void forEachShard(const ShardFn& fn) const override {
    for (Worker* w : shared_->workers)
      fn(w->stats(), w->metrics());
  }
  std::vector<std::string> commandNames() const override {
    std::shared_ptr<const Config> config;
    std::shared_ptr<const CompiledPolicy> policy;
    std::shared_ptr<const CommandTable> commands;
    shared_->snapshot(&config, &policy, &commands);
    std::vector<std::string> names;
    for (size_t i = 0; i < commands->size(); ++i)
      names.emplace_back(commands->row(i).name);
    return names;
  }
  std::vector<std::string> namespaceNames() const override {
    std::shared_ptr<const Config> config;
    std::shared_ptr<const CompiledPolicy> policy;
    std::shared_ptr<const CommandTable> commands;
    shared_->snapshot(&config, &policy, &commands);
    return policy->counterNames();  // by counter id, which is what the shards are indexed by
  }
  // Up when at least one upstream connection is established somewhere.
  bool upstreamUp() const override {
    for (Worker* w : shared_->workers)
      if (w->stats().upstream_connected.get() > 0)
        return true;
    return false;
  }
  double uptimeSeconds() const override {
    return static_cast<double>(time(nullptr) - shared_->start_unix_s);
  }
  std::vector<std::string> nodeNames() const override {
    std::vector<std::string> names;
    if (std::shared_ptr<const Topology> t = shared_->topology())
      for (const UpstreamNode& n : t->nodes())
        names.push_back(n.name);
    return names;
  }
  void appendFeatureFamilies(const std::vector<std::string>& ns_labels,
                             std::vector<prometheus::MetricFamily>* out) const override {
    for (const auto& f : shared_->features)
      f->appendMetrics(ns_labels, out);
    appendTlsMetrics(shared_->tls, *shared_->config(), out);
    if (shared_->topology_source) {
      auto f = family("keywarden_upstream_failovers_total",
                      "Master changes seen (a Sentinel failover followed).",
                      prometheus::MetricType::Counter);
      addSample(&f, {}, static_cast<double>(shared_->topology_source->failoversSeen()));
      out->push_back(std::move(f));
    }
  }

private:
  SharedState* shared_;
};

struct MainLoop {
  uv_loop_t loop{};
  uv_signal_t sigterm{}, sigint{}, sighup{};
  uv_async_t worker_exited{};
  uv_timer_t probe_timer{};
  std::atomic<unsigned> running{0};
  bool draining = false;
  Server* server = nullptr;
  SharedState* shared = nullptr;
  std::vector<std::unique_ptr<Worker>>* workers = nullptr;
  MetricsHttpEndpoint* http = nullptr;
  ServiceManagerLink* service = nullptr;  // systemd notifications (service_manager.h)
};

void closeAll(MainLoop* m) {
  uv_walk(
      &m->loop,
      [](uv_handle_t* h, void*) {
        if (!uv_is_closing(h))
          uv_close(h, nullptr);
      },
      nullptr);
}

void onStopSignal(uv_signal_t* h, int signum) {
  auto* m = static_cast<MainLoop*>(h->data);
  if (m->draining) {
    KW_LOG_WARN("second %s: exiting without waiting", strsignal(signum));
    _exit(1);
  }
  m->draining = true;
  m->service->stopping();
  const uint32_t deadline_ms = m->shared->config()->server.shutdown_deadline_ms;
  KW_LOG_INFO("%s: draining (deadline %u ms)", strsignal(signum), deadline_ms);
  for (auto& w : *m->workers)
    w->requestDrain();
  // The deadline holds whatever state a worker is in: a thread of its own (the main loop may be
  // inside a blocking upstream probe) ends the process if the orderly stop has not by then.
  std::thread([deadline_ms] {
    std::this_thread::sleep_for(std::chrono::milliseconds(deadline_ms + 1000));
    KW_LOG_ERROR("shutdown deadline passed and a worker has not stopped; exiting now");
    _exit(0);
  }).detach();
}

void onHup(uv_signal_t* h, int) {
  auto* m = static_cast<MainLoop*>(h->data);
  KW_LOG_INFO("SIGHUP: reloading the configuration");
  m->service->reloading();
  const ReloadResult r = reloadConfig(*m->shared);  // logs its own outcome
  m->service->reloaded(r.ok, r.error);
}

void onWorkerExited(uv_async_t* h) {
  auto* m = static_cast<MainLoop*>(h->data);
  if (m->running.load() != 0)
    return;
  if (m->http)
    m->http->stop();
  closeAll(m);
}

void onProbe(uv_timer_t* t) {
  auto* m = static_cast<MainLoop*>(t->data);
  UpstreamFacts facts;
  std::string error;
  auto config = m->shared->config();
  UpstreamConfig up = config->upstream;
  if (up.mode != UpstreamMode::kStandalone) {
    // The node keyless requests go to (a sentinel's master, a cluster's first master).
    auto topology = m->shared->topology();
    const NodeId any = topology->anyNode();
    HostPort hp;
    std::string reason;
    if (any == kNoNode || !parseHostPort(topology->node(any).name, false, &hp, &reason))
      return;
    up.address = hp;
    up.seeds = {hp};  // a cluster is probed through its first seed (upstream_probe.cc): this one
  }
  if (!probeUpstream(up, m->shared->tls.upstreamContext(), &facts, &error)) {
    KW_LOG_DEBUG("upstream probe failed (%s); retrying", error.c_str());
    return;
  }
  if (facts.busy_threshold_ms >= 0 && config->upstream.busy_threshold_ms == 0)
    m->shared->busy_threshold_ms.store(
        static_cast<uint32_t>(std::min<int64_t>(facts.busy_threshold_ms, UINT32_MAX)),
        std::memory_order_relaxed);
  if (!facts.version.empty() && !m->shared->upstream_version_known.load()) {
    snprintf(m->shared->upstream_version, sizeof m->shared->upstream_version, "%s",
             facts.version.c_str());
    m->shared->upstream_version_known.store(true, std::memory_order_release);
  }
  if (facts.commands) {
    KW_LOG_INFO("upstream redis %s: %zu commands known", facts.version.c_str(),
                facts.commands->size());
    m->shared->publishCommands(facts.commands);
  }
  uv_timer_stop(t);
}

}  // namespace

Server::Server(std::shared_ptr<const Config> config, std::shared_ptr<const CompiledPolicy> policy,
               CliOptions cli, Features features, TlsContexts tls,
               std::unique_ptr<TopologySource> topology)
    : config_(std::move(config)), policy_(std::move(policy)), cli_(std::move(cli)),
      features_(std::move(features)), topology_(std::move(topology)), tls_(std::move(tls)) {}
Server::~Server() {
  if (topology_)
    topology_->stop();
}

bool Server::start(std::string* error) {
  shared_ = std::make_unique<SharedState>(config_, policy_);
  shared_->cli = cli_;
  if (config_->upstream.busy_threshold_ms != 0)
    shared_->busy_threshold_ms.store(config_->upstream.busy_threshold_ms);
  shared_->start_time_ms = uv_now(uv_default_loop());
  shared_->start_unix_s = static_cast<int64_t>(time(nullptr));
  shared_->features = std::move(features_);
  shared_->upstream_name = topology_->name();
  shared_->topology_source = topology_.get();
  // The contexts first: the topology source connects with the upstream's (cluster over TLS).
  shared_->tls.publish(tls_, *config_);
  tls_ = TlsContexts{};  // the shared state holds them now
  if (!topology_->start(shared_.get(), error))
    return false;
  if (!bindListeners(error)) {
    if (!unix_path_.empty())
      removeUnixSocket(unix_path_, unix_inode_);
    return false;
  }
  return true;
}

// Every worker gets its own SO_REUSEPORT socket of each TCP listener, and a dup of the Unix
// socket, bound here so that an address in use fails startup (client_listener.h).
bool Server::bindListeners(std::string* error) {
  const HostPort& l = config_->server.listen;
  std::string reason;
  // Resolved once for every worker, so they all bind the same address whatever the name service
  // does.
  SocketAddress listen, tls_listen;
  int unix_fd = -1;
  if (l.isUnix()) {
    if (!bindUnixListener(l.unix_path, config_->server.unix_mode, &unix_fd, &unix_inode_, error))
      return false;
    unix_path_ = l.unix_path;
  } else if (!l.empty() && !resolveHostPort(l, AddressUse::kListen, &listen, &reason)) {
    *error = "listen address " + formatHostPort(l) + ": cannot resolve host (" + reason + ")";
    return false;
  }
  const TlsServerConfig& tls = config_->tls;
  if (tls.enabled && !resolveHostPort(tls.listen, AddressUse::kListen, &tls_listen, &reason)) {
    *error = "tls.listen " + formatHostPort(tls.listen) + ": cannot resolve host (" + reason + ")";
    if (unix_fd >= 0)
      ::close(unix_fd);
    return false;
  }
  unsigned n = config_->server.workers;
  if (n == 0)
    n = defaultWorkers(std::thread::hardware_concurrency());
  bool ok = true;
  for (unsigned i = 0; i < n && ok; ++i) {
    workers_.push_back(std::make_unique<Worker>(i, shared_.get()));
    Worker& w = *workers_.back();
    shared_->workers.push_back(&w);
    int fd = -1;
    if (l.isUnix()) {
      fd = fcntl(unix_fd, F_DUPFD_CLOEXEC, 0);
      if (fd < 0) {
        *error = std::string("dup of the Unix socket: ") + strerror(errno);
        ok = false;
        break;
      }
      w.addListener(std::make_unique<ClientListener>(ListenerKind::kUnix, fd));
    } else if (l.empty()) {
      // server.listen = "": TLS only.
    } else if (bindTcpListener(listen, formatHostPort(l), /*probe=*/i == 0, &fd, error)) {
      w.addListener(std::make_unique<ClientListener>(ListenerKind::kPlain, fd));
    } else {
      ok = false;
      break;
    }
    if (tls.enabled) {
      if (!bindTcpListener(tls_listen, formatHostPort(tls.listen), /*probe=*/i == 0, &fd, error))
        ok = false;
      else
        w.addListener(std::make_unique<ClientListener>(ListenerKind::kTls, fd));
    }
  }
  if (unix_fd >= 0)
    ::close(unix_fd);  // the workers hold their dups
  return ok;
}

int Server::run() {
  MainLoop m;
  uv_loop_init(&m.loop);
  m.server = this;
  m.shared = shared_.get();
  m.workers = &workers_;
  uv_async_init(&m.loop, &m.worker_exited, &onWorkerExited);
  m.worker_exited.data = &m;
  for (uv_signal_t* s : {&m.sigterm, &m.sigint, &m.sighup}) {
    uv_signal_init(&m.loop, s);
    s->data = &m;
  }
  uv_signal_start(&m.sigterm, &onStopSignal, SIGTERM);
  uv_signal_start(&m.sigint, &onStopSignal, SIGINT);
  uv_signal_start(&m.sighup, &onHup, SIGHUP);
  signal(SIGPIPE, SIG_IGN);
  uv_timer_init(&m.loop, &m.probe_timer);
  m.probe_timer.data = &m;
  uv_timer_start(&m.probe_timer, &onProbe, 0, 2000);
  ServiceManagerLink service(&m.loop, [this] {
    std::vector<uint64_t> beats;
    for (auto& w : workers_)
      beats.push_back(w->heartbeatMs());
    return beats;
  });
  m.service = &service;

  WorkerMetricsSource source(shared_.get());
  MetricsCollector collector(&source, "0.1.0");
  MetricsHttpEndpoint http([&collector] { return collector.serialize(); },
                           [&source] { return source.upstreamUp(); });
  if (config_->metrics.enabled) {
    std::string error;
    if (!http.start(&m.loop, config_->metrics.listen, &error)) {
      KW_LOG_ERROR("%s; choose another address with --metrics-listen HOST:PORT ([metrics] listen) "
                   "or turn the endpoint off with [metrics] enabled = false",
                   error.c_str());
      closeAll(&m);
      uv_run(&m.loop, UV_RUN_DEFAULT);
      uv_loop_close(&m.loop);
      return 1;
    }
    m.http = &http;
    KW_LOG_INFO("metrics on http://%s:%d/metrics", config_->metrics.listen.host.c_str(),
                http.port());
  }

  m.running = static_cast<unsigned>(workers_.size());
  for (auto& w : workers_) {
    w->setOnExit([&m] {
      m.running.fetch_sub(1);
      uv_async_send(&m.worker_exited);
    });
    w->startThread();
  }
  std::string where = formatHostPort(config_->server.listen);
  if (config_->tls.enabled)
    where += (where.empty() ? "" : " and ") + formatHostPort(config_->tls.listen) + " (TLS)";
  KW_LOG_INFO("keywarden listening on %s with %zu workers, upstream %s", where.c_str(),
              workers_.size(), shared_->upstream_name.c_str());
  service.start("serving on " + where + " with " + std::to_string(workers_.size()) +
                " workers, upstream " + shared_->upstream_name);
  uv_run(&m.loop, UV_RUN_DEFAULT);
  for (auto& w : workers_)
    w->join();
  uv_loop_close(&m.loop);
  if (!unix_path_.empty())
    removeUnixSocket(unix_path_, unix_inode_);
  KW_LOG_INFO("stopped");
  return 0;
}

}  // namespace kw
