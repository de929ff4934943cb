// Read-through benchmarks (bench/readthrough.sh runs them; see bench/README.md):
//
//   readthrough_bench miss <kw_port> <redis_port> <conninfo> <keys> <threads> <first_id>
//     GETs of distinct uncached keys through keywarden (one round trip for the client) against
//     the cache-aside an application does itself: GET to Redis, SELECT to PostgreSQL, SET EX to
//     Redis (three). Keys <first_id>.. go to keywarden, the next <keys> to the application.
//   readthrough_bench stampede <kw_port> <conninfo> <id> <conns> <per_conn>
//     conns x per_conn concurrent GETs of one uncached key: queries made (pg_stat_statements)
//     and latency percentiles.
//
// Plain blocking hiredis and libpq clients, one per thread: this measures the servers, not the
// client. Prints one line of key=value pairs per measurement.
#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

std::string uuidOf(long n) {
  char buf[64];
  snprintf(buf, sizeof buf, "bbbbbbbb-0000-0000-0000-%012lx", n);
  return buf;
}

double pct(std::vector<double>& v, double p) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  return v[i];
}

redisContext* connectRedis(int port) {
  redisContext* c = redisConnect("127.0.0.1", port);
  if (!c || c->err) {
    fprintf(stderr, "cannot connect to 127.0.0.1:%d\n", port);
    exit(1);
  }
  return c;
}

PGconn* connectPg(const char* conninfo) {
  PGconn* pg = PQconnectdb(conninfo);
  if (PQstatus(pg) != CONNECTION_OK) {
    fprintf(stderr, "postgres: %s", PQerrorMessage(pg));
    exit(1);
  }
  return pg;
}

long queriesMade(PGconn* pg) {
  PGresult* r = PQexec(pg, "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query "
                           "LIKE '%FROM profiles p WHERE user_id%'");
  long n = PQresultStatus(r) == PGRES_TUPLES_OK ? atol(PQgetvalue(r, 0, 0)) : -1;
  PQclear(r);
  return n;
}

struct Result {
  std::vector<double> lat_ms;
  double seconds = 0;
};

void report(const char* what, Result& r) {
  const double n = static_cast<double>(r.lat_ms.size());
  printf("%s requests=%zu rps=%.0f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n", what, r.lat_ms.size(),
         n / r.seconds, pct(r.lat_ms, 0.50), pct(r.lat_ms, 0.99), pct(r.lat_ms, 1.0));
}

template <typename Fn> Result runThreads(int threads, long keys, long first, Fn one) {
  std::vector<std::vector<double>> lat(static_cast<size_t>(threads));
  std::vector<std::thread> ts;
  const auto t0 = Clock::now();
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      auto state = one.open();
      for (long i = t; i < keys; i += threads) {
        const auto s = Clock::now();
        one.get(state, uuidOf(first + i));
        lat[static_cast<size_t>(t)].push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - s).count());
      }
      one.close(state);
    });
  for (auto& t : ts)
    t.join();
  Result r;
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  for (auto& v : lat)
    r.lat_ms.insert(r.lat_ms.end(), v.begin(), v.end());
  return r;
}

struct Keywarden {
  int port;
  redisContext* open() const { return connectRedis(port); }
  void get(redisContext* c, const std::string& id) const {
    auto* r = static_cast<redisReply*>(redisCommand(c, "GET profile:%s", id.c_str()));
    if (!r || r->type != REDIS_REPLY_STRING) {
      fprintf(stderr, "keywarden GET profile:%s: %s\n", id.c_str(),
              r && r->type == REDIS_REPLY_ERROR ? r->str : "no value");
      exit(1);
    }
    freeReplyObject(r);
  }
  void close(redisContext* c) const { redisFree(c); }
};

