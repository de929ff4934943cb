#include "pg/read_through_hub.h"

#include <cstdio>

#include "pg/read_through_stage.h"
#include "proxy/resp_writer.h"

namespace kw::pg {
namespace {

// The conninfo with its password, if any, masked (for operators' eyes).
std::string maskedConninfo(const std::string& conninfo) {
  std::string out = conninfo;
  size_t at = 0;
  while ((at = out.find("password", at)) != std::string::npos) {
    size_t eq = out.find('=', at);
    if (eq == std::string::npos)
      break;
    size_t v = eq + 1;
    while (v < out.size() && out[v] == ' ')
      ++v;
    size_t end = v;
    if (end < out.size() && out[end] == '\'') {
      ++end;
      while (end < out.size() && out[end] != '\'')
        end += out[end] == '\\' ? 2 : 1;
      end = std::min(end + 1, out.size());
    } else {
      while (end < out.size() && out[end] != ' ')
        ++end;
    }
    out.replace(v, end - v, "***");
    at = v + 3;
  }
  return out;
}

}  // namespace

ReadThroughHub::ReadThroughHub(const PgConfig& cfg) : cfg_(cfg) {
  for (const auto& s : cfg_.sources)
    sources_.push_back(std::make_unique<SourceState>(s));
  for (size_t i = 0; i < cfg_.read_through.size(); ++i) {
    const ReadThroughConfig& rt = cfg_.read_through[i];
    size_t src = 0;
    for (size_t s = 0; s < cfg_.sources.size(); ++s)
      if (cfg_.sources[s].name == rt.source)
        src = s;
    auto pattern = KeyPattern::parse(rt.pattern, nullptr);
    if (!pattern)
      continue;  // the loader reported it; it never gets here
    namespaces_.push_back(std::make_unique<RtNamespace>(rt, src, std::move(*pattern), i));
  }
}

int ReadThroughHub::findNamespace(std::string_view name) const {
  for (size_t i = 0; i < namespaces_.size(); ++i)
    if (namespaces_[i]->cfg.ns == name)
      return static_cast<int>(i);
  return -1;
}

std::unique_ptr<RequestStage> ReadThroughHub::makeStage(Worker* worker) {
  return std::make_unique<ReadThroughStage>(worker, this);
}

std::string ReadThroughHub::infoSection() const {
  std::string out = "# ReadThrough\r\n";
  auto line = [&out](const std::string& k, const std::string& v) { out += k + ":" + v + "\r\n"; };
  for (const auto& s : sources_) {
    const auto snap = s->snapshot();
    const std::string p = "source_" + s->config().name + "_";
    line(p + "circuit", CircuitBreaker::stateName(snap.state));
    line(p + "circuit_opened", std::to_string(snap.opened));
    line(p + "connections", std::to_string(s->conns_ready.load()));
    line(p + "connections_busy", std::to_string(s->conns_busy.load()));
    line(p + "queries", std::to_string(read(s->queries)));
    line(p + "errors", std::to_string(read(s->errors)));
    line(p + "timeouts", std::to_string(read(s->timeouts)));
    line(p + "listening", s->listening.load() ? "1" : "0");
    line(p + "listen_losses", std::to_string(read(s->listen_losses)));
    line(p + "suspects_deleted", std::to_string(read(s->suspects_deleted)));
    line(p + "inflight_fills", std::to_string(s->table().flights()));
    line(p + "negative_entries", std::to_string(s->table().negatives()));
    line(p + "fill_records", std::to_string(s->table().fillRecords()));
    line(p + "fill_records_dropped", std::to_string(s->table().recordsDropped()));
  }
  for (const auto& n : namespaces_) {
    const ReadThroughStats& st = n->stats;
    const std::string p = "ns_" + n->cfg.ns + "_";
    line(p + "misses", std::to_string(read(st.misses)));
    line(p + "fills", std::to_string(read(st.fills)));
    line(p + "fill_lost_race", std::to_string(read(st.fill_lost_race)));
    line(p + "missing_rows", std::to_string(read(st.missing_rows)));
    line(p + "negative_hits", std::to_string(read(st.negative_hits)));
    line(p + "coalesced", std::to_string(read(st.coalesced)));
    line(p + "queries", std::to_string(read(st.queries)));
    line(p + "direct", std::to_string(read(st.direct)));
    line(p + "warmed", std::to_string(read(st.warmed)));
    line(p + "notifications", std::to_string(read(st.notifications)));
    line(p + "invalidations", std::to_string(read(st.invalidations)));
    for (size_t k = 2; k < kOutcomeKinds; ++k)
      line(p + "errors_" + kindName(static_cast<RowOutcome::Kind>(k)),
           std::to_string(read(st.errors[k])));
    const uint64_t count = read(st.latency.count);
    char avg[32];
    snprintf(avg, sizeof avg, "%.3f",
             count ? static_cast<double>(read(st.latency.sum_us)) / 1000.0 /
                         static_cast<double>(count)
                   : 0.0);
    line(p + "query_latency_avg_ms", avg);
    line(p + "circuit", CircuitBreaker::stateName(sources_[n->source]->snapshot().state));
  }
  return out;
}

std::string ReadThroughHub::sourcesReply(int proto) const {
  std::string out;
  resp::arrayHeader(&out, static_cast<int64_t>(sources_.size()));
  for (const auto& s : sources_) {
    const auto snap = s->snapshot();
    std::vector<std::string> channels;
    std::string namespaces;
    for (const auto& n : namespaces_) {
      if (&*sources_[n->source] != &*s)
        continue;
      namespaces += (namespaces.empty() ? "" : ",") + n->cfg.ns;
    }
    const std::pair<const char*, std::string> fields[] = {
        {"name", s->config().name},
        {"conninfo", maskedConninfo(s->config().conninfo)},
        {"namespaces", namespaces},
        {"circuit", CircuitBreaker::stateName(snap.state)},
        {"circuit_cause", snap.cause},
        {"consecutive_failures", std::to_string(snap.consecutive_failures)},
        {"circuit_opened", std::to_string(snap.opened)},
        {"connections", std::to_string(s->conns_ready.load())},
        {"connections_connecting", std::to_string(s->conns_connecting.load())},
        {"connections_busy", std::to_string(s->conns_busy.load())},
        {"connections_per_worker", std::to_string(s->config().connections)},
        {"queries", std::to_string(read(s->queries))},
        {"errors", std::to_string(read(s->errors))},
        {"timeouts", std::to_string(read(s->timeouts))},
        {"connects", std::to_string(read(s->connects))},
        {"connect_failures", std::to_string(read(s->connect_failures))},
        {"last_error", snap.last_error},
        {"listening", s->listening.load() ? "yes" : "no"},
        {"listen_losses", std::to_string(read(s->listen_losses))},
        {"suspects_deleted", std::to_string(read(s->suspects_deleted))},
        {"fill_records_dropped", std::to_string(s->table().recordsDropped())},
    };
    resp::mapHeader(&out, proto, static_cast<int64_t>(std::size(fields)));
    for (const auto& [k, v] : fields) {
      resp::bulk(&out, k);
      resp::bulk(&out, v);
    }
  }
  return out;
}

}  // namespace kw::pg
