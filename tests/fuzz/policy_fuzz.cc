// Feeds arbitrary commands through the access gate and the TTL stage under the platform policy
// (tests/unit/platform_policy.h). Input: byte 0 picks the user (and the argument separator),
// bytes 1..6 shift the clock, the rest is the command, split on the separator. Checks that
// nothing crashes, replies are well-formed single lines, admins are refused only for a key's
// shape (a data rule, not a grant), and that a rewritten command is a fixed point of the TTL
// stage (so clamps really land at or below the maximum and defaults are never added twice).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "../unit/platform_policy.h"
#include "policy/access_check.h"
#include "policy/ttl_policy.h"
#include "proxy/command_table.h"

#include "fuzz_check.h"

namespace {

constexpr int64_t kBaseNowMs = 1700000000000;
constexpr const char* kUsers[] = {"auth-service", "user-service", "ops"};
constexpr char kSeparators[] = {'\n', '\0', ' ', ';'};

bool oneLine(std::string_view s) {
  return s.find_first_of("\r\n") == std::string_view::npos;
}

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

void checkTtl(const kw::CompiledPolicy& policy, const kw::CommandInfo& cmd,
              const std::vector<std::string_view>& args, int64_t now_ms) {
  kw::TtlScratch scratch;
  const kw::TtlDecision d = kw::applyTtlPolicy(policy, cmd, args, now_ms, &scratch);
  for (const kw::TtlEvent& e : scratch.events)
    FUZZ_CHECK(e.ns < policy.namespaceCount());
  switch (d) {
  case kw::TtlDecision::kRefuse:
    FUZZ_CHECK(startsWith(scratch.error, "ERR "));
    FUZZ_CHECK(oneLine(scratch.error));
    FUZZ_CHECK(scratch.args.empty() && scratch.followups.empty());
    return;
  case kw::TtlDecision::kPass:
    FUZZ_CHECK(scratch.args.empty());
    break;
  case kw::TtlDecision::kRewrite: {
    FUZZ_CHECK(!scratch.args.empty());
    FUZZ_CHECK(scratch.args.size() >= 2 && scratch.args[1] == args[1]);  // same key
    std::vector<std::string_view> again(scratch.args.begin(), scratch.args.end());
    const kw::CommandInfo* again_cmd = kw::CommandTable::builtin().find(again[0]);
    FUZZ_CHECK(again_cmd != nullptr);
    kw::TtlScratch s2;
    FUZZ_CHECK(kw::applyTtlPolicy(policy, *again_cmd, again, now_ms, &s2) ==
               kw::TtlDecision::kPass);
    break;
  }
  }
  FUZZ_CHECK(scratch.error.empty());
  for (const kw::ArgList& f : scratch.followups) {
    FUZZ_CHECK(f.size() == 4 && f[0] == "EXPIRE" && (f[3] == "NX" || f[3] == "LT"));
    FUZZ_CHECK(f[2] != "0" && f[2][0] != '-');
    // Follow-ups are themselves commands the stage accepts as they are.
    std::vector<std::string_view> fv(f.begin(), f.end());
    kw::TtlScratch s3;
    FUZZ_CHECK(kw::applyTtlPolicy(policy, *kw::CommandTable::builtin().find("expire"), fv, now_ms,
                                  &s3) == kw::TtlDecision::kPass);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::shared_ptr<const kw::CompiledPolicy> policy = kw::testing::platformPolicy();
  if (size < 7)
    return 0;
  const uint8_t selector = data[0];
  const kw::CompiledUser* user = policy->findUser(kUsers[selector % 3]);
  FUZZ_CHECK(user != nullptr);
  const char sep = kSeparators[(selector / 3) % 4];
  int64_t shift = 0;
  for (int i = 1; i <= 6; ++i)
    shift = (shift << 8) | data[i];
  const int64_t now_ms = kBaseNowMs + shift - (int64_t{1} << 47);

  const std::string_view body(reinterpret_cast<const char*>(data + 7), size - 7);
  std::vector<std::string_view> args;
  size_t start = 0;
  while (start <= body.size() && args.size() < 4096) {
    size_t end = body.find(sep, start);
    if (end == std::string_view::npos)
      end = body.size();
    args.push_back(body.substr(start, end - start));
    start = end + 1;
  }
  if (args.empty())
    return 0;
  const kw::CommandInfo* cmd = kw::CommandTable::builtin().find(args[0]);
  if (cmd == nullptr)
    return 0;

  kw::PolicyScratch scratch;
  std::string error;
  const bool ok = kw::checkAccess(*policy, *user, *cmd, args, &scratch, &error);
  FUZZ_CHECK(ok == error.empty());
  FUZZ_CHECK(oneLine(error));
  FUZZ_CHECK(ok || startsWith(error, "NOPERM ") || startsWith(error, "ERR "));
  FUZZ_CHECK(!user->admin || ok || startsWith(error, "ERR key '"));
  FUZZ_CHECK(scratch.ns_ids.size() <= scratch.positions.size());
  if (ok)
    FUZZ_CHECK(scratch.ns_ids.size() == scratch.positions.size());
  for (int pos : scratch.positions)
    FUZZ_CHECK(pos >= 1 && static_cast<size_t>(pos) < args.size());
  for (uint32_t ns : scratch.ns_ids) {
    FUZZ_CHECK(ns == kw::Resolution::kNone || ns < policy->namespaceCount());
  }
  // The same check twice with a used scratch gives the same answer.
  std::string error2;
  FUZZ_CHECK(kw::checkAccess(*policy, *user, *cmd, args, &scratch, &error2) == ok);
  FUZZ_CHECK(error2 == error);

  checkTtl(*policy, *cmd, args, now_ms);
  checkTtl(*policy, *cmd, args, kBaseNowMs);
  return 0;
}
