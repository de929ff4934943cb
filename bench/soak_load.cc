// Mixed load for bench/soak.sh: `--threads` threads, each a client that connects, sends a
// random number of commands (alone or pipelined, up to 32 deep), leaves (closing, QUIT, or
// closing with replies still in flight) and connects again, at `--rate` commands per second in
// all. `--steady` more threads keep one connection for the whole run. The commands cover the
// demo configuration's namespaces (conf/keywarden.toml): session keys (near cache, default TTL,
// hashes), blacklist revocations and checks, profile reads (PostgreSQL read-through, rows
// 0..profiles-1 exist, the next 100 do not), CL.THROTTLE, doc:processing writes (a memory
// budget), user:id reads/writes, MGET, MULTI/EXEC, BLPOP (pinned links), user:email (a namespace
// with a protective rate limit), and now and then a 1 MiB value.
//
// Every reply is checked against the command it answers: a value read back must belong to the
// key asked for (values start with their key), types and counts must match. A reply that does
// not is a "mismatch" (a reply crossed between commands or clients, or lost); an error reply other
// than -RATELIMITED on user:email is "unexpected". With `--pg`, a thread also UPDATEs a random
// profile row every 100 ms (its trigger makes keywarden delete the cached key).
//
//   soak_load --port P [--host 127.0.0.1] [--seconds 60] [--threads 4] [--steady 2]
//             [--rate 2000] [--profiles 1000] [--pg CONNINFO] [--big-every 1000]
//             [--abrupt 15] [--quit 15]   (percent of visits ending so)
// Prints a progress line every 10 s and a summary; exits 1 on any mismatch, unexpected error or
// failed connection.
#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  double seconds = 60;
  int threads = 4, steady = 2;
  double rate = 2000;
  int profiles = 1000;
  std::string pg;
  int big_every = 1000;
  int abrupt = 15, quit = 15;  // percent of visits ending with replies in flight / with QUIT
};

constexpr int kMissingProfiles = 100;
constexpr int kSessionUsers = 1000, kDocs = 4000, kJtis = 2000, kUserIds = 2000, kBigKeys = 20;

struct Totals {
  std::atomic<uint64_t> ops{0}, connections{0}, abrupt{0}, quits{0}, mismatches{0}, unexpected{0},
      ratelimited{0}, rt_bypassed{0}, connect_failures{0}, io_errors{0}, pg_updates{0},
      pg_errors{0};
  std::mutex mu;
  std::map<std::string, uint64_t> errors;  // unexpected error replies by first words
  std::vector<std::string> samples;        // the first few mismatches, for the log
};

Totals totals;
std::atomic<bool> stopping{false};

std::string uuidOf(int k) {
  char b[40];
  snprintf(b, sizeof b, "%08x-0000-4000-8000-%012x", static_cast<unsigned>(k),
           static_cast<unsigned>(k));
  return b;
}

void noteMismatch(const std::string& what) {
  totals.mismatches.fetch_add(1);
  std::lock_guard<std::mutex> g(totals.mu);
  if (totals.samples.size() < 20)
    totals.samples.push_back(what);
}

void noteUnexpected(const redisReply* r, const std::string& cmd) {
  totals.unexpected.fetch_add(1);
  std::string first(r->str, std::min<size_t>(r->len, 60));
  std::lock_guard<std::mutex> g(totals.mu);
  ++totals.errors[first + " (after " + cmd + ")"];
}

bool startsWithKey(const redisReply* r, const std::string& key) {
  return r->type == REDIS_REPLY_STRING && r->len > key.size() &&
         std::string_view(r->str, key.size()) == key && r->str[key.size()] == '|';
}

