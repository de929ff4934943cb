// Decodes every request in the input with the default caps and with tiny ones, checking that the
// decoder never overreads, always makes progress, frames requests the same way however the
// bytes are split, and that a frame read off its headers (the large-frame path) gives exactly the
// arguments hiredis gives.
#include "proxy/request_decoder.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "fuzz_check.h"

namespace {

using kw::DecodedRequest;
using kw::DecodeLimits;
using kw::RequestDecoder;
using Status = RequestDecoder::Status;

bool within(std::string_view inner, std::string_view outer) {
  return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

// Every proper prefix of a complete request must just ask for more bytes.
void checkPrefix(std::string_view prefix, const DecodeLimits& limits) {
  RequestDecoder fresh;
  DecodedRequest req;
  size_t consumed = 1;
  FUZZ_CHECK(fresh.next(prefix, limits, &req, &consumed) == Status::kNeedMore);
  FUZZ_CHECK(consumed == 0);
}

void decodeAll(std::string_view in, const DecodeLimits& limits) {
  RequestDecoder decoder;
  size_t offset = 0;
  while (offset < in.size()) {
    const std::string_view rest = in.substr(offset);
    DecodedRequest req;
    size_t consumed = 12345;
    const Status status = decoder.next(rest, limits, &req, &consumed);
    if (status == Status::kNeedMore) {
      FUZZ_CHECK(consumed == 0);
      return;
    }
    if (status == Status::kError) {
      FUZZ_CHECK(consumed == 0);
      FUZZ_CHECK(decoder.error().rfind("Protocol error: ", 0) == 0);
      // This one means hiredis disagreed with the header scan about a frame: a decoder bug.
      FUZZ_CHECK(decoder.error() != "Protocol error: invalid multibulk request");
      return;
    }
    FUZZ_CHECK(consumed > 0 && consumed <= rest.size());
    checkPrefix(rest.substr(0, consumed - 1), limits);
    checkPrefix(rest.substr(0, consumed / 2), limits);
    if (status == Status::kRequest) {
      FUZZ_CHECK(!req.args.empty());
      if (rest[0] == '*') {
        FUZZ_CHECK(req.raw == rest.substr(0, consumed));
        FUZZ_CHECK(req.raw.data() == rest.data());
        FUZZ_CHECK(req.args.size() <= limits.max_array_len);
        for (auto arg : req.args) {
          FUZZ_CHECK(within(arg, req.raw));
          FUZZ_CHECK(arg.size() <= limits.max_bulk_len);
        }
        // Large frames take their arguments from the header scan instead of hiredis: both
        // readings of every frame must be the same.
        RequestDecoder scan_only;
        scan_only.setHiredisMaxFrame(1);
        DecodedRequest scanned;
        size_t scanned_consumed = 0;
        FUZZ_CHECK(scan_only.next(rest, limits, &scanned, &scanned_consumed) == Status::kRequest);
        FUZZ_CHECK(scanned_consumed == consumed);
        FUZZ_CHECK(scanned.raw == req.raw);
        FUZZ_CHECK(scanned.args == req.args);
      } else {
        // The inline form is re-encoded: it must decode back to the same arguments.
        RequestDecoder again;
        DecodedRequest round;
        size_t round_consumed = 0;
        FUZZ_CHECK(again.next(req.raw, DecodeLimits{}, &round, &round_consumed) ==
                   Status::kRequest);
        FUZZ_CHECK(round_consumed == req.raw.size());
        FUZZ_CHECK(round.args == req.args);
        for (auto arg : req.args)
          FUZZ_CHECK(within(arg, req.raw));
      }
    }
    offset += consumed;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  decodeAll(in, DecodeLimits{});
  DecodeLimits tiny;
  tiny.max_array_len = 4;
  tiny.max_bulk_len = 16;
  tiny.max_inline_len = 32;
  decodeAll(in, tiny);
  return 0;
}
