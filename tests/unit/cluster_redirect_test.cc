#include <string>
#include <string_view>

#include <doctest.h>

#include "cluster/redirect.h"

namespace kw::cluster {
namespace {

TEST_CASE("redirect: MOVED and ASK as a Redis 7 cluster node sends them") {
  // Captured from a 7.0.15 node (GET on the wrong node; GET during a slot migration).
  Redirect r = parseClusterError("-MOVED 12182 127.0.0.1:38385\r\n");
  CHECK(r.kind == ClusterError::kMoved);
  CHECK_FALSE(r.malformed);
  CHECK(r.slot == 12182);
  CHECK(r.endpoint == Endpoint::kAddress);
  CHECK(r.host == "127.0.0.1");
  CHECK(r.port == 38385);
  r = parseClusterError("-ASK 12182 127.0.0.1:44975\r\n");
  CHECK(r.kind == ClusterError::kAsk);
  CHECK(r.slot == 12182);
  CHECK(r.host == "127.0.0.1");
  CHECK(r.port == 44975);
}

TEST_CASE("redirect: IPv6 and host names") {
  Redirect r = parseClusterError("-MOVED 0 2001:db8::1:6379\r\n");
  CHECK(r.kind == ClusterError::kMoved);
  CHECK(r.host == "2001:db8::1");
  CHECK(r.port == 6379);
  r = parseClusterError("-ASK 16383 [::1]:7000\r\n");
  CHECK(r.kind == ClusterError::kAsk);
  CHECK(r.slot == 16383);
  CHECK(r.host == "::1");
  CHECK(r.port == 7000);
  r = parseClusterError("-MOVED 3999 clustercfg.cache-01.abc123.use1.cache.example.com:6379\r\n");
  CHECK(r.kind == ClusterError::kMoved);
  CHECK(r.host == "clustercfg.cache-01.abc123.use1.cache.example.com");
}

TEST_CASE("redirect: unknown endpoints (\"\" and \"?\")") {
  Redirect r = parseClusterError("-MOVED 3999 :6381\r\n");
  CHECK(r.kind == ClusterError::kMoved);
  CHECK(r.endpoint == Endpoint::kSameAsSeed);
  CHECK(r.host.empty());
  CHECK(r.port == 6381);
  r = parseClusterError("-ASK 3999 ?:6381\r\n");
  CHECK(r.kind == ClusterError::kAsk);
  CHECK(r.endpoint == Endpoint::kUnknown);
  CHECK(r.host.empty());
}

TEST_CASE("redirect: the other cluster errors, by their first word") {
  CHECK(parseClusterError("-TRYAGAIN Multiple keys request during rehashing of slot\r\n").kind ==
        ClusterError::kTryAgain);
  CHECK(parseClusterError("-CLUSTERDOWN Hash slot not served\r\n").kind ==
        ClusterError::kClusterDown);
  CHECK(parseClusterError("-CLUSTERDOWN The cluster is down\r\n").kind ==
        ClusterError::kClusterDown);
  CHECK(parseClusterError("-CROSSSLOT Keys in request don't hash to the same slot\r\n").kind ==
        ClusterError::kCrossSlot);
  CHECK(parseClusterError("-TRYAGAIN\r\n").kind == ClusterError::kTryAgain);
  // RESP3 blob error.
  CHECK(parseClusterError("!21\r\nMOVED 1 10.0.0.2:7001\r\n").kind == ClusterError::kMoved);
  CHECK(parseClusterError("!21\r\nMOVED 1 10.0.0.2:7001\r\n").port == 7001);
}

TEST_CASE("redirect: what is not a cluster error") {
  for (std::string_view s :
       {"+OK\r\n", "$5\r\nMOVED\r\n", "-ERR MOVED 1 h:1\r\n", "-MOVEDX 1 h:1\r\n", "-ASKING\r\n",
        "-TRYAGAINX\r\n", "-moved 1 h:1\r\n", "", "-MOVED 1 h:1", ":1\r\n",
        "-WRONGTYPE Operation\r\n"}) {
    CAPTURE(std::string(s));
    const Redirect r = parseClusterError(s);
    CHECK(r.kind == ClusterError::kNone);
    CHECK_FALSE(r.malformed);
  }
}

TEST_CASE("redirect: a MOVED or ASK that cannot be followed is malformed, not followed") {
  for (std::string_view s :
       {"-MOVED\r\n", "-MOVED \r\n", "-MOVED 1\r\n", "-MOVED 1 \r\n", "-MOVED x h:1\r\n",
        "-MOVED 16384 h:1\r\n", "-MOVED -1 h:1\r\n", "-MOVED 1 h\r\n", "-MOVED 1 h:\r\n",
        "-MOVED 1 h:0\r\n", "-MOVED 1 h:65536\r\n", "-MOVED 1 h:1x\r\n", "-ASK 1 h h:1\r\n",
        "-ASK 1 [::1:1\r\n", "-ASK 99999999999999999999 h:1\r\n", "-MOVED  1 h:1\r\n",
        // Found by the fuzzer: a CR inside the host.
        "-ASK 3999 ?:638\r:1\r\n", "-MOVED 1 a\tb:1\r\n"}) {
    CAPTURE(std::string(s));
    const Redirect r = parseClusterError(s);
    CHECK(r.kind == ClusterError::kNone);
    CHECK(r.malformed);
  }
}

TEST_CASE("redirect: names") {
  CHECK(std::string(clusterErrorName(ClusterError::kMoved)) == "MOVED");
  CHECK(std::string(clusterErrorName(ClusterError::kCrossSlot)) == "CROSSSLOT");
}

}  // namespace
}  // namespace kw::cluster
