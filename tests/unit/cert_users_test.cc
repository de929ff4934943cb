// [[users]] named by a client certificate (cert_subject): which user a certificate's names give,
// certificate-only users and AUTH, and the configuration's checks.
#include <doctest.h>

#include <string>
#include <vector>

#include "common/config_loader.h"
#include "policy/password.h"
#include "policy/policy.h"

namespace kw {
namespace {

UserConfig user(const std::string& name, const std::string& cert_subject,
                const std::string& password = "") {
  UserConfig u;
  u.name = name;
  u.cert_subject = cert_subject;
  if (!password.empty())
    u.password_hash = hashPassword(password);
  else if (cert_subject.empty())
    u.nopass = true;
  u.read = {"*"};
  u.categories = kCatRead;
  return u;
}

std::shared_ptr<const CompiledPolicy> build(const PolicyConfig& c) {
  std::string error;
  auto p = CompiledPolicy::build(c, &error);
  INFO(error);
  REQUIRE(p);
  return p;
}

const char* kTls = R"([tls]
listen = "127.0.0.1:6390"
cert_file = "/c.pem"
key_file = "/k.pem"
ca_file = "/ca.pem"
)";

std::string parseError(const std::string& text) {
  Config config;
  std::string error;
  CHECK_FALSE(parseConfigText(text, "k.toml", &config, &error));
  return error;
}

}  // namespace

TEST_CASE("cert users: the first of the certificate's names that is a user's cert_subject") {
  PolicyConfig c;
  c.users = {user("default", ""), user("billing", "billing-service"),
             user("auth", "spiffe://keywarden.test/auth-service"), user("ops", "ops", "secret")};
  auto p = build(c);
  using Names = std::vector<std::string>;
  auto mapped = [&](const Names& names) {
    const CompiledUser* u = p->userForCertificate(names);
    return u ? u->name : std::string("(none)");
  };
  // TlsChannel::peerSubjectNames: the CN first, then the subjectAltNames in certificate order.
  CHECK(mapped({"billing-service", "DNS:ignored"}) == "billing");
  CHECK(mapped({"auth-service", "auth-service", "spiffe://keywarden.test/auth-service"}) == "auth");
  CHECK(mapped({"billing-service", "spiffe://keywarden.test/auth-service"}) == "billing");
  CHECK(mapped({"nobody", "unknown.example"}) == "(none)");
  CHECK(mapped({}) == "(none)");
  // Compared byte for byte: no case folding, no prefix.
  CHECK(mapped({"Billing-Service"}) == "(none)");
  CHECK(mapped({"billing-service.internal"}) == "(none)");
  CHECK(mapped({"billing"}) == "(none)");  // a user's name is not its certificate's
  // A user with both a password and a cert_subject answers to either.
  CHECK(mapped({"ops"}) == "ops");
  CHECK(p->authenticate("ops", "secret") != nullptr);
}

TEST_CASE("cert users: a certificate-only user cannot AUTH; a disabled one maps to nobody") {
  PolicyConfig c;
  c.users = {user("default", ""), user("billing", "billing-service")};
  UserConfig off = user("old", "old-service");
  off.enabled = false;
  c.users.push_back(off);
  auto p = build(c);
  CHECK(p->authenticate("billing", "") == nullptr);
  CHECK(p->authenticate("billing", "billing-service") == nullptr);
  CHECK(p->findUser("billing")->password_hash.empty());
  CHECK_FALSE(p->findUser("billing")->nopass);
  CHECK(p->userForCertificate(std::vector<std::string>{"old-service"}) == nullptr);
  // A later name of the same certificate still counts.
  CHECK(p->userForCertificate(std::vector<std::string>{"old-service", "billing-service"}) ==
        p->findUser("billing"));
}

TEST_CASE("cert users: build errors") {
  PolicyConfig c;
  c.users = {user("a", "svc"), user("b", "svc")};
  std::string error;
  CHECK(CompiledPolicy::build(c, &error) == nullptr);
  CHECK(error == "user 'b': cert_subject 'svc' is already user 'a''s");
  c.users = {user("a", std::string("svc\nx"))};
  CHECK(CompiledPolicy::build(c, &error) == nullptr);
  CHECK(error == "user 'a': cert_subject control characters are not allowed");
  c.users = {user("a", std::string(kMaxCertSubjectLength + 1, 'x'))};
  CHECK(CompiledPolicy::build(c, &error) == nullptr);
  CHECK(error == "user 'a': cert_subject longer than 1024 bytes");
  CHECK(validateCertSubject("keywarden test CA") == "");  // spaces are fine in a CN
  CHECK(validateCertSubject("sérvice") == "");            // so is UTF-8
  CHECK(validateCertSubject("") == "must not be empty");
}

TEST_CASE("cert users: the configuration file") {
  Config config;
  std::string error;
  REQUIRE(parseConfigText(std::string(kTls) + R"([[users]]
name = "billing"
cert_subject = "billing-service"
read = ["*"]
)",
                          "k.toml", &config, &error));
  REQUIRE(config.policy.users.size() == 1);
  CHECK(config.policy.users[0].cert_subject == "billing-service");
  CHECK(config.policy.users[0].password_hash.empty());

  CHECK(parseError(std::string(kTls) + R"([[users]]
name = "a"
cert_subject = "svc"
[[users]]
name = "b"
cert_subject = "svc"
)") == "k.toml:11: users[1].cert_subject: user 'a' (line 6) has the same cert_subject: a "
       "certificate must name one user");
  CHECK(parseError(std::string(kTls) + "[[users]]\nname = \"a\"\ncert_subject = \"\"\n") ==
        "k.toml:8: users[0].cert_subject: must not be empty");
  // Without a verified client certificate nothing could ever match.
  CHECK(parseError("[[users]]\nname = \"a\"\ncert_subject = \"svc\"\n") ==
        "k.toml:1: users[0].cert_subject: needs [tls] with ca_file and client_certs = \"require\" "
        "or \"optional\" (only a verified client certificate names a user)");
  CHECK(parseError(std::string(kTls) + "client_certs = \"off\"\n" +
                   "[[users]]\nname = \"a\"\ncert_subject = \"svc\"\n")
            .find("users[0].cert_subject: needs [tls]") != std::string::npos);
}

}  // namespace kw
