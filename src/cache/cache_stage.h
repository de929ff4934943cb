// The near cache and the token blacklist on the request path: one RequestStage per worker.
//
//   read of a near-cache namespace (GET, EXISTS, MGET, HGET, HMGET, HGETALL), client in plain
//   state, feed covering:
//       every key answered by the cache       -> answer(bytes), nothing sent
//       otherwise                             -> fill markers (near_cache.h), the request
//                                                forwarded, PTTL of each key asked aside; the
//                                                reply is stored if no invalidation overtook it
//   EXISTS / GET of a blacklist namespace:
//       replica complete and key known        -> answered from the replica
//       otherwise                             -> Redis (with blacklist_fail_open: "not revoked" if
//                                                Redis cannot be reached either)
//   a write of keys in either kind of namespace:
//       invalidated locally before it is forwarded, and again when its reply comes back (before
//       the client sees it), so a client always reads its own writes; a write whose reply the
//       stage cannot see (in MULTI, a blocking command) blocks its keys' fills for a while
//
// Invalidations from Redis come through the worker's InvalidationFeed (src/tracking/), to which
// this stage (for the near cache) and the BlacklistSync subscribe their namespaces' prefixes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cache/blacklist_sync.h"
#include "cache/cache_requests.h"
#include "cache/near_cache.h"
#include "common/config.h"
#include "proxy/request_stage.h"
#include "tracking/feed_set.h"

namespace kw {

class CompiledPolicy;
struct CommandInfo;

class CacheStage final : public RequestStage, private InvalidationConsumer {
public:
  struct Env {
    LinkPools* pools = nullptr;         // the feeds' links (a RESP3 pinned link per master)
    FeedSet::Masters masters;           // the upstream's masters now
    CacheRequests* requests = nullptr;  // PTTLs of fills, blacklist loads and fetches
    std::function<int64_t()> clock;     // monotonic ms
    CacheStatsShard* stats = nullptr;
    unsigned workers = 1;  // the byte budget is shared out between the workers
    std::string feed_name = "keywarden-feed";
    // The policy requests run under now, and the snapshot to configure from when it changed
    // (a reload): checked before each request.
    std::function<const CompiledPolicy*()> current_policy;
    std::function<void(std::shared_ptr<const Config>*, std::shared_ptr<const CompiledPolicy>*)>
        snapshot;
    // The read-through stage, if any (request_stage.h): a GET it fills that Redis answered nil
    // goes to it rather than to the client, and is not cached.
    std::function<MissFiller*()> miss_filler;
  };

  explicit CacheStage(Env env);
  CacheStage(const CacheStage&) = delete;
  CacheStage& operator=(const CacheStage&) = delete;
  ~CacheStage() override;

  // The config and policy requests run under. Cheap when they have not changed; a change of what
  // is cached flushes the cache, and a change of the tracked prefixes restarts the feed.
  void configure(const std::shared_ptr<const Config>& config,
                 const std::shared_ptr<const CompiledPolicy>& policy);
  // Heartbeats, reconnects, retries; a reload taken. Every few tens of ms.
  void tick();
  // Takes the current snapshot if it changed.
  void refresh() {
    if (env_.current_policy && env_.current_policy() != policy_.get())
      reconfigure();
  }

  Verdict onRequest(StageRequest& req) override;
  std::string_view onReply(uint64_t tag, ReplySlot* slot, std::string_view reply,
                           std::string* scratch, bool* kept) override;

  // Operators (KEYWARDEN CACHE FLUSH): counter id of a namespace, or every one.
  void flush();
  void flushCounterId(uint32_t counter_id);
  // KEYWARDEN CACHE STATS, per worker.
  const FeedSet& feed() const { return feed_; }
  const NearCache& cache() const { return cache_; }
  BlacklistSync& blacklist() { return sync_; }

