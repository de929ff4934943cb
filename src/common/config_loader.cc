#include "common/config_loader.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <optional>
#include <sstream>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

// The packaged libtomlplusplus is built with exceptions, so the header must match it; parse
// errors are caught right at the toml::parse call and nothing escapes this file.
#include <toml++/toml.h>

#include "common/budget_config_loader.h"
#include "common/cache_config_loader.h"
#include "common/log.h"
#include "common/net_address.h"
#include "common/ratelimit_config_loader.h"
#include "common/unix_address.h"
#include "pg/pg_config_loader.h"
#include "policy/key_pattern.h"
#include "policy/password.h"
#include "policy/policy.h"
#include "tls/tls_config_loader.h"

namespace kw {

namespace {

constexpr size_t kMaxConfigFileBytes = 16u << 20;
constexpr size_t kMaxShownValue = 80;
constexpr int64_t kU32Max = std::numeric_limits<uint32_t>::max();
constexpr int64_t kMaxBytes = int64_t{1} << 40;
constexpr int64_t kMaxTtlS = int64_t{100} * 365 * 24 * 3600;  // keeps now + max far from overflow

void appendEscaped(std::string* out, char ch) {
  static const char kHex[] = "0123456789abcdef";
  unsigned char c = static_cast<unsigned char>(ch);
  if (c < 0x20 || c == 0x7f) {
    *out += "\\u00";
    *out += kHex[c >> 4];
    *out += kHex[c & 0xf];
  } else {
    *out += ch;
  }
}

class Errors {
public:
  explicit Errors(std::string_view source) : source_(source.empty() ? "<config>" : source) {}

  // Control bytes are escaped (toml++ quotes the offending input character in its messages) so
  // every error stays on one line.
  void add(uint32_t line, std::string_view message) {
    std::string clean;
    for (char c : message)
      appendEscaped(&clean, c);
    items_.push_back({line, std::move(clean)});
  }
  bool empty() const { return items_.empty(); }

  // File order reads best, whatever order the sections were checked in.
  std::string joined() {
    std::stable_sort(items_.begin(), items_.end(),
                     [](const Item& a, const Item& b) { return a.line < b.line; });
    std::string out;
    for (const Item& item : items_) {
      if (!out.empty())
        out += '\n';
      out += source_;
      if (item.line != 0) {
        out += ':';
        out += std::to_string(item.line);
      }
      out += ": ";
      out += item.message;
    }
    return out;
  }

private:
  struct Item {
    uint32_t line;
    std::string message;
  };
  std::string source_;
  std::vector<Item> items_;
};

// Double-quoted with TOML basic-string escapes, cut at kMaxShownValue bytes.
std::string quote(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < kMaxShownValue; i++) {
    if (s[i] == '"' || s[i] == '\\')
      out += '\\';
    appendEscaped(&out, s[i]);
  }
  out += s.size() > kMaxShownValue ? "\"..." : "\"";
  return out;
}

bool isBareKeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// A value as it appeared in the file, for "got ..." in messages.
std::string describe(const toml::node& node) {
  if (node.is_table())
    return "a table";
  if (node.is_array())
    return "an array";
  if (const auto* str = node.as_string())
    return quote(str->get());
  std::ostringstream os;
  node.visit([&os](const auto& v) { os << v; });
  std::string s = os.str();
  if (s.size() > kMaxShownValue) {
    s.resize(kMaxShownValue);
    s += "...";
  }
  return s;
}

uint32_t lineOf(const toml::node& node) {
  return node.source().begin.line;
}

// Reads the keys of one TOML table into typed fields. Every key that is read is remembered, so
// finish() can report whatever is left as unknown (catches typos). Each read leaves the field at
// its default when the key is absent and records an error (with the value's line) when present
// but invalid.
class TableReader {
public:
  TableReader(const toml::table& table, std::string prefix, Errors* errors, bool resolve)
      : table_(table), prefix_(std::move(prefix)), errors_(errors), resolve_(resolve) {}

  template <typename T> void readInt(std::string_view key, int64_t min, int64_t max, T* out) {
    static_assert(std::is_integral_v<T>);
    const toml::node* node = take(key);
    if (node == nullptr)
      return;
    const auto* v = node->as_integer();
    if (v == nullptr || v->get() < min || v->get() > max) {
      fail(key, *node,
           "expected an integer in " + std::to_string(min) + ".." + std::to_string(max));
      return;
    }
    *out = static_cast<T>(v->get());
  }

  void readBool(std::string_view key, bool* out) {
    const toml::node* node = take(key);
    if (node == nullptr)
      return;
    if (const auto* v = node->as_boolean()) {
      *out = v->get();
    } else {
      fail(key, *node, "expected true or false");
    }
  }

