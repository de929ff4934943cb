#include "proxy/tls_runtime.h"

#include "tls/certificate_expiry.h"

namespace kw {

void ClientTlsRuntime::publish(const TlsContexts& contexts, const Config& config) {
  std::vector<CertificateExpiry> expiries;
  int64_t not_after = 0;
  if (contexts.server && certificateNotAfter(*contexts.server, &not_after))
    expiries.push_back({config.tls.cert_file, not_after});
  if (contexts.upstream && certificateNotAfter(*contexts.upstream, &not_after))
    expiries.push_back({config.upstream.tls.cert_file, not_after});
  server_.publish(contexts.server);
  upstream_.publish(contexts.upstream);
  std::lock_guard<std::mutex> lock(expiry_mu_);
  expiries_ = std::move(expiries);
}

std::vector<ClientTlsRuntime::CertificateExpiry> ClientTlsRuntime::expiries() const {
  std::lock_guard<std::mutex> lock(expiry_mu_);
  return expiries_;
}

ClientTlsRuntime::Counts ClientTlsRuntime::counts() const {
  Counts c;
  c.accepted = accepted_.load(std::memory_order_relaxed);
  c.established = established_.load(std::memory_order_relaxed);
  for (size_t i = 0; i < kTlsFailureKinds; ++i)
    c.failures[i] = failures_[i].load(std::memory_order_relaxed);
  c.cert_logins = cert_logins_.load(std::memory_order_relaxed);
  c.clients = clients_.load(std::memory_order_relaxed);
  return c;
}

}  // namespace kw
