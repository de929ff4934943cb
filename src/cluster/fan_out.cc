#include "cluster/fan_out.h"

#include <charconv>
#include <map>

#include "cluster/reply_parts.h"
#include "common/ascii.h"

namespace kw::cluster {
namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = asciiToUpper(c);
  return out;
}

bool infoFansOut(std::span<const std::string_view> args) {
  if (args.size() == 1)
    return true;
  for (size_t i = 1; i < args.size(); ++i)
    for (std::string_view s : {"keyspace", "all", "everything", "default"})
      if (equalsIgnoreCase(args[i], s))
        return true;
  return false;
}

// The text inside a bulk ('$') or verbatim ('=', "txt:" prefix) reply; false for anything else.
bool bulkText(std::string_view reply, std::string_view* text, char* type) {
  if (reply.empty() || (reply[0] != '$' && reply[0] != '='))
    return false;
  const size_t eol = reply.find("\r\n");
  if (eol == std::string_view::npos)
    return false;
  size_t len = 0;
  auto r = std::from_chars(reply.data() + 1, reply.data() + eol, len);
  if (r.ec != std::errc() || r.ptr != reply.data() + eol || reply.size() != eol + 2 + len + 2)
    return false;
  std::string_view body = reply.substr(eol + 2, len);
  if (reply[0] == '=') {
    if (body.size() < 4)
      return false;
    body.remove_prefix(4);
  }
  *text = body;
  *type = reply[0];
  return true;
}

std::string bulkReply(std::string_view text, char type) {
  std::string out(1, type);
  const size_t len = text.size() + (type == '=' ? 4 : 0);
  out += std::to_string(len);
  out += "\r\n";
  if (type == '=')
    out += "txt:";
  out += text;
  out += "\r\n";
  return out;
}

std::string failure(const FanOut& fan, std::string_view problem, const std::string& node,
                    size_t others) {
  std::string out(1, '-');
  out += oneLine(problem) + " (" + fan.command + " on node " + oneLine(node);
  if (others > 0)
    out += ", and " + std::to_string(others) + " more node" + (others > 1 ? "s" : "") + " failed";
  if (fan.writes)
    out += "; other nodes may have run it";
  out += ")\r\n";
  return out;
}

// "db0:keys=1,expires=0,avg_ttl=0" -> db number and its fields.
struct DbLine {
  int64_t keys = 0;
  int64_t expires = 0;
  std::string rest;  // avg_ttl and anything after, from the first text that had the db
};

void addDbLines(std::string_view section, std::map<int, DbLine>* dbs, bool first) {
  size_t pos = 0;
  while (pos < section.size()) {
    size_t eol = section.find("\r\n", pos);
    if (eol == std::string_view::npos)
      eol = section.size();
    const std::string_view line = section.substr(pos, eol - pos);
    pos = eol + 2;
    if (line.size() < 3 || line.substr(0, 2) != "db")
      continue;
    const size_t colon = line.find(':');
    int db = 0;
    auto r = std::from_chars(line.data() + 2, line.data() + colon, db);
    if (colon == std::string_view::npos || r.ec != std::errc())
      continue;
    DbLine& d = (*dbs)[db];
    std::string_view fields = line.substr(colon + 1);
    while (!fields.empty()) {
      const size_t comma = fields.find(',');
      const std::string_view field = fields.substr(0, comma);
      fields = comma == std::string_view::npos ? std::string_view() : fields.substr(comma + 1);
      const size_t eq = field.find('=');
      if (eq == std::string_view::npos)
        continue;
      const std::string_view key = field.substr(0, eq);
      int64_t value = 0;
      std::from_chars(field.data() + eq + 1, field.data() + field.size(), value);
      if (key == "keys") {
        d.keys += value;
      } else if (key == "expires") {
        d.expires += value;
      } else if (first || d.rest.empty()) {
        d.rest += ",";
        d.rest += field;
      }
    }
  }
}

// [begin, end) of the "# Keyspace" section's lines in an INFO text; npos when absent.
std::pair<size_t, size_t> keyspaceSection(std::string_view text) {
  size_t at = text.find("# Keyspace\r\n");
  if (at == std::string_view::npos)
    return {std::string_view::npos, std::string_view::npos};
  const size_t begin = at + 12;
  size_t end = text.find("\r\n#", begin > 2 ? begin - 2 : 0);
  end = end == std::string_view::npos ? text.size() : end + 2;
  if (end < begin)
    end = begin;
  return {begin, end};
}

