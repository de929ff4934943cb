#include "proxy/tls_report.h"

#include "common/config_loader.h"
#include "proxy/metrics/families.h"

namespace kw {

void appendTlsInfo(const ClientTlsRuntime& tls, const Config& config, std::string* out) {
  const ClientTlsRuntime::Counts c = tls.counts();
  auto line = [out](std::string_view name, const std::string& value) {
    out->append(name);
    out->push_back(':');
    out->append(value);
    out->append("\r\n");
  };
  out->append("# TLS\r\n");
  line("tls_listen", config.tls.enabled ? formatHostPort(config.tls.listen) : "");
  line("tls_clients_connected", std::to_string(c.clients));
  line("tls_connections_received", std::to_string(c.accepted));
  line("tls_handshakes", std::to_string(c.established));
  for (size_t i = 0; i < kTlsFailureKinds; ++i)
    line(std::string("tls_handshake_failures_") + kTlsFailureNames[i],
         std::to_string(c.failures[i]));
  line("tls_cert_authenticated", std::to_string(c.cert_logins));
  const uint64_t generation = tls.generation();
  line("tls_certificate_reloads", std::to_string(generation > 0 ? generation - 1 : 0));
  std::string not_after;
  for (const auto& e : tls.expiries())
    if (config.tls.enabled && e.file == config.tls.cert_file)
      not_after = std::to_string(e.not_after);
  line("tls_server_cert_not_after", not_after);
  out->append("\r\n");
}

void appendTlsMetrics(const ClientTlsRuntime& tls, const Config& config,
                      std::vector<prometheus::MetricFamily>* out) {
  using prometheus::MetricType;
  if (!config.tls.enabled && !config.upstream.tls.enabled)
    return;
  const ClientTlsRuntime::Counts c = tls.counts();
  if (config.tls.enabled) {
    auto accepted = family("keywarden_tls_connections_total", "TLS client connections accepted",
                           MetricType::Counter);
    addSample(&accepted, {}, static_cast<double>(c.accepted));
    auto established = family("keywarden_tls_handshakes_total",
                              "TLS handshakes with clients completed", MetricType::Counter);
    addSample(&established, {}, static_cast<double>(c.established));
    auto failures = family("keywarden_tls_handshake_failures_total",
                           "TLS client connections closed before their handshake completed, by "
                           "cause",
                           MetricType::Counter);
    for (size_t i = 0; i < kTlsFailureKinds; ++i)
      addSample(&failures, {{"kind", kTlsFailureNames[i]}}, static_cast<double>(c.failures[i]));
    auto clients = family("keywarden_tls_clients", "TLS clients connected now", MetricType::Gauge);
    addSample(&clients, {}, static_cast<double>(c.clients));
    auto logins = family("keywarden_tls_cert_authenticated_total",
                         "TLS clients authenticated as a user by their certificate (cert_subject)",
                         MetricType::Counter);
    addSample(&logins, {}, static_cast<double>(c.cert_logins));
    for (auto* f : {&accepted, &established, &failures, &clients, &logins})
      out->push_back(std::move(*f));
  }
  auto expiry = family("keywarden_tls_cert_expiry_timestamp_seconds",
                       "notAfter of each TLS certificate keywarden presents, in Unix seconds",
                       MetricType::Gauge);
  for (const auto& e : tls.expiries())
    addSample(&expiry, {{"file", e.file}}, static_cast<double>(e.not_after));
  if (!expiry.metric.empty())
    out->push_back(std::move(expiry));
}

}  // namespace kw
