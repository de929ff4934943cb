#include "sentinel/sentinel_source.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "common/config_loader.h"
#include "common/log.h"
#include "common/net_address.h"
#include "proxy/shared_state.h"
#include "sentinel/sentinel_conn.h"
#include "sentinel/sentinel_replies.h"

namespace kw::sentinel {
namespace {

uint64_t nowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

constexpr std::string_view kRoleCommand = "*1\r\n$4\r\nROLE\r\n";
// A subscriber wakes this often to notice stop().
constexpr uint32_t kSubscriberTickMs = 200;
constexpr uint64_t kResubscribeMinMs = 100;
constexpr uint64_t kResubscribeMaxMs = 2000;

}  // namespace

SentinelSource::SentinelSource(const UpstreamConfig& upstream)
    : upstream_(upstream), subscribed_(upstream.sentinels.size(), false),
      sub_errors_(upstream.sentinels.size()) {}

SentinelSource::~SentinelSource() {
  stop();
}

std::string SentinelSource::name() const {
  return "sentinel master " + upstream_.master_name;
}

std::string_view SentinelSource::linkCheckCommand() const {
  return kRoleCommand;
}

bool SentinelSource::linkCheckPasses(std::string_view reply, std::string* why) const {
  return roleIsMaster(reply, why);
}

bool SentinelSource::staleNodeReply(std::string_view reply) const {
  return isReadonlyError(reply);
}

bool SentinelSource::start(SharedState* shared, std::string* error) {
  shared_ = shared;
  // The master must be known before a worker starts: no answer within the bound is a startup
  // error that names what each sentinel said.
  const uint64_t deadline = nowMs() + kStartupBoundMs;
  std::string why;
  for (;;) {
    if (lookup(RefreshCause::kStart, &why))
      break;
    if (nowMs() >= deadline) {
      *error = "no sentinel named master \"" + upstream_.master_name + "\" within " +
               std::to_string(kStartupBoundMs) + " ms (" + why + ")";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!topology_) {
      *error = "master \"" + upstream_.master_name + "\": " + last_error_;
      return false;
    }
  }
  thread_ = std::thread([this] { run(); });
  for (size_t i = 0; i < upstream_.sentinels.size(); ++i)
    subscribers_.emplace_back([this, i] { subscribe(i); });
  return true;
}

void SentinelSource::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stopping_flag_.store(true, std::memory_order_relaxed);
  cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
  for (std::thread& t : subscribers_)
    if (t.joinable())
      t.join();
  subscribers_.clear();
}

void SentinelSource::refresh(RefreshCause cause) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (requested_)
      return;
    requested_ = true;
    requested_cause_ = cause;
  }
  cv_.notify_all();
}

void SentinelSource::run() {
  setThreadLogName("sentinel");
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    const uint64_t since = nowMs() - last_lookup_ms_;
    if (requested_ && since < kMinIntervalMs) {
      cv_.wait_for(lock, std::chrono::milliseconds(kMinIntervalMs - since));
      continue;
    }
    if (!requested_ && since < kPeriodicMs) {
      cv_.wait_for(lock, std::chrono::milliseconds(kPeriodicMs - since));
      continue;
    }
    const RefreshCause cause = requested_ ? requested_cause_ : RefreshCause::kPeriodic;
    requested_ = false;
    lock.unlock();
    std::string why;
    lookup(cause, &why);
    lock.lock();
  }
}