// What a command's reply must look like.
enum class Want {
  Ok,             // +OK
  Int,            // :n
  Pong,           // +PONG
  ValueOrNil,     // nil, or a value of `key`
  ProfileRow,     // a JSON row holding the uuid in `key`
  Nil,            // nil (a profile with no row)
  Throttle,       // [5 integers]
  MgetPair,       // [nil or value of key, nil or value of key2]
  HashOrEmpty,    // [] or [f1, <key>|..., f2, ...]
  ExecSetGet,     // [OK, value of key]
  Queued,         // +QUEUED
  NilOrPop,       // BLPOP: nil or [list, element]
  OkOrLimited,    // user:email SET: +OK or -RATELIMITED
  ValueOrLimited  // user:email GET
};

struct Pending {
  Want want;
  std::string key, key2, cmd;
};

class Client {
public:
  Client(const Options& o, uint64_t seed, int id) : o_(o), rng_(seed), id_(id) {}

  // Builds one command into `argv` and its expectation; returns it.
  Pending next(std::vector<std::string>* argv) {
    argv->clear();
    const int pick = static_cast<int>(rng_() % 1000);
    auto big = o_.big_every > 0 && rng_() % static_cast<unsigned>(o_.big_every) == 0;
    if (big) {
      const std::string key = "big:" + std::to_string(rng_() % kBigKeys);
      if (rng_() % 2) {
        *argv = {"SET", key, valueFor(key, 1 << 20)};
        return {Want::Ok, key, "", "SET big"};
      }
      *argv = {"GET", key};
      return {Want::ValueOrNil, key, "", "GET big"};
    }
    if (pick < 200) {
      const std::string key = sessionKey();
      *argv = {"GET", key};
      return {Want::ValueOrNil, key, "", "GET session"};
    }
    if (pick < 280) {
      const std::string key = sessionKey();
      *argv = {"SET", key, valueFor(key, 64 + rng_() % 448)};
      return {Want::Ok, key, "", "SET session"};
    }
    if (pick < 300) {
      const std::string key = "session:" + uuidOf(static_cast<int>(rng_() % kSessionUsers)) + ":h";
      if (rng_() % 2) {
        *argv = {"HSET", key, "f1", key + "|" + std::to_string(rng_()), "f2", "x"};
        return {Want::Int, key, "", "HSET session"};
      }
      *argv = {"HGETALL", key};
      return {Want::HashOrEmpty, key, "", "HGETALL session"};
    }
    if (pick < 310) {
      *argv = {"DEL", sessionKey()};
      return {Want::Int, "", "", "DEL session"};
    }
    if (pick < 410) {
      *argv = {"EXISTS", "blacklist:access:jti-" + std::to_string(rng_() % kJtis)};
      return {Want::Int, "", "", "EXISTS blacklist"};
    }
    if (pick < 430) {
      *argv = {"SET", "blacklist:access:jti-" + std::to_string(rng_() % kJtis), "1", "EX", "3600"};
      return {Want::Ok, "", "", "SET blacklist"};
    }
    if (pick < 580) {
      const int k =
          static_cast<int>(rng_() % static_cast<unsigned>(o_.profiles + kMissingProfiles));
      const std::string id = uuidOf(k);
      *argv = {"GET", "profile:" + id};
      return {k < o_.profiles ? Want::ProfileRow : Want::Nil, id, "", "GET profile"};
    }
    if (pick < 680) {
      *argv = {"CL.THROTTLE", "rl:user:" + std::to_string(rng_() % 1000), "15", "30", "60"};
      return {Want::Throttle, "", "", "CL.THROTTLE"};
    }
    if (pick < 740) {
      const std::string key = "doc:processing:" + uuidOf(static_cast<int>(rng_() % kDocs));
      *argv = {"SET", key, valueFor(key, 4096 + rng_() % 28672), "EX", "3600"};
      return {Want::Ok, key, "", "SET doc"};
    }
    if (pick < 770) {
      const std::string key = "doc:processing:" + uuidOf(static_cast<int>(rng_() % kDocs));
      *argv = {"GET", key};
      return {Want::ValueOrNil, key, "", "GET doc"};
    }
    if (pick < 820) {
      const std::string key = userKey();
      *argv = {"SET", key, valueFor(key, 32 + rng_() % 200)};
      return {Want::Ok, key, "", "SET user:id"};
    }
    if (pick < 870) {
      const std::string key = userKey();
      *argv = {"GET", key};
      return {Want::ValueOrNil, key, "", "GET user:id"};
    }
    if (pick < 900) {
      const std::string a = userKey(), b = userKey();
      *argv = {"MGET", a, b};
      return {Want::MgetPair, a, b, "MGET user:id"};
    }
    if (pick < 930) {
      const std::string key = "user:email:u" + std::to_string(rng_() % 500) + "@example.com";
      if (rng_() % 2) {
        *argv = {"SET", key, valueFor(key, 40)};
        return {Want::OkOrLimited, key, "", "SET user:email"};
      }
      *argv = {"GET", key};
      return {Want::ValueOrLimited, key, "", "GET user:email"};
    }
    if (pick < 950) {
      *argv = {"INCR", "counter:" + std::to_string(rng_() % 100)};
      return {Want::Int, "", "", "INCR"};
    }
    if (pick < 960) {
      *argv = {"BLPOP", "queue:" + std::to_string(id_), "0.01"};
      return {Want::NilOrPop, "", "", "BLPOP"};
    }
    if (pick < 970) {
      *argv = {"RPUSH", "queue:" + std::to_string(id_), "job"};
      return {Want::Int, "", "", "RPUSH"};
    }
    if (pick < 985) {
      // MULTI/EXEC is expanded by the caller (several commands, one expectation each).
      *argv = {"MULTI"};
      return {Want::Ok, "", "", "MULTI"};
    }
    *argv = {"PING"};
    return {Want::Pong, "", "", "PING"};
  }

