#include "common/budget_config_loader.h"

#include <optional>
#include <type_traits>

#include "policy/key_pattern.h"

namespace kw {
namespace {

constexpr int64_t kMaxBudgetBytes = int64_t{1} << 40;
constexpr size_t kMaxShown = 80;

std::string printable(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < kMaxShown; ++i)
    out += (static_cast<unsigned char>(s[i]) < 0x20 || s[i] == 0x7f) ? '?' : s[i];
  return out;
}

}  // namespace

void readBudgetSection(const ConfigKey& section, const ConfigErrorSink& error, BudgetConfig* out) {
  if (section.node == nullptr)
    return;
  const auto* t = section.node->as_table();
  if (t == nullptr) {
    error(configLine(*section.node),
          section.path + ": expected a table [budgets], got " + describeConfigValue(*section.node));
    return;
  }
  for (auto&& [k, v] : *t) {
    const std::string name(k.str());
    const std::string path = section.path + "." + name;
    if (name == "enabled" || name == "doctor_at_startup") {
      if (const auto* b = v.as_boolean())
        (name == "enabled" ? out->enabled : out->doctor_at_startup) = b->get();
      else
        error(configLine(v), path + ": expected true or false, got " + describeConfigValue(v));
    } else if (name == "lease_key") {
      const auto* s = v.as_string();
      if (s == nullptr || s->get().empty() || s->get().size() > 512)
        error(configLine(v), path + ": expected a non-empty string (at most 512 bytes), got " +
                                 describeConfigValue(v));
      else
        out->lease_key = s->get();
    } else if (name == "lease_ms") {
      readConfigInt(v, path, 300, 600000, error, &out->lease_ms);
    } else if (name == "evict_to_percent") {
      readConfigInt(v, path, 50, 100, error, &out->evict_to_percent);
    } else if (name == "samples_per_eviction") {
      readConfigInt(v, path, 1, 64, error, &out->samples_per_eviction);
    } else if (name == "remeasure_delay_ms") {
      readConfigInt(v, path, 0, 60000, error, &out->remeasure_delay_ms);
    } else if (name == "batch_keys") {
      readConfigInt(v, path, 16, 4096, error, &out->batch_keys);
    } else {
      const uint32_t line = k.source().begin.line != 0 ? k.source().begin.line : configLine(v);
      error(line, section.path + "." + printable(name) + ": unknown key");
    }
  }
}

void readNamespaceBudget(const NamespaceConfig& ns, const ConfigKey& budget,
                         const ConfigErrorSink& error, BudgetConfig* out) {
  uint64_t bytes = 0;
  if (budget.node != nullptr &&
      readConfigInt(*budget.node, budget.path, 0, kMaxBudgetBytes, error, &bytes) && bytes != 0) {
    const uint32_t line = configLine(*budget.node);
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