struct App {
  int port;
  const char* conninfo;
  struct State {
    redisContext* redis;
    PGconn* pg;
  };
  State open() const {
    State s{connectRedis(port), connectPg(conninfo)};
    PGresult* r =
        PQprepare(s.pg, "get_profile",
                  "SELECT row_to_json(p)::text FROM profiles p WHERE user_id = $1", 1, nullptr);
    PQclear(r);
    return s;
  }
  void get(State& s, const std::string& id) const {
    auto* r = static_cast<redisReply*>(redisCommand(s.redis, "GET profile:%s", id.c_str()));
    const bool miss = r && r->type == REDIS_REPLY_NIL;
    freeReplyObject(r);
    if (!miss)
      return;
    const char* params[] = {id.c_str()};
    PGresult* q = PQexecPrepared(s.pg, "get_profile", 1, params, nullptr, nullptr, 0);
    if (PQresultStatus(q) != PGRES_TUPLES_OK || PQntuples(q) != 1) {
      fprintf(stderr, "SELECT %s: %s\n", id.c_str(), PQresultErrorMessage(q));
      exit(1);
    }
    auto* w = static_cast<redisReply*>(
        redisCommand(s.redis, "SET profile:%s %s EX 300", id.c_str(), PQgetvalue(q, 0, 0)));
    freeReplyObject(w);
    PQclear(q);
  }
  void close(State& s) const {
    redisFree(s.redis);
    PQfinish(s.pg);
  }
};

int miss(int argc, char** argv) {
  if (argc != 8)
    return 2;
  const int kw_port = atoi(argv[2]), redis_port = atoi(argv[3]);
  const char* conninfo = argv[4];
  const long keys = atol(argv[5]);
  const int threads = atoi(argv[6]);
  const long first = atol(argv[7]);
  Result kw = runThreads(threads, keys, first, Keywarden{kw_port});
  Result app = runThreads(threads, keys, first + keys, App{redis_port, conninfo});
  report("miss keywarden", kw);
  report("miss application", app);
  printf("miss p50_ratio=%.2f (target <= 0.70)\n",
         pct(kw.lat_ms, 0.5) / std::max(1e-9, pct(app.lat_ms, 0.5)));
  return 0;
}

int stampede(int argc, char** argv) {
  if (argc != 7)
    return 2;
  const int kw_port = atoi(argv[2]);
  PGconn* pg = connectPg(argv[3]);
  const std::string key = std::string("profile:") + argv[4];
  const int conns = atoi(argv[5]), per = atoi(argv[6]);
  const long before = queriesMade(pg);
  std::vector<redisContext*> cs;
  for (int i = 0; i < conns; ++i)
    cs.push_back(connectRedis(kw_port));
  std::atomic<int> ready{0};
  std::vector<std::vector<double>> lat(static_cast<size_t>(conns));
  std::vector<std::thread> ts;
  const auto t0 = Clock::now();
  for (int i = 0; i < conns; ++i)
    ts.emplace_back([&, i] {
      ready.fetch_add(1);
      while (ready.load() < conns) {
      }
      const auto s = Clock::now();
      for (int k = 0; k < per; ++k)
        redisAppendCommand(cs[static_cast<size_t>(i)], "GET %s", key.c_str());
      for (int k = 0; k < per; ++k) {
        void* r = nullptr;
        if (redisGetReply(cs[static_cast<size_t>(i)], &r) != REDIS_OK)
          exit(1);
        freeReplyObject(r);
        lat[static_cast<size_t>(i)].push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - s).count());
      }
    });
  for (auto& t : ts)
    t.join();
  Result r;
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  for (auto& v : lat)
    r.lat_ms.insert(r.lat_ms.end(), v.begin(), v.end());
  for (auto* c : cs)
    redisFree(c);
  const long after = queriesMade(pg);
  PQfinish(pg);
  report("stampede", r);
  printf("stampede queries=%ld (target 1)\n", after - before);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  int rc = 2;
  if (mode == "miss")
    rc = miss(argc, argv);
  else if (mode == "stampede")
    rc = stampede(argc, argv);
  if (rc == 2)
    fprintf(stderr,
            "usage: readthrough_bench miss <kw_port> <redis_port> <conninfo> <keys> "
            "<threads> <first_id>\n"
            "       readthrough_bench stampede <kw_port> <conninfo> <uuid> <conns> <per>\n");
  return rc;
}
