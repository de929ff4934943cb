#include "tracking/invalidation_feed.h"

#include <algorithm>

#include "common/log.h"
#include "proxy/resp_writer.h"
#include "tracking/tracking_frames.h"

namespace kw {

InvalidationFeed::InvalidationFeed(LinkPool* pool, Clock clock, Options options,
                                   FeedCounters* counters)
    : pool_(pool), clock_(std::move(clock)), options_(std::move(options)),
      counters_(counters ? counters : &own_counters_) {}

InvalidationFeed::~InvalidationFeed() {
  if (link_) {
    UpstreamLink* l = link_;
    link_ = nullptr;
    pool_->release(l);  // a streaming link is closed, never pooled
  }
  if (state_ == State::kCovered && options_.count_coverage)
    counters_->covered.add(-1);
}

const char* InvalidationFeed::stateName() const {
  switch (state_) {
  case State::kOff:
    return "off";
  case State::kWaiting:
    return "waiting";
  case State::kStarting:
    return "starting";
  case State::kCovered:
    return "covered";
  }
  return "?";
}

void InvalidationFeed::subscribe(InvalidationConsumer* consumer,
                                 std::vector<std::string> prefixes) {
  auto it = std::find_if(subscribers_.begin(), subscribers_.end(),
                         [&](const Subscriber& s) { return s.consumer == consumer; });
  if (it == subscribers_.end())
    subscribers_.push_back({consumer, std::move(prefixes)});
  else
    it->prefixes = std::move(prefixes);
  recompute();
}

void InvalidationFeed::unsubscribe(InvalidationConsumer* consumer) {
  subscribers_.erase(std::remove_if(subscribers_.begin(), subscribers_.end(),
                                    [&](const Subscriber& s) { return s.consumer == consumer; }),
                     subscribers_.end());
  recompute();
}

void InvalidationFeed::recompute() {
  std::vector<std::string> all;
  for (const Subscriber& s : subscribers_)
    all.insert(all.end(), s.prefixes.begin(), s.prefixes.end());
  std::vector<std::string> next = nonOverlappingPrefixes(std::move(all));
  if (next == prefixes_ && state_ != State::kOff)
    return;
  const bool was_running = state_ != State::kOff;
  prefixes_ = std::move(next);
  if (prefixes_.empty()) {
    if (was_running)
      lose("no prefixes to track", /*retry_now=*/false, /*quiet=*/true);
    state_ = State::kOff;
    return;
  }
  // Another set of prefixes needs another CLIENT TRACKING on a fresh connection (a second one on
  // the same connection would have to avoid overlapping the prefixes already registered there).
  if (was_running)
    lose("tracked prefixes changed", /*retry_now=*/true);
  connect();
}

void InvalidationFeed::connect() {
  const int64_t now = clock_();
  std::string cause;
  link_ = pool_->acquire(3, this, &cause);
  if (!link_) {
    lose(cause.empty() ? "no connection" : cause);
    return;
  }
  state_ = State::kStarting;
  last_heard_ms_ = now;
  last_ping_ms_ = now;
  expected_.clear();
  expected_head_ = 0;
  std::string cmds;
  resp::arrayHeader(&cmds, 3);
  resp::bulk(&cmds, "CLIENT");
  resp::bulk(&cmds, "SETNAME");
  resp::bulk(&cmds, options_.client_name);
  expected_.push_back(Expect::kName);
  resp::arrayHeader(&cmds, static_cast<int64_t>(4 + 2 * prefixes_.size()));
  resp::bulk(&cmds, "CLIENT");
  resp::bulk(&cmds, "TRACKING");
  resp::bulk(&cmds, "on");
  resp::bulk(&cmds, "BCAST");
  for (const std::string& p : prefixes_) {
    resp::bulk(&cmds, "PREFIX");
    resp::bulk(&cmds, p);
  }
  expected_.push_back(Expect::kTracking);
  link_->startStreaming(cmds);
}

void InvalidationFeed::tick() {
  const int64_t now = clock_();
  switch (state_) {
  case State::kOff:
    return;
  case State::kWaiting:
    if (now >= retry_at_ms_)
      connect();
    return;
  case State::kStarting:
  case State::kCovered:
    break;
  }
  if (now - last_heard_ms_ > static_cast<int64_t>(options_.timeout_ms)) {
    lose("nothing heard for " + std::to_string(now - last_heard_ms_) + " ms");
    return;
  }
  if (now - last_ping_ms_ >= static_cast<int64_t>(options_.heartbeat_ms) && link_) {
    static constexpr std::string_view kPing = "*1\r\n$4\r\nPING\r\n";
    last_ping_ms_ = now;
    expected_.push_back(Expect::kPong);
    link_->sendStreaming(kPing);
  }
}

void InvalidationFeed::onStreamBytes(std::string_view frame) {
  if (state_ != State::kStarting && state_ != State::kCovered)
    return;  // a frame of a link being dropped
  last_heard_ms_ = clock_();
  switch (parseFeedFrame(frame, &keys_)) {
  case FeedFrameKind::kReply:
    return onReply(frame);
  case FeedFrameKind::kInvalidateKeys:
    counters_->keys.add(keys_.size());
    return dispatch(keys_);
  case FeedFrameKind::kInvalidateAll:
    counters_->flushes.add();
    for (size_t i = 0; i < subscribers_.size(); ++i)
      subscribers_[i].consumer->onInvalidateAll();
    return;
  case FeedFrameKind::kOtherPush:
    return;
  case FeedFrameKind::kMalformed:
    KW_LOG_ERROR("invalidation feed: malformed invalidation frame; dropping the feed");
    return lose("malformed invalidation frame");
  }
}

void InvalidationFeed::dispatch(const std::vector<std::string_view>& keys) {
  for (std::string_view key : keys)
    for (size_t i = 0; i < subscribers_.size(); ++i)
      if (underAnyPrefix(key, subscribers_[i].prefixes))
        subscribers_[i].consumer->onInvalidate(key);
}

void InvalidationFeed::onReply(std::string_view frame) {
  if (expected_head_ >= expected_.size()) {
    // A reply nobody asked for (e.g. Redis 7.0's second reply to a CLIENT TRACKING with
    // overlapping prefixes): the replies are out of step, so nothing after it can be trusted.
    KW_LOG_ERROR("invalidation feed: a reply with no request waiting; dropping the feed");
    return lose("unexpected reply");
  }
  const Expect what = expected_[expected_head_++];
  if (expected_head_ == expected_.size()) {
    expected_.clear();
    expected_head_ = 0;
  }
  const bool ok = frame == "+OK\r\n" || (what == Expect::kPong && frame == "+PONG\r\n");
  if (!ok) {
    std::string line(frame.substr(0, std::min<size_t>(frame.find('\r'), 200)));
    if (what == Expect::kPong && !line.empty() && line[0] == '-') {
      // -LOADING, -BUSY...: Redis is there but not serving; what it tracks is not known.
      return lose("heartbeat answered " + line);
    }
    if (what != Expect::kName) {
      KW_LOG_ERROR("invalidation feed: %s answered %s",
                   what == Expect::kTracking ? "CLIENT TRACKING" : "PING", line.c_str());
      return lose("answered " + line);
    }
    return;  // a name refused changes nothing
  }
  if (what == Expect::kTracking)
    becomeCovered();
}

void InvalidationFeed::becomeCovered() {
  state_ = State::kCovered;
  backoff_ms_ = 0;
  counters_->established.add();
  if (options_.count_coverage)
    counters_->covered.add(1);
  if (warned_)
    KW_LOG_WARN("invalidation feed is back (tracking %zu prefixes)", prefixes_.size());
  else
    KW_LOG_DEBUG("invalidation feed covering %zu prefixes", prefixes_.size());
  warned_ = false;
  for (size_t i = 0; i < subscribers_.size() && state_ == State::kCovered; ++i)
    subscribers_[i].consumer->onFeedUp();
}

void InvalidationFeed::onLinkLost(UpstreamLink* link) {
  if (link != link_)
    return;
  link_ = nullptr;  // it is gone (and frees itself)
  lose(link->downCause().empty() ? std::string("connection lost") : link->downCause());
}

void InvalidationFeed::lose(std::string_view cause, bool retry_now, bool quiet) {
  const bool was_covered = state_ == State::kCovered;
  const bool was_live = state_ == State::kStarting || was_covered;
  last_cause_.assign(cause);
  if (link_) {
    UpstreamLink* l = link_;
    link_ = nullptr;
    pool_->release(l);  // closed: a streaming link is never pooled
  }
  expected_.clear();
  expected_head_ = 0;
  state_ = State::kWaiting;
  const int64_t now = clock_();
  if (retry_now) {
    retry_at_ms_ = now;
  } else {
    backoff_ms_ = backoff_ms_ == 0 ? options_.backoff_min_ms
                                   : std::min(backoff_ms_ * 2, options_.backoff_max_ms);
    retry_at_ms_ = now + backoff_ms_;
  }
  if (was_covered) {
    if (options_.count_coverage)
      counters_->covered.add(-1);
    counters_->losses.add();
  }
  if (!warned_ && !retry_now && !quiet && (was_covered || was_live || backoff_ms_ >= 1000)) {
    KW_LOG_WARN("invalidation feed lost (%.*s): cached reads go to Redis until it is back",
                static_cast<int>(cause.size()), cause.data());
    warned_ = true;
  }
  // Consumers hear it whatever the state was: nothing they hold may be trusted now.
  for (size_t i = 0; i < subscribers_.size(); ++i)
    subscribers_[i].consumer->onFeedDown();
}

}  // namespace kw
