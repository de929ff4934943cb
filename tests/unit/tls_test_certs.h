// A small PKI for the TLS tests, made in-process with OpenSSL (EC P-256 keys: fast even under
// the sanitizers) and written as PEM files into a temporary directory, removed at the end.
//
//   file                    what                                           signed by
//   ca.pem                  the trusted CA                                 itself
//   server.pem / .key       CN=localhost, SAN DNS:localhost, IP:127.0.0.1  ca
//   server2.pem / .key      CN=renewed, same SANs (a renewed certificate)  ca
//   client.pem / .key       CN=auth-service, SAN DNS:auth-service.internal, ca
//                           email:auth@example.com, URI:spiffe://example.com/auth-service
//   expired.pem / .key      like server.pem, expired yesterday             ca
//   expired_client.pem/.key like client.pem, expired yesterday             ca
//   future.pem / .key       like server.pem, valid from tomorrow           ca
//   rogue_ca.pem            a CA nobody trusts                             itself
//   rogue_server.pem / .key like server.pem                                rogue_ca
//   rogue_client.pem / .key like client.pem                                rogue_ca
//   other.key               a key that matches no certificate
//   encrypted.key           other.key, encrypted with a password
#pragma once

#include <ctime>
#include <string>

namespace kw::test {

class TestPki {
public:
  static constexpr time_t kDay = 24 * 3600;

  TestPki();
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  // The path of one of the files above.
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  const std::string& dir() const { return dir_; }
  // Writes a file of one's own into the directory; returns its path.
  std::string write(const std::string& name, const std::string& content) const;

private:
  std::string dir_;
};

}  // namespace kw::test
