#include "tls/certificate_expiry.h"

#include <openssl/asn1.h>
#include <openssl/x509.h>

#include <ctime>

namespace kw {

bool certificateNotAfter(const TlsContext& context, int64_t* unix_seconds) {
  X509* cert = SSL_CTX_get0_certificate(context.native());
  if (cert == nullptr)
    return false;
  struct tm tm {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1)
    return false;
  *unix_seconds = static_cast<int64_t>(timegm(&tm));
  return true;
}

}  // namespace kw
