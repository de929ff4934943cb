// The replies the memory budgets read from Redis (budget/resp_reply.h and the doctor's readers):
// any bytes parse or are refused without overreading, and every node of a parsed tree points
// inside the input and inside the tree.
#include <cstdint>
#include <string_view>

#include "budget/doctor.h"
#include "budget/resp_reply.h"
#include "fuzz_check.h"

namespace {

void walk(const kw::RespReply& r, const kw::RespNode& n, std::string_view in, int depth) {
  FUZZ_CHECK(depth <= kw::RespReply::kMaxDepth + 1);
  if (!n.text.empty()) {
    FUZZ_CHECK(n.text.data() >= in.data());
    FUZZ_CHECK(n.text.data() + n.text.size() <= in.data() + in.size());
  }
  for (uint32_t i = 0; i < n.count; ++i)
    walk(r, r.child(n, i), in, depth + 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  kw::RespReply r;
  if (r.parse(in))
    walk(r, r.root(), in, 0);
  else
    FUZZ_CHECK(r.root().type == kw::RespNode::Type::kNull);
  (void)r.field(r.root(), "maxmemory");
  int64_t v = 0;
  (void)kw::respInteger(r.root(), &v);
  kw::DoctorFacts f;
  kw::readConfigReply(in, &f);
  kw::readAclReply(in, &f);
  kw::readCommandStatsReply(in, &f);
  (void)kw::diagnose(f);
  return 0;
}
