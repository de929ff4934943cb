'use strict';
// The fault test's record of every write and the checker that holds Redis to it.
//
// Each write is settled once, with the outcome its client saw:
//   ack      a success reply (already checked against the request it answers)
//   notrun   an error that says the command did not run (or one of Redis's own refusals)
//   maybe    an error that says it may or may not have run
//   noreply  the connection closed before the reply (it may or may not have run)
//   noexec   queued in a transaction whose EXEC was never sent
//   unclear  an error whose text says neither: a finding, checked as "maybe"
// The checker then reads Redis itself: an acknowledged write is there with its exact value, a
// "notrun" or "noexec" one is not, any other is there exactly or not at all; a transaction is
// all or nothing; every key under the ledger's tag was written by a request of the ledger.

const { RespError } = require('./resp');

// What an error reply to a write says about the command's effect.
const ERROR_MEANINGS = [
  // keywarden: the request was in flight when its upstream link broke
  [/^UPSTREAMDOWN connection to upstream \S+ lost \(.+\); the command may or may not have run$/, 'maybe'],
  // keywarden: the request was still waiting to go to a link that broke
  [/^UPSTREAMDOWN connection to upstream \S+ lost \(.+\); the command was not sent$/, 'notrun'],
  // keywarden: no link could take the request, nothing was sent
  [/^UPSTREAMDOWN upstream \S+ unavailable \(.+\); the command was not sent$/, 'notrun'],
  // Redis's own refusals: Redis did not run the command
  [/^LOADING /, 'notrun'],
  [/^EXECABORT /, 'notrun'],
];

// Reads (and EXEC without MULTI) change nothing; besides the texts above, these are the errors
// they may get.
const READ_ERRORS = [
  /^ERR EXEC without MULTI$/, // EXEC after a refused MULTI
  /^ERR source 'apidb' unavailable \(.+\)$/, // read-through: PostgreSQL down, circuit open
  /^ERR keywarden is shutting down$/, // read-through fill cut short by SIGTERM
];

const MGET_BATCH = 500;

function show(v) {
  const s = v instanceof RespError ? `-${v.message}` : JSON.stringify(v);
  return s !== undefined && s.length > 160 ? `${s.slice(0, 160)}...` : s;
}

class Ledger {
  constructor(tag) {
    this.tag = tag; // every key written starts with `${tag}:`
    this.sets = []; // {key, value, outcome, error}
    this.lists = new Map(); // key -> {key, sent, pushes: Map(seq -> {seq, outcome, reply})}
    this.counters = new Map(); // key -> {key, sent, notrun, lastAck}
    this.txs = []; // {sets, push, plain}: plain when MULTI was refused
    this.violations = [];
    this.errorTexts = new Map(); // shape (digits as N) -> {count, meaning, example}
    this.outcomes = { ack: 0, notrun: 0, maybe: 0, noreply: 0, noexec: 0, unclear: 0 };
    this.notes = new Map(); // observation -> count
  }

  violation(msg) {
    if (this.violations.length < 40) this.violations.push(msg);
  }

  note(what) {
    this.notes.set(what, (this.notes.get(what) || 0) + 1);
  }

  set(key, value) {
    const rec = { key, value, outcome: null, error: null };
    this.sets.push(rec);
    return rec;
  }

  list(key) {
    let l = this.lists.get(key);
    if (!l) {
      l = { key, sent: 0, pushes: new Map() };
      this.lists.set(key, l);
    }
    return l;
  }

  push(list, seq) {
    list.sent++;
    const rec = { seq: String(seq), outcome: null, error: null, reply: null, present: false };
    list.pushes.set(rec.seq, rec);
    return rec;
  }

  counter(key) {
    let c = this.counters.get(key);
    if (!c) {
      c = { key, sent: 0, notrun: 0, lastAck: 0 };
      this.counters.set(key, c);
    }
    return c;
  }

  tx(sets, push) {
    const t = { sets, push, plain: false };
    this.txs.push(t);
    return t;
  }

  // Settles a record once (rec may be null for writes checked only by count, like INCR).
  settle(rec, outcome, error = null) {
    if (rec) {
      if (rec.outcome !== null) return;
      rec.outcome = outcome;
      rec.error = error;
    }
    this.outcomes[outcome]++;
  }

  settleTx(t, outcome, error = null) {
    for (const r of t.sets) this.settle(r, outcome, error);
    this.settle(t.push, outcome, error);
  }

  // The outcome an error reply to a write stands for; the text is counted.
  writeError(text) {
    const m = ERROR_MEANINGS.find(([re]) => re.test(text));
    const meaning = m ? m[1] : 'unclear';
    this.countError(text, meaning);
    return meaning;
  }

  readError(text) {
    const known = ERROR_MEANINGS.some(([re]) => re.test(text)) || READ_ERRORS.some((re) => re.test(text));
    this.countError(text, known ? 'read' : 'unclear');
  }

  countError(text, meaning) {
    const shape = text.replace(/\d+/g, 'N');
    const e = this.errorTexts.get(shape) || { count: 0, meaning, example: text };
    e.count++;
    this.errorTexts.set(shape, e);
  }

  unclearErrors() {
    return [...this.errorTexts.values()].filter((e) => e.meaning === 'unclear').map((e) => `${e.example} (x${e.count})`);
  }

