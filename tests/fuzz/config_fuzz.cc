// Config text is operator-supplied, but a typo or a truncated file must never crash the proxy or
// the --check-config run: any bytes give either a Config or an error message.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/config_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  kw::Config config;
  std::string error;
  bool ok = kw::parseConfigText(text, "fuzz.toml", &config, &error);
  if (!ok && error.empty())
    __builtin_trap();
  // One error per line, each naming the file: no value or key may smuggle in a newline.
  for (size_t start = 0; !ok && start <= error.size();) {
    if (error.compare(start, 9, "fuzz.toml") != 0)
      __builtin_trap();
    size_t nl = error.find('\n', start);
    start = nl == std::string::npos ? error.size() + 1 : nl + 1;
  }

  kw::HostPort hp;
  if (kw::parseHostPort(text, true, &hp, nullptr)) {
    kw::HostPort again;
    if (!kw::parseHostPort(kw::formatHostPort(hp), true, &again, nullptr))
      __builtin_trap();
    if (again.host != hp.host || again.port != hp.port)
      __builtin_trap();
  }
  return 0;
}
