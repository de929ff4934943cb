// The budget enforcer and its lease against a fake Redis (a map of keys with sizes and access
// times, and the commands and scripts the enforcer sends), on an injected clock. The fake
// answers asynchronously (replies are delivered after send() returns) and reports every write,
// deletion and eviction to the instances whose feed covers the key, as BCAST tracking does.
#include <doctest.h>

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "budget/budget_enforcer.h"
#include "budget/budget_scripts.h"
#include "common/log.h"

namespace kw {
namespace {

std::string integer(int64_t v) {
  return ":" + std::to_string(v) + "\r\n";
}
std::string bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}

struct FakeServer {
  struct Entry {
    std::string value;
    uint64_t bytes = 0;
    int64_t access_ms = 0;
    int freq = 5;
    int64_t expire_ms = -1;
  };
  int64_t now = 1000000;
  bool lfu = false;
  std::map<std::string, Entry> keys;
  std::map<std::string, std::map<std::string, std::string>> hashes;
  std::vector<std::string> invalidated;  // to the feeds
  std::map<std::string, int> measured;   // MEMORY USAGE calls per key
  uint64_t unlinked = 0;

  Entry* lookup(const std::string& k) {
    auto it = keys.find(k);
    if (it == keys.end())
      return nullptr;
    if (it->second.expire_ms >= 0 && it->second.expire_ms <= now) {
      keys.erase(it);
      invalidated.push_back(k);
      return nullptr;
    }
    return &it->second;
  }
  void write(const std::string& k, uint64_t bytes) {
    Entry& e = keys[k];
    e.bytes = bytes;
    e.access_ms = now;
    invalidated.push_back(k);
  }
  void read(const std::string& k) {
    if (Entry* e = lookup(k))
      e->access_ms = now;
  }
  void del(const std::string& k, bool notify = true) {
    keys.erase(k);
    if (notify)
      invalidated.push_back(k);
  }
  uint64_t bytesUnder(const std::string& prefix, const std::string& except = "~") {
    uint64_t sum = 0;
    for (auto& [k, e] : keys)
      if (k.compare(0, prefix.size(), prefix) == 0 && k.compare(0, except.size(), except) != 0)
        sum += e.bytes;
    return sum;
  }

  std::string exec(const std::vector<std::string>& a) {
    const std::string& cmd = a[0];
    if (cmd == "SET") {
      if (lookup(a[1]))
        return "$-1\r\n";
      Entry& e = keys[a[1]];
      e.value = a[2];
      e.expire_ms = now + std::stoll(a[5]);
      return "+OK\r\n";
    }
    if (cmd == "GET") {
      Entry* e = lookup(a[1]);
      return e ? bulk(e->value) : "$-1\r\n";
    }
    if (cmd == "PTTL") {
      Entry* e = lookup(a[1]);
      return integer(!e ? -2 : e->expire_ms < 0 ? -1 : e->expire_ms - now);
    }
    if (cmd == "HSET") {
      for (size_t i = 2; i + 1 < a.size(); i += 2)
        hashes[a[1]][a[i]] = a[i + 1];
      return integer(1);
    }
    if (cmd == "PEXPIRE")
      return integer(1);
    if (cmd == "HGETALL") {
      auto& h = hashes[a[1]];
      std::string out = "*" + std::to_string(h.size() * 2) + "\r\n";
      for (auto& [f, v] : h)
        out += bulk(f) + bulk(v);
      return out;
    }
    if (cmd == "SCAN") {
      // The cursor is the key to continue from: every key present throughout is returned.
      std::string prefix;
      for (size_t i = 0; i + 1 < a[3].size(); ++i) {
        if (a[3][i] == '\\')
          ++i;
        prefix += a[3][i];
      }
      const size_t count = std::stoul(a[5]);
      auto it = a[1] == "0" ? keys.begin() : keys.lower_bound(a[1].substr(1));
      std::vector<std::string> found;
      while (it != keys.end() && found.size() < count) {
        if (it->first.compare(0, prefix.size(), prefix) == 0)
          found.push_back(it->first);
        ++it;
      }
      std::string out = "*2\r\n" + bulk(it == keys.end() ? "0" : "c" + it->first);
      out += "*" + std::to_string(found.size()) + "\r\n";
      for (auto& k : found)
        out += bulk(k);
      return out;
    }
    if (cmd == "EVAL") {
      const size_t n = std::stoul(a[2]);
      std::vector<std::string> ks(a.begin() + 3, a.begin() + 3 + static_cast<long>(n));
      std::vector<std::string> argv(a.begin() + 3 + static_cast<long>(n), a.end());
      const std::string& script = a[1];
      std::string out = "*" + std::to_string(n) + "\r\n";
      if (script == budget_lua::kMeasure) {
        for (auto& k : ks) {
          ++measured[k];
          Entry* e = lookup(k);
          out += integer(e ? static_cast<int64_t>(e->bytes) : -1);
        }
        return out;
      }
      if (script == budget_lua::kAccessClock) {
        if (argv[0] == "IDLETIME" && lfu)
          return "-ERR An LFU maxmemory policy is selected, idle time not tracked.\r\n";
        if (argv[0] == "FREQ" && !lfu)
          return "-ERR An LFU maxmemory policy is not selected, access frequency not tracked.\r\n";
        for (auto& k : ks) {
          Entry* e = lookup(k);
          out += integer(!e ? -1 : lfu ? e->freq : (now - e->access_ms) / 1000);
        }
        return out;
      }
      if (script == budget_lua::kEvict) {
        Entry* lease = lookup(ks[0]);
        if (!lease || lease->value != argv[0])
          return integer(-1);
        out = "*" + std::to_string(n - 1) + "\r\n";
        for (size_t i = 1; i < ks.size(); ++i) {
          const bool there = lookup(ks[i]) != nullptr;
          if (there) {
            del(ks[i]);
            ++unlinked;
          }
          out += integer(there ? 1 : 0);
        }
        return out;
      }
      if (script == budget_lua::kRenew) {
        Entry* lease = lookup(ks[0]);
        if (!lease || lease->value != argv[0])
          return integer(0);
        lease->expire_ms = now + std::stoll(argv[1]);
        return integer(1);
      }
      if (script == budget_lua::kRelease) {
        Entry* lease = lookup(ks[0]);
        if (!lease || lease->value != argv[0])
          return integer(0);
        keys.erase(ks[0]);
        return integer(1);
      }
    }
    return "-ERR unknown command in the fake\r\n";
  }
};

struct FakeConn final : BudgetRedis {
  FakeServer* server = nullptr;
  bool down = false;
  bool in_send = false;
  std::deque<std::pair<Done, std::string>> replies;

