// The main thread: starts the workers, handles signals (SIGTERM/SIGINT drain, SIGHUP reload),
// learns the upstream's version and command table, and waits for the workers to finish.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "common/cli.h"
#include "common/config.h"
#include "proxy/feature.h"
#include "proxy/topology_source.h"
#include "tls/tls_contexts.h"

namespace kw {

class CompiledPolicy;
class SharedState;
class Worker;

class Server {
public:
  // `features` and `topology`: what the composition root (src/app/features.h) made for this
  // configuration; `tls`: the TLS contexts built from it (buildTlsContexts, before anything
  // starts).
  Server(std::shared_ptr<const Config> config, std::shared_ptr<const CompiledPolicy> policy,
         CliOptions cli, Features features, TlsContexts tls,
         std::unique_ptr<TopologySource> topology);
  ~Server();
  // Binds every worker's sockets (client_listener.h); false with *error on failure (nothing
  // started, no socket file left behind).
  bool start(std::string* error);
  // Runs until a signal has drained every worker. Returns the process exit code.
  int run();

private:
  std::shared_ptr<const Config> config_;
  std::shared_ptr<const CompiledPolicy> policy_;
  CliOptions cli_;
  Features features_;                         // handed to the shared state in start()
  std::unique_ptr<TopologySource> topology_;  // outlives the workers and the shared state
  TlsContexts tls_;                           // published into the shared state in start()
  std::string unix_path_;  // the Unix socket file this process made, removed at exit
  ino_t unix_inode_ = 0;
  bool bindListeners(std::string* error);
  std::unique_ptr<SharedState> shared_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace kw