  // A random batch: 1 command half the time, else up to 32.
  void batch(std::vector<std::vector<std::string>>* cmds, std::vector<Pending>* want) {
    cmds->clear();
    want->clear();
    const int n = rng_() % 2 ? 1 : 1 + static_cast<int>(rng_() % 32);
    std::vector<std::string> argv;
    for (int i = 0; i < n; ++i) {
      Pending p = next(&argv);
      if (argv[0] == "MULTI") {
        const std::string key = userKey();
        cmds->push_back({"MULTI"});
        want->push_back(p);
        cmds->push_back({"SET", key, valueFor(key, 50)});
        want->push_back({Want::Queued, key, "", "SET in MULTI"});
        cmds->push_back({"GET", key});
        want->push_back({Want::Queued, key, "", "GET in MULTI"});
        cmds->push_back({"EXEC"});
        want->push_back({Want::ExecSetGet, key, "", "EXEC"});
        continue;
      }
      cmds->push_back(argv);
      want->push_back(std::move(p));
    }
  }

  uint64_t rand() { return rng_(); }

private:
  std::string sessionKey() {
    return "session:" + uuidOf(static_cast<int>(rng_() % kSessionUsers)) + ":s" +
           std::to_string(rng_() % 2);
  }
  std::string userKey() { return "user:id:" + std::to_string(rng_() % kUserIds); }
  std::string valueFor(const std::string& key, size_t size) {
    std::string v = key + "|";
    v.resize(std::max(size, v.size()), static_cast<char>('a' + rng_() % 26));
    return v;
  }

  const Options& o_;
  std::mt19937_64 rng_;
  int id_;
};

