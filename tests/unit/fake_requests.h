// A fake of keywarden's own requests to Redis (cache_requests.h): records each command and lets a
// test answer them by hand, in any order.
#pragma once

#include <string>
#include <vector>

#include "cache/cache_requests.h"

namespace kw::test {

class FakeRequests final : public CacheRequests {
public:
  struct Sent {
    std::string command;  // arguments joined by spaces
    Done done;
    bool answered = false;
  };
  void send(std::initializer_list<std::string_view> args, Done done) override {
    std::string cmd;
    for (std::string_view a : args) {
      if (!cmd.empty())
        cmd += ' ';
      cmd.append(a);
    }
    sent.push_back({std::move(cmd), std::move(done)});
  }
  // Answers the first unanswered request whose command is `command`; false if none.
  bool answer(std::string_view command, std::string_view reply) {
    for (Sent& s : sent) {
      if (!s.answered && s.command == command) {
        s.answered = true;
        auto done = s.done;  // (the callback may send more)
        done(reply);
        return true;
      }
    }
    return false;
  }
  // Answers the most recent unanswered request whose command is `command`; false if none.
  bool answerLast(std::string_view command, std::string_view reply) {
    for (auto it = sent.rbegin(); it != sent.rend(); ++it) {
      if (!it->answered && it->command == command) {
        it->answered = true;
        auto done = it->done;
        done(reply);
        return true;
      }
    }
    return false;
  }
  size_t unanswered(std::string_view prefix = "") const {
    size_t n = 0;
    for (const Sent& s : sent)
      n += !s.answered && s.command.compare(0, prefix.size(), prefix) == 0;
    return n;
  }
  std::vector<Sent> sent;
};

}  // namespace kw::test
