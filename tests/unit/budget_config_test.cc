#include <doctest.h>

#include <string>
#include <type_traits>

#include "common/config_loader.h"

namespace kw {
namespace {

std::string parseError(const std::string& text) {
  Config config;
  std::string error;
  CHECK_FALSE(parseConfigText(text, "t.toml", &config, &error));
  return error;
}

Config parseOk(const std::string& text) {
  Config config;
  std::string error;
  const bool ok = parseConfigText(text, "t.toml", &config, &error);
  INFO(error);
  CHECK(ok);
  return config;
}

template <typename Ns> constexpr bool hasKind() {
  return requires(Ns ns) {
    ns.kind;
  };
}

}  // namespace

TEST_CASE("budget config: defaults, per-namespace budgets and the [budgets] section") {
  Config c = parseOk("");
  CHECK_FALSE(c.budgets.any());
  CHECK(c.budgets.enabled);
  CHECK(c.budgets.lease_key == "keywarden:budgets:lease");
  CHECK(c.budgets.lease_ms == 3000);
  c = parseOk(R"(
[budgets]
lease_key = "kw:lease"
lease_ms = 1000
evict_to_percent = 95
samples_per_eviction = 10
remeasure_delay_ms = 0
batch_keys = 512
doctor_at_startup = false
enabled = true

[[namespaces]]
name = "docs"
pattern = "doc:processing:{id}"
memory_budget_bytes = 1048576

[[namespaces]]
name = "session"
pattern = "session:{id}"
)");
  CHECK(c.budgets.any());
  CHECK(c.budgets.budgetOf(0) == 1048576);
  CHECK(c.budgets.budgetOf(1) == 0);
  CHECK(c.budgets.budgetOf(7) == 0);
  CHECK(c.budgets.lease_key == "kw:lease");
  CHECK(c.budgets.lease_ms == 1000);
  CHECK(c.budgets.evict_to_percent == 95);
  CHECK(c.budgets.samples_per_eviction == 10);
  CHECK(c.budgets.remeasure_delay_ms == 0);
  CHECK(c.budgets.batch_keys == 512);
  CHECK_FALSE(c.budgets.doctor_at_startup);
}

TEST_CASE("budget config: errors name the line and the key") {
  CHECK(parseError("[budgets]\nlease_ms = 10\n") ==
        "t.toml:2: budgets.lease_ms: expected an integer in 300..600000, got 10");
  CHECK(parseError("[budgets]\nnope = 1\n") == "t.toml:2: budgets.nope: unknown key");
  CHECK(parseError("budgets = 3\n").find("expected a table [budgets]") != std::string::npos);
  CHECK(parseError("[budgets]\nlease_key = \"\"\n").find("budgets.lease_key") != std::string::npos);
  CHECK(parseError(R"([[namespaces]]
name = "docs"
pattern = "doc:{id}"
memory_budget_bytes = -1
)") == "t.toml:4: namespaces[0].memory_budget_bytes: expected an integer in 0..1099511627776, "
       "got -1");
  // A budget needs the literal prefix its keys are scanned and tracked by.
  const std::string e = parseError(R"([[namespaces]]
name = "tenant"
pattern = "{tenant}:doc:{id}"
memory_budget_bytes = 1000
)");
  CHECK(e.find("t.toml:4: namespaces[0].memory_budget_bytes: namespace 'tenant' cannot have a "
               "budget: its pattern must start with literal text") == 0);
  // The lease must not be a key the budget could evict.
  CHECK(parseError(R"([budgets]
lease_key = "doc:lease"
[[namespaces]]
name = "docs"
pattern = "doc:{id}"
memory_budget_bytes = 1000
)")
            .find("the budget lease key 'doc:lease' is under this namespace's prefix 'doc:'") !=
        std::string::npos);
}

TEST_CASE("budget config: a budget on a blacklist namespace is refused") {
  const std::string text = R"([[namespaces]]
name = "revoked"
pattern = "blacklist:access:{jti}"
kind = "blacklist"
max_ttl_s = 86400
memory_budget_bytes = 1048576
)";
  const std::string e = parseError(text);
  if constexpr (hasKind<NamespaceConfig>()) {
    CHECK(e.find("namespaces[0].memory_budget_bytes: not allowed on a blacklist namespace") !=
          std::string::npos);
  } else {
    // Namespace kinds are not in this build yet: `kind` itself is unknown.
    CHECK(e.find("namespaces[0].kind: unknown key") != std::string::npos);
  }
}

}  // namespace kw
