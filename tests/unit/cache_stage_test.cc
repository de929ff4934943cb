#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <doctest.h>

#include "cache/cache_stage.h"
#include "common/config_loader.h"
#include "fake_link.h"
#include "fake_requests.h"
#include "policy/policy.h"
#include "proxy/command_table.h"
#include "proxy/resp_writer.h"

namespace kw {
namespace {

using test::FakeLink;
using test::FakePool;
using test::FakePools;
using test::FakeRequests;
using Verdict = RequestStage::Verdict;

constexpr const char* kConfig = R"(
[near_cache]
max_bytes = 1048576

[[namespaces]]
name = "profile"
pattern = "profile:{id}"
near_cache = true

[[namespaces]]
name = "short"
pattern = "short:{id}"
near_cache = true
near_cache_max_ttl_ms = 100

[[namespaces]]
name = "plain"
pattern = "plain:{id}"

[[namespaces]]
name = "bl"
pattern = "bl:{jti}"
kind = "blacklist"
max_ttl_s = 3600

[[namespaces]]
name = "blopen"
pattern = "blopen:{jti}"
kind = "blacklist"
max_ttl_s = 3600
blacklist_fail_open = true
)";

// The request as a session would hand it over.
struct FakeRequest final : StageRequest {
  FakeRequest(const CompiledPolicy& policy, std::vector<std::string> argv_in)
      : argv(std::move(argv_in)) {
    for (const std::string& a : argv)
      views.emplace_back(a);
    resp::arrayHeader(&raw_bytes, static_cast<int64_t>(argv.size()));
    for (const std::string& a : argv)
      resp::bulk(&raw_bytes, a);
    cmd = CommandTable::builtin().find(argv[0]);
    ns = argv.size() > 1 ? policy.counterId(policy.namespaces().resolve(argv[1]).ns)
                         : Resolution::kNone;
  }
  std::span<const std::string_view> args() const override { return views; }
  std::string_view raw() const override { return raw_bytes; }
  const CommandInfo* command() const override { return cmd; }
  uint32_t firstKeyNamespace() const override { return ns; }
  int proto() const override { return proto_; }
  bool plainState() const override { return plain; }
  bool inMulti() const override { return multi; }
  const CompiledUser* user() const override { return nullptr; }
  std::string_view clientAddr() const override { return "127.0.0.1:1"; }
  std::span<const uint32_t> keyNamespaces() override { return {}; }
  std::unique_ptr<kw::StageAttachment>& attachment() override { return attached; }
  void answer(std::string_view reply) override { answered = std::string(reply); }
  void refuse(std::string_view error) override { refused = std::string(error); }
  void refuseRateLimited(std::string_view error, uint32_t) override {
    refused = std::string(error);
  }
  ReplySlot* forward(std::string_view r, RequestStage* s, uint64_t t) override {
    if (!forward_ok)
      return nullptr;
    forwarded = std::string(r);
    stage = s;
    tag = t;
    return &slot;
  }
  ReplySlot* hold() override { return nullptr; }

  std::vector<std::string> argv;
  std::vector<std::string_view> views;
  std::string raw_bytes;
  const CommandInfo* cmd = nullptr;
  uint32_t ns = Resolution::kNone;
  int proto_ = 2;
  bool plain = true;
  bool multi = false;
  bool forward_ok = true;
  std::optional<std::string> answered;
  std::optional<std::string> refused;
  std::optional<std::string> forwarded;
  RequestStage* stage = nullptr;
  uint64_t tag = 0;
  ReplySlot slot;  // what forward hands back
  std::unique_ptr<kw::StageAttachment> attached;
};

struct StageFixture {
  FakePools pools{1};
  FakePool& pool = pools.at(0);
  std::vector<NodeId> masters{0};
  FakeRequests requests;
  CacheStatsShard stats;
  int64_t now = 10000;
  std::shared_ptr<const Config> config;
  std::shared_ptr<const CompiledPolicy> policy;
  std::unique_ptr<CacheStage> stage;