  void readString(std::string_view key, std::string* out) {
    const toml::node* node = take(key);
    if (node == nullptr)
      return;
    if (const auto* v = node->as_string()) {
      *out = v->get();
    } else {
      fail(key, *node, "expected a string");
    }
  }

  // Listeners may use port 0 (the kernel picks one, handy for tests); an upstream needs a real
  // one. When resolving, the host of an address in use must resolve now, as startup will need
  // it to.
  // With `allow_unix`, "unix:/path" too (a Unix socket needs no name service).
  void readHostPort(std::string_view key, AddressUse use, HostPort* out, bool used = true,
                    bool allow_unix = false) {
    const toml::node* node = take(key);
    if (node == nullptr)
      return;
    const auto* v = node->as_string();
    std::string reason;
    HostPort hp;
    SocketAddress resolved;
    const char* forms =
        allow_unix ? "HOST:PORT, [IPV6]:PORT or unix:/PATH" : "HOST:PORT or [IPV6]:PORT";
    if (v == nullptr) {
      fail(key, *node,
           allow_unix ? "expected a \"HOST:PORT\" or \"unix:/PATH\" string"
                      : "expected a \"HOST:PORT\" string");
    } else if (!(allow_unix
                     ? parseHostPortOrUnix(v->get(), use == AddressUse::kListen, &hp, &reason)
                     : parseHostPort(v->get(), use == AddressUse::kListen, &hp, &reason))) {
      fail(key, *node, std::string("expected ") + forms + " (" + reason + ")");
    } else if (resolve_ && used && !hp.isUnix() && !resolveHostPort(hp, use, &resolved, &reason)) {
      fail(key, *node, "cannot resolve host " + quote(hp.host) + " (" + reason + ")");
    } else {
      *out = std::move(hp);
    }
  }

  void readLogLevel(std::string_view key, LogLevel* out) {
    const toml::node* node = take(key);
    if (node == nullptr)
      return;
    const auto* v = node->as_string();
    if (v == nullptr || !parseLogLevel(v->get(), out)) {
      fail(key, *node, "expected one of debug|info|warn|error");
    }
  }

  // A list of strings; any other element type is an error and leaves *out untouched.
  void readStringList(std::string_view key, std::vector<std::string>* out) {
    const toml::node* node = take(key);
    if (node == nullptr)
      return;
    const auto* a = node->as_array();
    if (a == nullptr) {
      fail(key, *node, "expected an array of strings");
      return;
    }
    std::vector<std::string> values;
    for (const toml::node& element : *a) {
      const auto* v = element.as_string();
      if (v == nullptr) {
        fail(key, element, "expected an array of strings");
        return;
      }
      values.push_back(v->get());
    }
    *out = std::move(values);
  }

  // One of `choices`; *out gets its index.
  template <typename T>
  void readChoice(std::string_view key, std::initializer_list<std::string_view> choices, T* out) {
    const toml::node* node = take(key);
    if (node == nullptr)
      return;
    const auto* v = node->as_string();
    int index = 0;
    for (std::string_view choice : choices) {
      if (v != nullptr && v->get() == choice) {
        *out = static_cast<T>(index);
        return;
      }
      ++index;
    }
    std::string expected = "expected ";
    index = 0;
    for (std::string_view choice : choices) {
      expected += index++ == 0 ? "\"" : " or \"";
      expected += choice;
      expected += '"';
    }
    fail(key, *node, expected);
  }

  bool has(std::string_view key) const { return table_.get(key) != nullptr; }

  // A key read by another file's parser (src/pg/pg_config_loader.cc): marked as known here.
  const toml::node* takeNode(std::string_view key) { return take(key); }
  std::string pathOf() const { return prefix_; }
  bool resolving() const { return resolve_; }
  void errorLine(uint32_t line, const std::string& message) { errors_->add(line, message); }

  // Line of the table itself ([[header]] or inline table start).
  uint32_t tableLine() const { return lineOf(table_); }

  // Runs read(sub_reader) on the sub-table [key] if present; wrong type is an error.
  template <typename Fn> void readTable(std::string_view key, Fn&& read) {
    const toml::node* node = take(key);
    if (node == nullptr)
      return;
    const auto* t = node->as_table();
    if (t == nullptr) {
      fail(key, *node, "expected a table [" + path(key) + "]");
      return;
    }
    TableReader sub(*t, path(key), errors_, resolve_);
    read(sub);
    sub.finish();
  }

  // Runs read(element_reader, index) on each [[key]] entry.
  template <typename Fn> void readTableArray(std::string_view key, Fn&& read) {
    const toml::node* node = take(key);
    if (node == nullptr)
      return;
    const auto* a = node->as_array();
    if (a == nullptr) {
      fail(key, *node, "expected an array of tables [[" + path(key) + "]]");
      return;
    }
    for (size_t i = 0; i < a->size(); i++) {
      std::string elem_path = path(key) + "[" + std::to_string(i) + "]";
      const auto* t = (*a)[i].as_table();
      if (t == nullptr) {
        errors_->add(lineOf((*a)[i]), elem_path + ": expected a table, got " + describe((*a)[i]));
        continue;
      }
      TableReader sub(*t, elem_path, errors_, resolve_);
      read(sub, i);
      sub.finish();
    }
  }

