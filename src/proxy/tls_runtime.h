// What the workers share about TLS (SharedState::tls), each piece thread-safe on its own:
//
//   piece                      written by                        read by
//   the contexts               the main thread: at startup and   each worker, at every accept on
//                              at every reload that succeeded    the TLS listener; open
//                              (publish)                         connections keep theirs
//   certificate expiries       the main thread (publish)         metrics, INFO tls
//   counters                   workers (relaxed atomics, one     metrics, INFO tls
//                              add per connection event)
//   the handshake failure log  workers (LogLimiter: a mutex      -
//                              taken by failures only)
//
// The upstream context is kept beside the server one for keywarden's connections to Redis: each
// upstream connection, the topology source and the probe take it when they connect.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "common/log_limiter.h"
#include "tls/tls_contexts.h"

namespace kw {

// Why a client's TLS connection failed before it carried a request; a metric label each.
enum class TlsFailure : uint8_t {
  kNotTls,       // its first bytes were no TLS record (RESP sent to the TLS port)
  kCertificate,  // a certificate was refused: untrusted, expired, none when required
  kProtocol,     // no common version or cipher, a corrupt record, anything else
  kTimeout,      // the handshake did not complete within kTlsHandshakeTimeoutMs
};
inline constexpr size_t kTlsFailureKinds = 4;
inline constexpr std::array<const char*, kTlsFailureKinds> kTlsFailureNames = {
    "not_tls", "certificate", "protocol", "timeout"};
// A connection that has not completed its handshake by then is closed (a client that connects
// and sends nothing would otherwise hold a socket and a TLS object until the idle timeout).
inline constexpr uint64_t kTlsHandshakeTimeoutMs = 10000;

class ClientTlsRuntime {
public:
  // The contexts buildTlsContexts made for `config` become the current ones.
  void publish(const TlsContexts& contexts, const Config& config);
  std::shared_ptr<const TlsContext> serverContext() const { return server_.current(); }
  std::shared_ptr<const TlsContext> upstreamContext() const { return upstream_.current(); }
  // How many times the contexts were published (1 after startup).
  uint64_t generation() const { return server_.generation(); }

  // The notAfter of each certificate keywarden presents, by file (the metric's `file` label).
  struct CertificateExpiry {
    std::string file;
    int64_t not_after = 0;  // Unix seconds
  };
  std::vector<CertificateExpiry> expiries() const;

  void countAccepted() { add(&accepted_); }
  void countEstablished() { add(&established_); }
  void countFailure(TlsFailure kind) { add(&failures_[static_cast<size_t>(kind)]); }
  void countCertificateLogin() { add(&cert_logins_); }
  void clientOpened() { clients_.fetch_add(1, std::memory_order_relaxed); }
  void clientClosed() { clients_.fetch_sub(1, std::memory_order_relaxed); }

  struct Counts {
    uint64_t accepted = 0;     // TLS connections accepted
    uint64_t established = 0;  // handshakes completed
    std::array<uint64_t, kTlsFailureKinds> failures{};
    uint64_t cert_logins = 0;  // connections authenticated by their certificate
    int64_t clients = 0;       // TLS clients connected now
  };
  Counts counts() const;

  // A failed handshake from `host`: whether to log it now (*suppressed: failures from that host
  // not logged since its last line). One line per host per 10 s.
  bool shouldLogFailure(std::string_view host, uint64_t now_ms, uint64_t* suppressed) {
    return failure_log_.allow(host, now_ms, suppressed);
  }

private:
  static void add(std::atomic<uint64_t>* c) { c->fetch_add(1, std::memory_order_relaxed); }

  TlsContextSlot server_;
  TlsContextSlot upstream_;
  mutable std::mutex expiry_mu_;
  std::vector<CertificateExpiry> expiries_;
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> established_{0};
  std::array<std::atomic<uint64_t>, kTlsFailureKinds> failures_{};
  std::atomic<uint64_t> cert_logins_{0};
  std::atomic<int64_t> clients_{0};
  LogLimiter failure_log_{10000, 1024};
};

}  // namespace kw
