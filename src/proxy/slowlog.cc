#include "proxy/slowlog.h"

#include <charconv>
#include <cstdint>
#include <ctime>

#include "common/ascii.h"
#include "policy/command_traits.h"
#include "proxy/resp_writer.h"

namespace kw {

std::string slowlogCommandReply(SlowLog& log, std::span<const std::string_view> args) {
  std::string out;
  const std::string_view sub = args.empty() ? std::string_view() : args[0];
  auto wrongArity = [&out] {
    resp::error(&out, "ERR wrong number of arguments for 'keywarden|slowlog' command");
    return out;
  };
  if (equalsIgnoreCase(sub, "len")) {
    if (args.size() != 1)
      return wrongArity();
    resp::integer(&out, static_cast<int64_t>(log.size()));
    return out;
  }
  if (equalsIgnoreCase(sub, "reset")) {
    if (args.size() != 1)
      return wrongArity();
    log.reset();
    resp::simple(&out, "OK");
    return out;
  }
  if (equalsIgnoreCase(sub, "get")) {
    if (args.size() > 2)
      return wrongArity();
    int64_t count = 10;
    if (args.size() == 2 && (!parseRedisInt(args[1], &count) || count < -1)) {
      resp::error(&out, "ERR count should be greater than or equal to -1");
      return out;
    }
    const auto entries = log.get(count == -1 ? SIZE_MAX : static_cast<size_t>(count));
    resp::arrayHeader(&out, static_cast<int64_t>(entries.size()));
    for (const SlowLogEntry& e : entries) {
      resp::arrayHeader(&out, 7);
      resp::integer(&out, static_cast<int64_t>(e.id));
      resp::integer(&out, e.unix_time_s);
      resp::integer(&out, static_cast<int64_t>(e.duration_us));
      resp::arrayHeader(&out, static_cast<int64_t>(e.args.size()));
      for (const std::string& a : e.args)
        resp::bulk(&out, a);
      resp::bulk(&out, e.client_addr);
      resp::bulk(&out, e.client_name);
      resp::bulk(&out, e.ns);
    }
    return out;
  }
  resp::error(&out, "ERR unknown subcommand 'slowlog|" + resp::quotedInError(sub.substr(0, 64)) +
                        "'. Try KEYWARDEN SLOWLOG GET [count] | LEN | RESET.");
  return out;
}

std::vector<std::string> argsFromRawRequest(std::string_view raw, size_t max_args,
                                            size_t max_arg_len) {
  std::vector<std::string> out;
  auto readLine = [&](size_t* pos, long long* n) {
    size_t eol = raw.find("\r\n", *pos);
    if (eol == std::string_view::npos || eol == *pos)
      return false;
    auto r = std::from_chars(raw.data() + *pos + 1, raw.data() + eol, *n);
    if (r.ec != std::errc())
      return false;
    *pos = eol + 2;
    return true;
  };
  size_t pos = 0;
  long long argc = 0;
  if (raw.empty() || raw[0] != '*' || !readLine(&pos, &argc) || argc <= 0)
    return out;
  for (long long i = 0; i < argc; ++i) {
    if (out.size() + 1 == max_args && argc > static_cast<long long>(max_args)) {
      out.push_back("... (" + std::to_string(argc - i) + " more arguments)");
      return out;
    }
    long long len = 0;
    if (pos >= raw.size() || raw[pos] != '$' || !readLine(&pos, &len) || len < 0)
      break;
    std::string_view arg = raw.substr(pos, static_cast<size_t>(len));
    const bool cut = arg.size() < static_cast<size_t>(len) || arg.size() > max_arg_len;
    if (arg.size() > max_arg_len)
      arg = arg.substr(0, max_arg_len);
    std::string a(arg);
    if (cut)
      a += "... (" + std::to_string(static_cast<size_t>(len) - arg.size()) + " more bytes)";
    out.push_back(std::move(a));
    pos += static_cast<size_t>(len) + 2;
    if (pos > raw.size())
      break;
  }
  return out;
}

void SlowLog::record(std::string_view raw, uint64_t duration_us, std::string_view client_addr,
                     std::string_view client_name, std::string_view ns, size_t max_len) {
  SlowLogEntry e;
  e.unix_time_s = static_cast<int64_t>(time(nullptr));
  e.duration_us = duration_us;
  e.args = argsFromRawRequest(raw, 32, 128);
  e.client_addr.assign(client_addr);
  e.client_name.assign(client_name);
  e.ns.assign(ns);
  std::lock_guard<std::mutex> lock(mu_);
  e.id = next_id_++;
  entries_.push_front(std::move(e));
  while (entries_.size() > max_len)
    entries_.pop_back();
}

std::vector<SlowLogEntry> SlowLog::get(size_t count) const {
  std::lock_guard<std::mutex> lock(mu_);
  const size_t n = std::min(count, entries_.size());
  return std::vector<SlowLogEntry>(entries_.begin(), entries_.begin() + static_cast<long>(n));
}

size_t SlowLog::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

void SlowLog::reset() {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.clear();
}

}  // namespace kw