  // Line of a key's value when present, else of the table itself; for cross-field checks.
  uint32_t lineOfKey(std::string_view key) const {
    if (const toml::node* node = table_.get(key))
      return lineOf(*node);
    return lineOf(table_);
  }

  void error(uint32_t line, std::string_view key, const std::string& message) {
    errors_->add(line, path(key) + ": " + message);
  }

  // A key read outside this file (rate limits, near cache: their own *_config_loader.cc), marked
  // as known.
  ConfigKey claim(std::string_view key) { return {take(key), path(key)}; }
  ConfigErrorSink errorSink() const {
    return [errors = errors_](uint32_t line, const std::string& message) {
      errors->add(line, message);
    };
  }

  void finish() {
    for (auto&& [k, v] : table_) {
      if (seen_.count(std::string(k.str())) != 0)
        continue;
      uint32_t line = k.source().begin.line != 0 ? k.source().begin.line : lineOf(v);
      errors_->add(line, path(k.str()) + ": unknown " + (v.is_table() ? "section" : "key"));
    }
  }

private:
  const toml::node* take(std::string_view key) {
    seen_.insert(std::string(key));
    return table_.get(key);
  }

  // Keys that are not bare TOML keys are quoted, so a key holding a newline cannot split an
  // error line.
  std::string path(std::string_view key) const {
    bool bare = !key.empty();
    for (char c : key) {
      if (!isBareKeyChar(c))
        bare = false;
    }
    std::string shown = bare ? std::string(key) : quote(key);
    return prefix_.empty() ? shown : prefix_ + "." + shown;
  }

  void fail(std::string_view key, const toml::node& node, const std::string& expected) {
    errors_->add(lineOf(node), path(key) + ": " + expected + ", got " + describe(node));
  }

