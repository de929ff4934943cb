// keywarden: a Redis-protocol proxy that enforces per-namespace policy in front of one Redis.
#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include "app/features.h"
#include "common/cli.h"
#include "common/config_loader.h"
#include "common/log.h"
#include "policy/policy.h"
#include "proxy/server.h"
#include "tls/tls_contexts.h"

int main(int argc, char** argv) {
  kw::CliOptions cli;
  std::string error;
  if (!kw::parseCli(argc, argv, &cli, &error)) {
    fprintf(stderr, "keywarden: %s\nTry 'keywarden --help'.\n", error.c_str());
    return 2;
  }
  if (cli.help) {
    fputs(kw::cliHelpText(), stdout);
    return 0;
  }
  if (cli.version) {
    puts("keywarden 0.1.0");
    return 0;
  }
  auto config = std::make_shared<kw::Config>();
  bool defaults = false;
  if (!kw::loadStartupConfig(cli, config.get(), &defaults, &error)) {
    fprintf(stderr, "keywarden: %s\n", error.c_str());
    return 1;
  }
  kw::applyCliOverrides(cli, config.get());
  if (!kw::checkCliAddresses(cli, &error)) {
    fprintf(stderr, "keywarden: %s\n", error.c_str());
    return 1;
  }
  auto policy = kw::CompiledPolicy::build(config->policy, &error);
  if (!policy) {
    fprintf(stderr, "keywarden: %s: %s\n", cli.config_path.c_str(), error.c_str());
    return 1;
  }
  // Certificates and keys are read and checked as startup needs them (missing or unreadable
  // file, key not matching its certificate, an expired certificate): --check-config says so too.
  kw::TlsContexts tls;
  if (!kw::buildTlsContexts(*config, &tls, &error)) {
    fprintf(stderr, "keywarden: %s: %s\n", cli.config_path.c_str(), error.c_str());
    return 1;
  }
  if (cli.check_config) {
    if (defaults)
      printf("%s not found and no -c given: the built-in defaults are OK\n",
             cli.config_path.c_str());
    else
      printf("%s: configuration OK\n", cli.config_path.c_str());
    return 0;
  }
  kw::setLogLevel(config->server.log_level);
  kw::setThreadLogName("main");
  if (defaults) {
    KW_LOG_WARN("no configuration file (%s not found, no -c given): running on the built-in "
                "defaults, listening on %s, upstream %s",
                cli.config_path.c_str(), kw::formatHostPort(config->server.listen).c_str(),
                kw::formatHostPort(config->upstream.address).c_str());
  }
  for (const std::string& warning : tls.warnings)
    KW_LOG_WARN("%s", warning.c_str());
  kw::Server server(config, policy, cli, kw::makeFeatures(*config), std::move(tls),
                    kw::makeTopologySource(*config));
  if (!server.start(&error)) {
    KW_LOG_ERROR("%s", error.c_str());
    return 1;
  }
  return server.run();
}
