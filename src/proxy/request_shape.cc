#include "proxy/request_shape.h"

#include "common/ascii.h"

namespace kw {
namespace {

bool argIs(std::span<const std::string_view> args, size_t i, std::string_view word) {
  return i < args.size() && equalsIgnoreCase(args[i], word);
}

bool hasBlockOption(std::span<const std::string_view> args) {
  // XREAD [COUNT n] [BLOCK ms] STREAMS ...: options come before STREAMS.
  for (size_t i = 1; i < args.size(); ++i) {
    if (equalsIgnoreCase(args[i], "streams"))
      return false;
    if (equalsIgnoreCase(args[i], "block"))
      return true;
  }
  return false;
}

bool leavesState(const CommandInfo& cmd, std::span<const std::string_view> args) {
  switch (cmd.id) {
  case CmdId::kHello:
  case CmdId::kAuth:
  case CmdId::kSelect:
  case CmdId::kReset:
  case CmdId::kReadonly:
  case CmdId::kReadwrite:
  case CmdId::kSubscribe:
  case CmdId::kUnsubscribe:
  case CmdId::kMonitor:
  case CmdId::kSync:
  case CmdId::kReplconf:
    return true;
  case CmdId::kClient:
    return !argIs(args, 1, "pause") && !argIs(args, 1, "unpause");
  default:
    return false;
  }
}

}  // namespace

RequestShape classifyRequest(const CommandInfo* cmd, std::span<const std::string_view> args,
                             bool in_multi) {
  RequestShape r;
  if (!cmd) {
    // Unknown to us: Redis answers it (even an unknown command) with one frame; what it does to
    // the connection (a module's command) is not known either.
    r.leaves_state = true;
    return r;
  }
  r.leaves_state = leavesState(*cmd, args);
  if (in_multi) {
    // Redis queues everything but these, answering "+QUEUED".
    switch (cmd->id) {
    case CmdId::kMulti:
    case CmdId::kExec:
    case CmdId::kDiscard:
    case CmdId::kWatch:
    case CmdId::kQuit:
    case CmdId::kReset:
    case CmdId::kHello:  // would switch the protocol in the middle of EXEC's reply: refused
      r.shape = ReplyShape::kLocal;
      return r;
    case CmdId::kClient:
      // CLIENT REPLY inside EXEC would cut EXEC's own reply short: refused.
      if (argIs(args, 1, "reply"))
        r.shape = ReplyShape::kLocal;
      return r;
    default:
      return r;
    }
  }
  switch (cmd->id) {
  case CmdId::kSubscribe:
  case CmdId::kMonitor:
    r.shape = ReplyShape::kStream;
    return r;
  case CmdId::kSync:
    r.shape = ReplyShape::kRaw;
    return r;
  case CmdId::kUnsubscribe:  // one frame per channel (one with a nil channel for none)
  case CmdId::kReplconf:     // REPLCONF ACK / GETACK get no reply at all
  case CmdId::kQuit:
  case CmdId::kReset:
  case CmdId::kHello:
  case CmdId::kAuth:
  case CmdId::kSelect:
  case CmdId::kReadonly:
  case CmdId::kReadwrite:
  case CmdId::kEcho:
  case CmdId::kMulti:
  case CmdId::kExec:
  case CmdId::kDiscard:
  case CmdId::kWatch:
  case CmdId::kUnwatch:
  case CmdId::kInfo:
  case CmdId::kSlowlog:
  case CmdId::kKeywarden:
    r.shape = ReplyShape::kLocal;
    return r;
  case CmdId::kClient:
    if (argIs(args, 1, "tracking") && argIs(args, 2, "on")) {
      r.shape = ReplyShape::kStream;
    } else if (argIs(args, 1, "pause") || argIs(args, 1, "unpause")) {
      // Must not wait behind a write that a pause holds back on a shared connection.
      r.own_link = true;
    } else if (argIs(args, 1, "tracking") || argIs(args, 1, "caching") ||
               argIs(args, 1, "trackinginfo") || argIs(args, 1, "help")) {
      // One frame; they describe the connection they run on, which is the client's own one
      // when it is tracking (streaming) and a shared one otherwise.
    } else {
      r.shape = ReplyShape::kLocal;  // connection state the proxy keeps per client
    }
    return r;
  case CmdId::kScript:
  case CmdId::kFunction:
    // SCRIPT KILL / FUNCTION KILL / FUNCTION STATS are what Redis serves while a script runs:
    // they must not queue behind it.
    r.own_link = argIs(args, 1, "kill") || (cmd->id == CmdId::kFunction && argIs(args, 1, "stats"));
    return r;
  case CmdId::kShutdown:
    r.own_link = true;
    return r;
  case CmdId::kXread:
  case CmdId::kXreadgroup:
    r.blocking = r.own_link = hasBlockOption(args);
    return r;
  default:
    break;
  }
  if (cmd->flags & kBlocking)
    r.blocking = r.own_link = true;
  return r;
}

const char* replyShapeName(ReplyShape shape) {
  switch (shape) {
  case ReplyShape::kOne:
    return "one";
  case ReplyShape::kLocal:
    return "local";
  case ReplyShape::kStream:
    return "stream";
  case ReplyShape::kRaw:
    return "raw";
  }
  return "?";
}

}  // namespace kw