  void send(std::span<const std::string_view> args, Done done) override {
    in_send = true;
    std::vector<std::string> a(args.begin(), args.end());
    replies.emplace_back(std::move(done),
                         down ? std::string("-UPSTREAMDOWN upstream down\r\n") : server->exec(a));
    in_send = false;
  }
  bool deliverOne() {
    if (replies.empty())
      return false;
    auto [done, reply] = std::move(replies.front());
    replies.pop_front();
    if (done)
      done(reply);
    return true;
  }
};

struct Instance {
  FakeConn conn;
  std::unique_ptr<BudgetEnforcer> enforcer;
  std::vector<std::string> tracked;
  bool feed_up = false;
  bool alive = true;
};

// key -> budget index: "doc:" is budgeted; "doc:keep:" is a nested namespace of its own.
int locate(std::string_view key) {
  if (key.substr(0, 9) == "doc:keep:")
    return -1;
  return key.substr(0, 4) == "doc:" ? 0 : -1;
}

struct Harness {
  FakeServer server;
  std::vector<std::unique_ptr<Instance>> instances;
  EnforcerOptions options;
  uint64_t budget = 100000;

  Harness() : saved_level(logLevel()) {
    setLogLevel(LogLevel::kError);  // lease changes are logged at info/warn: expected here
    options.lease_ms = 900;
    options.remeasure_delay_ms = 100;
    options.batch_keys = 64;
  }

  ~Harness() { setLogLevel(saved_level); }
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  LogLevel saved_level;

  Instance& add(const std::string& name) {
    auto inst = std::make_unique<Instance>();
    Instance* p = inst.get();
    p->conn.server = &server;
    BudgetEnforcer::Env env;
    env.redis = &p->conn;
    env.clock = [this] { return server.now; };
    env.unix_ms = [this] { return server.now + 1700000000000; };
    env.track = [p](std::vector<std::string> prefixes) {
      p->tracked = std::move(prefixes);
      if (p->tracked.empty())
        p->feed_up = false;
    };
    env.locate = locate;
    env.seed = instances.size() + 1;
    p->enforcer = std::make_unique<BudgetEnforcer>(std::move(env));
    EnforcerOptions o = options;
    o.instance = name;
    p->enforcer->configure({{"doc", "doc:", budget}}, o);
    instances.push_back(std::move(inst));
    return *p;
  }

