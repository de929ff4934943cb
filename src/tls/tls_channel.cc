#include "tls/tls_channel.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <utility>

namespace kw {
namespace {

constexpr unsigned char kHandshakeRecord =
    0x16;                                 // the content type every TLS connection opens with
constexpr size_t kReadChunk = 16 * 1024;  // one TLS record's plaintext at most

bool isIpAddress(const std::string& name) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

bool isCertificateReason(int reason) {
  switch (reason) {
  case SSL_R_CERTIFICATE_VERIFY_FAILED:
  case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
  case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
  case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
  case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
  case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
  case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
  case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
  case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    return true;
  default:
    return false;
  }
}

// An IA5String of a subjectAltName, unless it hides a NUL (a name that would compare equal to
// less than it says).
void addName(const ASN1_STRING* s, std::vector<std::string>* out) {
  if (s == nullptr)
    return;
  const auto* data = reinterpret_cast<const char*>(ASN1_STRING_get0_data(s));
  const std::string_view name(data, static_cast<size_t>(ASN1_STRING_length(s)));
  if (!name.empty() && name.find('\0') == std::string_view::npos)
    out->emplace_back(name);
}

}  // namespace

TlsChannel::TlsChannel(std::shared_ptr<const TlsContext> context) : context_(std::move(context)) {}

TlsChannel::~TlsChannel() = default;

std::unique_ptr<TlsChannel> TlsChannel::accept(std::shared_ptr<const TlsContext> context) {
  std::unique_ptr<TlsChannel> channel(new TlsChannel(std::move(context)));
  if (channel->setUp(/*server=*/true))
    SSL_set_accept_state(channel->ssl_.get());
  return channel;
}

std::unique_ptr<TlsChannel> TlsChannel::connect(std::shared_ptr<const TlsContext> context,
                                                std::string_view server_name,
                                                std::string session_key) {
  std::unique_ptr<TlsChannel> channel(new TlsChannel(std::move(context)));
  if (!channel->setUp(/*server=*/false))
    return channel;
  SSL* ssl = channel->ssl_.get();
  const std::string name(server_name);
  // A resumed session is not verified again, its name included: a session is offered only to
  // the name it was verified for.
  channel->session_key_ = std::move(session_key) + '\n' + name;
  const bool ip = isIpAddress(name);
  ERR_clear_error();
  if (channel->context_->verifiesPeer()) {
    bool ok;
    if (name.empty() || name.find('\0') != std::string::npos) {
      ok = false;
    } else if (ip) {
      ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str()) == 1;
    } else {
      SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      ok = SSL_set1_host(ssl, name.c_str()) == 1;
    }
    if (!ok) {
      ERR_clear_error();
      channel->fail(Failure::kCertificate,
                    "no usable server name to verify the certificate against: \"" + name + "\"");
      return channel;
    }
  }
  // SNI carries host names only (RFC 6066).
  if (!ip && !name.empty() && SSL_set_tlsext_host_name(ssl, name.c_str()) != 1)
    ERR_clear_error();  // a name OpenSSL will not send: verification still applies
  if (TlsSessionCache* sessions = channel->context_->sessions())
    sessions->prepare(ssl, &channel->session_key_);
  SSL_set_connect_state(ssl);
  channel->advanceHandshake();  // the ClientHello, ready for takeCiphertext
  return channel;
}

bool TlsChannel::setUp(bool server) {
  server_ = server;
  const bool right_side =
      context_ != nullptr &&
      context_->side() == (server ? TlsContext::Side::kServer : TlsContext::Side::kClient);
  if (!right_side) {
    fail(Failure::kProtocol, "internal error: a TLS channel on the wrong side's context");
    return false;
  }
  ERR_clear_error();
  ssl_.reset(SSL_new(context_->native()));
  BIO* in = cipher_in_.newBio();
  BIO* out = cipher_out_.newBio();
  if (ssl_ == nullptr || in == nullptr || out == nullptr) {
    BIO_free(in);
    BIO_free(out);
    ssl_.reset();
    ERR_clear_error();
    fail(Failure::kProtocol, "out of memory for a TLS connection");
    return false;
  }
  SSL_set_bio(ssl_.get(), in, out);
  return true;
}

void TlsChannel::feedCiphertext(std::string_view bytes) {
  if (failed() || bytes.empty())
    return;
  if (server_ && !seen_input_ && static_cast<unsigned char>(bytes[0]) != kHandshakeRecord) {
    fail(Failure::kNotTls, "not a TLS handshake (plaintext sent to the TLS port?)");
    return;
  }
  seen_input_ = true;
  cipher_in_.append(bytes);
  if (!handshake_done_)
    advanceHandshake();
  else if (!pending_.empty())
    flushPending();
}

void TlsChannel::advanceHandshake() {
  ERR_clear_error();
  const int ret = SSL_do_handshake(ssl_.get());
  if (ret == 1) {
    handshake_done_ = true;
    flushPending();
    return;
  }
  handleResult(ret);
}