  explicit StageFixture(const char* text = kConfig) {
    auto c = std::make_shared<Config>();
    std::string err;
    REQUIRE_MESSAGE(parseConfigText(text, "test.toml", c.get(), &err), err);
    config = c;
    policy = CompiledPolicy::build(config->policy, &err);
    REQUIRE(policy);
    CacheStage::Env env;
    env.pools = &pools;
    env.masters = [this]() -> const std::vector<NodeId>& { return masters; };
    env.requests = &requests;
    env.clock = [this] { return now; };
    env.stats = &stats;
    stage = std::make_unique<CacheStage>(std::move(env));
    stage->configure(config, policy);
  }
  FakeLink* feedLink() { return pool.all.empty() ? nullptr : pool.all.back(); }
  void feedFrame(std::string_view frame) { feedLink()->owner()->onStreamBytes(frame); }
  void coverFeed() {
    REQUIRE(feedLink());
    feedFrame("+OK\r\n");
    feedFrame("+OK\r\n");
    REQUIRE(stage->feed().covered());
  }
  void invalidate(const std::string& key) {
    feedFrame(">2\r\n$10\r\ninvalidate\r\n*1\r\n$" + std::to_string(key.size()) + "\r\n" + key +
              "\r\n");
  }
  std::unique_ptr<FakeRequest> req(std::vector<std::string> argv) {
    return std::make_unique<FakeRequest>(*policy, std::move(argv));
  }
  Verdict run(FakeRequest& r) { return stage->onRequest(r); }
  std::string reply(FakeRequest& r, std::string_view bytes) {
    std::string scratch;
    bool kept = false;
    return std::string(stage->onReply(r.tag, nullptr, bytes, &scratch, &kept));
  }
  // A GET that misses: forwarded, its reply and PTTL delivered.
  void fillGet(const std::string& key, std::string_view reply_bytes, std::string_view pttl) {
    auto r = req({"GET", key});
    REQUIRE(run(*r) == Verdict::kDone);
    REQUIRE(r->forwarded);
    CHECK(reply(*r, reply_bytes) == reply_bytes);
    REQUIRE(requests.answerLast("PTTL " + key, pttl));
  }
  std::optional<std::string> hit(std::vector<std::string> argv, int proto = 2) {
    auto r = req(std::move(argv));
    r->proto_ = proto;
    if (run(*r) != Verdict::kDone || r->forwarded)
      return std::nullopt;
    return r->answered;
  }
};

TEST_CASE("nothing is answered from the cache before the feed covers it") {
  StageFixture f;
  auto r = f.req({"GET", "profile:1"});
  CHECK(f.run(*r) == Verdict::kContinue);
  CHECK_FALSE(r->forwarded);
  // The feed asked for both kinds' prefixes, none overlapping.
  REQUIRE(f.feedLink());
  CHECK(f.feedLink()->sent.back().find("PREFIX\r\n$3\r\nbl:\r\n$6\r\nPREFIX\r\n$7\r\nblopen:") !=
        std::string::npos);
}

TEST_CASE("a miss fills, a hit answers from memory in the client's protocol") {
  StageFixture f;
  f.coverFeed();
  f.fillGet("profile:1", "$5\r\nalice\r\n", ":-1\r\n");
  CHECK(f.hit({"GET", "profile:1"}) == "$5\r\nalice\r\n");
  CHECK(f.hit({"GET", "profile:1"}, 3) == "$5\r\nalice\r\n");
  f.fillGet("profile:none", "$-1\r\n", ":-2\r\n");
  CHECK(f.hit({"GET", "profile:none"}) == "$-1\r\n");
  CHECK(f.hit({"GET", "profile:none"}, 3) == "_\r\n");
  CHECK(f.hit({"EXISTS", "profile:1"}) == ":1\r\n");
  CHECK(f.hit({"EXISTS", "profile:none"}) == ":0\r\n");
  CHECK(f.hit({"MGET", "profile:1", "profile:none"}) == "*2\r\n$5\r\nalice\r\n$-1\r\n");
  CHECK(f.stats.ns[f.policy->counterId(0)].hits.get() == 7);
  CHECK(f.stats.ns[f.policy->counterId(0)].misses.get() == 2);
  // Namespaces without near_cache are not touched.
  auto plain = f.req({"GET", "plain:1"});
  CHECK(f.run(*plain) == Verdict::kContinue);
}

TEST_CASE("the fill race: the key invalidated while its GET is in flight is not stored") {
  StageFixture f;
  f.coverFeed();
  auto r = f.req({"GET", "profile:2"});
  REQUIRE(f.run(*r) == Verdict::kDone);
  f.invalidate("profile:2");     // a write reached Redis after the GET did
  f.reply(*r, "$3\r\nold\r\n");  // the stale reply arrives after the invalidation
  REQUIRE(f.requests.answer("PTTL profile:2", ":-1\r\n"));
  CHECK_FALSE(f.hit({"GET", "profile:2"}));  // not stored: Redis is asked again
  CHECK(f.stats.ns[f.policy->counterId(0)].fills_dropped.get() == 1);
}

TEST_CASE("own writes: invalidated before forwarding and again when the reply is back") {
  StageFixture f;
  f.coverFeed();
  f.fillGet("profile:3", "$2\r\nv1\r\n", ":-1\r\n");
  REQUIRE(f.hit({"GET", "profile:3"}));
  auto set = f.req({"SET", "profile:3", "v2"});
  REQUIRE(f.run(*set) == Verdict::kDone);  // forwarded by the stage, to see its reply
  REQUIRE(set->forwarded);
  CHECK(f.stage->cache().entries() == 0);  // gone before the write even left
  // Another client's GET overtakes the SET on another connection and fills the old value...
  auto get = f.req({"GET", "profile:3"});
  REQUIRE(f.run(*get) == Verdict::kDone);
  REQUIRE(get->forwarded);
  f.reply(*get, "$2\r\nv1\r\n");
  REQUIRE(f.requests.answer("PTTL profile:3", ":-1\r\n"));
  CHECK(f.hit({"GET", "profile:3"}) == "$2\r\nv1\r\n");
  // ...but the SET's reply removes it before the writer can read again.
  CHECK(f.reply(*set, "+OK\r\n") == "+OK\r\n");
  CHECK_FALSE(f.hit({"GET", "profile:3"}));
}

TEST_CASE("writes the stage cannot follow (MULTI, not plain) block fills for a while") {
  StageFixture f;
  f.coverFeed();
  f.fillGet("profile:4", "$2\r\nv1\r\n", ":-1\r\n");
  auto set = f.req({"SET", "profile:4", "v2"});
  set->plain = false;
  set->multi = true;
  CHECK(f.run(*set) == Verdict::kContinue);  // queued as usual
  CHECK_FALSE(f.hit({"GET", "profile:4"}));
  // A read meanwhile is forwarded but not stored.
  auto get = f.req({"GET", "profile:4"});
  CHECK(f.run(*get) == Verdict::kContinue);
  f.now += 5000;
  f.fillGet("profile:4", "$2\r\nv2\r\n", ":-1\r\n");
  CHECK(f.hit({"GET", "profile:4"}) == "$2\r\nv2\r\n");
}

TEST_CASE("only clients in plain state read from the cache") {
  StageFixture f;
  f.coverFeed();
  f.fillGet("profile:5", "$1\r\nx\r\n", ":-1\r\n");
  auto r = f.req({"GET", "profile:5"});
  r->plain = false;  // SELECTed another db, in MULTI, pinned...
  CHECK(f.run(*r) == Verdict::kContinue);
  CHECK_FALSE(r->answered);
}

TEST_CASE("an entry lives no longer than the key's TTL or near_cache_max_ttl_ms") {
  StageFixture f;
  f.coverFeed();
  f.fillGet("profile:6", "$1\r\nx\r\n", ":500\r\n");
  f.now += 499;
  CHECK(f.hit({"GET", "profile:6"}));
  f.now += 1;
  CHECK_FALSE(f.hit({"GET", "profile:6"}));
  f.fillGet("short:1", "$1\r\nx\r\n", ":-1\r\n");
  f.now += 99;
  CHECK(f.hit({"GET", "short:1"}));
  f.now += 1;
  CHECK_FALSE(f.hit({"GET", "short:1"}));
  // A value whose PTTL says the key is gone (deleted in between) is not stored.
  f.fillGet("profile:7", "$1\r\nx\r\n", ":-2\r\n");
  CHECK_FALSE(f.hit({"GET", "profile:7"}));
}

TEST_CASE("feed lost: everything flushed, reads go to Redis until it is back; FLUSHALL flushes") {
  StageFixture f;
  f.coverFeed();
  f.fillGet("profile:8", "$1\r\nx\r\n", ":-1\r\n");
  REQUIRE(f.hit({"GET", "profile:8"}));
  f.feedLink()->owner()->onLinkLost(f.feedLink());
  auto r = f.req({"GET", "profile:8"});
  CHECK(f.run(*r) == Verdict::kContinue);
  CHECK(f.stage->cache().entries() == 0);
  f.now += 10000;
  f.stage->tick();
  f.coverFeed();
  CHECK_FALSE(f.hit({"GET", "profile:8"}));
  f.fillGet("profile:8", "$1\r\ny\r\n", ":-1\r\n");
  CHECK(f.hit({"GET", "profile:8"}) == "$1\r\ny\r\n");
  f.feedFrame(">2\r\n$10\r\ninvalidate\r\n_\r\n");
  CHECK_FALSE(f.hit({"GET", "profile:8"}));
}

TEST_CASE("hash reads: fields and whole hashes, re-encoded per protocol") {
  StageFixture f;
  f.coverFeed();
  auto all = f.req({"HGETALL", "profile:9"});
  all->proto_ = 3;
  REQUIRE(f.run(*all) == Verdict::kDone);
  f.reply(*all, "%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n");
  REQUIRE(f.requests.answer("PTTL profile:9", ":-1\r\n"));
  CHECK(f.hit({"HGETALL", "profile:9"}) == "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n");
  CHECK(f.hit({"HGETALL", "profile:9"}, 3) == "%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n");
  CHECK(f.hit({"HGET", "profile:9", "b"}) == "$1\r\n2\r\n");
  CHECK(f.hit({"HGET", "profile:9", "zz"}) == "$-1\r\n");
  CHECK(f.hit({"HMGET", "profile:9", "a", "zz"}, 3) == "*2\r\n$1\r\n1\r\n_\r\n");
  CHECK(f.hit({"GET", "profile:9"}) == std::nullopt);  // WRONGTYPE is Redis's to say
  CHECK(f.hit({"EXISTS", "profile:9"}) == ":1\r\n");
  // HGET of one field: only that field is known.
  auto one = f.req({"HGET", "profile:10", "a"});
  REQUIRE(f.run(*one) == Verdict::kDone);
  f.reply(*one, "$1\r\n1\r\n");
  REQUIRE(f.requests.answer("PTTL profile:10", ":-1\r\n"));
  CHECK(f.hit({"HGET", "profile:10", "a"}) == "$1\r\n1\r\n");
  CHECK_FALSE(f.hit({"HGET", "profile:10", "b"}));
  CHECK_FALSE(f.hit({"HGETALL", "profile:10"}));
}

TEST_CASE("blacklist: Redis answers until the replica is complete, then the replica does") {
  StageFixture f;
  auto r = f.req({"EXISTS", "bl:j1"});
  REQUIRE(f.run(*r) == Verdict::kDone);
  REQUIRE(r->forwarded);  // feed not up: Redis
  CHECK(f.reply(*r, ":1\r\n") == ":1\r\n");
  f.coverFeed();
  CHECK(f.requests.unanswered("SCAN") == 2);
  REQUIRE(
      f.requests.answer("SCAN 0 MATCH bl:* COUNT 1000", "*2\r\n$1\r\n0\r\n*1\r\n$5\r\nbl:j1\r\n"));
  REQUIRE(f.requests.answer("SCAN 0 MATCH blopen:* COUNT 1000", "*2\r\n$1\r\n0\r\n*0\r\n"));
  auto during = f.req({"EXISTS", "bl:j1"});
  REQUIRE(f.run(*during) == Verdict::kDone);
  CHECK(during->forwarded);  // still loading
  REQUIRE(f.requests.answer("GET bl:j1", "$1\r\n1\r\n"));
  REQUIRE(f.requests.answer("PTTL bl:j1", ":100000\r\n"));
  CHECK(f.hit({"EXISTS", "bl:j1"}) == ":1\r\n");
  CHECK(f.hit({"EXISTS", "bl:j2"}) == ":0\r\n");
  CHECK(f.hit({"EXISTS", "bl:j1", "bl:j2", "bl:j1"}) == ":2\r\n");
  CHECK(f.hit({"GET", "bl:j1"}) == "$1\r\n1\r\n");
  CHECK(f.hit({"GET", "bl:j2"}, 3) == "_\r\n");
  // A revoke reported by the feed: Redis answers until its fetch is in.
  f.invalidate("bl:j2");
  auto after = f.req({"EXISTS", "bl:j2"});
  REQUIRE(f.run(*after) == Verdict::kDone);
  CHECK(after->forwarded);
  REQUIRE(f.requests.answer("GET bl:j2", "$1\r\n1\r\n"));
  REQUIRE(f.requests.answer("PTTL bl:j2", ":5000\r\n"));
  CHECK(f.hit({"EXISTS", "bl:j2"}) == ":1\r\n");
  // The feed lost: never "not revoked" from the replica any more.
  f.feedLink()->owner()->onLinkLost(f.feedLink());
  auto lost = f.req({"EXISTS", "bl:j3"});
  REQUIRE(f.run(*lost) == Verdict::kDone);
  CHECK(lost->forwarded);
}

TEST_CASE("blacklist with Redis unreachable too: an error, or \"not revoked\" with fail_open") {
  StageFixture f;
  auto closed = f.req({"EXISTS", "bl:j"});
  closed->forward_ok = false;
  CHECK(f.run(*closed) == Verdict::kDone);
  CHECK_FALSE(closed->answered);  // the session answers -UPSTREAMDOWN
  auto open = f.req({"EXISTS", "blopen:j"});
  open->forward_ok = false;
  CHECK(f.run(*open) == Verdict::kDone);
  CHECK(open->answered == ":0\r\n");
  // Lost in flight: the error becomes "not revoked" only with fail_open.
  auto open2 = f.req({"GET", "blopen:j"});
  REQUIRE(f.run(*open2) == Verdict::kDone);
  CHECK(f.reply(*open2, "-UPSTREAMDOWN connection to upstream x lost (y)\r\n") == "$-1\r\n");
  auto closed2 = f.req({"GET", "bl:j"});
  REQUIRE(f.run(*closed2) == Verdict::kDone);
  CHECK(f.reply(*closed2, "-UPSTREAMDOWN x\r\n") == "-UPSTREAMDOWN x\r\n");
  CHECK(f.stats.ns[f.policy->counterId(4)].bl_fail_open.get() == 2);
}

TEST_CASE(
    "a revoke through this proxy: the key is asked of Redis until refetched after the write") {
  StageFixture f;
  f.coverFeed();
  REQUIRE(f.requests.answer("SCAN 0 MATCH bl:* COUNT 1000", "*2\r\n$1\r\n0\r\n*0\r\n"));
  REQUIRE(f.hit({"EXISTS", "bl:k"}) == ":0\r\n");
  auto set = f.req({"SET", "bl:k", "1", "EX", "60"});
  REQUIRE(f.run(*set) == Verdict::kDone);
  f.reply(*set, "+OK\r\n");
  CHECK_FALSE(f.hit({"EXISTS", "bl:k"}));  // forwarded: not known yet
  // Both fetches (at forward and at reply) come back; the newest decides.
  REQUIRE(f.requests.answer("GET bl:k", "$-1\r\n"));
  REQUIRE(f.requests.answer("PTTL bl:k", ":-2\r\n"));
  CHECK_FALSE(f.hit({"EXISTS", "bl:k"}));
  REQUIRE(f.requests.answer("GET bl:k", "$1\r\n1\r\n"));
  REQUIRE(f.requests.answer("PTTL bl:k", ":60000\r\n"));
  CHECK(f.hit({"EXISTS", "bl:k"}) == ":1\r\n");
}

TEST_CASE("second-read admission: a key is cached from its second read") {
  std::string text = kConfig;
  text.replace(text.find("max_bytes"), 0, "admission = \"second_read\"\n");
  StageFixture f(text.c_str());
  f.coverFeed();
  auto first = f.req({"GET", "profile:11"});
  CHECK(f.run(*first) == Verdict::kContinue);  // forwarded as usual, not filled
  f.fillGet("profile:11", "$1\r\nx\r\n", ":-1\r\n");
  CHECK(f.hit({"GET", "profile:11"}) == "$1\r\nx\r\n");
}

TEST_CASE("a reload that stops caching a namespace flushes it; the feed follows the prefixes") {
  StageFixture f;
  f.coverFeed();
  f.fillGet("profile:12", "$1\r\nx\r\n", ":-1\r\n");
  REQUIRE(f.hit({"GET", "profile:12"}));
  std::string text = kConfig;
  const size_t at = text.find("near_cache = true");
  text.replace(at, strlen("near_cache = true"), "near_cache = false");
  auto c = std::make_shared<Config>();
  std::string err;
  REQUIRE(parseConfigText(text, "t", c.get(), &err));
  auto p = CompiledPolicy::build(c->policy, &err, f.policy.get());
  f.stage->configure(c, p);
  f.policy = p;
  CHECK(f.stage->cache().entries() == 0);
  auto r = f.req({"GET", "profile:12"});
  CHECK(f.run(*r) == Verdict::kContinue);
  CHECK(f.feedLink()->sent.back().find("profile:") == std::string::npos);
}

}  // namespace
}  // namespace kw
