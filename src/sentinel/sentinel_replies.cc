#include "sentinel/sentinel_replies.h"

#include <charconv>

#include "common/resp_read.h"

namespace kw {
namespace {

// "<type><text>\r\n" at *pos.
bool readLine(std::string_view in, size_t* pos, char type, std::string_view* out) {
  if (*pos >= in.size() || in[*pos] != type)
    return false;
  const size_t eol = in.find("\r\n", *pos + 1);
  if (eol == std::string_view::npos)
    return false;
  *out = in.substr(*pos + 1, eol - *pos - 1);
  *pos = eol + 2;
  return true;
}

// A bulk or simple string at *pos.
bool readText(std::string_view in, size_t* pos, std::string_view* out) {
  if (*pos < in.size() && in[*pos] == '+')
    return readLine(in, pos, '+', out);
  int64_t len = 0;
  return readRespHeader(in, pos, '$', &len) && len >= 0 &&
         readRespBulkBody(in, pos, static_cast<size_t>(len), out);
}

bool toInt(std::string_view s, int64_t* out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return !s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// An integer, or a string holding one, at *pos.
bool readNumber(std::string_view in, size_t* pos, int64_t* out) {
  if (*pos < in.size() && in[*pos] == ':')
    return readRespHeader(in, pos, ':', out);
  std::string_view text;
  return readText(in, pos, &text) && toInt(text, out);
}

bool toPort(int64_t n, uint16_t* port) {
  if (n < 1 || n > 65535)
    return false;
  *port = static_cast<uint16_t>(n);
  return true;
}

// An IP or a host name as Sentinel announces it: printable ASCII, no spaces. The bytes are only
// ever resolved as an address, but a CR, a NUL or a space would be a forged or garbled reply.
bool plausibleHost(std::string_view host) {
  if (host.empty() || host.size() > 255)
    return false;
  for (char c : host)
    if (c <= ' ' || c > '~')
      return false;
  return true;
}

bool readHostPort(std::string_view in, size_t* pos, HostPort* out) {
  std::string_view host;
  int64_t port = 0;
  if (!readText(in, pos, &host) || !plausibleHost(host) || !readNumber(in, pos, &port) ||
      !toPort(port, &out->port))
    return false;
  out->host.assign(host);
  return true;
}

// The whole frame is an error reply: RESP2 "-<text>\r\n" or RESP3 "!<len>\r\n<text>\r\n".
// *text is set only then.
bool errorText(std::string_view frame, std::string_view* text) {
  size_t pos = 0;
  std::string_view found;
  int64_t len = 0;
  const bool ok = !frame.empty() && frame[0] == '-'
                      ? readLine(frame, &pos, '-', &found)
                      : readRespHeader(frame, &pos, '!', &len) && len >= 0 &&
                            readRespBulkBody(frame, &pos, static_cast<size_t>(len), &found);
  if (!ok || pos != frame.size())
    return false;
  *text = found;
  return true;
}

bool isNil(std::string_view frame) {
  return frame == "*-1\r\n" || frame == "$-1\r\n" || frame == "_\r\n";
}

// "<ip> <port>" tokens at the end of `payload` (the part before them is left in *payload).
bool popHostPort(std::string_view* payload, HostPort* out) {
  const size_t port_at = payload->rfind(' ');
  if (port_at == std::string_view::npos || port_at == 0)
    return false;
  const size_t host_at = payload->rfind(' ', port_at - 1);
  if (host_at == std::string_view::npos)
    return false;
  const std::string_view host = payload->substr(host_at + 1, port_at - host_at - 1);
  int64_t port = 0;
  if (!plausibleHost(host) || !toInt(payload->substr(port_at + 1), &port) ||
      !toPort(port, &out->port))
    return false;
  out->host.assign(host);
  *payload = payload->substr(0, host_at);
  return true;
}

// True when `text` starts with `word` followed by a space or nothing.
bool startsWithWord(std::string_view text, std::string_view word) {
  return text.substr(0, word.size()) == word &&
         (text.size() == word.size() || text[word.size()] == ' ');
}

}  // namespace

MasterAddrReply parseMasterAddrReply(std::string_view frame) {
  MasterAddrReply r;
  if (errorText(frame, &r.error)) {
    r.kind = MasterAddrReply::Kind::kError;
    return r;
  }
  if (isNil(frame)) {
    r.kind = MasterAddrReply::Kind::kUnknown;
    return r;
  }
  size_t pos = 0;
  int64_t count = 0;
  if (readRespHeader(frame, &pos, '*', &count) && count == 2 &&
      readHostPort(frame, &pos, &r.addr) && pos == frame.size()) {
    r.kind = MasterAddrReply::Kind::kFound;
    return r;
  }
  r.addr = {};
  return r;
}

SwitchMaster parseSwitchMaster(std::string_view frame, std::string_view master_name) {
  SwitchMaster r;
  size_t pos = 0;
  int64_t count = 0;
  std::string_view kind;
  std::string_view channel;
  if (frame.empty() || !readRespHeader(frame, &pos, frame[0] == '>' ? '>' : '*', &count) ||
      count != 3 || !readText(frame, &pos, &kind) || kind != "message" ||
      !readText(frame, &pos, &channel) || channel != kSwitchMasterChannel)
    return r;
  std::string_view payload;
  r.kind = SwitchMaster::Kind::kMalformed;
  if (!readText(frame, &pos, &payload) || pos != frame.size() || !popHostPort(&payload, &r.to) ||
      !popHostPort(&payload, &r.from) || payload.empty()) {
    r.from = {};
    r.to = {};
    return r;
  }
  r.kind = payload == master_name ? SwitchMaster::Kind::kSwitch : SwitchMaster::Kind::kOtherMaster;
  return r;
}

SwitchMaster parsePromotedReplica(std::string_view frame, std::string_view master_name) {
  SwitchMaster r;
  size_t pos = 0;
  int64_t count = 0;
  std::string_view kind;
  std::string_view channel;
  if (frame.empty() || !readRespHeader(frame, &pos, frame[0] == '>' ? '>' : '*', &count) ||
      count != 3 || !readText(frame, &pos, &kind) || kind != "message" ||
      !readText(frame, &pos, &channel) || channel != kPromotedReplicaChannel)
    return r;
  // "slave <ip>:<port> <ip> <port> @ <master name> <master ip> <master port>"
  std::string_view payload;
  r.kind = SwitchMaster::Kind::kMalformed;
  constexpr std::string_view kAt = " @ ";
  bool ok =
      readText(frame, &pos, &payload) && pos == frame.size() && popHostPort(&payload, &r.from);
  const size_t at = ok ? payload.find(kAt) : std::string_view::npos;
  std::string_view instance =
      at == std::string_view::npos ? std::string_view() : payload.substr(0, at);
  ok = ok && at != std::string_view::npos && at + kAt.size() < payload.size() &&
       popHostPort(&instance, &r.to) && startsWithWord(instance, "slave");
  if (!ok) {
    r.from = {};
    r.to = {};
    return r;
  }
  r.kind = payload.substr(at + kAt.size()) == master_name ? SwitchMaster::Kind::kSwitch
                                                          : SwitchMaster::Kind::kOtherMaster;
  return r;
}

RoleReply parseRoleReply(std::string_view frame) {
  RoleReply r;
  if (errorText(frame, &r.error)) {
    r.role = RoleReply::Role::kError;
    return r;
  }
  size_t pos = 0;
  int64_t count = 0;
  std::string_view role;
  if (!readRespHeader(frame, &pos, '*', &count) || count < 1 || !readText(frame, &pos, &role))
    return r;
  if (role == "master") {
    r.role = RoleReply::Role::kMaster;
  } else if (role == "sentinel") {
    r.role = RoleReply::Role::kSentinel;
  } else if (role == "slave" || role == "replica") {
    if (count >= 4 && readHostPort(frame, &pos, &r.master) && readText(frame, &pos, &r.state)) {
      r.role = RoleReply::Role::kReplica;
    } else {
      r.master = {};
      r.state = {};
    }
  }
  return r;
}

bool isReadonlyError(std::string_view frame) {
  std::string_view text;
  if (!errorText(frame, &text))
    return false;
  if (startsWithWord(text, "READONLY"))
    return true;
  if (!startsWithWord(text, "EXECABORT"))
    return false;
  constexpr std::string_view kCause = ": READONLY";
  for (size_t at = text.find(kCause); at != std::string_view::npos; at = text.find(kCause, at + 1))
    if (startsWithWord(text.substr(at + 2), "READONLY"))
      return true;
  return false;
}

}  // namespace kw
