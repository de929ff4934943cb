#include "tls/tls_contexts.h"

namespace kw {

bool buildTlsContexts(const Config& config, TlsContexts* out, std::string* error) {
  TlsContexts built;
  if (config.tls.enabled) {
    built.server = TlsContext::forServer(config.tls, error);
    if (built.server == nullptr)
      return false;
  }
  if (config.upstream.tls.enabled) {
    std::string warning;
    built.upstream = TlsContext::forUpstream(config.upstream.tls, error, &warning);
    if (built.upstream == nullptr)
      return false;
    if (!warning.empty())
      built.warnings.push_back(std::move(warning));
  }
  *out = std::move(built);
  return true;
}

}  // namespace kw