// Where `field:` starts a line of an INFO text, and the value's extent; npos when absent.
std::pair<size_t, size_t> infoField(std::string_view text, std::string_view field) {
  size_t at = 0;
  while ((at = text.find(field, at)) != std::string_view::npos) {
    const size_t colon = at + field.size();
    if ((at == 0 || text[at - 1] == '\n') && colon < text.size() && text[colon] == ':') {
      const size_t end = text.find("\r\n", colon);
      return {colon + 1, end == std::string_view::npos ? text.size() : end};
    }
    at = colon;
  }
  return {std::string_view::npos, std::string_view::npos};
}

// Counts a client of keywarden is found by on whichever master holds its key: summed over the
// masters, so INFO through keywarden shows a client blocked on any of them (Redis's test suite
// and operators wait for blocked_clients).
constexpr std::string_view kSummedInfoFields[] = {"blocked_clients"};

std::string sumInfoFields(std::string text, std::span<const std::string_view> all) {
  for (std::string_view field : kSummedInfoFields) {
    const auto [begin, end] = infoField(text, field);
    if (begin == std::string_view::npos)
      continue;
    int64_t sum = 0;
    for (std::string_view other : all) {
      const auto [b, e] = infoField(other, field);
      int64_t n = 0;
      if (b != std::string_view::npos)
        std::from_chars(other.data() + b, other.data() + e, n);
      sum += n;
    }
    text.replace(begin, end - begin, std::to_string(sum));
  }
  return text;
}

}  // namespace

std::optional<FanOut> fanOutOf(const CommandInfo* cmd, std::span<const std::string_view> args) {
  if (!cmd || args.empty())
    return std::nullopt;
  const std::string_view name = cmd->name;
  const std::string_view sub = args.size() > 1 ? args[1] : std::string_view();
  auto with_sub = [&](FanOutMerge merge, bool writes) {
    return FanOut{merge, writes, upper(name) + " " + upper(sub)};
  };
  if (name == "dbsize")
    return FanOut{FanOutMerge::kSum, false, "DBSIZE"};
  if (name == "keys")
    return FanOut{FanOutMerge::kConcat, false, "KEYS"};
  if (name == "flushall" || name == "flushdb")
    return FanOut{FanOutMerge::kAllOk, true, upper(name)};
  if (name == "randomkey")
    return FanOut{FanOutMerge::kAnyValue, false, "RANDOMKEY"};
  if (name == "info" && infoFansOut(args))
    return FanOut{FanOutMerge::kInfo, false, "INFO"};
  if (name == "script") {
    if (equalsIgnoreCase(sub, "load"))
      return with_sub(FanOutMerge::kSame, true);
    if (equalsIgnoreCase(sub, "flush"))
      return with_sub(FanOutMerge::kAllOk, true);
    if (equalsIgnoreCase(sub, "exists"))
      return with_sub(FanOutMerge::kAllOf, false);
    if (equalsIgnoreCase(sub, "kill"))
      return with_sub(FanOutMerge::kAnyOk, false);
    return std::nullopt;
  }
  // Users live on each node: a user made through keywarden must log in on every master.
  if (name == "acl" && equalsIgnoreCase(sub, "setuser"))
    return with_sub(FanOutMerge::kAllOk, true);
  if (name == "acl" && equalsIgnoreCase(sub, "deluser"))
    return with_sub(FanOutMerge::kSame, true);
  if (name == "config" && (equalsIgnoreCase(sub, "set") || equalsIgnoreCase(sub, "resetstat")))
    return with_sub(FanOutMerge::kAllOk, true);  // every master runs with the same settings
  if (name == "function") {
    if (equalsIgnoreCase(sub, "load"))
      return with_sub(FanOutMerge::kSame, true);
    if (equalsIgnoreCase(sub, "flush") || equalsIgnoreCase(sub, "delete") ||
        equalsIgnoreCase(sub, "restore"))
      return with_sub(FanOutMerge::kAllOk, true);
    if (equalsIgnoreCase(sub, "kill"))
      return with_sub(FanOutMerge::kAnyOk, false);
  }
  return std::nullopt;
}

std::string sumKeyspace(std::string_view first, std::span<const std::string_view> all) {
  const auto [begin, end] = keyspaceSection(first);
  if (begin == std::string_view::npos)
    return std::string(first);
  std::map<int, DbLine> dbs;
  bool is_first = true;
  for (std::string_view text : all) {
    const auto [b, e] = keyspaceSection(text);
    if (b != std::string_view::npos)
      addDbLines(text.substr(b, e - b), &dbs, is_first);
    is_first = false;
  }
  std::string out(first.substr(0, begin));
  for (const auto& [db, d] : dbs) {
    if (d.keys == 0)
      continue;  // as Redis, which lists only dbs with keys
    out += "db" + std::to_string(db) + ":keys=" + std::to_string(d.keys) +
           ",expires=" + std::to_string(d.expires) + d.rest + "\r\n";
  }
  out.append(first.substr(end));
  return out;
}

