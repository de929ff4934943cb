// Command-line options. Options given here override the same settings from the config file.
#pragma once

#include <optional>
#include <string>

#include "common/config.h"

namespace kw {

inline constexpr const char* kDefaultConfigPath = "conf/keywarden.toml";

struct CliOptions {
  std::string config_path = kDefaultConfigPath;
  bool config_given = false;  // -c/--config was on the command line
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

// The configuration to start with: the file (-c FILE, else conf/keywarden.toml) or, when no -c
// was given and conf/keywarden.toml does not exist, the built-in defaults, as redis-server runs
// without a config file (*used_defaults tells which; out->source_path is then empty). A file
// named with -c that cannot be read is an error, as is a conf/keywarden.toml that exists but
// cannot be read or is invalid.
bool loadStartupConfig(const CliOptions& options, Config* out, bool* used_defaults,
                       std::string* error);

// The addresses given as options resolve (common/net_address.h), as startup will need them to:
// the check the config loader makes for the file's addresses. *error names the option.
bool checkCliAddresses(const CliOptions& options, std::string* error);

const char* cliHelpText();

}  // namespace kw
