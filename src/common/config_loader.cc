#include "common/config_loader.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <sstream>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

// The packaged libtomlplusplus is built with exceptions, so the header must match it; parse
// errors are caught right at the toml::parse call and nothing escapes this file.
#include <toml++/toml.h>

#include "common/log.h"

namespace kw {

namespace {

constexpr size_t kMaxConfigFileBytes = 16u << 20;
constexpr size_t kMaxShownValue = 80;
constexpr int64_t kU32Max = std::numeric_limits<uint32_t>::max();
constexpr int64_t kMaxBytes = int64_t{1} << 40;

// Ports for listeners may be 0 (kernel picks one, handy for tests); an upstream needs a real one.
constexpr bool kListener = true;
constexpr bool kConnectTarget = false;

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
  TableReader(const toml::table& table, std::string prefix, Errors* errors)
      : table_(table), prefix_(std::move(prefix)), errors_(errors) {}

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

  void readHostPort(std::string_view key, bool allow_port_zero, HostPort* out) {
    const toml::node* node = take(key);
    if (node == nullptr)
      return;
    const auto* v = node->as_string();
    std::string reason;
    if (v == nullptr) {
      fail(key, *node, "expected a \"HOST:PORT\" string");
    } else if (!parseHostPort(v->get(), allow_port_zero, out, &reason)) {
      fail(key, *node, "expected HOST:PORT or [IPV6]:PORT (" + reason + ")");
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
    TableReader sub(*t, path(key), errors_);
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
      TableReader sub(*t, elem_path, errors_);
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
  std::unordered_set<std::string> seen_;
};

void readServer(TableReader& r, ServerConfig* c) {
  r.readHostPort("listen", kListener, &c->listen);
  r.readInt("workers", 0, 1024, &c->workers);
  r.readInt("shutdown_deadline_ms", 0, kU32Max, &c->shutdown_deadline_ms);
  r.readLogLevel("log_level", &c->log_level);
}

void readUpstream(TableReader& r, UpstreamConfig* c) {
  r.readHostPort("address", kConnectTarget, &c->address);
  r.readString("username", &c->username);
  r.readString("password", &c->password);
  r.readInt("db", 0, std::numeric_limits<int>::max(), &c->db);
  r.readInt("connections", 1, 1024, &c->connections);
  r.readInt("connect_timeout_ms", 1, kU32Max, &c->connect_timeout_ms);
  r.readInt("request_timeout_ms", 1, kU32Max, &c->request_timeout_ms);
  r.readInt("reconnect_backoff_min_ms", 1, kU32Max, &c->reconnect_backoff_min_ms);
  r.readInt("reconnect_backoff_max_ms", 1, kU32Max, &c->reconnect_backoff_max_ms);
  r.readInt("pinned_pool_size", 0, 65536, &c->pinned_pool_size);
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
  r.readHostPort("listen", kListener, &c->listen);
}

void readRoot(TableReader& r, Config* c) {
  r.readTable("server", [c](TableReader& s) { readServer(s, &c->server); });
  r.readTable("upstream", [c](TableReader& s) { readUpstream(s, &c->upstream); });
  r.readTable("limits", [c](TableReader& s) { readLimits(s, &c->limits); });
  r.readTable("metrics", [c](TableReader& s) { readMetrics(s, &c->metrics); });
}

bool isHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

} // namespace

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
  return true;
}

std::string formatHostPort(const HostPort& hp) {
  if (hp.host.find(':') != std::string::npos) {
    return "[" + hp.host + "]:" + std::to_string(hp.port);
  }
  return hp.host + ":" + std::to_string(hp.port);
}

bool parseConfigText(std::string_view text, std::string_view source_name, Config* out,
                     std::string* error) {
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
  TableReader reader(root, "", &errors);
  readRoot(reader, &config);
  reader.finish();
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
  if (!parseConfigText(text, path, out, error))
    return false;
  out->source_path = path;
  return true;
}

} // namespace kw
