#include "pg/pg_config_loader.h"

#include <libpq-fe.h>

#include <algorithm>
#include <limits>
#include <sstream>
#include <unordered_set>

#include "policy/key_pattern.h"

namespace kw {
namespace {

constexpr size_t kMaxShown = 80;
constexpr int64_t kMaxTtlS = int64_t{100} * 365 * 24 * 3600;
constexpr size_t kMaxParams = 16;

uint32_t lineOf(const toml::node& n) {
  return n.source().begin.line;
}

std::string shown(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < kMaxShown; i++) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      if (c == '"' || c == '\\')
        out += '\\';
      out += static_cast<char>(c);
    }
  }
  out += s.size() > kMaxShown ? "\"..." : "\"";
  return out;
}

std::string describe(const toml::node& n) {
  if (n.is_table())
    return "a table";
  if (n.is_array())
    return "an array";
  if (const auto* s = n.as_string())
    return shown(s->get());
  std::ostringstream os;
  n.visit([&os](const auto& v) { os << v; });
  std::string s = os.str();
  if (s.size() > kMaxShown)
    s = s.substr(0, kMaxShown) + "...";
  return s;
}

bool isName(std::string_view s) {
  if (s.empty() || s.size() > 63)
    return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

// Typed reads of one table's keys; keys never read are reported as unknown by finish().
class Reader {
public:
  Reader(const toml::table& t, std::string path, const PgConfigErrorSink& sink)
      : t_(t), path_(std::move(path)), sink_(sink) {}

  const toml::node* take(std::string_view key) {
    seen_.insert(std::string(key));
    return t_.get(key);
  }
  bool has(std::string_view key) const { return t_.get(key) != nullptr; }
  uint32_t lineOfKey(std::string_view key) const {
    const toml::node* n = t_.get(key);
    return n ? lineOf(*n) : lineOf(t_);
  }
  void error(uint32_t line, std::string_view key, const std::string& msg) {
    sink_(line, path_ + "." + std::string(key) + ": " + msg);
  }
  void fail(std::string_view key, const toml::node& n, const std::string& expected) {
    error(lineOf(n), key, expected + ", got " + describe(n));
  }
  template <typename T> void readInt(std::string_view key, int64_t min, int64_t max, T* out) {
    const toml::node* n = take(key);
    if (!n)
      return;
    const auto* v = n->as_integer();
    if (!v || v->get() < min || v->get() > max)
      return fail(key, *n,
                  "expected an integer in " + std::to_string(min) + ".." + std::to_string(max));
    *out = static_cast<T>(v->get());
  }
  void readString(std::string_view key, std::string* out) {
    const toml::node* n = take(key);
    if (!n)
      return;
    if (const auto* v = n->as_string())
      *out = v->get();
    else
      fail(key, *n, "expected a string");
  }
  void readStrings(std::string_view key, std::vector<std::string>* out) {
    const toml::node* n = take(key);
    if (!n)
      return;
    const auto* a = n->as_array();
    if (!a)
      return fail(key, *n, "expected an array of strings");
    std::vector<std::string> values;
    for (const toml::node& e : *a) {
      const auto* v = e.as_string();
      if (!v)
        return fail(key, e, "expected an array of strings");
      values.push_back(v->get());
    }
    *out = std::move(values);
  }
  void finish() {
    for (auto&& [k, v] : t_) {
      if (seen_.count(std::string(k.str())))
        continue;
      uint32_t line = k.source().begin.line ? k.source().begin.line : lineOf(v);
      std::string key(k.str());
      sink_(line, path_ + "." + (isName(key) ? key : shown(key)) + ": unknown " +
                      (v.is_table() ? "section" : "key"));
    }
  }
  uint32_t tableLine() const { return lineOf(t_); }

private:
  const toml::table& t_;
  std::string path_;
  const PgConfigErrorSink& sink_;
  std::unordered_set<std::string> seen_;
};

// libpq's own parser, so --check-config rejects what PQconnectStartParams would.
std::string conninfoProblem(const std::string& conninfo) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  std::string problem;
  if (!opts) {
    problem = err ? err : "cannot parse";
    while (!problem.empty() && (problem.back() == '\n' || problem.back() == ' '))
      problem.pop_back();
  }
  if (err)
    PQfreemem(err);
  if (opts)
    PQconninfoFree(opts);
  return problem;
}

}  // namespace

