// keywarden's own requests to Redis as the caching features need them: one command, one reply,
// the reply to a callback on the worker's loop. The worker's UpstreamClient implements it; unit
// tests fake it and answer by hand.
#pragma once

#include <functional>
#include <initializer_list>
#include <string_view>

namespace kw {

class CacheRequests {
public:
  using Done = std::function<void(std::string_view reply)>;
  // The reply's complete RESP bytes (an error reply when Redis could not be asked).
  virtual void send(std::initializer_list<std::string_view> args, Done done) = 0;

protected:
  ~CacheRequests() = default;
};

}  // namespace kw