  void settle() {
    for (int rounds = 0; rounds < 100000; ++rounds) {
      bool any = false;
      for (auto& i : instances) {
        if (!i->alive)
          continue;
        while (i->conn.deliverOne())
          any = true;
      }
      std::vector<std::string> inv;
      inv.swap(server.invalidated);
      for (const std::string& k : inv) {
        for (auto& i : instances) {
          if (!i->alive || !i->feed_up)
            continue;
          for (const std::string& p : i->tracked)
            if (k.compare(0, p.size(), p) == 0) {
              i->enforcer->onInvalidate(k);
              break;
            }
        }
        any = true;
      }
      if (!any)
        return;
    }
    FAIL("the enforcer never settles");
  }

  // Time passes in 20 ms ticks (the service's timer).
  void step(int64_t ms) {
    for (int64_t t = 0; t < ms; t += 20) {
      server.now += 20;
      for (auto& i : instances) {
        if (!i->alive)
          continue;
        if (!i->tracked.empty() && !i->feed_up) {
          i->feed_up = true;
          i->enforcer->onFeedUp();
        }
        i->enforcer->tick();
      }
      settle();
    }
  }

  size_t holders() {
    size_t n = 0;
    for (auto& i : instances)
      n += i->alive && i->enforcer->role() == BudgetLease::Role::kHolder;
    return n;
  }
};

const BudgetNamespaceStatus& nsStatus(const BudgetSnapshot& s) {
  REQUIRE(s.namespaces.size() == 1);
  return s.namespaces[0];
}

}  // namespace

TEST_CASE("budget lease: one holder at a time; a dead holder is replaced within the lease time") {
  Harness h;
  Instance& a = h.add("A");
  Instance& b = h.add("B");
  h.step(100);
  REQUIRE(h.holders() == 1);
  Instance& holder = a.enforcer->role() == BudgetLease::Role::kHolder ? a : b;
  Instance& standby = &holder == &a ? b : a;
  CHECK(standby.enforcer->role() == BudgetLease::Role::kStandby);
  h.step(3000);  // renewals keep it
  CHECK(holder.enforcer->role() == BudgetLease::Role::kHolder);
  CHECK(standby.enforcer->snapshot().holder == (&holder == &a ? "A" : "B"));
  holder.alive = false;  // killed: no more renewals
  const int64_t killed = h.server.now;
  while (standby.enforcer->role() != BudgetLease::Role::kHolder && h.server.now < killed + 5000)
    h.step(20);
  CHECK(standby.enforcer->role() == BudgetLease::Role::kHolder);
  CHECK(h.server.now - killed <= int64_t{h.options.lease_ms} + 40);
  CHECK(standby.enforcer->snapshot().acquisitions == 1);
}

TEST_CASE("budget lease: a holder that cannot renew stops holding; a taken lease is lost") {
  Harness h;
  Instance& a = h.add("A");
  h.step(100);
  REQUIRE(a.enforcer->role() == BudgetLease::Role::kHolder);
  a.conn.down = true;
  h.step(1000);
  CHECK(a.enforcer->role() == BudgetLease::Role::kStandby);
  a.conn.down = false;
  h.step(100);
  CHECK(a.enforcer->role() == BudgetLease::Role::kHolder);
  // Someone else writes the lease key: the next renewal finds out.
  h.server.keys["keywarden:budgets:lease"].value = "someone else";
  h.step(400);
  CHECK(a.enforcer->role() == BudgetLease::Role::kStandby);
  CHECK(a.enforcer->snapshot().losses == 2);
}

TEST_CASE("budget: existing keys are scanned and measured; the idlest are evicted to the budget") {
  Harness h;
  h.server.now = 1000000;
  for (int i = 0; i < 200; ++i) {
    h.server.write("doc:" + std::to_string(1000 + i), 1000);
    // key i was last used (200 - i) seconds ago
    h.server.keys["doc:" + std::to_string(1000 + i)].access_ms = h.server.now - (200 - i) * 1000;
  }
  for (int i = 0; i < 10; ++i) {
    h.server.write("doc:keep:" + std::to_string(i), 5000);  // a nested namespace
    h.server.write("other:" + std::to_string(i), 5000);     // outside
  }
  h.server.invalidated.clear();
  Instance& a = h.add("A");
  h.step(2000);
  const uint64_t bytes = h.server.bytesUnder("doc:", "doc:keep:");
  CHECK(bytes <= h.budget);
  CHECK(bytes >= h.budget * 90 / 100);
  const BudgetSnapshot snap = a.enforcer->snapshot();
  CHECK(nsStatus(snap).bytes == static_cast<int64_t>(bytes));
  CHECK(nsStatus(snap).complete);
  CHECK(nsStatus(snap).source == "self");
  CHECK(nsStatus(snap).evictions == 200 - bytes / 1000);
  CHECK(nsStatus(snap).last_enforcement_unix_ms > 0);
  // Approximate LRU: the most recently used 60 keys are all still there, the idlest 60 all gone.
  for (int i = 0; i < 200; ++i) {
    const bool there = h.server.keys.count("doc:" + std::to_string(1000 + i)) == 1;
    if (i >= 140)
      CHECK(there);
    if (i < 60)
      CHECK_FALSE(there);
  }
  for (int i = 0; i < 10; ++i) {
    CHECK(h.server.keys.count("doc:keep:" + std::to_string(i)) == 1);
    CHECK(h.server.keys.count("other:" + std::to_string(i)) == 1);
  }
  CHECK(h.server.keys.count("keywarden:budgets:lease") == 1);
}

