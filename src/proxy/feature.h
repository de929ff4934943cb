// What a feature (src/cache/, src/ratelimit/, src/pg/, src/budget/...) brings to the core, through
// one small interface. The composition root (src/app/features.cc) makes the features from the
// configuration, in chain order, and hands them to the server; the core calls them at the points
// below and includes no feature header. Making a feature do more (cluster-aware, say) touches that
// feature's folder only.
//
//   point                    when                                   the feature
//   startWorker              a worker's loop starts (its thread)    adds its request stage, gate,
//                                                                   background service
//   keywarden                KEYWARDEN <sub> from an admin          answers its subcommands
//   keywardenHelp            KEYWARDEN HELP                         lists them
//   appendInfo               INFO keywarden / INFO <its section>    adds lines / its own section
//   namespaceFields          KEYWARDEN NAMESPACES                   adds fields per namespace
//   appendConfig             KEYWARDEN CONFIG GET                   lists its settings
//   appendMetrics            a Prometheus scrape (main thread)      appends its metric families
//   keepOnReload             a reload                               keeps (and names) settings it
//                                                                   cannot change while running
//
// Threads: startWorker and keywarden run on a worker's thread; appendInfo, namespaceFields and
// appendConfig on the asking client's worker; appendMetrics on the main thread. A feature's state
// shared between threads is its own, clearly named thread-safe structure.
#pragma once

#include <prometheus/metric_family.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kw {

struct Config;
class CompiledPolicy;
struct ReplySlot;
class Worker;

// An operator command a feature answers (KEYWARDEN <sub> ...), after the policy gates (admins
// only). Implemented by the session.
class AdminRequest {
public:
  // "KEYWARDEN", the subcommand, its arguments.
  virtual std::span<const std::string_view> args() const = 0;
  virtual int proto() const = 0;
  virtual Worker& worker() const = 0;
  // Answers now, with complete RESP bytes; or an error (without "-" and CRLF).
  virtual void reply(std::string_view resp) = 0;
  virtual void replyError(std::string_view error) = 0;
  // The request's slot, to answer later with Session::deliver(worker, slot, bytes) (on this
  // worker's thread); it keeps its place in the client's reply order.
  virtual ReplySlot* hold() = 0;

protected:
  ~AdminRequest() = default;
};

using ConfigEntries = std::vector<std::pair<std::string, std::string>>;

class Feature {
public:
  virtual ~Feature() = default;
  virtual std::string_view name() const = 0;

  virtual void startWorker(Worker& /*worker*/) {}

  // True if `sub` (lower case) is one of its KEYWARDEN subcommands; it has then answered.
  virtual bool keywarden(std::string_view /*sub*/, AdminRequest& /*req*/) { return false; }
  virtual void keywardenHelp(std::vector<std::string>* /*lines*/) const {}

  // INFO: lines at the end of the "keywarden" section (`section` is "keywarden"), or a section
  // of its own (`section` is its name, or empty for INFO / INFO all / everything).
  virtual void appendInfo(std::string_view /*section*/, const Config& /*config*/,
                          const CompiledPolicy& /*policy*/, std::string* /*out*/) const {}
  // Its own INFO section names ("readthrough"), so INFO <name> is known to be the proxy's.
  virtual std::vector<std::string_view> infoSections() const { return {}; }

  // KEYWARDEN NAMESPACES: the fields it adds to namespace `ns` (index in the configuration),
  // appended to *out as RESP key/value pairs, *count incremented per field.
  virtual void namespaceFields(const Config& /*config*/, uint32_t /*ns*/,
                               std::string_view /*ns_name*/, std::string* /*out*/,
                               int64_t* /*count*/) const {}

  virtual void appendConfig(const Config& /*config*/, ConfigEntries* /*out*/) const {}
  // `ns_labels[i]` labels namespace counter slot i, as the core's families label them.
  virtual void appendMetrics(const std::vector<std::string>& /*ns_labels*/,
                             std::vector<prometheus::MetricFamily>* /*out*/) const {}
  // A reload: settings it cannot change while running are put back in `next` as they are in
  // `current`, and named in *needs_restart.
  virtual void keepOnReload(const Config& /*current*/, Config* /*next*/,
                            std::vector<std::string>* /*needs_restart*/) const {}
};

// The features of one process, in chain order; fixed once the server starts.
using Features = std::vector<std::unique_ptr<Feature>>;

}  // namespace kw