void readPostgresSources(const toml::node& node, PgConfig* out, const PgConfigErrorSink& error) {
  const auto* a = node.as_array();
  if (!a) {
    error(lineOf(node),
          "postgres: expected an array of tables [[postgres]], got " + describe(node));
    return;
  }
  for (size_t i = 0; i < a->size(); ++i) {
    const std::string path = "postgres[" + std::to_string(i) + "]";
    const auto* t = (*a)[i].as_table();
    if (!t) {
      error(lineOf((*a)[i]), path + ": expected a table, got " + describe((*a)[i]));
      continue;
    }
    Reader r(*t, path, error);
    PostgresSourceConfig s;
    s.line = static_cast<int>(r.tableLine());
    r.readString("name", &s.name);
    r.readString("conninfo", &s.conninfo);
    r.readInt("connections", 1, 64, &s.connections);
    r.readInt("query_timeout_ms", 1, 600000, &s.query_timeout_ms);
    r.readInt("connect_timeout_ms", 1, 600000, &s.connect_timeout_ms);
    r.readInt("circuit_failures", 1, 1000, &s.circuit_failures);
    r.readInt("circuit_probe_ms", 10, 600000, &s.circuit_probe_ms);
    r.finish();
    if (!r.has("name")) {
      r.error(r.tableLine(), "name", "required");
    } else if (!isName(s.name)) {
      r.error(r.lineOfKey("name"), "name",
              "expected 1-63 characters of [A-Za-z0-9_-], got " + shown(s.name));
    } else if (const PostgresSourceConfig* other = out->source(s.name)) {
      r.error(r.lineOfKey("name"), "name",
              "duplicate source name " + shown(s.name) + " (first declared on line " +
                  std::to_string(other->line) + ")");
    }
    if (!r.has("conninfo")) {
      r.error(r.tableLine(), "conninfo", "required (a libpq connection string)");
    } else if (std::string p = conninfoProblem(s.conninfo); !p.empty()) {
      r.error(r.lineOfKey("conninfo"), "conninfo", "libpq cannot parse it: " + p);
    }
    out->sources.push_back(std::move(s));
  }
}

void readReadThrough(const toml::node& node, const std::string& ns_path, const NamespaceConfig& ns,
                     PgConfig* out, const PgConfigErrorSink& error) {
  const std::string path = ns_path + ".read_through";
  const auto* t = node.as_table();
  if (!t) {
    error(lineOf(node),
          path + ": expected a table { source = ..., query = ... }, got " + describe(node));
    return;
  }
  Reader r(*t, path, error);
  ReadThroughConfig rt;
  rt.line = static_cast<int>(r.tableLine());
  rt.ns = ns.name;
  rt.pattern = ns.pattern;
  rt.ttl_s = ns.default_ttl_s;
  r.readString("source", &rt.source);
  r.readString("query", &rt.query);
  r.readStrings("params", &rt.params);
  r.readInt("negative_ttl_s", 0, kMaxTtlS, &rt.negative_ttl_s);
  r.readString("notify_channel", &rt.notify_channel);
  r.finish();

  if (!r.has("source")) {
    r.error(r.tableLine(), "source", "required (the name of a [[postgres]] source)");
  } else if (!out->source(rt.source)) {
    std::string known;
    for (const auto& s : out->sources)
      known += (known.empty() ? "" : ", ") + s.name;
    r.error(r.lineOfKey("source"), "source",
            "no [[postgres]] source named " + shown(rt.source) +
                (known.empty() ? " (none is declared)" : " (declared: " + known + ")"));
  }
  if (!r.has("query") || rt.query.find_first_not_of(" \t\r\n") == std::string::npos)
    r.error(r.lineOfKey("query"), "query", "required (SQL with $1..$n for params)");
  if (ns.default_ttl_s == 0) {
    r.error(r.tableLine(), "source",
            "a read-through namespace needs default_ttl_s > 0 (the TTL of a filled key)");
  }
  if (rt.params.size() > kMaxParams)
    r.error(r.lineOfKey("params"), "params", "at most 16 parameters");
  if (!rt.notify_channel.empty() &&
      (rt.notify_channel.size() > 63 ||
       rt.notify_channel.find_first_of(std::string_view("\0\"", 2)) != std::string::npos)) {
    r.error(r.lineOfKey("notify_channel"), "notify_channel",
            "expected a channel name of 1-63 bytes without '\"', got " + shown(rt.notify_channel));
  }
  std::optional<KeyPattern> pattern = KeyPattern::parse(ns.pattern, nullptr);
  if (!pattern) {
    out->read_through.push_back(std::move(rt));
    return;  // the pattern's own error is reported already
  }
  // Placeholder names in capture order.
  std::vector<std::string> names;
  for (const PatternSegment& seg : pattern->segments())
    if (seg.type != SegmentType::kLiteral)
      names.push_back(seg.text);
  std::unordered_set<std::string> used;
  for (const std::string& p : rt.params) {
    auto it = std::find(names.begin(), names.end(), p);
    if (it == names.end()) {
      std::string list;
      for (const auto& n : names)
        list += (list.empty() ? "" : ", ") + n;
      r.error(r.lineOfKey("params"), "params",
              shown(p) + " is not a segment of the pattern " + shown(ns.pattern) +
                  (list.empty() ? " (it has none)" : " (segments: " + list + ")"));
      continue;
    }
    if (!used.insert(p).second)
      r.error(r.lineOfKey("params"), "params", shown(p) + " is listed twice");
    rt.param_captures.push_back(static_cast<uint32_t>(it - names.begin()));
  }
  if (!rt.notify_channel.empty()) {
    for (const auto& n : names) {
      if (!used.count(n)) {
        r.error(r.lineOfKey("notify_channel"), "notify_channel",
                "needs every segment of the pattern in params, to rebuild the key from a "
                "notification (missing " +
                    shown(n) + ")");
        break;
      }
    }
  }
  out->read_through.push_back(std::move(rt));
}

}  // namespace kw