std::string mergeFanOut(const FanOut& fan, std::span<const PartOutcome> outcomes,
                        const std::function<std::string(size_t part)>& node_name) {
  if (outcomes.empty())
    return "-ERR no node to send " + fan.command + " to\r\n";
  size_t failed = 0;
  size_t first_failed = 0;
  std::string first_problem;
  size_t ok_count = 0;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const PartOutcome& o = outcomes[i];
    std::string problem;
    if (o.reply.empty())
      problem = "UPSTREAMDOWN " +
                std::string(o.failure.empty() ? std::string_view("no reply") : o.failure);
    else if (const std::string_view err = errorText(o.reply); !err.empty())
      problem = std::string(err);
    if (problem.empty()) {
      ++ok_count;
      continue;
    }
    if (failed++ == 0) {
      first_failed = i;
      first_problem = std::move(problem);
    }
  }
  if (fan.merge == FanOutMerge::kAnyOk) {
    for (const PartOutcome& o : outcomes)
      if (!o.reply.empty() && errorText(o.reply).empty())
        return std::string(o.reply);
    return failed > 0 && !outcomes[first_failed].reply.empty()
               ? std::string(outcomes[first_failed].reply)
               : failure(fan, first_problem, node_name(first_failed), failed - 1);
  }
  if (failed > 0)
    return failure(fan, first_problem, node_name(first_failed), failed - 1);
  switch (fan.merge) {
  case FanOutMerge::kSum: {
    int64_t sum = 0;
    for (size_t i = 0; i < outcomes.size(); ++i) {
      int64_t n = 0;
      if (!readInteger(outcomes[i].reply, &n))
        return failure(fan, "ERR unexpected reply", node_name(i), 0);
      sum += n;
    }
    return respLine(':', sum);
  }
  case FanOutMerge::kConcat: {
    std::vector<std::string_view> all;
    for (size_t i = 0; i < outcomes.size(); ++i) {
      uint64_t n = 0;
      if (!arrayCount(outcomes[i].reply, &n) ||
          !arrayElements(outcomes[i].reply, static_cast<uint32_t>(n), &all))
        return failure(fan, "ERR unexpected reply", node_name(i), 0);
    }
    std::string out = respLine('*', static_cast<int64_t>(all.size()));
    for (std::string_view e : all)
      out.append(e);
    return out;
  }
  case FanOutMerge::kAllOk:
    for (size_t i = 0; i < outcomes.size(); ++i)
      if (outcomes[i].reply != "+OK\r\n")
        return failure(fan, "ERR unexpected reply", node_name(i), 0);
    return "+OK\r\n";
  case FanOutMerge::kSame:
    for (size_t i = 1; i < outcomes.size(); ++i)
      if (outcomes[i].reply != outcomes[0].reply)
        return failure(fan, "ERR the nodes answered differently", node_name(i), 0);
    return std::string(outcomes[0].reply);
  case FanOutMerge::kAllOf: {
    uint64_t n = 0;
    if (!arrayCount(outcomes[0].reply, &n))
      return failure(fan, "ERR unexpected reply", node_name(0), 0);
    std::vector<bool> all(n, true);
    for (size_t i = 0; i < outcomes.size(); ++i) {
      std::vector<std::string_view> elements;
      if (!arrayElements(outcomes[i].reply, static_cast<uint32_t>(n), &elements))
        return failure(fan, "ERR unexpected reply", node_name(i), 0);
      for (size_t k = 0; k < n; ++k)
        if (elements[k] != ":1\r\n")
          all[k] = false;
    }
    std::string out = respLine('*', static_cast<int64_t>(n));
    for (bool b : all)
      out += b ? ":1\r\n" : ":0\r\n";
    return out;
  }
  case FanOutMerge::kAnyValue:
    for (const PartOutcome& o : outcomes)
      if (o.reply != "$-1\r\n" && o.reply != "_\r\n")
        return std::string(o.reply);
    return std::string(outcomes[0].reply);
  case FanOutMerge::kInfo: {
    std::vector<std::string_view> texts;
    std::string_view first;
    char type = '$';
    for (size_t i = 0; i < outcomes.size(); ++i) {
      std::string_view text;
      char t = '$';
      if (!bulkText(outcomes[i].reply, &text, &t))
        return failure(fan, "ERR unexpected reply", node_name(i), 0);
      if (i == 0) {
        first = text;
        type = t;
      }
      texts.push_back(text);
    }
    return bulkReply(sumInfoFields(sumKeyspace(first, texts), texts), type);
  }
  case FanOutMerge::kAnyOk:
    break;
  }
  return "-ERR internal error: nothing to merge\r\n";
}

}  // namespace kw::cluster
