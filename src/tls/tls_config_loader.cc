#include "tls/tls_config_loader.h"

#include <initializer_list>
#include <string>
#include <utility>

#include "common/config_loader.h"
#include "common/net_address.h"

namespace kw {
namespace {

std::string shownKey(std::string_view name) {
  std::string shown;
  for (char c : name)
    shown += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  return shown;
}

// A string value, or an error naming what was expected.
bool readString(const toml::node& node, const std::string& path, const ConfigErrorSink& error,
                std::string* out) {
  if (const auto* s = node.as_string()) {
    *out = s->get();
    return true;
  }
  error(configLine(node), path + ": expected a string, got " + describeConfigValue(node));
  return false;
}

// A file name: a non-empty string without NUL (OpenSSL and fopen take C strings).
bool readPath(const toml::node& node, const std::string& path, const ConfigErrorSink& error,
              std::string* out) {
  std::string value;
  if (!readString(node, path, error, &value))
    return false;
  if (value.empty() || value.find('\0') != std::string::npos) {
    error(configLine(node), path + ": expected a file name, got " + describeConfigValue(node));
    return false;
  }
  *out = std::move(value);
  return true;
}

template <typename T>
bool readChoice(const toml::node& node, const std::string& path,
                std::initializer_list<std::pair<std::string_view, T>> choices,
                const ConfigErrorSink& error, T* out) {
  const auto* s = node.as_string();
  std::string expected;
  for (const auto& [name, value] : choices) {
    if (s != nullptr && s->get() == name) {
      *out = value;
      return true;
    }
    expected += (expected.empty() ? "\"" : " or \"") + std::string(name) + "\"";
  }
  error(configLine(node), path + ": expected " + expected + ", got " + describeConfigValue(node));
  return false;
}

bool sameListener(const HostPort& a, const HostPort& b) {
  return a.port != 0 && a.port == b.port && a.host == b.host;
}

}  // namespace

void readTlsSection(const ConfigKey& section, const HostPort& server_listen, bool resolve,
                    const ConfigErrorSink& error, TlsServerConfig* out) {
  if (section.node == nullptr)
    return;
  const auto* t = section.node->as_table();
  if (t == nullptr) {
    error(configLine(*section.node),
          section.path + ": expected a table [tls], got " + describeConfigValue(*section.node));
    return;
  }
  TlsServerConfig c;
  c.enabled = true;
  bool has_listen = false, listen_ok = true, has_client_certs = false;
  uint32_t client_certs_line = 0, listen_line = 0;
  for (auto&& [k, v] : *t) {
    const std::string name(k.str());
    const std::string path = section.path + "." + shownKey(name);
    if (name == "listen") {
      has_listen = true;
      listen_line = configLine(v);
      std::string text, reason;
      SocketAddress resolved;
      if (!readString(v, path, error, &text)) {
        listen_ok = false;
      } else if (!parseHostPort(text, /*allow_port_zero=*/true, &c.listen, &reason)) {
        listen_ok = false;
        error(configLine(v), path + ": expected HOST:PORT or [IPV6]:PORT (" + reason + "), got " +
                                 describeConfigValue(v));
      } else if (resolve && !resolveHostPort(c.listen, AddressUse::kListen, &resolved, &reason)) {
        listen_ok = false;
        error(configLine(v),
              path + ": cannot resolve host \"" + c.listen.host + "\" (" + reason + ")");
      }
    } else if (name == "cert_file") {
      readPath(v, path, error, &c.cert_file);
    } else if (name == "key_file") {
      readPath(v, path, error, &c.key_file);
    } else if (name == "ca_file") {
      readPath(v, path, error, &c.ca_file);
    } else if (name == "client_certs") {
      has_client_certs = true;
      client_certs_line = configLine(v);
      readChoice<ClientCerts>(v, path,
                              {{"require", ClientCerts::kRequire},
                               {"optional", ClientCerts::kOptional},
                               {"off", ClientCerts::kOff}},
                              error, &c.client_certs);
    } else if (name == "min_version") {
      readChoice<TlsMinVersion>(v, path, {{"1.2", TlsMinVersion::k12}, {"1.3", TlsMinVersion::k13}},
                                error, &c.min_version);
    } else if (name == "ciphers") {
      readString(v, path, error, &c.ciphers);
    } else if (name == "ciphersuites") {
      readString(v, path, error, &c.ciphersuites);
    } else {
      const uint32_t line = k.source().begin.line != 0 ? k.source().begin.line : configLine(v);
      error(line, path + ": unknown " + std::string(v.is_table() ? "section" : "key") +
                      " (expected listen, cert_file, key_file, ca_file, client_certs, "
                      "min_version, ciphers, ciphersuites)");
    }
  }
  const uint32_t line = configLine(*section.node);
  if (!has_listen)
    error(line, section.path + ".listen: required");
  else if (listen_ok && sameListener(c.listen, server_listen))
    error(listen_line, section.path + ".listen: must differ from server.listen (" +
                           formatHostPort(server_listen) + ")");
  if (!t->contains("cert_file"))
    error(line, section.path + ".cert_file: required");
  if (!t->contains("key_file"))
    error(line, section.path + ".key_file: required");
  if (!has_client_certs) {
    c.client_certs = c.ca_file.empty() ? ClientCerts::kOff : ClientCerts::kRequire;
  } else if (c.client_certs != ClientCerts::kOff && !t->contains("ca_file")) {
    error(client_certs_line,
          section.path +
              ".client_certs: needs ca_file (the CAs client certificates must chain to)");
  }
  *out = std::move(c);
}

void readUpstreamTls(const ConfigClaim& claim, const ConfigErrorSink& error,
                     UpstreamTlsConfig* out) {
  const ConfigKey tls = claim("tls"), ca = claim("tls_ca_file"), cert = claim("tls_cert_file"),
                  key = claim("tls_key_file"), name = claim("tls_server_name"),
                  verify = claim("tls_verify");
  UpstreamTlsConfig c;
  if (tls.node != nullptr)
    readConfigBool(*tls.node, tls.path, error, &c.enabled);
  if (ca.node != nullptr)
    readPath(*ca.node, ca.path, error, &c.ca_file);
  if (cert.node != nullptr)
    readPath(*cert.node, cert.path, error, &c.cert_file);
  if (key.node != nullptr)
    readPath(*key.node, key.path, error, &c.key_file);
  if (name.node != nullptr && readString(*name.node, name.path, error, &c.server_name) &&
      (c.server_name.empty() || c.server_name.size() > 253 ||
       c.server_name.find('\0') != std::string::npos)) {
    error(configLine(*name.node), name.path + ": expected a host name or IP address, got " +
                                      describeConfigValue(*name.node));
  }
  if (verify.node != nullptr)
    readConfigBool(*verify.node, verify.path, error, &c.verify);

  // Both or neither: a certificate cannot be presented without its key.
  if ((cert.node != nullptr) != (key.node != nullptr)) {
    const ConfigKey& given = cert.node != nullptr ? cert : key;
    const ConfigKey& missing = cert.node != nullptr ? key : cert;
    error(configLine(*given.node), missing.path + ": required with " + given.path);
  }
  if (!c.enabled) {
    for (const ConfigKey* k : {&ca, &cert, &key, &name, &verify}) {
      if (k->node != nullptr)
        error(configLine(*k->node), k->path + ": needs tls = true");
    }
  }
  *out = std::move(c);
}

}  // namespace kw