  enum class Op : uint8_t { kNone, kGet, kExists, kMget, kHget, kHmget, kHgetall };
  static Op classify(const CommandInfo& cmd);

private:
  // What the stage does with a namespace, by namespace id and by counter id.
  struct Rule {
    enum Mode : uint8_t { kNone, kNear, kBlacklist } mode = kNone;
    uint32_t slot = 0;  // stats slot
    int64_t max_ttl_ms = 0;
    int replica = -1;
    bool fail_open = false;
    bool read_through = false;  // kNear: the namespace is filled from PostgreSQL on a miss
    uint32_t counter = 0;       // policy counter id
  };
  struct FillKey {
    std::string key;
    uint64_t hash = 0;
    uint64_t id = 0;  // 0: not to be stored
    int64_t pttl = 0;
    bool pttl_in = false;
    bool pttl_ok = false;
  };
  // A request forwarded by the stage, waiting for its reply (and, for a fill, the PTTLs).
  struct Pending {
    enum Kind : uint8_t { kFill, kWrite, kCheck } kind = kFill;
    Op op = Op::kNone;
    bool used = false;
    bool have_reply = false;
    bool flush_all = false;     // kWrite: FLUSHALL / FLUSHDB / SWAPDB
    bool fail_open = false;     // kCheck
    bool read_through = false;  // kFill of a GET in a read-through namespace
    int proto = 2;
    uint32_t counter = 0;  // policy counter id of the first key
    uint32_t slot = 0;     // stats slot of the first key
    uint32_t gen = 0;
    uint32_t pttl_outstanding = 0;
    int64_t sent_ms = 0;
    int64_t max_ttl_ms = 0;
    std::vector<FillKey> keys;
    size_t nkeys = 0;
    std::vector<std::string> fields;
    size_t nfields = 0;
    std::string reply;
  };

  // InvalidationConsumer (the near cache's part of the feed).
  void onInvalidate(std::string_view key) override;
  void onInvalidateAll() override;
  void onFeedDown() override;
  void onFeedUp() override {}

  void reconfigure();
  const Rule& ruleForNs(uint32_t ns) const;
  const Rule& ruleForKey(std::string_view key) const;
  Verdict onNearRead(StageRequest& req, Op op, const Rule& rule);
  Verdict onBlacklistRead(StageRequest& req, Op op);
  Verdict onWrite(StageRequest& req, const CommandInfo& cmd);
  bool handOverMiss(Pending* p, ReplySlot* slot, std::string_view reply);
  // Tries to answer from the cache into out_; false on any miss.
  // hit_ is then the reply (a view of the entry, or of out_).
  bool answerFromCache(Op op, std::span<const std::string_view> args, int proto, int64_t now);
  bool buildAnswer(Op op, std::span<const std::string_view> args, int proto, int64_t now);
  Verdict startFill(StageRequest& req, Op op, const Rule& rule, int64_t now);
  bool admit(uint64_t hash);

  uint64_t newPending(Pending::Kind kind);
  Pending* pending(uint64_t tag);
  void release(Pending* p);
  void onPttl(uint64_t tag, size_t key_index, std::string_view reply);
  void completeFill(Pending* p, std::string_view reply);

  Env env_;
  std::shared_ptr<const Config> config_;
  std::shared_ptr<const CompiledPolicy> policy_;
  std::vector<Rule> by_ns_;
  std::vector<Rule> by_counter_;
  Rule none_;
  bool active_ = false;          // some namespace is cached or a blacklist
  std::string cache_signature_;  // what is cached, to know when a reload changes it
  std::string blacklist_signature_;
  CacheAdmission admission_ = CacheAdmission::kFirstRead;
  std::vector<uint32_t> ghost_;  // second-read admission: fingerprints of keys read once

  NearCache cache_;
  FeedSet feed_;
  BlacklistSync sync_;
  std::vector<Pending> pending_;
  std::vector<uint32_t> free_;
  uint32_t next_gen_ = 1;
  std::shared_ptr<char> alive_ = std::make_shared<char>(0);

  int64_t next_gc_ms_ = 0;

  // Scratch, reused so the hit path allocates nothing.
  std::string out_;
  std::string_view hit_;
  std::vector<int> positions_;
  std::vector<std::optional<std::string_view>> values_;
  std::vector<std::string_view> views_;
  std::vector<std::optional<std::string_view>> opt_views_;
};

}  // namespace kw
