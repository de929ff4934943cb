#include "common/cli.h"

#include <unistd.h>

#include <cerrno>
#include <string_view>
#include <utility>

#include "common/config_loader.h"
#include "common/log.h"
#include "common/net_address.h"

namespace kw {

namespace {

constexpr unsigned kMaxWorkers = 1024;

enum class Opt {
  kConfig,
  kCheckConfig,
  kHelp,
  kVersion,
  kListen,
  kUpstream,
  kUpstreamPassword,
  kWorkers,
  kMetricsListen,
  kLogLevel,
};

struct OptSpec {
  std::string_view long_name;
  char short_name;  // '\0': none
  bool takes_value;
  Opt opt;
};

constexpr OptSpec kOptions[] = {
    {"config", 'c', true, Opt::kConfig},
    {"check-config", '\0', false, Opt::kCheckConfig},
    {"help", 'h', false, Opt::kHelp},
    {"version", 'v', false, Opt::kVersion},
    {"listen", '\0', true, Opt::kListen},
    {"upstream", '\0', true, Opt::kUpstream},
    {"upstream-password", '\0', true, Opt::kUpstreamPassword},
    {"workers", '\0', true, Opt::kWorkers},
    {"metrics-listen", '\0', true, Opt::kMetricsListen},
    {"log-level", '\0', true, Opt::kLogLevel},
};

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

// `allow_unix`: "unix:/PATH" too (--listen).
bool parseHostPortOpt(std::string_view name, std::string_view value, bool allow_port_zero,
                      std::optional<HostPort>* out, std::string* error, bool allow_unix = false) {
  HostPort hp;
  std::string reason;
  if (!(allow_unix ? parseHostPortOrUnix(value, allow_port_zero, &hp, &reason)
                   : parseHostPort(value, allow_port_zero, &hp, &reason))) {
    *error = std::string(name) +
             (allow_unix ? ": expected HOST:PORT, [IPV6]:PORT or unix:/PATH ("
                         : ": expected HOST:PORT or [IPV6]:PORT (") +
             reason + "), got " + quoted(value);
    return false;
  }
  *out = std::move(hp);
  return true;
}

bool applyOption(const OptSpec& spec, std::string_view name, std::string_view value,
                 CliOptions* out, std::string* error) {
  switch (spec.opt) {
  case Opt::kConfig:
    if (value.empty()) {
      *error = std::string(name) + ": expected a file path, got \"\"";
      return false;
    }
    out->config_path.assign(value);
    out->config_given = true;
    return true;
  case Opt::kCheckConfig:
    out->check_config = true;
    return true;
  case Opt::kHelp:
    out->help = true;
    return true;
  case Opt::kVersion:
    out->version = true;
    return true;
  case Opt::kListen:
    return parseHostPortOpt(name, value, true, &out->listen, error, /*allow_unix=*/true);
  case Opt::kUpstream:
    return parseHostPortOpt(name, value, false, &out->upstream, error);
  case Opt::kMetricsListen:
    return parseHostPortOpt(name, value, true, &out->metrics_listen, error);
  case Opt::kUpstreamPassword:
    out->upstream_password.emplace(value);
    return true;
  case Opt::kWorkers: {
    unsigned n = 0;
    bool ok = !value.empty() && value.size() <= 4;
    for (char c : value) {
      if (c < '0' || c > '9')
        ok = false;
      if (ok)
        n = n * 10 + static_cast<unsigned>(c - '0');
    }
    if (!ok || n > kMaxWorkers) {
      *error = std::string(name) + ": expected an integer in 0.." + std::to_string(kMaxWorkers) +
               ", got " + quoted(value);
      return false;
    }
    out->workers = n;
    return true;
  }
  case Opt::kLogLevel: {
    LogLevel level;
    if (!parseLogLevel(value, &level)) {
      *error = std::string(name) + ": expected one of debug|info|warn|error, got " + quoted(value);
      return false;
    }
    out->log_level = level;
    return true;
  }
  }
  return false;
}

}  // namespace

bool parseCli(int argc, char** argv, CliOptions* out, std::string* error) {
  for (int i = 1; i < argc; i++) {
    std::string_view arg = argv[i];
    const OptSpec* spec = nullptr;
    std::string_view name = arg;
    std::optional<std::string_view> inline_value;

    if (arg.size() > 2 && arg.substr(0, 2) == "--") {
      std::string_view body = arg.substr(2);
      size_t eq = body.find('=');
      if (eq != std::string_view::npos) {
        inline_value = body.substr(eq + 1);
        body = body.substr(0, eq);
        name = arg.substr(0, eq + 2);
      }
      for (const OptSpec& s : kOptions) {
        if (s.long_name == body)
          spec = &s;
      }
    } else if (arg.size() == 2 && arg[0] == '-' && arg[1] != '-') {
      for (const OptSpec& s : kOptions) {
        if (s.short_name == arg[1])
          spec = &s;
      }
    } else {
      *error = "unexpected argument " + quoted(arg) + " (see --help)";
      return false;
    }
    if (spec == nullptr) {
      *error = "unknown option " + std::string(name) + " (see --help)";
      return false;
    }

    std::string_view value;
    if (spec->takes_value) {
      if (inline_value) {
        value = *inline_value;
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        *error = std::string(name) + ": missing value (see --help)";
        return false;
      }
    } else if (inline_value) {
      *error = std::string(name) + ": takes no value";
      return false;
    }
    if (!applyOption(*spec, name, value, out, error))
      return false;
  }
  return true;
}

void applyCliOverrides(const CliOptions& options, Config* config) {
  if (options.listen)
    config->server.listen = *options.listen;
  if (options.upstream)
    config->upstream.address = *options.upstream;
  if (options.metrics_listen)
    config->metrics.listen = *options.metrics_listen;
  if (options.upstream_password)
    config->upstream.password = *options.upstream_password;
  if (options.workers)
    config->server.workers = *options.workers;
  if (options.log_level)
    config->server.log_level = *options.log_level;
}

bool loadStartupConfig(const CliOptions& options, Config* out, bool* used_defaults,
                       std::string* error) {
  *used_defaults = false;
  if (!options.config_given && access(options.config_path.c_str(), F_OK) != 0 && errno == ENOENT) {
    // (a named value: GCC 12 warns falsely, -Wmaybe-uninitialized, about moving a temporary)
    Config defaults;
    *out = std::move(defaults);
    *used_defaults = true;
    return true;
  }
  return loadConfigFile(options.config_path, out, error);
}

bool checkCliAddresses(const CliOptions& options, std::string* error) {
  const struct {
    const char* name;
    const std::optional<HostPort>& value;
    AddressUse use;
  } addresses[] = {{"--listen", options.listen, AddressUse::kListen},
                   {"--upstream", options.upstream, AddressUse::kConnect},
                   {"--metrics-listen", options.metrics_listen, AddressUse::kListen}};
  for (const auto& a : addresses) {
    SocketAddress resolved;
    std::string reason;
    if (a.value && !resolveHostPort(*a.value, a.use, &resolved, &reason)) {
      *error = std::string(a.name) + ": cannot resolve host " + quoted(a.value->host) + " (" +
               reason + ")";
      return false;
    }
  }
  return true;
}

const char* cliHelpText() {
  return "Usage: keywarden [OPTIONS]\n"
         "A Redis-protocol proxy. Command-line options override the config file.\n"
         "\n"
         "  -c, --config FILE            config file (default conf/keywarden.toml; without -c and\n"
         "                               without that file: the built-in defaults)\n"
         "      --check-config           validate the config (and options), print errors, exit\n"
         "      --listen HOST:PORT       client listen address, or unix:/PATH (server.listen)\n"
         "      --upstream HOST:PORT     Redis server to forward to (upstream.address)\n"
         "      --upstream-password PW   AUTH password for the upstream (upstream.password)\n"
         "      --workers N              worker threads, 0 = one per 4 CPUs (server.workers)\n"
         "      --metrics-listen HOST:PORT  Prometheus /metrics address (metrics.listen)\n"
         "      --log-level LEVEL        debug|info|warn|error (server.log_level)\n"
         "  -h, --help                   print this help and exit\n"
         "  -v, --version                print the version and exit\n"
         "\n"
         "Every option also accepts --option=VALUE. IPv6 addresses are written [::1]:6380.\n";
}

}  // namespace kw