bool TlsChannel::handleResult(int ret) {
  const int error = SSL_get_error(ssl_.get(), ret);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
    ERR_clear_error();
    return true;
  }
  if (error == SSL_ERROR_ZERO_RETURN) {
    ERR_clear_error();
    peer_closed_ = true;
    return true;
  }
  const unsigned long e = ERR_peek_error();
  const int reason = ERR_GET_REASON(e);
  std::string text = e != 0 && ERR_reason_error_string(e) != nullptr
                         ? ERR_reason_error_string(e)
                         : "TLS error " + std::to_string(error);
  ERR_clear_error();
  const long verify = SSL_get_verify_result(ssl_.get());
  if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED && verify != X509_V_OK)
    text += std::string(": ") + X509_verify_cert_error_string(verify);
  fail(isCertificateReason(reason) ? Failure::kCertificate : Failure::kProtocol, std::move(text));
  return false;
}

void TlsChannel::fail(Failure kind, std::string reason) {
  if (failed())
    return;
  failure_ = kind;
  failure_reason_ = std::move(reason);
  pending_.clear();
}

size_t TlsChannel::readPlaintext(char* out, size_t capacity) {
  if (failed() || !handshake_done_ || peer_closed_ || capacity == 0)
    return 0;
  ERR_clear_error();
  size_t n = 0;
  const int ret = SSL_read_ex(ssl_.get(), out, capacity, &n);
  if (ret == 1)
    return n;
  handleResult(ret);
  if (!pending_.empty())
    flushPending();  // a post-handshake message may have been in the way of a write
  return 0;
}

size_t TlsChannel::readPlaintext(std::string* out) {
  const size_t start = out->size();
  for (;;) {
    const size_t used = out->size();
    out->resize(used + kReadChunk);
    const size_t n = readPlaintext(out->data() + used, kReadChunk);
    out->resize(used + n);
    if (n == 0)
      return out->size() - start;
  }
}

size_t TlsChannel::writePlaintext(std::string_view bytes) {
  if (failed() || shut_down_)
    return 0;
  if (!handshake_done_ || !pending_.empty()) {
    pending_.append(bytes);
    return bytes.size();
  }
  ERR_clear_error();
  size_t written = 0;
  const int ret = SSL_write_ex(ssl_.get(), bytes.data(), bytes.size(), &written);
  if (ret == 1)
    return bytes.size();
  if (!handleResult(ret))
    return 0;
  pending_.append(bytes);  // the record layer waits for the peer: sent after its next input
  return bytes.size();
}

void TlsChannel::flushPending() {
  if (pending_.empty() || failed())
    return;
  ERR_clear_error();
  size_t written = 0;
  const int ret = SSL_write_ex(ssl_.get(), pending_.data(), pending_.size(), &written);
  if (ret == 1) {
    pending_.clear();
    pending_.shrink_to_fit();
    return;
  }
  handleResult(ret);
}

void TlsChannel::shutdown() {
  if (failed() || shut_down_ || ssl_ == nullptr)
    return;
  shut_down_ = true;
  if (!handshake_done_)
    return;  // nothing to close politely: the owner just closes
  flushPending();
  ERR_clear_error();
  SSL_shutdown(ssl_.get());
  ERR_clear_error();
}

bool TlsChannel::peerVerified() const {
  if (!handshake_done_ || failed())
    return false;
  return (SSL_get_verify_mode(ssl_.get()) & SSL_VERIFY_PEER) != 0 &&
         SSL_get0_peer_certificate(ssl_.get()) != nullptr &&
         SSL_get_verify_result(ssl_.get()) == X509_V_OK;
}

std::vector<std::string> TlsChannel::peerSubjectNames() const {
  std::vector<std::string> names;
  if (!peerVerified())
    return names;
  X509* cert = SSL_get0_peer_certificate(ssl_.get());
  const X509_NAME* subject = X509_get_subject_name(cert);
  for (int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) {
    // Whatever string type the CN has (UTF8String, PrintableString, BMPString...), as UTF-8.
    unsigned char* utf8 = nullptr;
    const int n =
        ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)));
    if (n > 0) {
      const std::string_view cn(reinterpret_cast<const char*>(utf8), static_cast<size_t>(n));
      if (cn.find('\0') == std::string_view::npos)
        names.emplace_back(cn);
    }
    OPENSSL_free(utf8);
  }
  auto* alt =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; alt != nullptr && i < sk_GENERAL_NAME_num(alt); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(alt, i);
    if (g->type == GEN_DNS)
      addName(g->d.dNSName, &names);
    else if (g->type == GEN_EMAIL)
      addName(g->d.rfc822Name, &names);
    else if (g->type == GEN_URI)
      addName(g->d.uniformResourceIdentifier, &names);
  }
  GENERAL_NAMES_free(alt);
  ERR_clear_error();
  return names;
}

std::string_view TlsChannel::version() const {
  return handshake_done_ ? SSL_get_version(ssl_.get()) : "";
}

std::string_view TlsChannel::cipher() const {
  const char* name = handshake_done_ ? SSL_get_cipher_name(ssl_.get()) : nullptr;
  return name != nullptr ? name : "";
}

bool TlsChannel::resumed() const {
  return handshake_done_ && SSL_session_reused(ssl_.get()) == 1;
}

}  // namespace kw
