#include "common/budget_config_loader.h"

#include <optional>
#include <sstream>
#include <type_traits>

#include "policy/key_pattern.h"

namespace kw {
namespace {

constexpr int64_t kMaxBudgetBytes = int64_t{1} << 40;
constexpr size_t kMaxShown = 80;

uint32_t lineOf(const toml::node& node) {
  return node.source().begin.line;
}

// A value as the file has it, for "got ..." (control characters escaped, long values cut).
std::string describe(const toml::node& node) {
  if (node.is_table())
    return "a table";
  if (node.is_array())
    return "an array";
  std::ostringstream os;
  if (const auto* s = node.as_string())
    os << '"' << s->get() << '"';
  else
    node.visit([&os](const auto& v) { os << v; });
  std::string raw = os.str(), out;
  for (size_t i = 0; i < raw.size() && i < kMaxShown; ++i) {
    const auto c = static_cast<unsigned char>(raw[i]);
    if (c < 0x20 || c == 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += raw[i];
    }
  }
  if (raw.size() > kMaxShown)
    out += "...";
  return out;
}

std::string printable(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < kMaxShown; ++i)
    out += (static_cast<unsigned char>(s[i]) < 0x20 || s[i] == 0x7f) ? '?' : s[i];
  return out;
}

template <typename T>
bool readInt(const toml::node& node, const std::string& path, int64_t min, int64_t max,
             const ConfigErrorSink& error, T* out) {
  const auto* v = node.as_integer();
  if (v == nullptr || v->get() < min || v->get() > max) {
    error(lineOf(node), path + ": expected an integer in " + std::to_string(min) + ".." +
                            std::to_string(max) + ", got " + describe(node));
    return false;
  }
  *out = static_cast<T>(v->get());
  return true;
}

}  // namespace

void readBudgetSection(const ConfigKey& section, const ConfigErrorSink& error, BudgetConfig* out) {
  if (section.node == nullptr)
    return;
  const auto* t = section.node->as_table();
  if (t == nullptr) {
    error(lineOf(*section.node),
          section.path + ": expected a table [budgets], got " + describe(*section.node));
    return;
  }
  for (auto&& [k, v] : *t) {
    const std::string name(k.str());
    const std::string path = section.path + "." + name;
    if (name == "enabled" || name == "doctor_at_startup") {
      if (const auto* b = v.as_boolean())
        (name == "enabled" ? out->enabled : out->doctor_at_startup) = b->get();
      else
        error(lineOf(v), path + ": expected true or false, got " + describe(v));
    } else if (name == "lease_key") {
      const auto* s = v.as_string();
      if (s == nullptr || s->get().empty() || s->get().size() > 512)
        error(lineOf(v),
              path + ": expected a non-empty string (at most 512 bytes), got " + describe(v));
      else
        out->lease_key = s->get();
    } else if (name == "lease_ms") {
      readInt(v, path, 300, 600000, error, &out->lease_ms);
    } else if (name == "evict_to_percent") {
      readInt(v, path, 50, 100, error, &out->evict_to_percent);
    } else if (name == "samples_per_eviction") {
      readInt(v, path, 1, 64, error, &out->samples_per_eviction);
    } else if (name == "remeasure_delay_ms") {
      readInt(v, path, 0, 60000, error, &out->remeasure_delay_ms);
    } else if (name == "batch_keys") {
      readInt(v, path, 16, 4096, error, &out->batch_keys);
    } else {
      const uint32_t line = k.source().begin.line != 0 ? k.source().begin.line : lineOf(v);
      error(line, section.path + "." + printable(name) + ": unknown key");
    }
  }
}

void readNamespaceBudget(const NamespaceConfig& ns, const ConfigKey& budget,
                         const ConfigErrorSink& error, BudgetConfig* out) {
  uint64_t bytes = 0;
  if (budget.node != nullptr &&
      readInt(*budget.node, budget.path, 0, kMaxBudgetBytes, error, &bytes) && bytes != 0) {
    const uint32_t line = lineOf(*budget.node);
    std::optional<KeyPattern> p = KeyPattern::parse(ns.pattern, nullptr);
    const std::string_view prefix = p ? p->literalPrefix() : std::string_view();
    if (ns.kind == NamespaceKind::kBlacklist) {
      error(line, budget.path + ": not allowed on a blacklist namespace (" + printable(ns.name) +
                      "): evicting a revocation would make a revoked token valid again");
      bytes = 0;
    } else if (p && prefix.empty()) {
      error(line, budget.path + ": namespace '" + printable(ns.name) +
                      "' cannot have a budget: its pattern must start with literal text (the "
                      "Redis key prefix its keys are scanned and tracked by)");
      bytes = 0;
    } else if (p && std::string_view(out->lease_key).substr(0, prefix.size()) == prefix) {
      error(line, budget.path + ": the budget lease key '" + printable(out->lease_key) +
                      "' is under this namespace's prefix '" + printable(prefix) +
                      "' ([budgets] lease_key)");
      bytes = 0;
    }
  }
  out->namespace_budgets.push_back(bytes);
}

}  // namespace kw
