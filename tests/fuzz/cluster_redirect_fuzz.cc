// Reads the input as a node's error reply. A MOVED/ASK is either followed with a slot, a port
// and a host that lie inside the input, or marked malformed; nothing else is ever both.
#include <cstdint>
#include <string_view>

#include "cluster/redirect.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kw::cluster;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const Redirect r = parseClusterError(in);
  FUZZ_CHECK(!(r.malformed && r.kind != ClusterError::kNone));
  if (r.kind == ClusterError::kMoved || r.kind == ClusterError::kAsk) {
    FUZZ_CHECK(r.slot < kSlotCount);
    FUZZ_CHECK(r.port != 0);
    FUZZ_CHECK((r.endpoint == Endpoint::kAddress) == !r.host.empty());
    if (!r.host.empty()) {
      FUZZ_CHECK(r.host.data() >= in.data() && r.host.data() + r.host.size() <= in.data() + size);
      FUZZ_CHECK(r.host.find_first_of(" \r\n[]") == std::string_view::npos);
    }
  } else {
    FUZZ_CHECK(r.host.empty() && r.port == 0);
  }
  FUZZ_CHECK(clusterErrorName(r.kind) != nullptr);
  return 0;
}