bool SentinelSource::lookup(RefreshCause cause, std::string* error) {
  std::vector<HostPort> answers;
  std::string via;
  std::string errors;
  for (const HostPort& s : upstream_.sentinels) {
    if (stopping())
      break;
    const std::string sname = formatHostPort(s);
    SentinelConn conn;
    std::string why;
    std::string reply;
    if (!conn.connect(s, upstream_.connect_timeout_ms, upstream_.sentinel_username,
                      upstream_.sentinel_password, &why) ||
        !conn.command({"SENTINEL", "GET-MASTER-ADDR-BY-NAME", upstream_.master_name}, &reply,
                      &why)) {
      errors += (errors.empty() ? "" : "; ") + sname + ": " + why;
      continue;
    }
    const MasterAddrReply r = parseMasterAddrReply(reply);
    switch (r.kind) {
    case MasterAddrReply::Kind::kFound:
      if (answers.empty())
        via = sname;
      answers.push_back(r.addr);
      continue;
    case MasterAddrReply::Kind::kUnknown:
      why = "does not monitor \"" + upstream_.master_name + "\"";
      break;
    case MasterAddrReply::Kind::kError:
      why = std::string(r.error.substr(0, 200));
      break;
    case MasterAddrReply::Kind::kMalformed:
      why = "malformed reply";
      break;
    }
    errors += (errors.empty() ? "" : "; ") + sname + ": " + why;
  }
  std::lock_guard<std::mutex> lock(mu_);
  ++lookups_;
  last_lookup_ms_ = nowMs();
  last_cause_ = cause;
  if (answers.empty()) {
    ++lookup_failures_;
    if (last_error_ != errors)
      KW_LOG_WARN("sentinel: no sentinel named master \"%s\" (%s)", upstream_.master_name.c_str(),
                  errors.c_str());
    last_error_ = errors;
    *error = errors;
    return false;
  }
  last_error_ = errors;  // (the sentinels that did not answer, if any)
  apply(choice_.onLookup(answers, nowMs()), cause, via);
  if (!topology_) {
    *error = last_error_;
    return false;
  }
  return true;
}

void SentinelSource::apply(MasterChoice::Outcome outcome, RefreshCause cause,
                           const std::string& via) {
  if (outcome == MasterChoice::Outcome::kNone || !choice_.known())
    return;
  // kSame too: a master whose name did not resolve last time is published once it does.
  const HostPort master = choice_.master();
  if (topology_ && topology_->anyNode() != kNoNode &&
      topology_->node(topology_->anyNode()).name == formatHostPort(master))
    return;
  SocketAddress resolved;
  std::string why;
  if (!resolveHostPort(master, AddressUse::kConnect, &resolved, &why)) {
    last_error_ = "cannot resolve master " + formatHostPort(master) + ": " + why;
    KW_LOG_WARN("sentinel: %s", last_error_.c_str());
    return;
  }
  const std::string name = formatHostPort(master);
  auto topology = Topology::successor(topology_.get(), name, resolved.storage, ++generation_);
  last_change_ms_ = nowMs();
  last_via_ = via;
  if (topology_) {
    failovers_.store(choice_.failovers(), std::memory_order_relaxed);
    KW_LOG_WARN("sentinel: master \"%s\" is now %s (was %s; %s, from %s)",
                upstream_.master_name.c_str(), name.c_str(),
                formatHostPort(choice_.previous()).c_str(), refreshCauseName(cause), via.c_str());
  } else {
    KW_LOG_INFO("sentinel: master \"%s\" is %s (from %s)", upstream_.master_name.c_str(),
                name.c_str(), via.c_str());
  }
  topology_ = topology;
  shared_->publishTopology(std::move(topology));
}

