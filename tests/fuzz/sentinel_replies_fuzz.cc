// The Sentinel-mode parsers over untrusted bytes: frames are cut by the ReplyScanner as on a real
// connection and handed to every parser (and the raw input too, framed or not). Checks: views
// stay inside the frame, a result carries fields only when it says it does, and what parses
// re-encodes to a canonical frame that parses to the same thing.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "proxy/reply_scanner.h"
#include "sentinel/sentinel_replies.h"

namespace {

using kw::HostPort;

constexpr std::string_view kName = "kwmaster";

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

bool unset(const HostPort& hp) {
  return hp.host.empty() && hp.port == 0;
}

bool plausible(const HostPort& hp) {
  if (hp.host.empty() || hp.port == 0)
    return false;
  for (char c : hp.host)
    if (c <= ' ' || c > '~')
      return false;
  return true;
}

bool same(const HostPort& a, const HostPort& b) {
  return a.host == b.host && a.port == b.port;
}

std::string bulk(std::string_view s) {
  // Appended piece by piece: GCC 12's -Wrestrict misreads "$" + std::string at -O2.
  std::string out = "$";
  out += std::to_string(s.size());
  out += "\r\n";
  out.append(s);
  out += "\r\n";
  return out;
}

void checkMasterAddr(std::string_view frame) {
  using Kind = kw::MasterAddrReply::Kind;
  const kw::MasterAddrReply r = kw::parseMasterAddrReply(frame);
  FUZZ_CHECK(inside(r.error, frame));
  FUZZ_CHECK(r.kind == Kind::kError || r.error.empty());
  if (r.kind != Kind::kFound) {
    FUZZ_CHECK(unset(r.addr));
    return;
  }
  FUZZ_CHECK(plausible(r.addr));
  const kw::MasterAddrReply again =
      kw::parseMasterAddrReply("*2\r\n" + bulk(r.addr.host) + bulk(std::to_string(r.addr.port)));
  FUZZ_CHECK(again.kind == Kind::kFound && same(again.addr, r.addr));
}

void checkSwitch(std::string_view frame) {
  using Kind = kw::SwitchMaster::Kind;
  const kw::SwitchMaster s = kw::parseSwitchMaster(frame, kName);
  if (s.kind != Kind::kSwitch && s.kind != Kind::kOtherMaster) {
    FUZZ_CHECK(unset(s.from) && unset(s.to));
    return;
  }
  FUZZ_CHECK(plausible(s.from) && plausible(s.to));
  // Filtering by name: a switch of ours is not ours under another name, and the same fields
  // under our name make a canonical message that parses back to them.
  if (s.kind == Kind::kSwitch)
    FUZZ_CHECK(kw::parseSwitchMaster(frame, "kwmaster2").kind == Kind::kOtherMaster);
  const std::string payload = std::string(kName) + " " + s.from.host + " " +
                              std::to_string(s.from.port) + " " + s.to.host + " " +
                              std::to_string(s.to.port);
  const std::string canonical =
      ">3\r\n" + bulk("message") + bulk(kw::kSwitchMasterChannel) + bulk(payload);
  const kw::SwitchMaster again = kw::parseSwitchMaster(canonical, kName);
  FUZZ_CHECK(again.kind == Kind::kSwitch && same(again.from, s.from) && same(again.to, s.to));
}

void checkRole(std::string_view frame) {
  using Role = kw::RoleReply::Role;
  const kw::RoleReply r = kw::parseRoleReply(frame);
  FUZZ_CHECK(inside(r.error, frame) && inside(r.state, frame));
  FUZZ_CHECK(r.role == Role::kError || r.error.empty());
  if (r.role == Role::kReplica) {
    FUZZ_CHECK(plausible(r.master));
  } else {
    FUZZ_CHECK(unset(r.master) && r.state.empty());
  }
  // An error reply is never a role, and a READONLY error is an error.
  if (kw::isReadonlyError(frame))
    FUZZ_CHECK(r.role == Role::kError && (frame[0] == '-' || frame[0] == '!'));
}

void checkPromoted(std::string_view frame) {
  using Kind = kw::SwitchMaster::Kind;
  const kw::SwitchMaster s = kw::parsePromotedReplica(frame, kName);
  if (s.kind != Kind::kSwitch && s.kind != Kind::kOtherMaster) {
    FUZZ_CHECK(unset(s.from) && unset(s.to));
    return;
  }
  FUZZ_CHECK(plausible(s.from) && plausible(s.to));
  // Never both a +switch-master and a +promoted-slave.
  FUZZ_CHECK(kw::parseSwitchMaster(frame, kName).kind == Kind::kNotSwitch);
}

void checkFrame(std::string_view frame) {
  checkMasterAddr(frame);
  checkSwitch(frame);
  checkPromoted(frame);
  checkRole(frame);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  checkFrame(in);
  kw::ReplyScanner scanner;
  size_t offset = 0;
  while (offset < in.size()) {
    kw::ReplyScanner::Frame frame;
    if (scanner.scan(in.substr(offset), &frame) != kw::ReplyScanner::Status::kComplete)
      break;
    // Copied so that a read past the frame's end is a sanitizer error, not the next frame's bytes.
    const std::string copy(in.substr(offset, frame.length));
    checkFrame(copy);
    scanner.reset();
    offset += frame.length;
  }
  return 0;
}
