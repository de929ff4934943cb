// KEYWARDEN DOCTOR (and the same checks at startup): reads the upstream Redis's configuration
// and says, in plain lines, what the platform documents as known problems:
//   maxmemory unset, or maxmemory-policy noeviction (writes fail with -OOM when memory is full);
//   a default user without a password on a Redis reachable beyond loopback;
//   persistence off (no RDB save points, no AOF);
//   clients calling KEYS (INFO commandstats);
//   memory budgets adding up to more than maxmemory (a cluster's: every master's together);
//   a cluster node with cluster-require-full-coverage yes (one lost slot stops every node).
// A check whose command Redis refuses (ACL, a managed Redis without CONFIG) says so instead.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "budget/budget_redis.h"

namespace kw {

struct DoctorFacts {
  // CONFIG GET maxmemory maxmemory-policy save appendonly bind protected-mode
  bool config_read = false;
  std::string config_error;
  uint64_t maxmemory = 0;
  std::string policy;
  std::string save;
  std::string appendonly;
  std::string bind;
  std::string protected_mode;
  std::string full_coverage;  // cluster-require-full-coverage
  // ACL LIST: the default user
  bool acl_read = false;
  std::string acl_error;
  bool default_user_on = false;
  bool default_user_nopass = false;
  // INFO commandstats
  bool info_read = false;
  std::string info_error;
  uint64_t keys_calls = 0;
  // From keywarden's own configuration.
  std::string upstream_host;
  // A cluster: this node is one of `masters` (budgets are compared with all their memory).
  bool cluster = false;
  uint32_t masters = 1;
  std::vector<std::pair<std::string, uint64_t>> budgets;  // namespace, bytes
};

// The findings, one plain line each; empty when nothing is wrong.
std::vector<std::string> diagnose(const DoctorFacts& facts);

// Parsers for the three replies (RESP2 or RESP3). Each records an error reply's text instead.
void readConfigReply(std::string_view reply, DoctorFacts* facts);
void readAclReply(std::string_view reply, DoctorFacts* facts);
void readCommandStatsReply(std::string_view reply, DoctorFacts* facts);

// 127.0.0.0/8, ::1, localhost.
bool isLoopbackHost(std::string_view host);

// Sends the three commands and calls `done` with the findings once every reply is in. `facts`
// carries keywarden's own part (upstream host, budgets).
void runDoctor(BudgetRedis* redis, DoctorFacts facts,
               std::function<void(std::vector<std::string>)> done);

}  // namespace kw