  const toml::table& table_;
  std::string prefix_;
  Errors* errors_;
  bool resolve_;
  std::unordered_set<std::string> seen_;
};

void readServer(TableReader& r, ServerConfig* c) {
  const toml::node* listen = r.takeNode("listen");
  if (listen != nullptr && listen->as_string() != nullptr && listen->as_string()->get().empty())
    c->listen = HostPort{};  // no plaintext listener: clients come over TLS (checked in readRoot)
  else
    r.readHostPort("listen", AddressUse::kListen, &c->listen, /*used=*/true, /*allow_unix=*/true);
  if (const toml::node* mode = r.takeNode("unix_mode")) {
    const auto* text = mode->as_string();
    if (text == nullptr || !parseUnixMode(text->get(), &c->unix_mode))
      r.error(lineOf(*mode), "unix_mode",
              "expected an octal file mode such as \"0660\" (at most 0777), got " +
                  describe(*mode));
    else if (!c->listen.isUnix())
      r.error(lineOf(*mode), "unix_mode", "needs listen = \"unix:/PATH\"");
  }
  r.readInt("workers", 0, 1024, &c->workers);
  r.readInt("shutdown_deadline_ms", 0, kU32Max, &c->shutdown_deadline_ms);
  r.readLogLevel("log_level", &c->log_level);
}

// Seeds and sentinels are checked like `address` (HOST:PORT that resolves), each naming its own
// line; one that is down at startup is fine, one that cannot be reached at all is not.
// False when it reported an error.
bool readNodeList(TableReader& r, std::string_view key, std::vector<HostPort>* out) {
  std::vector<std::string> raw;
  const uint32_t line = r.lineOfKey(key);
  r.readStringList(key, &raw);
  std::vector<HostPort> nodes;
  for (const std::string& text : raw) {
    HostPort hp;
    std::string reason;
    SocketAddress resolved;
    if (isUnixAddress(text)) {
      r.error(line, key,
              std::string(key == "seeds" ? "a cluster is reached over TCP (its nodes announce "
                                           "host:port), got "
                                         : "sentinels are reached over TCP, got ") +
                  quote(text));
      return false;
    }
    if (!parseHostPort(text, false, &hp, &reason)) {
      r.error(line, key, "expected HOST:PORT or [IPV6]:PORT (" + reason + "), got " + quote(text));
      return false;
    }
    if (r.resolving() && !resolveHostPort(hp, AddressUse::kConnect, &resolved, &reason)) {
      r.error(line, key, "cannot resolve host " + quote(hp.host) + " (" + reason + ")");
      return false;
    }
    nodes.push_back(std::move(hp));
  }
  *out = std::move(nodes);
  return true;
}

// The keys of each mode: a key of another mode is a mistake worth a line number, never a
// setting silently ignored (sentinels beside cluster seeds, a master_name in standalone mode).
struct ModeKey {
  std::string_view key;
  UpstreamMode mode;
};
constexpr ModeKey kModeKeys[] = {
    {"seeds", UpstreamMode::kCluster},
    {"topology_refresh_ms", UpstreamMode::kCluster},
    {"max_redirects", UpstreamMode::kCluster},
    {"sentinels", UpstreamMode::kSentinel},
    {"master_name", UpstreamMode::kSentinel},
    {"sentinel_username", UpstreamMode::kSentinel},
    {"sentinel_password", UpstreamMode::kSentinel},
};

void readUpstream(TableReader& r, UpstreamConfig* c) {
  r.readChoice("mode", {"standalone", "cluster", "sentinel"}, &c->mode);
  const bool cluster = c->mode == UpstreamMode::kCluster;
  const bool sentinel_mode = c->mode == UpstreamMode::kSentinel;
  const std::string mode_name = upstreamModeName(c->mode);
  for (const ModeKey& k : kModeKeys)
    if (k.mode != c->mode && r.takeNode(k.key) != nullptr)
      r.error(r.lineOfKey(k.key), k.key,
              std::string("only for mode = \"") + upstreamModeName(k.mode) + "\" (mode is \"" +
                  mode_name + "\")");
  if ((cluster || sentinel_mode) && r.has("address"))
    r.error(r.lineOfKey("address"), "address",
            cluster ? "not used with mode = \"cluster\": the nodes come from `seeds`"
                    : "not used with mode = \"sentinel\": the master comes from `sentinels`");
  if (cluster) {
    readNodeList(r, "seeds", &c->seeds);
    if (c->seeds.empty())
      r.error(r.lineOfKey("mode"), "seeds", "mode = \"cluster\" needs at least one seed");
  }
  if (sentinel_mode) {
    if (readNodeList(r, "sentinels", &c->sentinels) && c->sentinels.empty())
      r.error(r.lineOfKey("mode"), "sentinels",
              "mode = \"sentinel\" needs at least one sentinel (\"HOST:PORT\")");
    r.readString("master_name", &c->master_name);
    if (c->master_name.empty())
      r.error(r.lineOfKey(r.has("master_name") ? "master_name" : "mode"), "master_name",
              "mode = \"sentinel\" needs the name the sentinels monitor the master by");
    for (char ch : c->master_name)
      if (static_cast<unsigned char>(ch) < ' ' || ch == 0x7f) {
        r.error(r.lineOfKey("master_name"), "master_name", "must not hold control characters");
        break;
      }
    r.readString("sentinel_username", &c->sentinel_username);
    r.readString("sentinel_password", &c->sentinel_password);
    if (!c->sentinel_username.empty() && c->sentinel_password.empty())
      r.error(r.lineOfKey("sentinel_username"), "sentinel_username",
              "needs sentinel_password (AUTH takes a user and a password)");
  }
  r.readInt("topology_refresh_ms", 100, kU32Max, &c->topology_refresh_ms);
  r.readInt("max_redirects", 1, 16, &c->max_redirects);
  r.readHostPort("address", AddressUse::kConnect, &c->address, !cluster && !sentinel_mode,
                 /*allow_unix=*/true);
  r.readString("username", &c->username);
  r.readString("password", &c->password);
  r.readInt("db", 0, std::numeric_limits<int>::max(), &c->db);
  if (cluster && c->db != 0)
    r.error(r.lineOfKey("db"), "db", "a Redis Cluster has only db 0");
  r.readInt("connections", 1, 1024, &c->connections);
  r.readInt("connect_timeout_ms", 1, kU32Max, &c->connect_timeout_ms);
  r.readInt("request_timeout_ms", 1, kU32Max, &c->request_timeout_ms);
  r.readInt("reconnect_backoff_min_ms", 1, kU32Max, &c->reconnect_backoff_min_ms);
  r.readInt("reconnect_backoff_max_ms", 1, kU32Max, &c->reconnect_backoff_max_ms);
  r.readInt("pinned_pool_size", 0, 65536, &c->pinned_pool_size);
  r.readInt("busy_threshold_ms", 0, kU32Max, &c->busy_threshold_ms);
  readUpstreamTls([&r](std::string_view key) { return r.claim(key); }, r.errorSink(), &c->tls);
  // Redis serves TLS on its tls-port only, never on its unixsocket.
  if (c->tls.enabled && c->address.isUnix())
    r.error(r.lineOfKey("tls"), "tls",
            "a Unix socket upstream is not TLS (Redis serves TLS on its tls-port only)");
  if (c->reconnect_backoff_max_ms < c->reconnect_backoff_min_ms) {
    r.error(r.lineOfKey("reconnect_backoff_max_ms"), "reconnect_backoff_max_ms",
            "must be >= reconnect_backoff_min_ms (" + std::to_string(c->reconnect_backoff_min_ms) +
                "), got " + std::to_string(c->reconnect_backoff_max_ms));
  }
}

void readLimits(TableReader& r, LimitsConfig* c) {
  r.readInt("max_clients", 1, 10000000, &c->max_clients);
  r.readInt("idle_timeout_s", 0, std::numeric_limits<int32_t>::max(), &c->idle_timeout_s);
  r.readInt("max_reply_buffer_bytes", 1, kMaxBytes, &c->max_reply_buffer_bytes);
  r.readInt("reply_stall_timeout_s", 1, 86400, &c->reply_stall_timeout_s);
  r.readInt("max_query_buffer_bytes", 1, kMaxBytes, &c->max_query_buffer_bytes);
  r.readInt("max_bulk_len", 1, kMaxBytes, &c->max_bulk_len);
  r.readInt("max_array_len", 1, std::numeric_limits<int32_t>::max(), &c->max_array_len);
  r.readInt("max_inline_len", 1, std::numeric_limits<int32_t>::max(), &c->max_inline_len);
  r.readInt("preauth_max_bulk_len", 1, kMaxBytes, &c->preauth_max_bulk_len);
  r.readInt("preauth_max_array_len", 1, std::numeric_limits<int32_t>::max(),
            &c->preauth_max_array_len);
}

void readMetrics(TableReader& r, MetricsConfig* c) {
  r.readBool("enabled", &c->enabled);
  r.readBool("collect", &c->collect);
  r.readHostPort("listen", AddressUse::kListen, &c->listen, /*used=*/c->enabled);
}

void readSlowlog(TableReader& r, SlowlogConfig* c) {
  r.readInt("threshold_us", -1, INT64_MAX, &c->threshold_us);
  r.readInt("max_len", 0, 1000000, &c->max_len);
}

std::string quoteName(std::string_view s) {
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < kMaxShownValue; i++)
    appendEscaped(&out, s[i]);
  out += s.size() > kMaxShownValue ? "'..." : "'";
  return out;
}