bool checkReply(const redisReply* r, const Pending& p) {
  auto isNil = [](const redisReply* x) { return x->type == REDIS_REPLY_NIL; };
  auto valueOk = [&](const redisReply* x, const std::string& key) {
    return isNil(x) || startsWithKey(x, key);
  };
  switch (p.want) {
  case Want::Ok:
    return r->type == REDIS_REPLY_STATUS && std::string_view(r->str, r->len) == "OK";
  case Want::Queued:
    return r->type == REDIS_REPLY_STATUS && std::string_view(r->str, r->len) == "QUEUED";
  case Want::Pong:
    return r->type == REDIS_REPLY_STATUS && std::string_view(r->str, r->len) == "PONG";
  case Want::Int:
    return r->type == REDIS_REPLY_INTEGER;
  case Want::ValueOrNil:
    return valueOk(r, p.key);
  case Want::Nil:
    return isNil(r);
  case Want::ProfileRow:
    return r->type == REDIS_REPLY_STRING &&
           std::string_view(r->str, r->len).find(p.key) != std::string_view::npos;
  case Want::Throttle:
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 5)
      return false;
    for (size_t i = 0; i < 5; ++i)
      if (r->element[i]->type != REDIS_REPLY_INTEGER)
        return false;
    return true;
  case Want::MgetPair:
    return r->type == REDIS_REPLY_ARRAY && r->elements == 2 && valueOk(r->element[0], p.key) &&
           valueOk(r->element[1], p.key2);
  case Want::HashOrEmpty:
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0)
      return false;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
      const redisReply* f = r->element[i];
      if (f->type != REDIS_REPLY_STRING)
        return false;
      if (std::string_view(f->str, f->len) == "f1" && !startsWithKey(r->element[i + 1], p.key))
        return false;
    }
    return true;
  case Want::ExecSetGet:
    return r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
           r->element[0]->type == REDIS_REPLY_STATUS && startsWithKey(r->element[1], p.key);
  case Want::NilOrPop:
    return isNil(r) || (r->type == REDIS_REPLY_ARRAY && r->elements == 2);
  case Want::OkOrLimited:
    return r->type == REDIS_REPLY_STATUS && std::string_view(r->str, r->len) == "OK";
  case Want::ValueOrLimited:
    return valueOk(r, p.key);
  }
  return false;
}

std::string describe(const redisReply* r) {
  switch (r->type) {
  case REDIS_REPLY_STRING:
  case REDIS_REPLY_STATUS:
  case REDIS_REPLY_ERROR:
    return std::string(r->str, std::min<size_t>(r->len, 80));
  case REDIS_REPLY_INTEGER:
    return ":" + std::to_string(r->integer);
  case REDIS_REPLY_NIL:
    return "(nil)";
  case REDIS_REPLY_ARRAY:
    return "[" + std::to_string(r->elements) + " elements]";
  }
  return "?";
}

// Paces a thread to `rate` commands per second from `start`.
void pace(Clock::time_point start, uint64_t done, double rate) {
  if (rate <= 0)
    return;
  const auto due = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(static_cast<double>(done) / rate));
  const auto now = Clock::now();
  if (due > now)
    std::this_thread::sleep_for(due - now);
}

