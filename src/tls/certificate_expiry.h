// When the certificate a context presents stops being valid (its notAfter), for the metric
// keywarden_tls_cert_expiry_timestamp_seconds and INFO tls: operators are warned before it
// expires (conf/prometheus/keywarden-alerts.yml, KeywardenTLSCertificateExpiring).
#pragma once

#include <cstdint>

#include "tls/tls_context.h"

namespace kw {

// notAfter of the context's own certificate in Unix seconds; false when it has none (a client
// context without tls_cert_file).
bool certificateNotAfter(const TlsContext& context, int64_t* unix_seconds);

}  // namespace kw