void readNamespace(TableReader& r, const std::vector<NamespaceConfig>& earlier,
                   NamespaceConfig* ns) {
  ns->line = static_cast<int>(r.tableLine());
  r.readString("name", &ns->name);
  r.readString("pattern", &ns->pattern);
  r.readChoice("kind", {"normal", "blacklist"}, &ns->kind);
  const bool blacklist = ns->kind == NamespaceKind::kBlacklist;
  if (blacklist) {
    // What a blacklist is: every key expires, and an expiry over the maximum is refused.
    ns->ttl_required = true;
    ns->over_max_ttl = OverMaxTtl::kRefuse;
  }
  r.readInt("default_ttl_s", 0, kMaxTtlS, &ns->default_ttl_s);
  r.readInt("max_ttl_s", 0, kMaxTtlS, &ns->max_ttl_s);
  r.readBool("ttl_required", &ns->ttl_required);
  r.readBool("enforce_shape", &ns->enforce_shape);
  r.readChoice("over_max_ttl", {"clamp", "refuse"}, &ns->over_max_ttl);

  if (!r.has("name")) {
    r.error(r.tableLine(), "name", "required");
  } else if (std::string problem = validateNamespaceName(ns->name); !problem.empty()) {
    r.error(r.lineOfKey("name"), "name", problem);
  } else {
    for (const NamespaceConfig& other : earlier) {
      if (other.name == ns->name) {
        r.error(r.lineOfKey("name"), "name",
                "duplicate namespace name " + quoteName(ns->name) + " (first declared on line " +
                    std::to_string(other.line) + ")");
        break;
      }
    }
  }
  if (!r.has("pattern")) {
    r.error(r.tableLine(), "pattern", "required");
  } else if (std::string problem; !KeyPattern::parse(ns->pattern, &problem)) {
    r.error(r.lineOfKey("pattern"), "pattern", problem + ", got " + quote(ns->pattern));
  } else {
    for (const NamespaceConfig& other : earlier) {
      if (other.pattern == ns->pattern) {
        r.error(r.lineOfKey("pattern"), "pattern",
                "same pattern as namespace " + quoteName(other.name) + " (line " +
                    std::to_string(other.line) + ")");
        break;
      }
    }
  }
  if (blacklist) {
    if (ns->max_ttl_s == 0)
      r.error(r.lineOfKey("max_ttl_s"), "max_ttl_s",
              "a blacklist namespace needs max_ttl_s > 0 (the longest token lifetime)");
    if (ns->default_ttl_s != 0)
      r.error(r.lineOfKey("default_ttl_s"), "default_ttl_s",
              "not allowed in a blacklist namespace: each write carries its token's expiry, and "
              "writes without one are refused");
    if (!ns->ttl_required)
      r.error(r.lineOfKey("ttl_required"), "ttl_required",
              "a blacklist namespace requires a TTL on every key");
    if (ns->over_max_ttl != OverMaxTtl::kRefuse)
      r.error(r.lineOfKey("over_max_ttl"), "over_max_ttl",
              "a blacklist namespace refuses expiries over max_ttl_s: a clamped revocation would "
              "make a revoked token valid again");
    if (std::optional<KeyPattern> p = KeyPattern::parse(ns->pattern, nullptr);
        p && p->literalPrefix().empty())
      r.error(r.lineOfKey("pattern"), "pattern",
              "a blacklist namespace's pattern must start with literal text (its Redis prefix)");
  } else if (ns->ttl_required && ns->default_ttl_s == 0) {
    r.error(r.lineOfKey("ttl_required"), "ttl_required",
            "needs default_ttl_s > 0 (the TTL given to keys created without one)");
  }
  if (ns->default_ttl_s != 0 && ns->max_ttl_s != 0 && ns->default_ttl_s > ns->max_ttl_s) {
    r.error(r.lineOfKey("default_ttl_s"), "default_ttl_s",
            "must be <= max_ttl_s (" + std::to_string(ns->max_ttl_s) + "), got " +
                std::to_string(ns->default_ttl_s));
  }
}

