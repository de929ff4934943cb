// The read-through section of the config: [[postgres]] sources and a namespace's read_through
// value. The input is put where an operator's text would be (the read_through value, or the
// whole [[postgres]] array when it starts with '['), after a valid prefix, so the fuzzer spends
// its time in pg_config_loader.cc rather than in TOML syntax. Any bytes give a Config or errors,
// one per line; an accepted read-through has one capture per param, each a placeholder of the
// pattern.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/config_loader.h"
#include "fuzz_check.h"
#include "policy/key_pattern.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string text;
  if (!input.empty() && input[0] == '[') {
    text.append(input);
    text += "\n[[namespaces]]\nname = \"p\"\npattern = \"p:{a}:{b:int}\"\ndefault_ttl_s = 5\n"
            "read_through = { source = \"db\", query = \"SELECT $1\", params = [\"a\"] }\n";
  } else {
    text = "[[postgres]]\nname = \"db\"\nconninfo = \"host=127.0.0.1 port=5432\"\n"
           "[[namespaces]]\nname = \"p\"\npattern = \"p:{a}:{b:int}\"\ndefault_ttl_s = 5\n"
           "read_through = ";
    text.append(input);
    text += "\n";
  }
  kw::Config config;
  std::string error;
  const bool ok = kw::parseConfigText(text, "fuzz.toml", &config, &error);
  FUZZ_CHECK(ok || !error.empty());
  for (size_t start = 0; !ok && start <= error.size();) {
    FUZZ_CHECK(error.compare(start, 9, "fuzz.toml") == 0);
    const size_t nl = error.find('\n', start);
    start = nl == std::string::npos ? error.size() + 1 : nl + 1;
  }
  if (!ok)
    return 0;
  for (const kw::ReadThroughConfig& rt : config.pg.read_through) {
    FUZZ_CHECK(config.pg.source(rt.source) != nullptr);
    FUZZ_CHECK(rt.param_captures.size() == rt.params.size());
    auto pattern = kw::KeyPattern::parse(rt.pattern, nullptr);
    FUZZ_CHECK(pattern.has_value());
    for (uint32_t c : rt.param_captures)
      FUZZ_CHECK(c < pattern->placeholderCount());
    FUZZ_CHECK(rt.ttl_s > 0);
  }
  return 0;
}
