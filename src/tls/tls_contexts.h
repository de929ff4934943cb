// The TLS contexts of one configuration snapshot, and how a reload replaces them.
//
//   event                              what happens
//   startup, --check-config            buildTlsContexts(config): every file read and checked; an
//                                      error stops startup (or is --check-config's answer)
//   reload (SIGHUP, KEYWARDEN RELOAD)  buildTlsContexts(next config) before anything is
//                                      published: an error fails the reload and changes nothing;
//                                      otherwise the new contexts are published with the new
//                                      snapshot (or into a TlsContextSlot)
//   a new connection                   starts from the current context
//   an open connection                 keeps the context it started with (its TlsChannel holds
//                                      it) until it closes
//   the old context                    freed with the last channel that used it
//
// Certificates are read again at every reload, even when the file names did not change (that is
// how a renewed certificate is picked up). [tls] listen, and turning either side on or off, need
// a restart (listeners and connections are made at startup); everything else applies to new
// connections. A new client context starts with an empty session cache: the first reconnect
// after a reload is a full handshake.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/config.h"
#include "tls/tls_context.h"

namespace kw {

struct TlsContexts {
  std::shared_ptr<const TlsContext> server;    // null without [tls]
  std::shared_ptr<const TlsContext> upstream;  // null without upstream.tls
  std::vector<std::string> warnings;           // to log at every start and reload
};

// Both contexts the configuration asks for, or false and the first error (`key: what is wrong`,
// naming the file; the caller puts the configuration file's name in front).
bool buildTlsContexts(const Config& config, TlsContexts* out, std::string* error);

// The context new connections start from, swapped whole; readers on any thread.
class TlsContextSlot {
public:
  std::shared_ptr<const TlsContext> current() const {
    std::lock_guard<std::mutex> lock(mu_);
    return context_;
  }
  void publish(std::shared_ptr<const TlsContext> context) {
    std::lock_guard<std::mutex> lock(mu_);
    context_.swap(context);
    ++generation_;
  }  // the old context goes with `context`, after the lock, unless channels still hold it
  uint64_t generation() const {
    std::lock_guard<std::mutex> lock(mu_);
    return generation_;
  }

private:
  mutable std::mutex mu_;
  std::shared_ptr<const TlsContext> context_;
  uint64_t generation_ = 0;
};

}  // namespace kw