void readGrants(TableReader& r, std::string_view key, const std::vector<NamespaceConfig>& nss,
                std::vector<std::string>* out) {
  r.readStringList(key, out);
  for (const std::string& grant : *out) {
    std::string problem = validateGrant(grant, nss);
    if (!problem.empty())
      r.error(r.lineOfKey(key), key, problem);
  }
}

void readUser(TableReader& r, const std::vector<NamespaceConfig>& nss,
              const std::vector<UserConfig>& earlier, UserConfig* user) {
  user->line = static_cast<int>(r.tableLine());
  r.readString("name", &user->name);
  r.readString("password_hash", &user->password_hash);
  r.readBool("nopass", &user->nopass);
  r.readBool("enabled", &user->enabled);
  r.readBool("admin", &user->admin);
  readGrants(r, "read", nss, &user->read);
  readGrants(r, "write", nss, &user->write);
  std::vector<std::string> commands;
  r.readStringList("commands", &commands);
  for (const std::string& name : commands) {
    uint32_t bits = parseCategory(name);
    if (bits == 0) {
      r.error(r.lineOfKey("commands"), "commands",
              "unknown command category " + quote(name) +
                  " (expected read, write, keyspace, pubsub, scripting, admin, dangerous or all)");
    }
    user->categories |= bits;
  }
  r.readStringList("channels", &user->channels);
  r.readString("cert_subject", &user->cert_subject);
  if (r.has("cert_subject")) {
    if (std::string problem = validateCertSubject(user->cert_subject); !problem.empty()) {
      r.error(r.lineOfKey("cert_subject"), "cert_subject", problem);
    } else {
      for (const UserConfig& other : earlier) {
        if (other.cert_subject == user->cert_subject) {
          r.error(r.lineOfKey("cert_subject"), "cert_subject",
                  "user " + quoteName(other.name) + " (line " + std::to_string(other.line) +
                      ") has the same cert_subject: a certificate must name one user");
          break;
        }
      }
    }
  }

  if (!r.has("name")) {
    r.error(r.tableLine(), "name", "required");
  } else if (std::string problem = validateUserName(user->name); !problem.empty()) {
    r.error(r.lineOfKey("name"), "name", problem);
  } else {
    for (const UserConfig& other : earlier) {
      if (other.name == user->name) {
        r.error(r.lineOfKey("name"), "name",
                "duplicate user name " + quoteName(user->name) + " (first declared on line " +
                    std::to_string(other.line) + ")");
        break;
      }
    }
  }
  // The value is never echoed: a plaintext password put there by mistake must not reach logs.
  if (r.has("password_hash") && !isValidPasswordHash(user->password_hash)) {
    r.error(r.lineOfKey("password_hash"), "password_hash",
            "expected \"sha256$<32 hex digits>$<64 hex digits>\" (make one with "
            "tools/hash-password)");
  }
  if (user->nopass && !user->password_hash.empty()) {
    r.error(r.lineOfKey("nopass"), "nopass", "cannot be combined with password_hash");
  } else if (!user->nopass && !r.has("password_hash") && !r.has("cert_subject")) {
    r.error(r.tableLine(), "password_hash", "required unless nopass = true or cert_subject is set");
  }
}

void readPolicy(TableReader& r, PolicyConfig* c) {
  r.readChoice("outside_namespaces", {"allow", "refuse"}, &c->outside_namespaces);
  r.readString("default_user", &c->default_user);
  r.readInt("auth_max_failures", 0, 1000000, &c->auth_max_failures);
  r.readInt("auth_failure_window_s", 1, 86400, &c->auth_failure_window_s);
  r.readInt("auth_block_s", 0, 86400, &c->auth_block_s);
}

