// Command-line options. Options given here override the same settings from the config file.
#pragma once

#include <optional>
#include <string>

#include "common/config.h"

namespace kw {

struct CliOptions {
  std::string config_path = "conf/keywarden.toml";
  bool check_config = false;
  bool help = false;
  bool version = false;
  std::optional<HostPort> listen, upstream, metrics_listen;
  std::optional<std::string> upstream_password;
  std::optional<unsigned> workers;
  std::optional<LogLevel> log_level;
};

// Every option accepts "--opt VALUE" and "--opt=VALUE"; -c/-h/-v are the short forms. A repeated
// option keeps the last value. On failure *error is one line naming the offending argument.
bool parseCli(int argc, char** argv, CliOptions* out, std::string* error);

void applyCliOverrides(const CliOptions& options, Config* config);

const char* cliHelpText();

}  // namespace kw
