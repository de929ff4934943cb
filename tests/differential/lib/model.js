'use strict';
// What Redis's side of one client connection looks like, predicted from the commands alone:
// protocol, db, MULTI/WATCH, subscriptions, CLIENT REPLY mode. The model decides how many reply
// frames each command produces (0 with CLIENT REPLY OFF, N for SUBSCRIBE with N channels, ...)
// and what each command may and may not be compared on. Replies themselves always come from
// the reference Redis; the model never predicts their content.

// Commands Redis runs while a RESP2 connection is subscribed (server.c processCommand).
const SUBSCRIBED_ALLOWED = new Set(['ping', 'subscribe', 'ssubscribe', 'unsubscribe', 'sunsubscribe', 'psubscribe', 'punsubscribe', 'quit', 'reset']);
// Commands that run at once inside MULTI instead of being queued.
const NOT_QUEUED = new Set(['exec', 'discard', 'multi', 'watch', 'quit', 'reset']);

class ConnState {
  constructor() {
    this.proto = 2;
    this.db = 0; // null: unknown (a SELECT ran inside EXEC)
    this.inMulti = false;
    this.queued = []; // compare specs of the queued commands' EXEC elements
    this.multiAborted = false;
    this.multiSelect = false;
    this.watching = false;
    this.channels = new Set();
    this.patterns = new Set();
    this.shardChannels = new Set();
    this.everSubscribed = false;
    this.reply = 'on'; // 'on' | 'off' | 'skip' (the next command's reply is skipped)
    this.closed = false; // QUIT ran: later commands on this connection never run
    // The connection ever subscribed (RESET does not clear this): when it ends, a proxy may drop
    // its upstream subscriptions a moment later, so the client's next connection uses new names.
    this.hadSubscriptions = false;
  }

  // What RESET does (Redis clearClientConnectionState): everything but the connection itself.
  reset() {
    const fresh = new ConnState();
    fresh.hadSubscriptions = this.hadSubscriptions;
    for (const k of Object.keys(fresh)) this[k] = fresh[k];
  }

  get subscriptions() {
    return this.channels.size + this.patterns.size;
  }

  get subscribed() {
    return this.channels.size + this.patterns.size + this.shardChannels.size > 0;
  }

  // RESP2 and subscribed: only the pub/sub commands, PING, QUIT and RESET run.
  get restricted() {
    return this.proto === 2 && this.subscribed;
  }

  // keywarden keeps a pinned upstream connection for this client (documented: HELLO cannot
  // switch protocol then, and a subscriber stays pinned until RESET).
  get pinnedByProxy() {
    return this.inMulti || this.watching || this.db !== 0 || this.everSubscribed;
  }
}

function name(cmd) {
  return String(cmd.args[0]).toLowerCase();
}

// Applies `cmd` to the predicted state; sets cmd.frames (how many frames to read) and cmd.cmp.
function apply(st, cmd) {
  const nm = cmd.name || name(cmd);
  if (cmd.noCommand) {
    // Bytes that are no command at all (an empty multibulk or inline line): no reply, but
    // Redis still ends a pending CLIENT REPLY SKIP on them.
    cmd.frames = 0;
    if (!st.closed && st.reply === 'skip') st.reply = 'on';
    return;
  }
  if (st.closed) {
    cmd.frames = 0;
    cmd.note = 'after QUIT: never runs';
    return;
  }
  let frames = cmd.base === undefined ? 1 : cmd.base;
  let run = true;
  if (cmd.rejected) {
    // Refused before running (unknown command, wrong arity): one error, no effect; inside
    // MULTI it also dooms the transaction.
    frames = 1;
    run = false;
    if (st.inMulti) st.multiAborted = true;
    cmd.cmp = undefined;
  } else if (st.restricted && !SUBSCRIBED_ALLOWED.has(nm)) {
    frames = 1;
    run = false;
    cmd.cmp = undefined;
    cmd.note = 'refused in RESP2 subscribed context';
  } else if (st.inMulti && !NOT_QUEUED.has(nm)) {
    frames = 1;
    run = false;
    st.queued.push(cmd.cmp);
    if (cmd.onQueued) cmd.onQueued(st);
    cmd.cmp = undefined;
    cmd.note = 'queued';
  }
  // CLIENT REPLY gating. A command that clears the mode before answering still answers: RESET
  // clears OFF (not SKIP), CLIENT REPLY ON clears both.
  if ((st.reply === 'off' && !cmd.replyWhenOff) || (st.reply === 'skip' && !cmd.replyWhenSkip)) frames = 0;
  if (st.reply === 'skip') st.reply = 'on';
  cmd.frames = frames;
  if (run && cmd.effect) cmd.effect(st);
}

module.exports = { ConnState, apply, SUBSCRIBED_ALLOWED };
