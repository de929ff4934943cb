#include "proxy/client_filter.h"

#include "common/ascii.h"
#include "policy/command_traits.h"
#include "proxy/resp_writer.h"

namespace kw {

std::optional<ClientType> parseClientType(std::string_view name) {
  if (equalsIgnoreCase(name, "normal"))
    return ClientType::kNormal;
  if (equalsIgnoreCase(name, "slave") || equalsIgnoreCase(name, "replica"))
    return ClientType::kReplica;
  if (equalsIgnoreCase(name, "pubsub"))
    return ClientType::kPubsub;
  if (equalsIgnoreCase(name, "master"))
    return ClientType::kMaster;
  return std::nullopt;
}

bool ClientKillFilter::matches(const ClientFacts& c, uint64_t caller_id) const {
  if (addr && c.addr != *addr)
    return false;
  if (laddr && c.laddr != *laddr)
    return false;
  if (type && c.type != *type)
    return false;
  if (id != 0 && c.id != id)
    return false;
  if (user && c.user != *user)
    return false;
  if (skip_caller && c.id == caller_id)
    return false;
  if (max_age_s != 0 && c.age_s < static_cast<uint64_t>(max_age_s))
    return false;
  return true;
}

bool parseClientKill(std::span<const std::string_view> args,
                     const std::function<bool(std::string_view)>& user_exists,
                     ClientKillFilter* out, std::string* error) {
  *out = ClientKillFilter{};
  if (args.size() == 3) {
    out->old_form = true;
    out->addr.emplace(args[2]);
    out->skip_caller = false;  // with the old form, a client can kill itself
    return true;
  }
  if (args.size() < 3) {
    *error = "ERR syntax error";
    return false;
  }
  // Options in order, each with its value; the first bad one decides the reply, as in Redis.
  for (size_t i = 2; i < args.size(); i += 2) {
    const std::string_view opt = args[i];
    const bool has_value = i + 1 < args.size();
    const std::string_view value = has_value ? args[i + 1] : std::string_view();
    int64_t n = 0;
    if (equalsIgnoreCase(opt, "id") && has_value) {
      if (!parseRedisInt(value, &n) || n < 1) {
        *error = "ERR client-id should be greater than 0";
        return false;
      }
      out->id = static_cast<uint64_t>(n);
    } else if (equalsIgnoreCase(opt, "maxage") && has_value) {
      if (!parseRedisInt(value, &n)) {
        *error = "ERR maxage is not an integer or out of range";
        return false;
      }
      if (n <= 0) {
        *error = "ERR maxage should be greater than 0";
        return false;
      }
      out->max_age_s = n;
    } else if (equalsIgnoreCase(opt, "type") && has_value) {
      out->type = parseClientType(value);
      if (!out->type) {
        *error = "ERR Unknown client type '" + resp::quotedInError(value) + "'";
        return false;
      }
    } else if (equalsIgnoreCase(opt, "addr") && has_value) {
      out->addr.emplace(value);
    } else if (equalsIgnoreCase(opt, "laddr") && has_value) {
      out->laddr.emplace(value);
    } else if (equalsIgnoreCase(opt, "user") && has_value) {
      if (!user_exists(value)) {
        *error = "ERR No such user '" + resp::quotedInError(value) + "'";
        return false;
      }
      out->user.emplace(value);
    } else if (equalsIgnoreCase(opt, "skipme") && has_value) {
      if (equalsIgnoreCase(value, "yes")) {
        out->skip_caller = true;
      } else if (equalsIgnoreCase(value, "no")) {
        out->skip_caller = false;
      } else {
        *error = "ERR syntax error";
        return false;
      }
    } else {
      *error = "ERR syntax error";
      return false;
    }
  }
  return true;
}

}  // namespace kw