  // Writes (SETs and pushes) of the clients whose name matches `who` (the key's second segment),
  // with their keys, that `pred(record)` holds for; after checkLedger, records know whether they
  // are in Redis (`present`).
  writesOf(who, pred) {
    const out = [];
    const of = (key) => who.test(key.split(':')[1]);
    for (const r of this.sets) if (of(r.key) && pred(r)) out.push(`${r.key} (${r.outcome}${r.error ? `: ${r.error}` : ''})`);
    for (const l of this.lists.values()) {
      if (!of(l.key)) continue;
      for (const p of l.pushes.values()) if (pred(p)) out.push(`${l.key} <- ${p.seq} (${p.outcome}${p.error ? `: ${p.error}` : ''})`);
    }
    return out.slice(0, 20);
  }

  failed() {
    const o = this.outcomes;
    return o.notrun + o.maybe + o.noreply + o.unclear;
  }

  summary() {
    const o = this.outcomes;
    const errors = [...this.errorTexts.values()].map((e) => `${e.count} x ${e.example.slice(0, 110)}`);
    const notes = [...this.notes].map(([k, v]) => `${v} x ${k}`);
    return `writes: ${o.ack} acknowledged, ${o.notrun} not run, ${o.maybe} may have run, ` +
      `${o.noreply} no reply, ${o.noexec} without EXEC, ${o.unclear} unclear` +
      `${errors.length ? `\n#   errors: ${errors.join('\n#           ')}` : ''}` +
      `${notes.length ? `\n#   notes: ${notes.join('; ')}` : ''}`;
  }
}

// Reads Redis through `redis` (a RawClient of Redis itself, not of keywarden) and returns every
// way it disagrees with the ledger, as sentences.
async function checkLedger(ledger, redis) {
  const problems = [];
  const problem = (msg) => {
    if (problems.length < 40) problems.push(msg);
  };
  const known = new Set();

  for (let i = 0; i < ledger.sets.length; i += MGET_BATCH) {
    const batch = ledger.sets.slice(i, i + MGET_BATCH);
    const values = await redis.call('MGET', ...batch.map((r) => r.key));
    if (!Array.isArray(values)) throw new Error(`MGET answered ${show(values)}`);
    batch.forEach((r, j) => {
      known.add(r.key);
      const v = values[j];
      r.present = v !== null;
      if (v !== null && v !== r.value) {
        problem(`${r.key} holds ${show(v)}, which no request wrote (its write of ${show(r.value)} was ${r.outcome})`);
      } else if (r.outcome === 'ack' && v === null) {
        problem(`acknowledged SET ${r.key} ${r.value} is missing`);
      } else if (r.outcome === 'notrun' && v !== null) {
        problem(`SET ${r.key} failed with an error that says it did not run, yet it did: "${r.error}"`);
      } else if (r.outcome === 'noexec' && v !== null) {
        problem(`SET ${r.key} was applied, queued in a transaction whose EXEC was never sent`);
      } else if (r.outcome === null) {
        problem(`test bug: the write of ${r.key} was never settled`);
      }
    });
  }

  for (const l of ledger.lists.values()) {
    known.add(l.key);
    const items = await redis.call('LRANGE', l.key, '0', '-1');
    if (!Array.isArray(items)) throw new Error(`LRANGE answered ${show(items)}`);
    const seen = new Set();
    items.forEach((seq, i) => {
      const p = l.pushes.get(seq);
      if (!p) return problem(`${l.key}[${i}] is ${show(seq)}, which no request pushed`);
      if (seen.has(seq)) return problem(`${l.key} holds ${seq} twice: a push ran twice`);
      seen.add(seq);
      p.position = i + 1;
      p.present = true;
      if (p.outcome === 'notrun') problem(`RPUSH ${l.key} ${seq} failed with an error that says it did not run, yet it did: "${p.error}"`);
      if (p.outcome === 'noexec') problem(`RPUSH ${l.key} ${seq} was applied, queued in a transaction whose EXEC was never sent`);
      return undefined;
    });
    for (const p of l.pushes.values()) {
      if (p.outcome === null) problem(`test bug: RPUSH ${l.key} ${p.seq} was never settled`);
      if (p.outcome !== 'ack') continue;
      // The list only grows, and a SIGKILL loses only a tail of unacknowledged pushes: an
      // acknowledged push is still where its reply said it landed.
      if (p.position === undefined) problem(`acknowledged RPUSH ${l.key} ${p.seq} is missing`);
      else if (p.reply !== p.position) {
        problem(`RPUSH ${l.key} ${p.seq} was answered ${p.reply} but is element ${p.position}: that reply belonged to another request`);
      }
    }
  }

  for (const c of ledger.counters.values()) {
    known.add(c.key);
    const v = await redis.call('GET', c.key);
    const n = v === null ? 0 : Number(v);
    if (n < c.lastAck) problem(`${c.key} is ${n}, below its acknowledged INCR reply ${c.lastAck}`);
    if (n > c.sent - c.notrun) {
      problem(`${c.key} is ${n}, above the ${c.sent} INCRs sent less the ${c.notrun} that failed with "not run" errors`);
    }
  }

  for (const t of ledger.txs) {
    if (t.plain) continue;
    const parts = [...t.sets.map((r) => r.present), t.push.present];
    if (parts.some((x) => x !== parts[0])) {
      problem(`transaction of ${t.sets.map((r) => r.key).join(', ')} (${t.sets[0].outcome}) applied in part: ${JSON.stringify(parts)}`);
    }
  }

  let cursor = '0';
  let stray = 0;
  do {
    const [next, keys] = await redis.call('SCAN', cursor, 'MATCH', `${ledger.tag}:*`, 'COUNT', '1000');
    cursor = next;
    for (const k of keys) {
      if (!known.has(k) && stray++ < 5) problem(`${k} is in Redis but no request of the test wrote it`);
    }
  } while (cursor !== '0');

  return problems;
}

module.exports = { Ledger, checkLedger, show };
