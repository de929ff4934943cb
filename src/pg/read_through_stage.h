// PostgreSQL read-through on the request path (a RequestStage, request_stage.h), one per worker.
//
//   GET k / MGET k...  (plain state, a read-through namespace)
//     -> forwarded to Redis as it is (forward(raw, this, tag))
//     -> onReply: a value -> the client gets Redis's bytes untouched (the hit path)
//                 nil on a read-through key -> the slot is kept, and the key is filled:
//       negative cache? -> nil.   circuit open? -> -ERR source 'x' unavailable (cause) at once.
//       single-flight (FillTable::join): the first miss of the key in the process queries
//       PostgreSQL on its worker's SourcePool; later misses wait for it.
//       found -> SET k v EX ttl NX GET (a value written meanwhile wins and is served)
//       -> every waiter's slot is completed with the result, on its own worker.
//     Redis down (forward refused, or -UPSTREAMDOWN as the reply) -> the same fill from
//     PostgreSQL without the SET (counted as direct).
//
//   KEYWARDEN SOURCES | WARM <namespace> <id>...  are answered here too (operators).
//
// Worker 0's stage also owns the LISTEN connection of each source with notify channels
// (pg_listener.h): a notification deletes the key in Redis (DEL on worker 0's UpstreamClient)
// and forgets the key's negative entry; after a lost LISTEN connection comes back, every key
// this process filled before that moment is deleted (FillTable's fill record).
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pg/fill_table.h"
#include "pg/read_through_hub.h"
#include "pg/row_result.h"
#include "proxy/request_stage.h"

namespace kw {
class Worker;
struct ReplySlot;
}  // namespace kw

namespace kw::pg {

class PgListener;

// What a fill answers its waiters.
struct FillResult {
  RowOutcome::Kind kind = RowOutcome::Kind::kUnavailable;
  uint32_t ns = 0;        // read-through namespace index (for error texts)
  std::string value;      // kFound: the value served; an error kind: the cause
  std::string raw_error;  // a Redis error to pass through as it is (SET ... GET's WRONGTYPE)
  bool filled = false;    // this fill wrote the value to Redis
};

class ReadThroughStage final : public RequestStage, public MissFiller {
public:
  ReadThroughStage(Worker* worker, ReadThroughHub* hub);
  ~ReadThroughStage() override;
  bool takeMiss(ReplySlot* slot, int proto, uint32_t ns_counter, std::string_view key,
                bool redis_answered) override;

  Verdict onRequest(StageRequest& req) override;
  std::string_view onReply(uint64_t tag, ReplySlot* slot, std::string_view reply,
                           std::string* scratch, bool* kept) override;

  // A flight's result for one of this stage's waiters (on this worker's thread).
  void onResult(uint64_t waiter, const FillResult& result);
  // From this worker's PgListener.
  void onNotification(size_t source, std::string_view channel, std::string_view payload);
  void onListening(size_t source, uint64_t since_ms);

  // Encodes a result as the reply of a GET for a client speaking `proto`.
  static std::string encode(const ReadThroughHub& hub, const FillResult& r, int proto);

private:
  struct Forwarded {
    uint32_t gen = 0;
    bool used = false;
    bool mget = false;
    bool all_read_through = false;  // MGET: every key is a read-through key
    int proto = 2;
    uint64_t created_ms = 0;
    int32_t ns = -1;  // GET
    std::string key;  // GET
    // MGET: for each argument that is a read-through key, (element index, namespace, key).
    struct Item {
      uint32_t index;
      int32_t ns;
      std::string key;
    };
    std::vector<Item> items;
  };
  enum class WaiterKind : uint8_t { kGet, kMget, kWarm };
  struct WaiterInfo {
    WaiterKind kind = WaiterKind::kGet;
    ReplySlot* slot = nullptr;  // kGet
    int proto = 2;
    uint64_t group = 0;  // kMget, kWarm: the assembly
    uint32_t index = 0;  // element
  };
  // An MGET (or WARM) waiting for several fills.
  struct Assembly {
    ReplySlot* slot = nullptr;
    int proto = 2;
    bool warm = false;
    std::vector<std::string> frames;
    std::vector<std::string> labels;  // WARM: the ids
    size_t pending = 0;
    std::string error;  // MGET: the first fill error (the whole reply becomes it)
  };

  int32_t nsOfCounter(uint32_t counter_id) const {
    return counter_id < ns_by_counter_.size() ? ns_by_counter_[counter_id] : -1;
  }
  int32_t nsOfKey(std::string_view key) const;
  bool paramsOf(size_t ns, std::string_view key, std::vector<std::string>* params) const;
  uint64_t newForwarded();
  Forwarded* forwarded(uint64_t tag);  // nullptr: unknown or reclaimed
  void release(uint64_t tag);
  void sweepForwarded();
  // The key of namespace `n` whose params have `values`; false if it does not fit the pattern.
  static bool buildKey(const RtNamespace& n, const std::vector<std::string>& values,
                       std::string* key);

  Verdict onGet(StageRequest& req);
  Verdict onMget(StageRequest& req);
  Verdict onKeywarden(StageRequest& req);
  void fillGet(ReplySlot* slot, int proto, size_t ns, const std::string& key, bool redis_ok);
  void fillMget(ReplySlot* slot, Forwarded& f, std::string_view reply, bool redis_ok);
  uint64_t addWaiter(WaiterInfo w);
  // Starts (or joins) the fill of `key`; the result reaches waiter `id` through onResult.
  void startFill(size_t ns, const std::string& key, uint64_t id, bool redis_ok);
  void onQueryDone(size_t ns, const std::string& key, bool redis_ok, RowOutcome&& o,
                   uint64_t latency_us);
  void onSetReply(size_t ns, const std::string& key, const std::string& value,
                  std::string_view reply);
  void finishFlight(size_t ns, const std::string& key, const FillResult& r);
  void deliverToWaiters(const std::vector<FillTable::Waiter>& waiters, const FillResult& r);
  void deliverLater(uint64_t waiter, FillResult r);
  void completeAssembly(uint64_t group);
  void refreshNamespaceMap();

  void drainDeferred();
  static void onProbeTimer(uv_timer_t* t);

  Worker* worker_;
  ReadThroughHub* hub_;
  std::vector<std::unique_ptr<SourcePool>> pools_;      // by source
  std::vector<std::unique_ptr<PgListener>> listeners_;  // worker 0 only
  std::vector<int32_t> ns_by_counter_;  // policy counter id -> read-through namespace, or -1
  const void* mapped_policy_ = nullptr;

  std::vector<Forwarded> forwarded_;
  std::vector<uint32_t> free_forwarded_;
  std::unordered_map<uint64_t, WaiterInfo> waiters_;
  uint64_t next_waiter_ = 1;
  std::unordered_map<uint64_t, Assembly> assemblies_;
  uint64_t next_group_ = 1;
  std::vector<std::pair<uint64_t, FillResult>> deferred_;
  uv_timer_t* probe_timer_ = nullptr;
  uint64_t ticks_ = 0;
};

}  // namespace kw::pg
