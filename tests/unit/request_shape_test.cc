// The reply-count rule: which requests are answered with exactly one frame and may share an
// upstream link. Every command of the table is classified; the known multi-frame ones never are.
#include "proxy/request_shape.h"

#include <doctest.h>

#include <set>
#include <string>
#include <vector>

using kw::classifyRequest;
using kw::CommandTable;
using kw::ReplyShape;
using kw::RequestShape;

namespace {

RequestShape shapeOf(std::vector<std::string_view> args, bool in_multi = false) {
  const kw::CommandInfo* cmd = CommandTable::builtin().find(args[0]);
  return classifyRequest(cmd, args, in_multi);
}

}  // namespace

TEST_CASE("commands answered with zero or several frames never share a link") {
  const std::vector<std::vector<std::string_view>> multi_frame = {
      {"SUBSCRIBE", "a", "b"},
      {"PSUBSCRIBE", "a*"},
      {"SSUBSCRIBE", "s"},
      {"UNSUBSCRIBE"},
      {"UNSUBSCRIBE", "x", "y", "z"},
      {"PUNSUBSCRIBE", "x", "y"},
      {"SUNSUBSCRIBE", "x", "y"},
      {"MONITOR"},
      {"SYNC"},
      {"PSYNC", "?", "-1"},
      {"REPLCONF", "ACK", "0"},
      {"REPLCONF", "GETACK", "*"},
      {"CLIENT", "REPLY", "OFF"},
      {"CLIENT", "REPLY", "SKIP"},
      {"CLIENT", "TRACKING", "on"},
      {"RESET"},
      {"QUIT"},
      {"HELLO", "3"},
      {"AUTH", "pw"},
      {"SELECT", "1"},
      {"MULTI"},
      {"WATCH", "k"},
      {"EXEC"},
      {"CLIENT", "KILL", "ID", "3"},
  };
  for (const auto& args : multi_frame) {
    CAPTURE(std::string(args[0]));
    CHECK(shapeOf(args).shape != ReplyShape::kOne);
  }
}

TEST_CASE("every other command of the table is one frame") {
  const std::set<std::string_view> special = {
      "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe",
      "monitor",   "sync",       "psync",      "replconf",    "reset",        "quit",
      "hello",     "auth",       "select",     "readonly",    "readwrite",    "echo",
      "multi",     "exec",       "discard",    "watch",       "unwatch",      "info",
      "slowlog",   "keywarden",  "client"};
  const CommandTable& t = CommandTable::builtin();
  for (size_t i = 0; i < t.size(); ++i) {
    const kw::CommandInfo& row = t.row(i);
    if (special.count(row.name))
      continue;
    std::vector<std::string_view> args{row.name, "k", "v"};
    CAPTURE(std::string(row.name));
    CHECK(classifyRequest(&row, args, false).shape == ReplyShape::kOne);
  }
  // A command nobody knows: Redis answers one error frame.
  std::vector<std::string_view> unknown{"NOSUCHCOMMAND", "x"};
  CHECK(classifyRequest(nullptr, unknown, false).shape == ReplyShape::kOne);
}

TEST_CASE("inside MULTI Redis queues everything but a few, one +QUEUED each") {
  CHECK(shapeOf({"SUBSCRIBE", "a", "b"}, true).shape == ReplyShape::kOne);
  CHECK(shapeOf({"SELECT", "3"}, true).shape == ReplyShape::kOne);
  CHECK(shapeOf({"BLPOP", "q", "0"}, true).own_link == false);
  CHECK(shapeOf({"EXEC"}, true).shape == ReplyShape::kLocal);
  CHECK(shapeOf({"RESET"}, true).shape == ReplyShape::kLocal);
  CHECK(shapeOf({"QUIT"}, true).shape == ReplyShape::kLocal);
  // These would change the framing of EXEC's own reply: refused by the proxy.
  CHECK(shapeOf({"HELLO", "3"}, true).shape == ReplyShape::kLocal);
  CHECK(shapeOf({"CLIENT", "REPLY", "OFF"}, true).shape == ReplyShape::kLocal);
}

TEST_CASE("blocking commands and commands Redis serves while busy run on a link of their own") {
  for (auto args :
       std::vector<std::vector<std::string_view>>{{"BLPOP", "q", "0"},
                                                  {"BRPOPLPUSH", "a", "b", "0"},
                                                  {"BZPOPMIN", "z", "0"},
                                                  {"WAIT", "1", "0"},
                                                  {"XREAD", "BLOCK", "10", "STREAMS", "s", "$"}}) {
    CAPTURE(std::string(args[0]));
    RequestShape s = shapeOf(args);
    CHECK(s.shape == ReplyShape::kOne);
    CHECK(s.own_link);
    CHECK(s.blocking);
  }
  CHECK_FALSE(shapeOf({"XREAD", "STREAMS", "block", "0"}).blocking);  // "block" is a key here
  CHECK(shapeOf({"SCRIPT", "KILL"}).own_link);
  CHECK(shapeOf({"FUNCTION", "KILL"}).own_link);
  CHECK(shapeOf({"SHUTDOWN", "NOSAVE"}).own_link);
  CHECK(shapeOf({"CLIENT", "PAUSE", "100"}).own_link);
  CHECK_FALSE(shapeOf({"SCRIPT", "LOAD", "return 1"}).own_link);
  CHECK_FALSE(shapeOf({"GET", "k"}).own_link);
}

TEST_CASE("the commands that leave connection state are the ones a pinned link is RESET after") {
  for (const auto& args : std::vector<std::vector<std::string_view>>{
           {"SELECT", "3"},
           {"HELLO", "3"},
           {"AUTH", "user", "pass"},
           {"CLIENT", "SETNAME", "x"},
           {"CLIENT", "TRACKING", "on"},
           {"CLIENT", "NO-EVICT", "on"},
           {"READONLY"},
           {"NOSUCHCOMMAND", "a"},
       }) {
    CAPTURE(args[0]);
    CHECK(shapeOf(args).leaves_state);
    CHECK(shapeOf(args, true).leaves_state);  // queued in MULTI, it runs at EXEC
  }
  for (const auto& args : std::vector<std::vector<std::string_view>>{
           {"GET", "k"},
           {"SET", "k", "v"},
           {"MULTI"},
           {"EXEC"},
           {"WATCH", "k"},
           {"BLPOP", "q", "0"},
           {"EVAL", "return 1", "0"},
           {"CLIENT", "PAUSE", "10"},
           {"CLIENT", "UNPAUSE"},
       }) {
    CAPTURE(args[0]);
    CHECK_FALSE(shapeOf(args).leaves_state);
  }
}
