// Reads the PostgreSQL parts of the config file from toml++ nodes; config_loader.cc calls these
// at two points (the [[postgres]] array, and each namespace's read_through key) and supplies the
// error sink, so messages carry file:line like every other config error. Never throws.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <toml++/toml.h>

#include "common/policy_config.h"
#include "pg/pg_config.h"

namespace kw {

// (line, "path: message")
using PgConfigErrorSink = std::function<void(uint32_t, const std::string&)>;

// `node` is the value of the root key "postgres" (an array of tables).
void readPostgresSources(const toml::node& node, PgConfig* out, const PgConfigErrorSink& error);

// `node` is a namespace's "read_through" value; `path` is that namespace's path for messages
// ("namespaces[2]"). Sources must have been read first.
void readReadThrough(const toml::node& node, const std::string& path, const NamespaceConfig& ns,
                     PgConfig* out, const PgConfigErrorSink& error);

}  // namespace kw
