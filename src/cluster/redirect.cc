#include "cluster/redirect.h"

#include <charconv>

namespace kw::cluster {
namespace {

// The error text without its type byte and CRLF, or empty when `reply` is not an error.
std::string_view errorText(std::string_view reply) {
  if (reply.empty())
    return {};
  const size_t eol = reply.find("\r\n");
  if (eol == std::string_view::npos)
    return {};
  if (reply[0] == '-')
    return reply.substr(1, eol - 1);
  if (reply[0] != '!')
    return {};
  size_t len = 0;
  const char* first = reply.data() + 1;
  const char* last = reply.data() + eol;
  auto r = std::from_chars(first, last, len);
  if (r.ec != std::errc() || r.ptr != last || len > reply.size() - eol - 2)
    return {};
  const std::string_view body = reply.substr(eol + 2, len);
  // A redirect is one line: stop at the first line break a blob error may hold.
  const size_t nl = body.find_first_of("\r\n");
  return nl == std::string_view::npos ? body : body.substr(0, nl);
}

// `text` is `word` alone or `word` followed by a space.
bool startsWithWord(std::string_view text, std::string_view word) {
  return text.substr(0, word.size()) == word &&
         (text.size() == word.size() || text[word.size()] == ' ');
}

template <typename T> bool number(std::string_view s, T max, T* out) {
  if (s.empty())
    return false;
  uint64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || v > max)
    return false;
  *out = static_cast<T>(v);
  return true;
}

// "<slot> <host>:<port>" after MOVED/ASK.
bool readTarget(std::string_view args, Redirect* out) {
  const size_t space = args.find(' ');
  if (space == std::string_view::npos)
    return false;
  if (!number<uint16_t>(args.substr(0, space), kSlotCount - 1, &out->slot))
    return false;
  const std::string_view address = args.substr(space + 1);
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos)
    return false;
  if (!number<uint16_t>(address.substr(colon + 1), 65535, &out->port) || out->port == 0)
    return false;
  std::string_view host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  // A host name or address never holds brackets, spaces or control bytes.
  for (const char c : host)
    if (c == '[' || c == ']' || static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
      return false;
  if (host.empty()) {
    out->endpoint = Endpoint::kSameAsSeed;
  } else if (host == "?") {
    out->endpoint = Endpoint::kUnknown;
  } else {
    out->endpoint = Endpoint::kAddress;
    out->host = host;
  }
  return true;
}

}  // namespace

Redirect parseClusterError(std::string_view reply) {
  Redirect out;
  const std::string_view text = errorText(reply);
  if (text.empty())
    return out;
  const bool moved = startsWithWord(text, "MOVED");
  if (moved || startsWithWord(text, "ASK")) {
    const size_t word = moved ? 5 : 3;
    if (text.size() > word + 1 && readTarget(text.substr(word + 1), &out)) {
      out.kind = moved ? ClusterError::kMoved : ClusterError::kAsk;
    } else {
      out = Redirect();
      out.malformed = true;
    }
    return out;
  }
  if (startsWithWord(text, "TRYAGAIN"))
    out.kind = ClusterError::kTryAgain;
  else if (startsWithWord(text, "CLUSTERDOWN"))
    out.kind = ClusterError::kClusterDown;
  else if (startsWithWord(text, "CROSSSLOT"))
    out.kind = ClusterError::kCrossSlot;
  return out;
}

const char* clusterErrorName(ClusterError kind) {
  switch (kind) {
  case ClusterError::kNone:
    return "none";
  case ClusterError::kMoved:
    return "MOVED";
  case ClusterError::kAsk:
    return "ASK";
  case ClusterError::kTryAgain:
    return "TRYAGAIN";
  case ClusterError::kClusterDown:
    return "CLUSTERDOWN";
  case ClusterError::kCrossSlot:
    return "CROSSSLOT";
  }
  return "?";
}

}  // namespace kw::cluster
