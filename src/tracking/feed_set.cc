#include "tracking/feed_set.h"

#include <algorithm>

#include "proxy/upstream_link.h"

namespace kw {

FeedSet::FeedSet(LinkPools* pools, Masters masters, Clock clock, Options options,
                 FeedCounters* counters)
    : pools_(pools), masters_(std::move(masters)), clock_(std::move(clock)),
      options_(std::move(options)), counters_(counters ? counters : &own_counters_) {
  syncMasters();
}

FeedSet::~FeedSet() {
  nodes_.clear();  // the feeds release their links; consumers hear nothing more
  if (covered_)
    counters_->covered.add(-1);
}

std::unique_ptr<FeedSet::Node> FeedSet::makeNode(NodeId id) {
  auto node = std::make_unique<Node>();
  node->id = id;
  std::string cause;
  LinkPool* pool = pools_->pool(id, &cause);
  Options o = options_;
  o.count_coverage = false;  // the set's own gauge says whether all of them are covered
  node->feed = std::make_unique<InvalidationFeed>(pool, clock_, std::move(o), counters_);
  for (const Subscriber& s : subscribers_) {
    node->relays.push_back(std::make_unique<Relay>(this, s.consumer));
    node->feed->subscribe(node->relays.back().get(), s.prefixes);
  }
  return node;
}

void FeedSet::syncMasters() {
  const std::vector<NodeId>& masters = masters_();
  bool same = masters.size() == nodes_.size();
  for (size_t i = 0; same && i < masters.size(); ++i)
    same = nodes_[i]->id == masters[i];
  if (same)
    return;
  // A new node's feed may fail at once (no link), telling its consumers while nodes_ is half
  // rebuilt: the combined state is worked out once the set is whole again.
  rechecking_ = true;
  std::vector<std::unique_ptr<Node>> next;
  for (NodeId m : masters) {
    auto it = std::find_if(nodes_.begin(), nodes_.end(),
                           [m](const std::unique_ptr<Node>& n) { return n && n->id == m; });
    if (it != nodes_.end())
      next.push_back(std::move(*it));
    else if (pools_->resolve(m) != kNoNode)
      next.push_back(makeNode(m));
  }
  nodes_ = std::move(next);  // feeds of former masters close here
  rechecking_ = false;
  recheck();
}

void FeedSet::subscribe(InvalidationConsumer* consumer, std::vector<std::string> prefixes) {
  auto it = std::find_if(subscribers_.begin(), subscribers_.end(),
                         [&](const Subscriber& s) { return s.consumer == consumer; });
  const size_t index = static_cast<size_t>(it - subscribers_.begin());
  if (it == subscribers_.end())
    subscribers_.push_back({consumer, prefixes});
  else
    it->prefixes = prefixes;
  for (auto& node : nodes_) {
    if (index == node->relays.size())
      node->relays.push_back(std::make_unique<Relay>(this, consumer));
    node->feed->subscribe(node->relays[index].get(), prefixes);
  }
  recheck();
}

void FeedSet::unsubscribe(InvalidationConsumer* consumer) {
  auto it = std::find_if(subscribers_.begin(), subscribers_.end(),
                         [&](const Subscriber& s) { return s.consumer == consumer; });
  if (it == subscribers_.end())
    return;
  const size_t index = static_cast<size_t>(it - subscribers_.begin());
  subscribers_.erase(it);
  for (auto& node : nodes_) {
    node->feed->unsubscribe(node->relays[index].get());
    node->relays.erase(node->relays.begin() + static_cast<ptrdiff_t>(index));
  }
  recheck();
}

void FeedSet::tick() {
  syncMasters();
  for (auto& node : nodes_)
    node->feed->tick();
}

void FeedSet::setOptions(Options options) {
  options_ = options;
  options.count_coverage = false;
  for (auto& node : nodes_)
    node->feed->setOptions(options);
}

void FeedSet::recheck() {
  if (rechecking_)
    return;  // a consumer's reaction changed a feed: the outer call sees the result
  rechecking_ = true;
  bool all = !nodes_.empty() && !subscribers_.empty();
  for (const auto& node : nodes_)
    all = all && node->feed->covered();
  while (all != covered_) {
    covered_ = all;
    counters_->covered.add(all ? 1 : -1);
    // Consumers may subscribe or unsubscribe from here: iterate over a copy.
    std::vector<InvalidationConsumer*> consumers;
    for (const Subscriber& s : subscribers_)
      consumers.push_back(s.consumer);
    for (InvalidationConsumer* c : consumers) {
      if (all)
        c->onFeedUp();
      else
        c->onFeedDown();
    }
    all = !nodes_.empty() && !subscribers_.empty();
    for (const auto& node : nodes_)
      all = all && node->feed->covered();
  }
  rechecking_ = false;
}

const std::vector<std::string>& FeedSet::prefixes() const {
  static const std::vector<std::string> kNone;
  return nodes_.empty() ? kNone : nodes_.front()->feed->prefixes();
}

std::string FeedSet::stateName() const {
  if (nodes_.empty())
    return subscribers_.empty() ? "off" : "waiting";
  if (nodes_.size() == 1)
    return nodes_.front()->feed->stateName();
  size_t up = 0;
  const InvalidationFeed* first_down = nullptr;
  for (const auto& node : nodes_) {
    if (node->feed->covered())
      ++up;
    else if (!first_down)
      first_down = node->feed.get();
  }
  if (!first_down)
    return "covered";
  return std::string(first_down->stateName()) + " " + std::to_string(up) + "/" +
         std::to_string(nodes_.size()) + " covered";
}

const std::string& FeedSet::lastCause() const {
  static const std::string kNone;
  for (const auto& node : nodes_)
    if (!node->feed->lastCause().empty())
      return node->feed->lastCause();
  return kNone;
}

int64_t FeedSet::upstreamId() const {
  return nodes_.empty() ? -1 : nodes_.front()->feed->upstreamId();
}

}  // namespace kw
