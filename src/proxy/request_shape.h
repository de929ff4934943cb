// The reply-count rule: how many reply frames a request gets, decided from the request alone.
// A shared upstream connection matches replies to requests one frame each, so a request whose
// answer is not exactly one frame must never reach one: those are answered by the proxy, or run
// on a connection of their own. This is the single list of such commands; the router refuses to
// put anything but ReplyShape::kOne on a shared connection.
//
//   zero or several frames, or a stream          what keywarden does
//   SUBSCRIBE / PSUBSCRIBE / SSUBSCRIBE           kStream: a pinned connection in streaming mode
//   UNSUBSCRIBE family (0..N channels)            kLocal outside pub/sub (one frame per channel,
//                                                 composed here); streamed when subscribed
//   MONITOR, CLIENT TRACKING                      kStream
//   SYNC / PSYNC                                  kRaw: pinned, bytes both ways, no framing
//   CLIENT REPLY ON/OFF/SKIP                      kLocal: replies are suppressed by the proxy
//   RESET, QUIT, HELLO, AUTH, SELECT, CLIENT ...  kLocal: the proxy emulates connection state
//   everything else                               kOne (Redis answers unknown commands with one
//                                                 error frame)
// Inside MULTI every command Redis queues gets one "+QUEUED" frame: kOne.
//
// A second rule, `leaves_state`, says which commands leave connection state behind them (see
// RequestShape): HELLO, AUTH, SELECT, RESET, READONLY/READWRITE, CLIENT (but PAUSE/UNPAUSE),
// the pub/sub and replication commands, and commands the table does not know.
#pragma once

#include <span>
#include <string_view>

#include "proxy/command_table.h"

namespace kw {

enum class ReplyShape : uint8_t {
  kOne,     // exactly one reply frame: may be pipelined on a shared connection
  kLocal,   // the session answers it, or forwards it itself as kOne after checking its state
  kStream,  // starts a stream of frames: a pinned connection in streaming mode
  kRaw,     // starts a replication stream (RDB then commands): a pinned raw connection
};

struct RequestShape {
  ReplyShape shape = ReplyShape::kOne;
  // Runs on a connection of its own for its duration: it may block (BLPOP, XREAD BLOCK, WAIT),
  // or must not wait behind other clients' requests (SCRIPT KILL, FUNCTION KILL, SHUTDOWN and the
  // other commands Redis serves while busy; CLIENT PAUSE/UNPAUSE).
  bool own_link = false;
  bool blocking = false;  // no request timeout: it may legitimately wait for data
  // Leaves state on the connection it runs on (protocol, db, user, name, tracking, subscriptions,
  // a command the table does not know): a pinned connection that carried one is RESET before
  // another client gets it. Everything else leaves nothing behind once answered (MULTI and WATCH
  // end with EXEC/DISCARD/UNWATCH, which the router's holds follow), so a pinned connection that
  // carried only those goes back to the pool as it is, with nothing for MONITOR or SLOWLOG to see.
  bool leaves_state = false;
};

// `cmd` is nullptr for a command the table does not know (Redis answers one error frame).
RequestShape classifyRequest(const CommandInfo* cmd, std::span<const std::string_view> args,
                             bool in_multi);

const char* replyShapeName(ReplyShape shape);

}  // namespace kw
