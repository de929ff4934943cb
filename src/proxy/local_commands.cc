// Commands the proxy answers itself, because they describe or change the client's own
// connection (which is not the upstream's connection). Replies and error texts follow Redis 7.
#include <charconv>
#include <cstring>

#include "common/ascii.h"
#include "proxy/resp_writer.h"
#include "proxy/session.h"
#include "proxy/shared_state.h"
#include "proxy/upstream_pool.h"
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

void appendCommand(std::string* out, std::initializer_list<std::string_view> args) {
  resp::arrayHeader(out, static_cast<int64_t>(args.size()));
  for (std::string_view a : args)
    resp::bulk(out, a);
}

// aux of an upstream AUTH: user '\0' password ['\0' proto '\0' setname-flag name].
std::string authAux(std::string_view user, std::string_view password) {
  std::string aux(user);
  aux.push_back('\0');
  aux.append(password);
  return aux;
}

}  // namespace

void Session::wrongArity(std::string_view name) {
  replyError("ERR wrong number of arguments for '" + asciiLower(name) + "' command");
}

void Session::cmdEcho(const DecodedRequest& req) {
  worker_->stats().commands_local.add();
  std::string out;
  resp::bulk(&out, req.args[1]);
  replyLocal(out);
}

void Session::cmdQuit() {
  worker_->stats().commands_local.add();
  replyLocal("+OK\r\n");
  // Replies owed to earlier requests are written first, as Redis does.
  closeAfterReplies();
}

void Session::resetConnectionState() {
  proto_ = 2;
  router_.setProto(2);
  db_ = worker_->config().upstream.db;
  in_multi_ = false;
  multi_dirty_ = false;
  stream_multi_ = false;
  multi_queued_ = 0;
  if (extras_) {
    extras_->multi_selects.clear();
    extras_->post_exec.clear();  // follow-ups of a discarded transaction go with it
    extras_->post_exec_count = 0;
    extras_->name.clear();
    extras_->user_name.clear();
    extras_->upstream_user.clear();
  }
  watching_ = false;
  endClusterTransaction();
  reply_mode_ = ReplyMode::kOn;
  // RESET authenticates the connection as the default user again, or as the user its client
  // certificate names (that identity is the connection's, from its handshake).
  user_ = worker_->policy().defaultUser();
  explicit_auth_ = false;
  applyCertificateUser();
  setPool(&worker_->upstreams().main());
}

void Session::cmdReset() {
  worker_->stats().commands_local.add();
  // RESET turns CLIENT REPLY OFF back off before it answers; a SKIP still drops its reply.
  const bool skipped = reply_mode_ == ReplyMode::kSkipThis;
  ReplySlot* slot = newSlot();
  slot->suppress = skipped;
  if (router_.pinned() && (router_.inflight() > 0 || router_.waiting())) {
    // Redis runs RESET after what came before it (a blocked BLPOP included): the pinned link
    // is let go only once their replies are in. Input waits until then.
    reset_slot_ = slot;
    holdInput();
    return;
  }
  finishReset(slot);
}

void Session::finishReset(ReplySlot* slot) {
  resetConnectionState();
  router_.abandonHolds();
  complete(slot, "+RESET\r\n");
}

bool Session::upstreamAuth() const {
  // With no users of its own, keywarden lets the upstream Redis check AUTH against its ACL
  // users and runs the client's commands as that user.
  return worker_->config().policy.users.empty();
}

// AUTH or HELLO ... AUTH goes to Redis as the client wrote it (`raw`: MONITOR shows it as sent),
// on this client's own link; its reply decides. Later requests wait for it, since they must run
// as the user it authenticates (or not). Only a success leaves state on that link
// (applyUpstreamAuth).
void Session::forwardAuth(std::string_view raw, SlotEffect effect, std::string aux) {
  RequestShape own;
  own.own_link = true;
  DecodedRequest req{raw, {}};
  ReplySlot* slot = forward(req, own, effect);
  if (!slot)
    return;
  slot->aux = std::move(aux);
  barrier_slot_ = slot;
  holdInput();
}

void Session::applyUpstreamAuth(ReplySlot* slot, std::string_view reply, std::string* transformed) {
  const bool ok = slot->effect == SlotEffect::kHelloAuth
                      ? !reply.empty() && (reply[0] == '%' || reply[0] == '*')
                      : reply == "+OK\r\n";
  if (!ok)
    return;  // Redis's own error (WRONGPASS, the nopass hint...) goes to the client as it is
  if (UpstreamLink* link = router_.pinned())
    link->markStateful();  // it runs as that user now
  const std::string& aux = slot->aux;
  const size_t sep = aux.find('\0');
  const std::string user = aux.substr(0, sep);
  const size_t sep2 = aux.find('\0', sep + 1);
  const std::string password =
      aux.substr(sep + 1, sep2 == std::string::npos ? sep2 : sep2 - sep - 1);
  IdentityPools* pool = worker_->upstreams().forIdentity(user.empty() ? "default" : user, password);
  if (!pool) {
    *transformed = "-ERR too many distinct upstream users on this keywarden worker\r\n";
    return;
  }
  setPool(pool);
  pool->revive();
  x().upstream_user = user.empty() ? "default" : user;
  if (slot->effect == SlotEffect::kHelloAuth && sep2 != std::string::npos) {
    // HELLO's own options, applied now that AUTH succeeded: proto, then an optional name.
    const std::string rest = aux.substr(sep2 + 1);
    const int proto = rest.empty() ? proto_ : rest[0] - '0';
    if (rest.size() > 2 && rest[1] == 'N')
      x().name = rest.substr(2);
    switchProto(proto);
    *transformed = helloReply();
  }
}

