// The PEM files of the TLS configuration, read and checked with errors an operator can act on.
// Every message starts with the configuration key and names the file:
//
//   problem                                   message
//   missing, unreadable, a directory          `tls.cert_file: cannot read "/p": No such file...`
//   larger than kMaxPemBytes                  `tls.ca_file: "/p" is larger than 16777216 bytes`
//   no PEM certificate in a certificate file  `tls.cert_file: "/p" holds no PEM certificate`
//   no key, or an encrypted one               `tls.key_file: "/p" holds no PEM private key` /
//                                             `... is encrypted (...)`
//   the key is not the certificate's          `tls.key_file: the key in "/k" does not match the
//                                             certificate in "/c" (tls.cert_file)`
//   the certificate is expired, not yet valid `tls.cert_file: the certificate in "/p" expired on
//                                             2024-01-01 00:00:00 UTC` / `is not valid before ...`
//
// Files are read with blocking calls: at startup, --check-config and reload, on the main thread,
// never on a worker's loop. An encrypted key is refused rather than prompted for.
#pragma once

#include <openssl/x509.h>

#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "tls/openssl_ptr.h"

namespace kw {

constexpr size_t kMaxPemBytes = 16u << 20;

// What a file of the configuration is, for messages: its key ("tls.cert_file") and its path.
struct TlsFile {
  std::string_view key;
  const std::string& path;
};

// Every certificate of the file, in file order (for a cert_file: the leaf, then its chain).
bool loadCertificates(const TlsFile& file, std::vector<X509Ptr>* out, std::string* error);
bool loadPrivateKey(const TlsFile& file, EvpPkeyPtr* out, std::string* error);
// The key belongs to the certificate.
bool checkKeyMatches(const TlsFile& cert_file, X509* cert, const TlsFile& key_file, EVP_PKEY* key,
                     std::string* error);
// notBefore <= now <= notAfter.
bool checkValidAt(const TlsFile& file, X509* cert, time_t now, std::string* error);

}  // namespace kw
