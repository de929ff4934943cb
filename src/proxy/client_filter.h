// CLIENT KILL's filters, parsed and matched as Redis does it (networking.c, clientCommand "kill",
// Redis 7.4 with MAXAGE), and CLIENT LIST's TYPE names. Pure, so it is unit-tested alone; the
// session supplies the facts of each client (admin_commands.cc).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace kw {

// Redis's client classes. keywarden's clients are pub/sub clients (a subscription streaming on
// their pinned connection) or normal ones (MONITOR and tracking clients too, as in Redis); none
// is a master or a replica.
enum class ClientType : uint8_t { kNormal, kPubsub, kReplica, kMaster };

// "normal", "pubsub", "replica" or "slave", "master", in any case (Redis getClientTypeByName).
std::optional<ClientType> parseClientType(std::string_view name);

struct ClientFacts {
  uint64_t id = 0;
  std::string_view addr;   // "ip:port" of the peer, as CLIENT LIST's addr=
  std::string_view laddr;  // "ip:port" of the local end, as laddr=
  std::string_view user;
  ClientType type = ClientType::kNormal;
  uint64_t age_s = 0;
};

struct ClientKillFilter {
  // CLIENT KILL addr:port: replies +OK or -ERR No such client and may kill the caller. The new
  // form (filters) replies with the number of clients killed.
  bool old_form = false;
  uint64_t id = 0;  // 0: any
  std::optional<std::string> addr, laddr, user;
  std::optional<ClientType> type;
  int64_t max_age_s = 0;  // 0: any; else only clients at least this old
  bool skip_caller = true;

  bool matches(const ClientFacts& client, uint64_t caller_id) const;
};

// `args` is the whole command (CLIENT KILL ...), at least three arguments. `user_exists` tells
// whether a USER filter names a user. On failure returns false with *error set to Redis's reply
// for the same arguments, without the leading '-' ("ERR Unknown client type 'x'").
bool parseClientKill(std::span<const std::string_view> args,
                     const std::function<bool(std::string_view)>& user_exists,
                     ClientKillFilter* out, std::string* error);

}  // namespace kw
