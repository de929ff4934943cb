'use strict';
// What a family generator sees: the client's number and key generation, its random source, the
// predicted connection state, and helpers that make tagged keys, channels and values.

const { ConnState } = require('./model');

// Key kinds: s string, n integer, l list, h hash, S set, z zset, x stream, b bitmap/hll,
// w sort weights. Few keys per kind, so commands keep meeting each other's data.
const KINDS = ['s', 'n', 'l', 'h', 'S', 'z', 'x', 'b'];

class Ctx {
  constructor(n, rng, opts) {
    this.n = n;
    this.rng = rng;
    this.opts = opts;
    this.gen = 0;
    this.st = new ConnState();
    this.streamSeq = 1; // stream ids only grow, whatever the key
    this.nonce = 0;
  }

  // A fresh connection (after QUIT or a disconnect). bump: its keys start over, because what
  // the old connection had in flight may or may not have run.
  newConnection(bump) {
    this.st = new ConnState();
    if (bump) this.gen++;
  }

  // The part every key of this client generation starts with. With a cluster upstream
  // (opts.cluster) it is a hash tag: all of a client's keys share one slot, so a multi-key
  // command is one command on one node, as Redis Cluster requires.
  keyPrefix() {
    return this.opts.cluster ? `{dt${this.n}.${this.gen}}` : `dt${this.n}.${this.gen}`;
  }

  chanPrefix() {
    return this.opts.cluster ? `{ch${this.n}.${this.gen}}` : `ch${this.n}.${this.gen}`;
  }

  key(kind, i) {
    const idx = i === undefined ? this.rng.int(1, 3) : i;
    return `${this.keyPrefix()}:${kind}${idx}`;
  }

  // A key of any kind: the source of WRONGTYPE errors.
  anyKey() {
    return this.key(this.rng.pick(KINDS));
  }

  // Source and destination for RENAME/COPY: any kinds, except that nothing moves into a bitmap
  // key. Bit operations only ever touch bitmap keys, so they never flip a bit of a tagged
  // value (turning "c3." into "c2." would look like another client's data).
  keyPair() {
    const from = this.rng.pick(KINDS);
    const to = from === 'b' ? this.rng.pick(KINDS) : this.rng.pick(KINDS.filter((k) => k !== 'b'));
    return [this.key(from), this.key(to)];
  }

  keyPattern() {
    return `${this.keyPrefix()}:*`;
  }

  chan(i) {
    const letter = this.rng.pick(['a', 'b', 'c']);
    return `${this.chanPrefix()}:${letter}${i === undefined ? this.rng.int(0, 3) : i}`;
  }

  chanPattern() {
    const base = `${this.chanPrefix()}:`;
    return this.rng.pick([`${base}*`, `${base}a*`, `${base}b*`, `${base}?1`, `${base}[ab]2`]);
  }

  tag() {
    return `c${this.n}.`;
  }

  // A value: the client's tag plus filler; now and then binary bytes, CRLF, or a big one.
  val(big = false) {
    const r = this.rng.float();
    if (big || (this.opts.bigValues && r < 0.004)) {
      const size = this.rng.int(10000, 300000);
      return this.tag() + 'x'.repeat(size);
    }
    if (r < 0.06) {
      const bytes = [];
      const n = this.rng.int(1, 12);
      for (let i = 0; i < n; i++) bytes.push(this.rng.pick([0, 1, 9, 10, 13, 0x7f, 0x80, 0xc3, 0xff, this.rng.int(0x80, 0xff)]));
      return Buffer.concat([Buffer.from(this.tag(), 'latin1'), Buffer.from(bytes)]);
    }
    if (r < 0.09) return `${this.tag()}${this.rng.letters(1, 5)} ${this.rng.letters(1, 5)}`;
    return this.tag() + this.rng.letters(0, 8);
  }

  member(max = 9) {
    return `${this.tag()}m${this.rng.int(0, max)}`;
  }

  field() {
    return `f${this.rng.int(0, 7)}`;
  }

  int(lo = -5, hi = 50) {
    return String(this.rng.int(lo, hi));
  }

  // Long enough to outlive any run, short enough to be seen; compared with a tolerance.
  ttl() {
    return String(this.rng.int(1000, 100000));
  }

  blockSeconds() {
    return this.rng.pick(['0.01', '0.02', '0.03', '0.05']);
  }

  uniq() {
    this.nonce++;
    return `${this.tag()}${this.gen}u${this.nonce}`;
  }
}

// A command. o: cmp (compare spec), base (frames when replies are on), effect(st) (state change
// when it runs), onQueued(st) (state change when queued in MULTI), rejected (refused before it
// runs: unknown or wrong arity), replyWhenOff / replyWhenSkip (answers even under CLIENT REPLY
// OFF / SKIP), noCommand (bytes that are no command: no reply),
// blockMs (how long it may block), noInline (never sent inline).
function C(args, o = {}) {
  return { args, ...o };
}

module.exports = { Ctx, C, KINDS };