// default_user against the declared users. Without users there is one implicit user named
// "default"; with users, the implicit default_user = "default" quietly becomes "" (every client
// must AUTH) when no user has that name, while an explicit name must exist.
void checkDefaultUser(const toml::table& root, Errors* errors, PolicyConfig* c) {
  const toml::node* policy = root.get("policy");
  const toml::node* node =
      policy != nullptr && policy->is_table() ? policy->as_table()->get("default_user") : nullptr;
  if (node != nullptr && !node->is_string())
    return;  // already reported
  const std::string& name = c->default_user;
  if (name.empty())
    return;
  bool found = c->users.empty() && name == "default";
  for (const UserConfig& user : c->users)
    found |= user.name == name;
  if (found)
    return;
  if (node == nullptr) {
    c->default_user.clear();
    return;
  }
  errors->add(lineOf(*node), "policy.default_user: " + quoteName(name) +
                                 (c->users.empty() ? " is not a user (no [[users]] are declared, "
                                                     "only the implicit 'default')"
                                                   : " is not a declared user"));
}

void readRoot(TableReader& r, Config* c) {
  uint32_t listen_line = 0;
  r.readTable("server", [c, &listen_line](TableReader& s) {
    readServer(s, &c->server);
    listen_line = s.lineOfKey("listen");
  });
  r.readTable("upstream", [c](TableReader& s) { readUpstream(s, &c->upstream); });
  r.readTable("limits", [c](TableReader& s) {
    readLimits(s, &c->limits);
    readClientRateLimit(s.claim("per_client_rate_limit"), s.errorSink(), &c->rate_limit);
  });
  r.readTable("metrics", [c](TableReader& s) { readMetrics(s, &c->metrics); });
  readTlsSection(r.claim("tls"), c->server.listen, r.resolving(), r.errorSink(), &c->tls);
  if (c->server.listen.empty() && !c->tls.enabled)
    r.errorLine(listen_line, "server.listen: \"\" (no plaintext listener) needs a [tls] section: "
                             "clients need a listener");
  r.readTable("slowlog", [c](TableReader& s) { readSlowlog(s, &c->slowlog); });
  // Namespaces first: user grants are checked against their names.
  PolicyConfig* p = &c->policy;
  readBudgetSection(r.claim("budgets"), r.errorSink(), &c->budgets);  // before: the lease key
  // PostgreSQL sources before namespaces: a namespace's read_through names one.
  auto sink = [&r](uint32_t line, const std::string& m) { r.errorLine(line, m); };
  if (const toml::node* node = r.takeNode("postgres"))
    readPostgresSources(*node, &c->pg, sink);
  r.readTableArray("namespaces", [p, c, &sink](TableReader& s, size_t) {
    NamespaceConfig ns;
    readNamespace(s, p->namespaces, &ns);
    readNamespaceRateLimit(s.claim("rate_limit"), s.claim("rate_limit_fallback"), s.errorSink(),
                           &c->rate_limit);
    readNamespaceCache(ns, s.claim("near_cache"), s.claim("near_cache_max_ttl_ms"),
                       s.claim("blacklist_fail_open"), s.errorSink(), &c->cache);
    if (const toml::node* node = s.takeNode("read_through"))
      readReadThrough(*node, s.pathOf(), ns, &c->pg, sink);
    readNamespaceBudget(ns, s.claim("memory_budget_bytes"), s.errorSink(), &c->budgets);
    p->namespaces.push_back(std::move(ns));
  });
  r.readTableArray("users", [c, p](TableReader& s, size_t) {
    UserConfig user;
    readUser(s, p->namespaces, p->users, &user);
    readUserRateLimit(s.claim("rate_limit"), user.name, s.errorSink(), &c->rate_limit);
    p->users.push_back(std::move(user));
  });
  r.readTable("policy", [p](TableReader& s) { readPolicy(s, p); });
  // Only a verified client certificate names a user: without one, cert_subject would never match.
  if (!c->tls.enabled || c->tls.client_certs == ClientCerts::kOff) {
    for (size_t i = 0; i < p->users.size(); ++i) {
      if (!p->users[i].cert_subject.empty())
        r.errorLine(static_cast<uint32_t>(p->users[i].line),
                    "users[" + std::to_string(i) +
                        "].cert_subject: needs [tls] with ca_file and client_certs = \"require\" "
                        "or \"optional\" (only a verified client certificate names a user)");
    }
  }
  readRateLimitSection(r.claim("rate_limit"), r.errorSink(), &c->rate_limit);  // last: completes it
  readNearCacheSection(r.claim("near_cache"), r.errorSink(), &c->cache);
}

bool isHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

}  // namespace

