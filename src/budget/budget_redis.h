// What the budget enforcer and the doctor need of Redis: one command at a time, its reply to a
// callback, on a connection that is not tracked (MEMORY USAGE and OBJECT are reads, and a read on
// a tracking connection would register the key). Replies come in the order the commands were
// sent; a command that could not be sent, or whose connection broke, gets an error reply
// ("-UPSTREAMDOWN ..."). A callback is never called from inside send().
//
// budget_link.h implements it on a pinned upstream link of worker 0; tests fake it.
#pragma once

#include <functional>
#include <span>
#include <string_view>

namespace kw {

class BudgetRedis {
public:
  using Done = std::function<void(std::string_view reply)>;
  virtual void send(std::span<const std::string_view> args, Done done) = 0;

protected:
  ~BudgetRedis() = default;
};

}  // namespace kw
