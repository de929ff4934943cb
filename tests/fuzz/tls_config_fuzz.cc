// The TLS keys of the config. The input is put where an operator's text would be: inside [tls]
// (after a valid listen/cert/key, so the fuzzer spends its time in tls_config_loader.cc) or, when
// it starts with 'u', inside [upstream] with tls = true. Any bytes give a Config or errors, one
// per line, each naming the file; an accepted config is coherent.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/config_loader.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string text;
  if (!input.empty() && input[0] == 'u') {
    text = "[upstream]\ntls = true\n";
    text.append(input.substr(1));
  } else {
    text = "[tls]\nlisten = \"127.0.0.1:6443\"\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n";
    text.append(input);
  }
  text += "\n";
  kw::Config config;
  std::string error;
  const bool ok = kw::parseConfigText(text, "fuzz.toml", &config, &error);
  FUZZ_CHECK(ok || !error.empty());
  for (size_t start = 0; !ok && start <= error.size();) {
    FUZZ_CHECK(error.compare(start, 9, "fuzz.toml") == 0);
    const size_t nl = error.find('\n', start);
    start = nl == std::string::npos ? error.size() + 1 : nl + 1;
  }
  if (!ok)
    return 0;
  const kw::TlsServerConfig& s = config.tls;
  if (s.enabled) {
    FUZZ_CHECK(!s.cert_file.empty() && !s.key_file.empty());
    FUZZ_CHECK(s.client_certs == kw::ClientCerts::kOff || !s.ca_file.empty());
    FUZZ_CHECK(s.listen.port != config.server.listen.port ||
               s.listen.host != config.server.listen.host || s.listen.port == 0);
  }
  const kw::UpstreamTlsConfig& u = config.upstream.tls;
  FUZZ_CHECK(u.cert_file.empty() == u.key_file.empty());
  if (!u.enabled)
    FUZZ_CHECK(u.ca_file.empty() && u.cert_file.empty() && u.server_name.empty() && u.verify);
  for (const std::string* path : {&s.cert_file, &s.key_file, &s.ca_file, &u.ca_file, &u.cert_file,
                                  &u.key_file, &u.server_name})
    FUZZ_CHECK(path->find('\0') == std::string::npos);
  return 0;
}