TEST_CASE("budget: keys written by anyone later are measured; rewrites coalesce") {
  Harness h;
  Instance& a = h.add("A");
  h.step(200);
  REQUIRE(a.enforcer->role() == BudgetLease::Role::kHolder);
  for (int i = 0; i < 50; ++i)
    h.server.write("doc:n" + std::to_string(i), 1000);
  h.step(100);
  CHECK(nsStatus(a.enforcer->snapshot()).bytes == 50000);
  CHECK(nsStatus(a.enforcer->snapshot()).keys == 50);
  // 100 writes of one key within 100 ms (the remeasure delay here): measured again once or
  // twice, not a hundred times.
  const int before = h.server.measured["doc:n7"];
  for (int i = 0; i < 100; ++i) {
    h.server.write("doc:n7", 2000);
    if (i % 25 == 24)
      h.step(20);
  }
  h.step(300);
  CHECK(h.server.measured["doc:n7"] - before <= 3);
  CHECK(nsStatus(a.enforcer->snapshot()).bytes == 51000);
  // Deleted and expired keys leave the index.
  h.server.del("doc:n8");
  h.server.keys["doc:n9"].expire_ms = h.server.now;
  h.server.lookup("doc:n9");  // Redis expires it (and the feed hears of it)
  h.step(300);
  CHECK(nsStatus(a.enforcer->snapshot()).keys == 48);
  CHECK(nsStatus(a.enforcer->snapshot()).bytes == 49000);
  CHECK(h.server.unlinked == 0);
}

TEST_CASE("budget: LRU by access, not FIFO by write") {
  Harness h;
  Instance& a = h.add("A");
  h.step(200);
  for (int i = 0; i < 90; ++i)
    h.server.write("doc:old" + std::to_string(i), 1000);
  h.step(5000);
  for (int i = 0; i < 20; ++i)
    h.server.read("doc:old" + std::to_string(i));  // read: recent by access, oldest by write
  h.step(2000);
  for (int i = 0; i < 60; ++i) {
    h.server.write("doc:flood" + std::to_string(i), 1000);
    h.step(20);
  }
  h.step(1000);
  for (int i = 0; i < 20; ++i)
    CHECK(h.server.keys.count("doc:old" + std::to_string(i)) == 1);
  const uint64_t bytes = h.server.bytesUnder("doc:");
  CHECK(bytes <= h.budget);
  CHECK(bytes >= h.budget * 90 / 100);
  CHECK(nsStatus(a.enforcer->snapshot()).bytes == static_cast<int64_t>(bytes));
}

TEST_CASE("budget: evictions are fenced by the lease") {
  Harness h;
  Instance& a = h.add("A");
  h.step(100);
  REQUIRE(a.enforcer->role() == BudgetLease::Role::kHolder);
  // Another keywarden took the lease (e.g. this one was paused past its lease time).
  h.server.keys["keywarden:budgets:lease"].value = "B";
  for (int i = 0; i < 150; ++i)
    h.server.write("doc:" + std::to_string(i), 1000);
  h.step(100);
  CHECK(h.server.unlinked == 0);
  CHECK(a.enforcer->role() == BudgetLease::Role::kStandby);
}

TEST_CASE("budget: under an LFU policy victims are chosen by OBJECT FREQ") {
  Harness h;
  h.server.lfu = true;
  Instance& a = h.add("A");
  h.step(100);
  for (int i = 0; i < 150; ++i) {
    h.server.write("doc:" + std::to_string(i), 1000);
    h.server.keys["doc:" + std::to_string(i)].freq = i < 50 ? 200 : 1;  // the first 50 are hot
  }
  h.step(1000);
  CHECK(a.enforcer->snapshot().access_clock == "freq");
  for (int i = 0; i < 50; ++i)
    CHECK(h.server.keys.count("doc:" + std::to_string(i)) == 1);
  CHECK(h.server.bytesUnder("doc:") <= h.budget);
}