void Session::cmdAuth(const DecodedRequest& req) {
  worker_->stats().commands_local.add();
  if (req.args.size() > 3)
    return replyError("ERR syntax error");
  // AUTH <password> is AUTH default <password>, as in Redis 6+.
  const bool one_arg = req.args.size() == 2;
  if (upstreamAuth()) {
    // Sent as the client wrote it, so Redis's own replies come back (its nopass hint included).
    return forwardAuth(
        req.raw, SlotEffect::kUpstreamAuth,
        authAux(one_arg ? "default" : req.args[1], one_arg ? req.args[1] : req.args[2]));
  }
  std::string err;
  if (!authenticate(one_arg ? "default" : req.args[1], one_arg ? req.args[1] : req.args[2], one_arg,
                    &err)) {
    current_outcome_ = Outcome::kRefusedAuth;
    return replyError(err);
  }
  replyLocal("+OK\r\n");
}

std::string Session::helloReply() const {
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
  return out;
}

// The client's protocol changes. A pinned link (SELECT, WATCH...) is switched with HELLO on it,
// in order with this client's other requests; otherwise the next request goes to a shared link
// of the new protocol.
void Session::switchProto(int proto) {
  if (proto == proto_)
    return;
  proto_ = proto;
  router_.setProto(proto);
  if (UpstreamLink* link = router_.pinned()) {
    std::string hello;
    appendCommand(&hello, {"HELLO", proto == 3 ? "3" : "2"});
    router_.sendDropped(hello, 1);
    link->setProto(proto);
    link->markStateful();
  }
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
  if (have_name && !validClientName(setname))
    return replyError("ERR Client names cannot contain spaces, newlines or special characters.");
  if (have_auth && upstreamAuth()) {
    std::string aux = authAux(auth_user, auth_pass);
    aux.push_back('\0');
    aux.push_back(static_cast<char>('0' + proto));
    if (have_name) {
      aux.push_back('N');
      aux.append(setname);
    }
    return forwardAuth(req.raw, SlotEffect::kHelloAuth, std::move(aux));
  }
  if (have_auth) {
    std::string err;
    if (!authenticate(auth_user, auth_pass, false, &err)) {
      current_outcome_ = Outcome::kRefusedAuth;
      return replyError(err);
    }
  }
  if (have_name)
    x().name.assign(setname);
  switchProto(proto);
  replyLocal(helloReply());
}

void Session::cmdSelect(const DecodedRequest& req) {
  long long db = 0;
  if (!parseInt(req.args[1], &db)) {
    worker_->stats().commands_local.add();
    return replyError("ERR value is not an integer or out of range");
  }
  if (db < INT32_MIN || db > INT32_MAX) {
    worker_->stats().commands_local.add();
    return replyError("ERR value is out of range, value must between -2147483648 and 2147483647");
  }
  if (clusterMode()) {
    // A cluster has db 0 only: the answer of a cluster node, given here.
    worker_->stats().commands_local.add();
    return db == 0 ? replyLocal("+OK\r\n")
                   : replyError("ERR SELECT is not allowed in cluster mode");
  }
  if (db < 0) {
    worker_->stats().commands_local.add();
    return replyError("ERR DB index is out of range");
  }
  if (db == db_ && !router_.pinned()) {
    worker_->stats().commands_local.add();
    return replyLocal("+OK\r\n");
  }
  // A non-default db lives on a pinned link, so no other client's keys move. Redis validates
  // the index; the session's db changes (and its link stays pinned) when it answers +OK.
  RequestShape own;
  own.own_link = true;
  own.leaves_state = true;
  forward(req, own, SlotEffect::kSelect, db);
}

