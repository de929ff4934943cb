'use strict';
// Turns (seed, client number) into an endless sequence of steps. A step is
//   { kind: 'cmds', cmds, split }         one command or a pipeline, on the main connection
//   { kind: 'aux', cmds, mainFrames }     commands on the client's second connection, then
//                                         mainFrames pushed frames expected on the main one
//   { kind: 'disconnect', ... }           see families/disconnect.js
//   { kind: 'sleep', ms }
// Every command gets its bytes, its frame count and its compare spec from the model here, so
// the runner only sends, reads and compares.

const { Rng } = require('./prng');
const { Ctx } = require('./ctx');
const model = require('./model');
const { encodeMultibulk, encodeInline, inlineSafe } = require('./resp_frames');

const FAMILIES = [
  'strings', 'lists', 'hashes', 'sets', 'zsets', 'streams', 'keyspace', 'scripts', 'busy', 'tx',
  'txerrors', 'select', 'hello', 'connection', 'clientname', 'reset', 'pubsub', 'spubsub',
  'blocking', 'clientreply', 'quit', 'disconnect', 'errors', 'protocol', 'global',
].map((name) => require(`./families/${name}`));

const FAMILY_NAMES = FAMILIES.map((f) => f.name);

// Families whose commands make sense in each restricted context.
const IN_SUBSCRIBED_RESP2 = new Set(['pubsub', 'spubsub', 'quit', 'disconnect', 'connection', 'reset']);
// Families usable while replies are off or the next one is skipped (besides the plain ones).
const WITH_REPLIES_OFF = new Set(['clientreply', 'quit', 'disconnect', 'reset']);
const NOT_IN_MULTI = new Set(['pubsub', 'spubsub', 'hello', 'clientreply']);
const SPECIAL = new Set(['disconnect']);

function selectFamilies(only, skip) {
  const want = only ? new Set(only) : new Set(FAMILY_NAMES);
  for (const s of skip || []) want.delete(s);
  for (const n of [...(only || []), ...(skip || [])]) {
    if (!FAMILY_NAMES.includes(n)) throw new Error(`unknown family "${n}"; families: ${FAMILY_NAMES.join(', ')}`);
  }
  return FAMILIES.filter((f) => want.has(f.name));
}

class Generator {
  // opts: families (array of family objects), pipelineProb, strict, busyLoopsPerMs, bigValues
  constructor(n, seedText, opts) {
    this.rng = new Rng(seedText);
    this.ctx = new Ctx(n, this.rng, opts);
    this.opts = opts;
    this.families = opts.families;
    this.plainFamilies = FAMILIES.filter((f) => f.plain && ['strings', 'lists', 'hashes', 'sets', 'zsets', 'keyspace'].includes(f.name));
    this.reconnect = null; // set when the last step ended the connection: 'same' | 'bump'
  }

  eligible(f, st, inPipeline) {
    if (inPipeline && SPECIAL.has(f.name)) return false;
    if (f.when && !f.when(st)) return false;
    if (st.restricted) return IN_SUBSCRIBED_RESP2.has(f.name);
    if (st.reply !== 'on') return f.plain || WITH_REPLIES_OFF.has(f.name);
    if (st.inMulti) return !NOT_IN_MULTI.has(f.name);
    return true;
  }

  weight(f, st) {
    let w = f.weightIn ? f.weightIn(st) * f.weight : f.weight;
    if (f.name === 'tx' && st.inMulti) w *= 2; // transactions end, sooner or later
    return w;
  }

  pickFamily(inPipeline) {
    const st = this.ctx.st;
    const list = this.families.filter((f) => this.eligible(f, st, inPipeline)).map((f) => [this.weight(f, st), f]);
    if (list.length === 0) return null;
    return this.rng.weighted(list);
  }

  // A plain data command, not yet applied to the model.
  plainCommand() {
    const fams = this.plainFamilies;
    for (;;) {
      const c = this.rng.pick(fams).gen(this.ctx);
      if (!c.kind) return c;
    }
  }

  encode(c) {
    if (c.raw) {
      c.bytes = c.raw;
      return c;
    }
    const r = this.rng;
    if (!c.noInline && r.chance(0.04) && inlineSafe(c.args)) {
      c.bytes = encodeInline(c.args, false);
      c.enc = 'inline';
    } else if (!c.noInline && r.chance(0.02) && c.args.every((a) => String(a).length < 300 && String(a).length > 0)) {
      c.bytes = encodeInline(c.args, true);
      c.enc = 'inline-quoted';
    } else {
      c.bytes = encodeMultibulk(c.args);
    }
    return c;
  }

  // One command from a family, applied to the model; or a special step; or null.
  oneFrom(f, inPipeline) {
    const out = f.gen(this.ctx, () => this.encode(this.plainCommand()));
    if (out === null || out === undefined) return null;
    if (out.kind) {
      if (inPipeline) return null;
      if (out.cmds) for (const c of out.cmds) if (!c.bytes) this.encode(c);
      return out;
    }
    out.family = f.name;
    this.encode(out);
    model.apply(this.ctx.st, out);
    return out;
  }

  fallback() {
    // Nothing eligible (a family filter left nothing for this state): RESET gets out of it.
    const c = this.encode({ args: ['RESET'], replyWhenOff: true, effect: (s) => s.reset(), family: 'connection' });
    model.apply(this.ctx.st, c);
    return c;
  }

  next() {
    const ctx = this.ctx;
    if (this.reconnect) {
      ctx.newConnection(this.reconnect === 'bump');
      this.reconnect = null;
    }
    const r = this.rng;
    if (r.chance(0.01)) return { kind: 'sleep', ms: r.int(1, 15) };
    const f = this.pickFamily(false);
    const first = f ? this.oneFrom(f, false) : this.fallback();
    if (first === null) return { kind: 'sleep', ms: 0 };
    if (first.kind === 'disconnect') {
      this.reconnect = first.bump ? 'bump' : 'same';
      return first;
    }
    if (first.kind) return first;
    const cmds = [first];
    if (r.chance(this.opts.pipelineProb)) {
      const n = r.weighted([[6, r.int(2, 5)], [2, r.int(6, 20)], [0.3, r.int(50, 200)]]);
      let afterClose = r.int(0, 2);
      for (let i = 1; i < n; i++) {
        if (ctx.st.closed && afterClose-- <= 0) break;
        const g = this.pickFamily(true);
        if (!g) break;
        const closedBefore = ctx.st.closed;
        const c = this.oneFrom(g, true);
        // Bytes behind a QUIT must be read by the server together with the QUIT: data left
        // unread when it closes makes the kernel reset the connection, which can drop the
        // replies themselves. Redis reads 16 KB at a time, so only small steps get them.
        const size = cmds.reduce((a, x) => a + x.bytes.length, 0);
        if (c && !(closedBefore && (c.bytes.length > 200 || size > 8000))) cmds.push(c);
      }
    }
    if (ctx.st.closed) this.reconnect = ctx.st.hadSubscriptions ? 'bump' : 'same';
    // For the same reason a closing step is written at once, never in chunks.
    return { kind: 'cmds', cmds, split: !ctx.st.closed && r.chance(0.15) };
  }
}

module.exports = { Generator, selectFamilies, FAMILY_NAMES };
