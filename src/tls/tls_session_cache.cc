#include "tls/tls_session_cache.h"

namespace kw {
namespace {

// Where a client SSL keeps its cache key.
int keyIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

}  // namespace

void TlsSessionCache::attach(SSL_CTX* ctx, TlsSessionCache* cache) {
  SSL_CTX_set_app_data(ctx, cache);
  // Stored here, not in OpenSSL's internal store: lookups are by peer, not by session id.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, &TlsSessionCache::onNewSession);
}

void TlsSessionCache::prepare(SSL* ssl, const std::string* key) {
  SSL_set_ex_data(ssl, keyIndex(), const_cast<std::string*>(key));
  SslSessionPtr session;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(*key);
    if (it == sessions_.end())
      return;
    if (SSL_SESSION_is_resumable(it->second.get()) != 1) {
      sessions_.erase(it);
      return;
    }
    SSL_SESSION_up_ref(it->second.get());
    session.reset(it->second.get());
  }
  SSL_set_session(ssl, session.get());  // takes its own reference
}

size_t TlsSessionCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sessions_.size();
}

int TlsSessionCache::onNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* cache = static_cast<TlsSessionCache*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  const auto* key = static_cast<const std::string*>(SSL_get_ex_data(ssl, keyIndex()));
  if (cache == nullptr || key == nullptr)
    return 0;
  cache->store(*key, session);
  return 1;  // the cache took OpenSSL's reference
}

void TlsSessionCache::store(const std::string& key, SSL_SESSION* session) {
  std::lock_guard<std::mutex> lock(mu_);
  if (sessions_.size() >= kMaxPeers && sessions_.find(key) == sessions_.end())
    sessions_.clear();
  sessions_[key].reset(session);
}

}  // namespace kw