void Session::cmdUnsubscribeLocal(const DecodedRequest& req) {
  // Not subscribed: Redis answers one frame per channel (one with a nil channel when none is
  // named), each saying the client is subscribed to nothing. Composed here, so these frames never
  // meet a shared link.
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

void Session::cmdReplconf(const DecodedRequest& req) {
  // REPLCONF ACK / GETACK get no reply at all from Redis, which would leave a link one reply
  // short: answered here as Redis answers a client that is not a replica.
  worker_->stats().commands_local.add();
  if (req.args.size() % 2 == 0)
    return replyError("ERR syntax error");
  for (size_t i = 1; i < req.args.size(); i += 2) {
    if (equalsIgnoreCase(req.args[i], "ack") || equalsIgnoreCase(req.args[i], "getack")) {
      ReplySlot* slot = newSlot();
      slot->suppress = true;
      return complete(slot, "+OK\r\n");
    }
  }
  replyLocal("+OK\r\n");
}

std::string Session::infoLine(int64_t qbuf) const {
  const uint64_t now = worker_->nowMs();
  const bool streaming = router_.streaming();
  const bool blocked = blockedOrSubscribed() && !streaming;
  std::string s;
  s.reserve(320);
  s += "id=" + std::to_string(id_);
  s += " addr=" + addr_;
  s += " laddr=" + localAddr();
  s += " fd=-1 name=" + cx().name;
  s += " age=" + std::to_string((now - created_ms_) / 1000);
  s += " idle=" + std::to_string((now - last_active_ms_) / 1000);
  s += " flags=";
  if (streaming)
    s += raw_ ? "S" : "P";
  if (in_multi_)
    s += "x";
  if (blocked)
    s += "b";
  const bool unix_socket = unixSocket();
  if (unix_socket)
    s += "U";
  if (!streaming && !in_multi_ && !blocked && !unix_socket)
    s += "N";
  s += " db=" + std::to_string(db_);
  s +=
      " sub=0 psub=0 ssub=0 multi=" + std::string(in_multi_ ? std::to_string(multi_queued_) : "-1");
  // Redis shows the whole read buffer while it runs a command from it (qbuf=26 for a lone
  // CLIENT LIST); between commands only what waits to be parsed.
  s += " qbuf=" + std::to_string(qbuf >= 0 ? static_cast<uint64_t>(qbuf) : inbuf_.size());
  s += " qbuf-free=" + std::to_string(inbuf_.capacity() - inbuf_.size());
  s += " argv-mem=0";
  s += " multi-mem=" + std::to_string(in_multi_ ? cx().post_exec.size() : 0);
  s += " rbs=" + std::to_string(Worker::kReadBufferSize);
  s += " rbp=" + std::to_string(Worker::kReadBufferSize);
  // Redis's oll counts reply blocks waiting to be written: here, replies held behind an earlier
  // one still pending (the slot of the command being answered is not one of them).
  size_t held = 0;
  for (const ReplySlot* r = head_; r; r = r->next)
    held += r->done ? 1 : 0;
  s += " obl=0 oll=" + std::to_string(held);
  const uint64_t omem = writer_.buffered() + stored_bytes_;
  s += " omem=" + std::to_string(omem);
  s += " tot-mem=" + std::to_string(omem + inbuf_.capacity() + writer_.memory() + sizeof(Session));
  s += " events=r";
  if (!writer_.idle())
    s += "w";
  s += " cmd=";
  if (last_cmd_ < worker_->commands().size()) {
    s += worker_->commands().row(last_cmd_).name;
    if (cx().last_sub[0]) {
      s += "|";
      s += cx().last_sub;
    }
  } else {
    s += "NULL";
  }
  s += " user=" + (cx().upstream_user.empty() ? userName() : cx().upstream_user);
  s += " redir=-1";
  s += " resp=" + std::to_string(proto_);
  s += " lib-name=" + cx().lib_name;
  s += " lib-ver=" + cx().lib_ver;
  s += " upstream=" + std::string(router_.pinned() ? "pinned" : "shared");
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
    if (cx().name.empty())
      resp::null(&out, proto_);
    else
      resp::bulk(&out, cx().name);
    return replyLocal(out);
  }
  if (equalsIgnoreCase(sub, "setname")) {
    local();
    if (argc != 3)
      return wrongArity("client|setname");
    if (!validClientName(req.args[2]))
      return replyError("ERR Client names cannot contain spaces, newlines or special characters.");
    x().name.assign(req.args[2]);
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
      x().lib_name.assign(req.args[3]);
    else if (equalsIgnoreCase(req.args[2], "lib-ver"))
      x().lib_ver.assign(req.args[3]);
    else
      return replyError("ERR Unrecognized option '" + std::string(req.args[2]) + "'");
    return replyLocal("+OK\r\n");
  }
  if (equalsIgnoreCase(sub, "info")) {
    local();
    if (argc != 2)
      return wrongArity("client|info");
    std::string out;
    resp::verbatim(&out, proto_, infoLine(dispatch_input_));
    return replyLocal(out);
  }
  if ((equalsIgnoreCase(sub, "list") || equalsIgnoreCase(sub, "kill")) && !user_->admin) {
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
  if (equalsIgnoreCase(sub, "unblock"))
    return cmdClientUnblock(req);
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
      // SKIP itself gets no reply; Redis ignores it while replies are off.
      ReplySlot* slot = newSlot();
      slot->suppress = true;
      if (reply_mode_ != ReplyMode::kOff)
        reply_mode_ = ReplyMode::kSkipThis;
      return complete(slot, "+OK\r\n");
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
  local();
  replyError("ERR unknown subcommand '" + std::string(sub) + "'. Try CLIENT HELP.");
}

}  // namespace kw
