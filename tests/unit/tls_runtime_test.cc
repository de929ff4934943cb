// What the workers share about TLS (proxy/tls_runtime.h) and what operators see of it
// (proxy/tls_report.h): contexts swapped by publish, certificate expiries, counters, INFO tls and
// the Prometheus families, named as the alert rules expect.
#include <doctest.h>

#include <ctime>
#include <string>
#include <vector>

#include "proxy/tls_report.h"
#include "proxy/tls_runtime.h"
#include "tls/certificate_expiry.h"
#include "tls_test_certs.h"

namespace kw {
namespace {

const test::TestPki& pki() {
  static const test::TestPki instance;
  return instance;
}

Config tlsConfig(const std::string& cert) {
  Config c;
  c.tls.enabled = true;
  c.tls.listen = {"127.0.0.1", 6390};
  c.tls.cert_file = pki().path(cert + ".pem");
  c.tls.key_file = pki().path(cert + ".key");
  return c;
}

TlsContexts built(const Config& c) {
  TlsContexts contexts;
  std::string error;
  INFO(error);
  REQUIRE(buildTlsContexts(c, &contexts, &error));
  return contexts;
}

const prometheus::MetricFamily* find(const std::vector<prometheus::MetricFamily>& families,
                                     const std::string& name) {
  for (const auto& f : families)
    if (f.name == name)
      return &f;
  return nullptr;
}

}  // namespace

TEST_CASE("tls runtime: publish swaps the context new connections get; expiries follow") {
  ClientTlsRuntime rt;
  CHECK(rt.serverContext() == nullptr);
  Config c = tlsConfig("server");
  c.upstream.tls.enabled = true;
  c.upstream.tls.ca_file = pki().path("ca.pem");
  c.upstream.tls.cert_file = pki().path("client.pem");
  c.upstream.tls.key_file = pki().path("client.key");
  const TlsContexts first = built(c);
  rt.publish(first, c);
  CHECK(rt.serverContext() == first.server);
  CHECK(rt.upstreamContext() == first.upstream);
  CHECK(rt.generation() == 1);
  auto expiries = rt.expiries();
  REQUIRE(expiries.size() == 2);
  CHECK(expiries[0].file == c.tls.cert_file);
  CHECK(expiries[1].file == c.upstream.tls.cert_file);
  const int64_t in30days = static_cast<int64_t>(time(nullptr)) + 30 * test::TestPki::kDay;
  CHECK(expiries[0].not_after > in30days - 600);
  CHECK(expiries[0].not_after <= in30days);

  // A reload with a renewed certificate: new connections get it, an open one keeps its own.
  std::shared_ptr<const TlsContext> held = rt.serverContext();
  const Config renewed = tlsConfig("server2");
  rt.publish(built(renewed), renewed);
  CHECK(rt.serverContext() != held);
  CHECK(held == first.server);  // kept alive by those holding it, the connection here
  CHECK(rt.generation() == 2);
  REQUIRE(rt.expiries().size() == 1);
  CHECK(rt.expiries()[0].file == renewed.tls.cert_file);
}

TEST_CASE("tls runtime: a client context without a certificate has no expiry") {
  UpstreamTlsConfig u;
  u.enabled = true;
  std::string error, warning;
  auto ctx = TlsContext::forUpstream(u, &error, &warning);
  REQUIRE(ctx != nullptr);
  int64_t not_after = 0;
  CHECK_FALSE(certificateNotAfter(*ctx, &not_after));
}

TEST_CASE("tls report: INFO tls and the metric families") {
  ClientTlsRuntime rt;
  const Config c = tlsConfig("server");
  rt.publish(built(c), c);
  rt.countAccepted();
  rt.countAccepted();
  rt.clientOpened();
  rt.countEstablished();
  rt.countFailure(TlsFailure::kNotTls);
  rt.countFailure(TlsFailure::kCertificate);
  rt.countFailure(TlsFailure::kCertificate);
  rt.countCertificateLogin();

  std::string info;
  appendTlsInfo(rt, c, &info);
  CHECK(info.find("# TLS\r\n") == 0);
  for (const char* line :
       {"tls_listen:127.0.0.1:6390\r\n", "tls_clients_connected:1\r\n",
        "tls_connections_received:2\r\n", "tls_handshakes:1\r\n",
        "tls_handshake_failures_not_tls:1\r\n", "tls_handshake_failures_certificate:2\r\n",
        "tls_handshake_failures_protocol:0\r\n", "tls_handshake_failures_timeout:0\r\n",
        "tls_cert_authenticated:1\r\n", "tls_certificate_reloads:0\r\n"}) {
    INFO(line);
    CHECK(info.find(line) != std::string::npos);
  }
  CHECK(info.find("tls_server_cert_not_after:" + std::to_string(rt.expiries()[0].not_after)) !=
        std::string::npos);

  std::vector<prometheus::MetricFamily> families;
  appendTlsMetrics(rt, c, &families);
  const auto* failures = find(families, "keywarden_tls_handshake_failures_total");
  REQUIRE(failures != nullptr);
  REQUIRE(failures->metric.size() == kTlsFailureKinds);
  CHECK(failures->metric[1].label[0].name == "kind");
  CHECK(failures->metric[1].label[0].value == "certificate");
  CHECK(failures->metric[1].counter.value == 2);
  // The name and label the alert rule KeywardenTLSCertificateExpiring reads.
  const auto* expiry = find(families, "keywarden_tls_cert_expiry_timestamp_seconds");
  REQUIRE(expiry != nullptr);
  REQUIRE(expiry->metric.size() == 1);
  CHECK(expiry->metric[0].label[0].name == "file");
  CHECK(expiry->metric[0].label[0].value == c.tls.cert_file);
  CHECK(find(families, "keywarden_tls_clients") != nullptr);

  // A plaintext keywarden exports no TLS family.
  families.clear();
  appendTlsMetrics(rt, Config{}, &families);
  CHECK(families.empty());
}

}  // namespace kw
