// What an operator sees of TLS towards clients, from ClientTlsRuntime (tls_runtime.h):
//
//   INFO tls (admins; in INFO / INFO all while [tls] is on)
//     tls_listen, tls_clients_connected, tls_connections_received, tls_handshakes,
//     tls_handshake_failures_<kind>, tls_cert_authenticated, tls_certificate_reloads,
//     tls_server_cert_not_after (Unix seconds)
//   Prometheus
//     keywarden_tls_connections_total                       TLS connections accepted
//     keywarden_tls_handshakes_total                        handshakes completed
//     keywarden_tls_handshake_failures_total{kind}          not_tls | certificate | protocol |
//     timeout keywarden_tls_clients                                 TLS clients connected now
//     keywarden_tls_cert_authenticated_total                clients logged in by their certificate
//     keywarden_tls_cert_expiry_timestamp_seconds{file}     notAfter of each certificate keywarden
//                                                           presents (the alert rule
//                                                           KeywardenTLSCertificateExpiring)
#pragma once

#include <prometheus/metric_family.h>

#include <string>
#include <vector>

#include "common/config.h"
#include "proxy/tls_runtime.h"

namespace kw {

// The "# TLS" section, CRLF lines, ending with an empty line.
void appendTlsInfo(const ClientTlsRuntime& tls, const Config& config, std::string* out);
// Families only while TLS is configured on either side, so a plaintext keywarden exports none.
void appendTlsMetrics(const ClientTlsRuntime& tls, const Config& config,
                      std::vector<prometheus::MetricFamily>* out);

}  // namespace kw