void clientThread(const Options& o, int id, bool steady, double rate) {
  Client c(o, 0x5eed0000u + static_cast<uint64_t>(id), id);
  const auto start = Clock::now();
  uint64_t done = 0;
  std::vector<std::vector<std::string>> cmds;
  std::vector<Pending> want;
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  while (!stopping.load()) {
    timeval tv{5, 0};
    redisContext* ctx = redisConnectWithTimeout(o.host.c_str(), o.port, tv);
    if (!ctx || ctx->err) {
      totals.connect_failures.fetch_add(1);
      if (ctx)
        redisFree(ctx);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    timeval rt{10, 0};
    redisSetTimeout(ctx, rt);
    totals.connections.fetch_add(1);
    // How this visit ends: most close, some say QUIT, some close with replies still in flight.
    const uint64_t ending = c.rand() % 100;
    int64_t budget = steady ? INT64_MAX : 1 + static_cast<int64_t>(c.rand() % 400);
    bool broken = false, pinnedSeen = false, pinnedBatch = false;
    while (budget > 0 && !stopping.load() && !broken) {
      c.batch(&cmds, &want);
      for (const auto& cmd : cmds) {
        argv.clear();
        lens.clear();
        for (const auto& a : cmd) {
          argv.push_back(a.data());
          lens.push_back(a.size());
        }
        redisAppendCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(), lens.data());
      }
      budget -= static_cast<int64_t>(cmds.size());
      if (budget <= 0 && !steady && ending < static_cast<uint64_t>(o.abrupt)) {
        // Leave without reading: the proxy must drop these replies, not hand them to anyone.
        int wdone = 0;
        while (!wdone && redisBufferWrite(ctx, &wdone) == REDIS_OK) {
        }
        totals.abrupt.fetch_add(1);
        broken = true;
        break;
      }
      pinnedSeen = pinnedSeen || pinnedBatch;
      pinnedBatch = false;
      for (size_t i = 0; i < want.size(); ++i) {
        void* raw = nullptr;
        if (redisGetReply(ctx, &raw) != REDIS_OK || !raw) {
          totals.io_errors.fetch_add(1);
          std::lock_guard<std::mutex> g(totals.mu);
          ++totals
                .errors[std::string("connection: ") + ctx->errstr + " (after " + want[i].cmd + ")"];
          broken = true;
          break;
        }
        auto* r = static_cast<redisReply*>(raw);
        const Pending& p = want[i];
        if (r->type == REDIS_REPLY_ERROR) {
          const bool limited = std::string_view(r->str, r->len).rfind("RATELIMITED", 0) == 0;
          if (limited && (p.want == Want::OkOrLimited || p.want == Want::ValueOrLimited))
            totals.ratelimited.fetch_add(1);
          else
            noteUnexpected(r, p.cmd);
        } else if (p.want == Want::ProfileRow && r->type == REDIS_REPLY_NIL && pinnedBatch) {
          // Read-through applies to clients in plain state only (docs/readthrough.md): a GET
          // pipelined behind MULTI/EXEC or a blocking command rides the pinned link and gets
          // Redis's own nil for a profile not cached yet.
          totals.rt_bypassed.fetch_add(1);
        } else if (!checkReply(r, p)) {
          std::string before;
          for (size_t j = i > 3 ? i - 3 : 0; j < i; ++j)
            before += " " + want[j].cmd;
          noteMismatch(p.cmd + " " + p.key + ": got " + describe(r) + " (batch position " +
                       std::to_string(i) + ", after:" + before +
                       "; pinning command earlier in this batch: " + std::to_string(pinnedBatch) +
                       ", in an earlier batch: " + std::to_string(pinnedSeen) + ")");
        }
        if (p.cmd == "MULTI" || p.cmd == "BLPOP")
          pinnedBatch = true;
        freeReplyObject(r);
        totals.ops.fetch_add(1, std::memory_order_relaxed);
      }
      done += cmds.size();
      pace(start, done, rate);
    }
    if (!broken && !steady && ending >= static_cast<uint64_t>(o.abrupt) &&
        ending < static_cast<uint64_t>(o.abrupt + o.quit)) {
      void* raw = redisCommand(ctx, "QUIT");
      if (raw)
        freeReplyObject(raw);
      totals.quits.fetch_add(1);
    }
    redisFree(ctx);
  }
}

