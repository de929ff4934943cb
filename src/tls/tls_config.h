// TLS configuration (plain data), read by tls_config_loader.cc. Both sides are off unless asked
// for; the files are read and checked when a context is built (tls_context.h), not here.
//
//   [tls]                 clients of keywarden, on a listener of its own (server.listen stays)
//     listen              required  "HOST:PORT"; must differ from server.listen
//     cert_file           required  PEM: the server certificate, then its chain
//     key_file            required  PEM: its private key, unencrypted
//     ca_file                       PEM: the CAs client certificates must chain to
//     client_certs                  "require" (the default with ca_file) | "optional" (a client
//                                   may present none; one it presents must verify) | "off"
//                                   (the default without ca_file; the only choice without it)
//     min_version         "1.2"     | "1.3"
//     ciphers                       TLS 1.2 cipher list in OpenSSL's syntax (default: OpenSSL's)
//     ciphersuites                  TLS 1.3 suites in OpenSSL's syntax (default: OpenSSL's)
//
//   [upstream]            keywarden to Redis (Redis's tls-port)
//     tls                 false     every upstream connection uses TLS
//     tls_ca_file                   PEM: the CAs Redis's certificate must chain to (default: the
//                                   system's trust store)
//     tls_cert_file                 PEM: a client certificate (Redis's tls-auth-clients), with
//     tls_key_file                  its key: both or neither
//     tls_server_name               SNI and the name the certificate must carry (default: the
//                                   host of upstream.address; an IP address is matched against
//                                   the certificate's IP entries and sent without SNI)
//     tls_verify          true      false: any certificate is accepted (logged at every start)
//   Every tls_* key needs tls = true; tls needs a TCP address (Redis has no TLS on its
//   unixsocket). In cluster mode the nodes' TLS ports are used (cluster_source.cc).
#pragma once

#include <cstdint>
#include <string>

#include "common/host_port.h"

namespace kw {

enum class ClientCerts : uint8_t { kOff, kOptional, kRequire };
enum class TlsMinVersion : uint8_t { k12, k13 };

struct TlsServerConfig {
  bool enabled = false;  // a [tls] section is present
  HostPort listen;
  std::string cert_file;
  std::string key_file;
  std::string ca_file;
  ClientCerts client_certs = ClientCerts::kOff;
  TlsMinVersion min_version = TlsMinVersion::k12;
  std::string ciphers;       // empty: OpenSSL's default
  std::string ciphersuites;  // empty: OpenSSL's default
};

struct UpstreamTlsConfig {
  bool enabled = false;
  std::string ca_file;  // empty: the system's trust store
  std::string cert_file;
  std::string key_file;
  std::string server_name;  // empty: the host of upstream.address
  bool verify = true;
};

}  // namespace kw