bool parseHostPort(std::string_view text, bool allow_port_zero, HostPort* out, std::string* error) {
  auto fail = [error](const char* why) {
    if (error != nullptr)
      *error = why;
    return false;
  };
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos)
      return fail("missing ']'");
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':')
      return fail("missing ':PORT' after ']'");
    port = rest.substr(1);
    if (host.find(':') == std::string_view::npos)
      return fail("brackets are only for IPv6");
    for (char c : host) {
      if (!isHostChar(c) && c != ':' && c != '%')
        return fail("invalid character in host");
    }
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos)
      return fail("missing ':PORT'");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return fail("IPv6 addresses need brackets, e.g. [::1]:6379");
    }
    for (char c : host) {
      if (!isHostChar(c))
        return fail("invalid character in host");
    }
  }
  if (host.empty())
    return fail("empty host");
  if (host.size() > 253)
    return fail("host too long");
  const char* port_range =
      allow_port_zero ? "port must be in 0..65535" : "port must be in 1..65535";
  if (port.empty() || port.size() > 5)
    return fail(port_range);
  unsigned value = 0;
  for (char c : port) {
    if (c < '0' || c > '9')
      return fail(port_range);
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535 || (value == 0 && !allow_port_zero))
    return fail(port_range);
  out->host.assign(host);
  out->port = static_cast<uint16_t>(value);
  out->unix_path.clear();
  return true;
}

bool parseHostPortOrUnix(std::string_view text, bool allow_port_zero, HostPort* out,
                         std::string* error) {
  if (!isUnixAddress(text))
    return parseHostPort(text, allow_port_zero, out, error);  // which clears unix_path
  std::string path;
  if (!parseUnixAddress(text, &path, error))
    return false;
  *out = HostPort{};
  out->unix_path = std::move(path);
  return true;
}

bool parseUnixMode(std::string_view text, uint32_t* mode) {
  if (text.empty() || text.size() > 4)
    return false;
  uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '7')
      return false;
    value = value * 8 + static_cast<uint32_t>(c - '0');
  }
  if (value > 0777)
    return false;
  *mode = value;
  return true;
}

std::string formatHostPort(const HostPort& hp) {
  if (hp.isUnix())
    return std::string(kUnixAddressPrefix) + hp.unix_path;
  if (hp.empty())
    return "";
  if (hp.host.find(':') != std::string::npos) {
    return "[" + hp.host + "]:" + std::to_string(hp.port);
  }
  return hp.host + ":" + std::to_string(hp.port);
}

bool parseConfigText(std::string_view text, std::string_view source_name, Config* out,
                     std::string* error, ConfigParseOptions options) {
  Errors errors(source_name);
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    // toml++ phrases every message "Error while parsing <what>: <why>".
    std::string_view what = e.description();
    constexpr std::string_view kPrefix = "Error while parsing ";
    std::string message = what.substr(0, kPrefix.size()) == kPrefix
                              ? "syntax error in " + std::string(what.substr(kPrefix.size()))
                              : "syntax error: " + std::string(what);
    message += " (column " + std::to_string(e.source().begin.column) + ")";
    errors.add(e.source().begin.line, message);
    *error = errors.joined();
    return false;
  } catch (const std::exception& e) {
    errors.add(0, std::string("cannot parse: ") + e.what());
    *error = errors.joined();
    return false;
  }

  Config config;
  TableReader reader(root, "", &errors, options.resolve_addresses);
  readRoot(reader, &config);
  reader.finish();
  checkDefaultUser(root, &errors, &config.policy);
  if (errors.empty()) {
    // Everything above has been checked with line numbers; this catches whatever slipped by.
    std::string problem;
    if (!CompiledPolicy::build(config.policy, &problem))
      errors.add(0, "policy: " + problem);
  }
  if (!errors.empty()) {
    *error = errors.joined();
    return false;
  }
  *out = std::move(config);
  return true;
}

bool loadConfigFile(const std::string& path, Config* out, std::string* error) {
  FILE* f = fopen(path.c_str(), "rb");
  if (f == nullptr) {
    *error = path + ": cannot open: " + strerror(errno);
    return false;
  }
  std::string text;
  char buf[65536];
  bool too_large = false;
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
    text.append(buf, n);
    if (text.size() > kMaxConfigFileBytes) {
      too_large = true;
      break;
    }
  }
  int read_errno = ferror(f) ? errno : 0;
  fclose(f);
  if (read_errno != 0) {
    *error = path + ": cannot read: " + strerror(read_errno);
    return false;
  }
  if (too_large) {
    *error = path + ": file is larger than " + std::to_string(kMaxConfigFileBytes) + " bytes";
    return false;
  }
  if (!parseConfigText(text, path, out, error, {.resolve_addresses = true}))
    return false;
  out->source_path = path;
  return true;
}

}  // namespace kw
