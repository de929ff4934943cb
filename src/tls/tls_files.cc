#include "tls/tls_files.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace kw {
namespace {

std::string quoted(const std::string& path) {
  std::string out = "\"";
  for (char c : path)
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  return out + "\"";
}

std::string where(const TlsFile& file) {
  return std::string(file.key) + ": ";
}

// The whole file, or an error naming it.
bool readFile(const TlsFile& file, std::string* text, std::string* error) {
  FILE* f = fopen(file.path.c_str(), "rb");
  if (f == nullptr) {
    *error = where(file) + "cannot read " + quoted(file.path) + ": " + strerror(errno);
    return false;
  }
  char buf[16384];
  size_t n;
  bool too_large = false;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
    text->append(buf, n);
    if (text->size() > kMaxPemBytes) {
      too_large = true;
      break;
    }
  }
  const int read_errno = ferror(f) ? errno : 0;
  fclose(f);
  if (read_errno != 0) {
    *error = where(file) + "cannot read " + quoted(file.path) + ": " + strerror(read_errno);
    return false;
  }
  if (too_large) {
    *error = where(file) + quoted(file.path) + " is larger than " + std::to_string(kMaxPemBytes) +
             " bytes";
    return false;
  }
  return true;
}

// OpenSSL's reason for the last failure, and the error queue emptied.
std::string lastOpensslReason() {
  const unsigned long e = ERR_peek_last_error();
  const char* reason = e != 0 ? ERR_reason_error_string(e) : nullptr;
  ERR_clear_error();
  return reason != nullptr ? reason : "unknown error";
}

// A password callback that has none: an encrypted key fails instead of prompting on a terminal.
int noPassword(char*, int, int, void*) {
  return 0;
}

std::string formatTime(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1)
    return "(unreadable date)";
  char buf[64];
  strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

}  // namespace

bool loadCertificates(const TlsFile& file, std::vector<X509Ptr>* out, std::string* error) {
  std::string text;
  if (!readFile(file, &text, error))
    return false;
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (bio == nullptr) {
    *error = where(file) + "out of memory";
    return false;
  }
  ERR_clear_error();
  std::vector<X509Ptr> certs;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, noPassword, nullptr))
    certs.emplace_back(cert);
  const unsigned long e = ERR_peek_last_error();
  if (e != 0 && ERR_GET_REASON(e) != PEM_R_NO_START_LINE) {
    *error = where(file) + quoted(file.path) + ": certificate " + std::to_string(certs.size() + 1) +
             " cannot be parsed (" + lastOpensslReason() + ")";
    return false;
  }
  ERR_clear_error();
  if (certs.empty()) {
    *error = where(file) + quoted(file.path) + " holds no PEM certificate";
    return false;
  }
  *out = std::move(certs);
  return true;
}

bool loadPrivateKey(const TlsFile& file, EvpPkeyPtr* out, std::string* error) {
  std::string text;
  if (!readFile(file, &text, error))
    return false;
  if (text.find("ENCRYPTED") != std::string::npos) {
    *error = where(file) + quoted(file.path) +
             " is encrypted (keywarden reads unencrypted keys only: protect the file with its "
             "permissions instead)";
    return false;
  }
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (bio == nullptr) {
    *error = where(file) + "out of memory";
    return false;
  }
  ERR_clear_error();
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, noPassword, nullptr));
  if (key == nullptr) {
    // "-----BEGIN PRIVATE KEY-----", "... EC PRIVATE KEY-----", "... RSA PRIVATE KEY-----"
    const bool none = text.find("PRIVATE KEY-----") == std::string::npos;
    *error = where(file) + quoted(file.path) +
             (none ? " holds no PEM private key"
                   : " holds a private key that cannot be parsed (" + lastOpensslReason() + ")");
    OPENSSL_cleanse(text.data(), text.size());
    ERR_clear_error();
    return false;
  }
  OPENSSL_cleanse(text.data(), text.size());  // the key's text does not outlive this call
  ERR_clear_error();
  *out = std::move(key);
  return true;
}

bool checkKeyMatches(const TlsFile& cert_file, X509* cert, const TlsFile& key_file, EVP_PKEY* key,
                     std::string* error) {
  ERR_clear_error();
  const bool match = X509_check_private_key(cert, key) == 1;
  ERR_clear_error();
  if (match)
    return true;
  *error = where(key_file) + "the key in " + quoted(key_file.path) +
           " does not match the certificate in " + quoted(cert_file.path) + " (" +
           std::string(cert_file.key) + ")";
  return false;
}

bool checkValidAt(const TlsFile& file, X509* cert, time_t now, std::string* error) {
  const ASN1_TIME* not_before = X509_get0_notBefore(cert);
  const ASN1_TIME* not_after = X509_get0_notAfter(cert);
  if (X509_cmp_time(not_before, &now) > 0) {
    *error = where(file) + "the certificate in " + quoted(file.path) + " is not valid before " +
             formatTime(not_before);
    return false;
  }
  if (X509_cmp_time(not_after, &now) < 0) {
    *error = where(file) + "the certificate in " + quoted(file.path) + " expired on " +
             formatTime(not_after);
    return false;
  }
  return true;
}

}  // namespace kw
