// Commands the proxy answers itself, because they describe or change the client's own
// connection (which is not the upstream's connection). Replies and error texts follow Redis 7.2.
#include <charconv>
#include <cstring>

#include "common/ascii.h"
#include "proxy/resp_writer.h"
#include "proxy/session.h"
#include "proxy/shared_state.h"
#include "proxy/upstream_conn.h"
#include "proxy/worker.h"

namespace kw {
namespace {

bool parseInt(std::string_view s, long long* out) {
  if (s.empty())
    return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// Redis refuses names with spaces, newlines and other special characters.
bool validClientName(std::string_view s) {
  for (char c : s)
    if (c < '!' || c > '~')
      return false;
  return true;
}

}  // namespace

void Session::wrongArity(std::string_view name) {
  replyError("ERR wrong number of arguments for '" + asciiLower(name) + "' command");
}

void Session::cmdPing(const DecodedRequest& req) {
  worker_->stats().commands_local.add();
  if (req.args.size() > 2)
    return wrongArity("ping");
  if (req.args.size() == 1)
    return replyLocal("+PONG\r\n");
  std::string out;
  resp::bulk(&out, req.args[1]);
  replyLocal(out);
}

void Session::cmdEcho(const DecodedRequest& req) {
  worker_->stats().commands_local.add();
  if (req.args.size() != 2)
    return wrongArity("echo");
  std::string out;
  resp::bulk(&out, req.args[1]);
  replyLocal(out);
}

void Session::cmdQuit() {
  worker_->stats().commands_local.add();
  replyLocal("+OK\r\n");
  close_after_flush_ = true;
  if (reading_) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
    reading_ = false;
  }
}

void Session::resetConnectionState() {
  proto_ = 2;
  db_ = worker_->config().upstream.db;
  in_multi_ = false;
  multi_dirty_ = false;
  post_exec_.clear();  // follow-ups of a discarded transaction go with it
  post_exec_count_ = 0;
  watching_ = false;
  reply_mode_ = ReplyMode::kOn;
  name_.clear();
  // RESET authenticates the connection as the default user again.
  user_ = worker_->policy().defaultUser();
  user_name_ = user_ ? user_->name : "";
  explicit_auth_ = false;
  shared_conn_ = nullptr;
}

void Session::cmdReset() {
  worker_->stats().commands_local.add();
  if (pinned_) {
    // Whatever the pinned connection holds (MULTI, WATCH, SELECT) is thrown away with it,
    // once the replies already owed from it are in.
    pinned_->state_dirty = true;
  }
  resetConnectionState();
  replyLocal("+RESET\r\n");
  maybeReleasePin();
}

void Session::cmdAuth(const DecodedRequest& req) {
  worker_->stats().commands_local.add();
  if (req.args.size() > 3)
    return replyError("ERR syntax error");
  // AUTH <password> is AUTH default <password>, as in Redis 6+.
  const bool one_arg = req.args.size() == 2;
  std::string err;
  if (!authenticate(one_arg ? "default" : req.args[1], one_arg ? req.args[1] : req.args[2], one_arg,
                    &err)) {
    current_outcome_ = Outcome::kRefusedAuth;
    return replyError(err);
  }
  replyLocal("+OK\r\n");
}

void Session::cmdHello(const DecodedRequest& req) {
  worker_->stats().commands_local.add();
  int proto = proto_;
  std::string_view auth_user, auth_pass, setname;
  bool have_auth = false, have_name = false;
  if (req.args.size() >= 2) {
    long long v = 0;
    if (!parseInt(req.args[1], &v))
      return replyError("ERR Protocol version is not an integer or out of range");
    if (v < 2 || v > 3)
      return replyError("NOPROTO unsupported protocol version");
    proto = static_cast<int>(v);
    for (size_t i = 2; i < req.args.size(); ++i) {
      const size_t more = req.args.size() - i - 1;
      if (equalsIgnoreCase(req.args[i], "auth") && more >= 2) {
        auth_user = req.args[i + 1];
        auth_pass = req.args[i + 2];
        have_auth = true;
        i += 2;
      } else if (equalsIgnoreCase(req.args[i], "setname") && more >= 1) {
        setname = req.args[i + 1];
        have_name = true;
        i += 1;
      } else {
        return replyError("ERR Syntax error in HELLO option '" + std::string(req.args[i]) + "'");
      }
    }
  }
  if (have_auth) {
    std::string err;
    if (!authenticate(auth_user, auth_pass, false, &err)) {
      current_outcome_ = Outcome::kRefusedAuth;
      return replyError(err);
    }
  }
  if (have_name && !validClientName(setname))
    return replyError("ERR Client names cannot contain spaces, newlines or special characters.");
  if (proto != proto_ && pinned_) {
    return replyError(
        "ERR HELLO cannot switch protocol while the connection holds MULTI, WATCH, SELECT or "
        "pub/sub state; RESET first");
  }
  if (have_name)
    name_.assign(setname);
  if (proto != proto_) {
    proto_ = proto;
    shared_conn_ = nullptr;  // the next request goes to a connection of the new protocol
  }
  std::string out;
  resp::mapHeader(&out, proto_, 7);
  resp::bulk(&out, "server");
  resp::bulk(&out, "redis");
  resp::bulk(&out, "version");
  SharedState& sh = worker_->shared();
  resp::bulk(&out, sh.upstream_version_known.load(std::memory_order_acquire)
                       ? std::string_view(sh.upstream_version)
                       : std::string_view("7.2.0"));
  resp::bulk(&out, "proto");
  resp::integer(&out, proto_);
  resp::bulk(&out, "id");
  resp::integer(&out, static_cast<int64_t>(id_));
  resp::bulk(&out, "mode");
  resp::bulk(&out, "standalone");
  resp::bulk(&out, "role");
  resp::bulk(&out, "master");
  resp::bulk(&out, "modules");
  resp::arrayHeader(&out, 0);
  replyLocal(out);
}

void Session::cmdSelect(const DecodedRequest& req) {
  if (req.args.size() != 2) {
    worker_->stats().commands_local.add();
    return wrongArity("select");
  }
  long long db = 0;
  if (!parseInt(req.args[1], &db) || db < 0 || db > INT32_MAX) {
    worker_->stats().commands_local.add();
    return replyError(db < 0 ? "ERR DB index is out of range"
                             : "ERR value is not an integer or out of range");
  }
  if (db == db_ && !pinned_) {
    worker_->stats().commands_local.add();
    return replyLocal("+OK\r\n");
  }
  // A non-default db lives on a pinned connection, so no other client's keys move. Redis
  // validates the index; the session's db changes when it answers +OK.
  if (!pin())
    return;
  forward(req, worker_->commands().find("select"), SlotEffect::kSelect, db);
}

void Session::cmdUnsubscribeLocal(const DecodedRequest& req) {
  worker_->stats().commands_local.add();
  const std::string kind = asciiLower(req.args[0]);
  std::string out;
  auto one = [&](std::string_view channel, bool nil) {
    if (proto_ >= 3)
      resp::appendInt(&out, '>', 3);
    else
      resp::arrayHeader(&out, 3);
    resp::bulk(&out, kind);
    if (nil)
      resp::null(&out, proto_);
    else
      resp::bulk(&out, channel);
    resp::integer(&out, 0);
  };
  if (req.args.size() == 1)
    one({}, true);
  for (size_t i = 1; i < req.args.size(); ++i)
    one(req.args[i], false);
  replyLocal(out);
}

std::string Session::infoLine() const {
  const uint64_t now = worker_->nowMs();
  std::string s;
  s.reserve(256);
  s += "id=" + std::to_string(id_);
  s += " addr=" + addr_;
  s += " laddr=" + laddr_;
  s += " fd=-1 name=" + name_;
  s += " age=" + std::to_string((now - created_ms_) / 1000);
  s += " idle=" + std::to_string((now - last_active_ms_) / 1000);
  s += " flags=";
  if (passthrough_)
    s += "P";
  if (in_multi_)
    s += "x";
  if (pinned_ && !passthrough_ && !in_multi_ && pinned_->inflight() > 0)
    s += "b";
  if (!passthrough_ && !in_multi_)
    s += "N";
  s += " db=" + std::to_string(db_);
  s += " sub=0 psub=0 ssub=0 multi=" + std::string(in_multi_ ? "0" : "-1");
  s += " qbuf=" + std::to_string(inbuf_.size());
  s += " obl=0 oll=" + std::to_string(slot_count_);
  s += " omem=" + std::to_string(writer_.buffered() + stored_bytes_);
  s += " user=" + user_name_;
  s += " resp=" + std::to_string(proto_);
  s += " lib-name=" + lib_name_;
  s += " lib-ver=" + lib_ver_;
  s += " upstream=" + std::string(pinned_ ? "pinned" : "shared");
  s += "\n";
  return s;
}

void Session::cmdClient(const DecodedRequest& req) {
  const std::string_view sub = req.args[1];
  const size_t argc = req.args.size();
  auto local = [&] { worker_->stats().commands_local.add(); };
  if (equalsIgnoreCase(sub, "id")) {
    local();
    if (argc != 2)
      return wrongArity("client|id");
    std::string out;
    resp::integer(&out, static_cast<int64_t>(id_));
    return replyLocal(out);
  }
  if (equalsIgnoreCase(sub, "getname")) {
    local();
    if (argc != 2)
      return wrongArity("client|getname");
    std::string out;
    if (name_.empty())
      resp::null(&out, proto_);
    else
      resp::bulk(&out, name_);
    return replyLocal(out);
  }
  if (equalsIgnoreCase(sub, "setname")) {
    local();
    if (argc != 3)
      return wrongArity("client|setname");
    if (!validClientName(req.args[2]))
      return replyError("ERR Client names cannot contain spaces, newlines or special characters.");
    name_.assign(req.args[2]);
    return replyLocal("+OK\r\n");
  }
  if (equalsIgnoreCase(sub, "setinfo")) {
    local();
    if (argc != 4)
      return wrongArity("client|setinfo");
    if (!validClientName(req.args[3]))
      return replyError("ERR " + std::string(req.args[2]) +
                        " cannot contain spaces, newlines or special characters.");
    if (equalsIgnoreCase(req.args[2], "lib-name"))
      lib_name_.assign(req.args[3]);
    else if (equalsIgnoreCase(req.args[2], "lib-ver"))
      lib_ver_.assign(req.args[3]);
    else
      return replyError("ERR Unrecognized option '" + std::string(req.args[2]) + "'");
    return replyLocal("+OK\r\n");
  }
  if (equalsIgnoreCase(sub, "info")) {
    local();
    if (argc != 2)
      return wrongArity("client|info");
    std::string out;
    resp::verbatim(&out, proto_, infoLine());
    return replyLocal(out);
  }
  if ((equalsIgnoreCase(sub, "list") || equalsIgnoreCase(sub, "kill") ||
       equalsIgnoreCase(sub, "pause") || equalsIgnoreCase(sub, "unpause")) &&
      !user_->admin) {
    local();
    current_outcome_ = Outcome::kRefusedAcl;
    return replyError("NOPERM User " + user_->name + " has no permissions to run the 'client|" +
                      asciiLower(sub) + "' command (admin only)");
  }
  if (equalsIgnoreCase(sub, "list"))
    return cmdClientList(req);
  if (equalsIgnoreCase(sub, "kill")) {
    if (argc < 3)
      return wrongArity("client|kill");
    return cmdClientKill(req);
  }
  if (equalsIgnoreCase(sub, "reply")) {
    local();
    if (argc != 3)
      return wrongArity("client|reply");
    if (equalsIgnoreCase(req.args[2], "on")) {
      reply_mode_ = ReplyMode::kOn;
      return replyLocal("+OK\r\n");
    }
    if (equalsIgnoreCase(req.args[2], "off")) {
      reply_mode_ = ReplyMode::kOff;
      ReplySlot* slot = newSlot();  // CLIENT REPLY OFF itself gets no reply
      slot->suppress = true;
      return complete(slot, "+OK\r\n");
    }
    if (equalsIgnoreCase(req.args[2], "skip")) {
      reply_mode_ = ReplyMode::kSkipNext;
      return complete(newSlot(), "+OK\r\n");
    }
    return replyError("ERR syntax error");
  }
  if (equalsIgnoreCase(sub, "no-evict") || equalsIgnoreCase(sub, "no-touch")) {
    local();
    if (argc != 3)
      return wrongArity(equalsIgnoreCase(sub, "no-evict") ? "client|no-evict" : "client|no-touch");
    if (!equalsIgnoreCase(req.args[2], "on") && !equalsIgnoreCase(req.args[2], "off"))
      return replyError("ERR syntax error");
    return replyLocal("+OK\r\n");
  }
  if (equalsIgnoreCase(sub, "getredir")) {
    local();
    return replyLocal(":-1\r\n");
  }
  if (equalsIgnoreCase(sub, "tracking")) {
    // Invalidation pushes arrive on the connection that enabled tracking: it streams to this
    // client from now on.
    if (!pin())
      return;
    passthrough_ = true;
    pinned_->enterPassthrough();
    pinned_->state_dirty = true;
    ReplySlot* slot = newSlot();
    slot->effect = SlotEffect::kPassthrough;
    passthrough_slot_ = slot;
    worker_->stats().commands_forwarded.add();
    return sendTo(pinned_, req.raw, nullptr, false, /*tracked=*/false);
  }
  if (equalsIgnoreCase(sub, "unblock")) {
    local();
    // Client ids here are the proxy's; forwarding would act on the proxy's own upstream links.
    return replyError("ERR CLIENT UNBLOCK is not supported through keywarden");
  }
  if (equalsIgnoreCase(sub, "pause") || equalsIgnoreCase(sub, "unpause") ||
      equalsIgnoreCase(sub, "help") || equalsIgnoreCase(sub, "caching") ||
      equalsIgnoreCase(sub, "trackinginfo") || equalsIgnoreCase(sub, "no-evict")) {
    forward(req, nullptr);
    return;
  }
  local();
  replyError("ERR unknown subcommand '" + std::string(sub) + "'. Try CLIENT HELP.");
}

}  // namespace kw