void pgThread(const Options& o) {
  PGconn* conn = PQconnectdb(o.pg.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    fprintf(stderr, "soak_load: PostgreSQL: %s", PQerrorMessage(conn));
    totals.pg_errors.fetch_add(1);
    PQfinish(conn);
    return;
  }
  std::mt19937_64 rng(99);
  uint64_t n = 0;
  while (!stopping.load()) {
    const std::string id = uuidOf(static_cast<int>(rng() % static_cast<unsigned>(o.profiles)));
    // (append, not operator+: GCC 12 warns about that one falsely here, -Wrestrict)
    std::string name = "n";
    name.append(std::to_string(++n));
    const char* params[] = {name.c_str(), id.c_str()};
    PGresult* res = PQexecParams(
        conn, "UPDATE profiles SET first_name = $1, updated_at = now() WHERE user_id = $2::uuid", 2,
        nullptr, params, nullptr, nullptr, 0);
    if (PQresultStatus(res) == PGRES_COMMAND_OK)
      totals.pg_updates.fetch_add(1);
    else
      totals.pg_errors.fetch_add(1);
    PQclear(res);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  PQfinish(conn);
}

void printLine(const char* what, double elapsed) {
  printf("%s elapsed_s=%.0f ops=%llu ops_per_s=%.0f connections=%llu abrupt_closes=%llu "
         "quits=%llu mismatches=%llu unexpected_errors=%llu ratelimited=%llu "
         "readthrough_bypassed_pinned=%llu "
         "connect_failures=%llu io_errors=%llu pg_updates=%llu pg_errors=%llu\n",
         what, elapsed, static_cast<unsigned long long>(totals.ops.load()),
         elapsed > 0 ? static_cast<double>(totals.ops.load()) / elapsed : 0.0,
         static_cast<unsigned long long>(totals.connections.load()),
         static_cast<unsigned long long>(totals.abrupt.load()),
         static_cast<unsigned long long>(totals.quits.load()),
         static_cast<unsigned long long>(totals.mismatches.load()),
         static_cast<unsigned long long>(totals.unexpected.load()),
         static_cast<unsigned long long>(totals.ratelimited.load()),
         static_cast<unsigned long long>(totals.rt_bypassed.load()),
         static_cast<unsigned long long>(totals.connect_failures.load()),
         static_cast<unsigned long long>(totals.io_errors.load()),
         static_cast<unsigned long long>(totals.pg_updates.load()),
         static_cast<unsigned long long>(totals.pg_errors.load()));
  fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--host")
      o.host = v;
    else if (k == "--port")
      o.port = atoi(v);
    else if (k == "--seconds")
      o.seconds = atof(v);
    else if (k == "--threads")
      o.threads = atoi(v);
    else if (k == "--steady")
      o.steady = atoi(v);
    else if (k == "--rate")
      o.rate = atof(v);
    else if (k == "--profiles")
      o.profiles = atoi(v);
    else if (k == "--pg")
      o.pg = v;
    else if (k == "--big-every")
      o.big_every = atoi(v);
    else if (k == "--abrupt")
      o.abrupt = atoi(v);
    else if (k == "--quit")
      o.quit = atoi(v);
    else {
      fprintf(stderr, "soak_load: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (o.port <= 0 || o.threads + o.steady <= 0 || o.profiles <= 0) {
    fprintf(stderr, "usage: soak_load --port P [--seconds S] [--threads N] [--steady N] "
                    "[--rate R] [--profiles N] [--pg CONNINFO] [--big-every N]\n");
    return 2;
  }
  const int all = o.threads + o.steady;
  std::vector<std::thread> threads;
  for (int i = 0; i < all; ++i)
    threads.emplace_back(clientThread, std::cref(o), i, i >= o.threads, o.rate / all);
  if (!o.pg.empty())
    threads.emplace_back(pgThread, std::cref(o));
  const auto start = Clock::now();
  const auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  auto next = start + std::chrono::seconds(10);
  while (Clock::now() < end) {
    std::this_thread::sleep_until(std::min(next, end));
    if (Clock::now() >= next) {
      printLine("progress", std::chrono::duration<double>(Clock::now() - start).count());
      next += std::chrono::seconds(10);
    }
  }
  stopping.store(true);
  for (auto& t : threads)
    t.join();
  printLine("summary", std::chrono::duration<double>(Clock::now() - start).count());
  for (const auto& [what, n] : totals.errors)
    printf("error %llu x %s\n", static_cast<unsigned long long>(n), what.c_str());
  for (const auto& s : totals.samples)
    printf("mismatch %s\n", s.c_str());
  const bool ok = totals.mismatches.load() == 0 && totals.unexpected.load() == 0 &&
                  totals.connect_failures.load() == 0 && totals.io_errors.load() == 0 &&
                  totals.pg_errors.load() == 0;
  return ok ? 0 : 1;
}