// One sentinel's +switch-master subscription, for the life of the source: connect, AUTH,
// SUBSCRIBE, read messages; on any failure connect again after a backoff. A lookup follows every
// subscription: a switch published while this one was down is learned from it.
void SentinelSource::subscribe(size_t index) {
  setThreadLogName("sentinel-sub");
  const HostPort& s = upstream_.sentinels[index];
  const std::string sname = formatHostPort(s);
  uint64_t backoff = kResubscribeMinMs;
  bool warned = false;
  while (!stopping()) {
    SentinelConn conn;
    std::string why;
    std::string frame;
    bool ok =
        conn.connect(s, upstream_.connect_timeout_ms, upstream_.sentinel_username,
                     upstream_.sentinel_password, &why) &&
        conn.command({"SUBSCRIBE", kSwitchMasterChannel, kPromotedReplicaChannel}, &frame, &why);
    if (ok && (frame.empty() || frame[0] == '-')) {
      why = "SUBSCRIBE refused: " + frame.substr(0, std::min<size_t>(frame.find('\r'), 200));
      ok = false;
    }
    if (ok) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        subscribed_[index] = true;
        sub_errors_[index].clear();
      }
      if (warned)
        KW_LOG_INFO("sentinel: subscribed to +switch-master on %s again", sname.c_str());
      warned = false;
      backoff = kResubscribeMinMs;
      refresh(RefreshCause::kAnnounced);
      while (!stopping()) {
        const SentinelConn::Read r = conn.next(&frame, kSubscriberTickMs, &why);
        if (r == SentinelConn::Read::kTimeout)
          continue;
        if (r == SentinelConn::Read::kError)
          break;
        // +promoted-slave (the failover leader's, as soon as the new master is one) comes before
        // +switch-master (once the other replicas follow it): the earlier keywarden writes to
        // the new master, the fewer writes the old one takes that the failover then drops.
        std::string_view channel = kSwitchMasterChannel;
        SwitchMaster m = parseSwitchMaster(frame, upstream_.master_name);
        if (m.kind == SwitchMaster::Kind::kNotSwitch) {
          channel = kPromotedReplicaChannel;
          m = parsePromotedReplica(frame, upstream_.master_name);
        }
        if (m.kind == SwitchMaster::Kind::kMalformed)
          KW_LOG_WARN("sentinel %s: malformed %.*s message ignored", sname.c_str(),
                      static_cast<int>(channel.size()), channel.data());
        if (m.kind != SwitchMaster::Kind::kSwitch)
          continue;
        std::lock_guard<std::mutex> lock(mu_);
        ++switch_messages_;
        apply(choice_.onSwitch(m.from, m.to, nowMs()), RefreshCause::kAnnounced,
              sname + " " + std::string(channel));
      }
    }
    if (stopping())
      break;
    {
      std::lock_guard<std::mutex> lock(mu_);
      subscribed_[index] = false;
      sub_errors_[index] = why;
    }
    if (!warned)
      KW_LOG_WARN("sentinel: +switch-master subscription on %s lost (%s); retrying", sname.c_str(),
                  why.c_str());
    warned = true;
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(backoff), [this] { return stopping_; });
    backoff = std::min(backoff * 2, kResubscribeMaxMs);
  }
}

std::string SentinelSource::describe() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out = "mode:sentinel\r\nmaster_name:" + upstream_.master_name + "\r\n";
  out += "master:" + (choice_.known() ? formatHostPort(choice_.master()) : std::string()) + "\r\n";
  out += "previous_master:" +
         (choice_.previous().host.empty() ? std::string() : formatHostPort(choice_.previous())) +
         "\r\n";
  out += "failovers_seen:" + std::to_string(choice_.failovers()) + "\r\n";
  out += "sentinels:";
  for (size_t i = 0; i < upstream_.sentinels.size(); ++i) {
    if (i > 0)
      out += ',';
    out += formatHostPort(upstream_.sentinels[i]);
  }
  out += "\r\n";
  size_t live = 0;
  for (bool b : subscribed_)
    live += b ? 1 : 0;
  out += "sentinels_subscribed:" + std::to_string(live) + "\r\n";
  for (size_t i = 0; i < upstream_.sentinels.size(); ++i)
    out += "sentinel" + std::to_string(i) + ":" + formatHostPort(upstream_.sentinels[i]) +
           (subscribed_[i] ? ",subscribed" : ",down " + sub_errors_[i]) + "\r\n";
  out += "topology_generation:" + std::to_string(generation_) + "\r\n";
  out += "master_told_by:" + last_via_ + "\r\n";
  out += "switch_messages:" + std::to_string(switch_messages_) + "\r\n";
  out += "lookups:" + std::to_string(lookups_) + "\r\n";
  out += "lookup_failures:" + std::to_string(lookup_failures_) + "\r\n";
  out += "last_lookup_ms_ago:" + std::to_string(nowMs() - last_lookup_ms_) + "\r\n";
  out += std::string("last_lookup_cause:") + refreshCauseName(last_cause_) + "\r\n";
  out += "last_change_ms_ago:" +
         (last_change_ms_ ? std::to_string(nowMs() - last_change_ms_) : std::string()) + "\r\n";
  out += "last_error:" + last_error_ + "\r\n";
  return out;
}

}  // namespace kw::sentinel