TEST_CASE("budget: after a feed outage a rescan drops keys deleted meanwhile") {
  Harness h;
  Instance& a = h.add("A");
  h.step(100);
  for (int i = 0; i < 40; ++i)
    h.server.write("doc:" + std::to_string(i), 1000);
  h.step(200);
  REQUIRE(nsStatus(a.enforcer->snapshot()).keys == 40);
  a.feed_up = false;
  a.enforcer->onFeedDown();
  for (int i = 0; i < 10; ++i)
    h.server.del("doc:" + std::to_string(i), /*notify=*/false);  // missed
  h.server.write("doc:new", 3000);                               // missed too
  h.server.invalidated.clear();
  h.step(100);  // the feed comes back (the harness brings it up), then the rescan
  CHECK(nsStatus(a.enforcer->snapshot()).keys == 31);
  CHECK(nsStatus(a.enforcer->snapshot()).bytes == 33000);
  CHECK(nsStatus(a.enforcer->snapshot()).complete);
}

TEST_CASE("budget: FLUSHALL empties the index and a rescan starts") {
  Harness h;
  Instance& a = h.add("A");
  h.step(100);
  for (int i = 0; i < 40; ++i)
    h.server.write("doc:" + std::to_string(i), 1000);
  h.step(200);
  h.server.keys.clear();
  h.server.write("doc:after", 500);
  h.server.invalidated.clear();
  a.enforcer->onInvalidateAll();
  h.step(100);
  CHECK(nsStatus(a.enforcer->snapshot()).keys == 1);
  CHECK(nsStatus(a.enforcer->snapshot()).bytes == 500);
}

TEST_CASE("budget: two instances, one enforcer; the standby shows the holder's figures") {
  Harness h;
  Instance& a = h.add("A");
  Instance& b = h.add("B");
  h.step(100);
  for (int i = 0; i < 300; ++i) {
    h.server.write("doc:" + std::to_string(i), 1000);
    if (i % 10 == 0)
      h.step(20);
  }
  h.step(2500);
  const uint64_t bytes = h.server.bytesUnder("doc:");
  CHECK(bytes <= h.budget);
  CHECK(bytes >= h.budget * 90 / 100);  // no double eviction
  Instance& standby = a.enforcer->role() == BudgetLease::Role::kHolder ? b : a;
  const BudgetNamespaceStatus n = nsStatus(standby.enforcer->snapshot());
  CHECK(n.source == "holder");
  CHECK(n.bytes == static_cast<int64_t>(bytes));
  CHECK(n.own_evictions == 0);
  CHECK(n.evictions == 300 - bytes / 1000);
}

TEST_CASE("budget: a reload that keeps the namespace keeps what is known; a new budget applies") {
  Harness h;
  Instance& a = h.add("A");
  h.step(100);
  for (int i = 0; i < 80; ++i)
    h.server.write("doc:" + std::to_string(i), 1000);
  h.step(200);
  EnforcerOptions o = h.options;
  o.instance = "A";
  a.enforcer->configure({{"doc", "doc:", 50000}}, o);
  CHECK(nsStatus(a.enforcer->snapshot()).keys == 80);  // nothing relearnt
  h.step(500);
  CHECK(h.server.bytesUnder("doc:") <= 50000);
  CHECK(h.server.bytesUnder("doc:") >= 45000);
  // Budgets off: the lease is given up.
  o.enabled = false;
  a.enforcer->configure({{"doc", "doc:", 50000}}, o);
  h.step(100);
  CHECK(a.enforcer->role() == BudgetLease::Role::kOff);
  CHECK(h.server.keys.count("keywarden:budgets:lease") == 0);
}

TEST_CASE("budget: replies never arrive inside send()") {
  Harness h;
  Instance& a = h.add("A");
  // FakeConn queues every reply; a callback run from inside send() would show as a reply
  // delivered while in_send is set. The whole life of an enforcer runs on queued replies only.
  h.step(100);
  for (int i = 0; i < 200; ++i)
    h.server.write("doc:" + std::to_string(i), 1000);
  h.step(1000);
  CHECK_FALSE(a.conn.in_send);
  CHECK(h.server.bytesUnder("doc:") <= h.budget);
}

}  // namespace kw
