'use strict';
// Load for the fault test: writers (raw sockets and ioredis) that record every write in a Ledger
// and check every reply against the request it answers; read-through readers that check every
// row they get; vandals that drop their connection in the middle of pipelines and transactions.
// Every client reconnects by itself, so the load goes on across the faults.

const crypto = require('node:crypto');
const Redis = require('ioredis');
const h = require('./harness');
const { RawClient, RespError, encodeCommand } = require('./resp');
const { show } = require('./fault_ledger');

// Longer than keywarden's request timeout: a request that waits this long was forgotten.
const REPLY_DEADLINE_MS = 15000;
const MAX_REMEMBERED = 2000; // acknowledged SETs a writer may read back

function token() {
  return crypto.randomBytes(6).toString('hex');
}

function pick(list) {
  return list[Math.floor(Math.random() * list.length)];
}

// An operation is {args, onReply(reply), onLost(outcome)}: onLost('noreply') when the connection
// closed first, onLost('notrun') when the client never sent it.
class Writer {
  constructor(ledger, name) {
    this.ledger = ledger;
    this.name = name;
    this.seq = 0;
    this.acked = []; // acknowledged SET records, read back by GETs
    this.ok = 0;
    this.lastAckAt = 0;
    this.stopping = false;
  }

  key(suffix) {
    return `${this.ledger.tag}:${this.name}:${suffix}`;
  }

  violation(msg) {
    this.ledger.violation(`${this.name}: ${msg}`);
  }

  acknowledged() {
    this.ok++;
    this.lastAckAt = Date.now();
  }

  // 1..8 operations of one pipeline, transactions (MULTI ... EXEC) among them when allowed.
  plan(withTx) {
    const ops = [];
    const n = 1 + Math.floor(Math.random() * 8);
    while (ops.length < n) {
      const dice = Math.random();
      if (dice < 0.35) ops.push(this.setOp());
      else if (dice < 0.5) ops.push(this.incrOp());
      else if (dice < 0.65) ops.push(this.pushOp());
      else if (dice < 0.85 && this.acked.length > 0) ops.push(this.getOp());
      else if (withTx) ops.push(...this.txOps());
      else ops.push(this.setOp());
    }
    return ops;
  }

  setOp() {
    const seq = ++this.seq;
    const rec = this.ledger.set(this.key(`k${seq}`), `${this.name}:${seq}:${token()}`);
    return {
      args: ['SET', rec.key, rec.value],
      onReply: (r) => this.settleSet(rec, r),
      onLost: (outcome) => this.ledger.settle(rec, outcome),
    };
  }

  settleSet(rec, r) {
    if (r === 'OK') {
      this.ledger.settle(rec, 'ack');
      this.acknowledged();
      this.acked.push(rec);
      if (this.acked.length > MAX_REMEMBERED) this.acked.splice(0, MAX_REMEMBERED / 2);
    } else if (r instanceof RespError) {
      this.ledger.settle(rec, this.ledger.writeError(r.message), r.message);
    } else {
      this.violation(`SET ${rec.key} answered ${show(r)}: not a reply to it`);
      this.ledger.settle(rec, 'maybe');
    }
  }

  incrOp() {
    const c = this.ledger.counter(this.key('ctr'));
    c.sent++;
    const sentSoFar = c.sent;
    return {
      args: ['INCR', c.key],
      onReply: (r) => {
        if (Number.isInteger(r) && r > c.lastAck && r <= sentSoFar) {
          c.lastAck = r;
          this.ledger.settle(null, 'ack');
          this.acknowledged();
        } else if (r instanceof RespError) {
          const outcome = this.ledger.writeError(r.message);
          if (outcome === 'notrun') c.notrun++;
          this.ledger.settle(null, outcome);
        } else {
          this.violation(`INCR ${c.key} answered ${show(r)} after ${c.lastAck} acknowledged and ${sentSoFar} sent: not a reply to it`);
          this.ledger.settle(null, 'maybe');
        }
      },
      onLost: (outcome) => {
        if (outcome === 'notrun') c.notrun++;
        this.ledger.settle(null, outcome);
      },
    };
  }

  pushOp() {
    const l = this.ledger.list(this.key('log'));
    const rec = this.ledger.push(l, ++this.seq);
    const sentSoFar = l.sent;
    return {
      args: ['RPUSH', l.key, rec.seq],
      onReply: (r) => this.settlePush(l, rec, r, sentSoFar),
      onLost: (outcome) => this.ledger.settle(rec, outcome),
    };
  }

  settlePush(l, rec, r, sentSoFar) {
    if (Number.isInteger(r) && r >= 1 && r <= sentSoFar) {
      rec.reply = r;
      this.ledger.settle(rec, 'ack');
      this.acknowledged();
    } else if (r instanceof RespError) {
      this.ledger.settle(rec, this.ledger.writeError(r.message), r.message);
    } else {
      this.violation(`RPUSH ${l.key} ${rec.seq} answered ${show(r)} with ${sentSoFar} pushes sent: not a reply to it`);
      this.ledger.settle(rec, 'maybe');
    }
  }

  // Reads back a value whose SET was acknowledged: exactly that value, whatever happened since.
  getOp() {
    const rec = pick(this.acked);
    return {
      args: ['GET', rec.key],
      onReply: (r) => {
        if (r === rec.value) return;
        if (r instanceof RespError) this.ledger.readError(r.message);
        else if (r === null) this.violation(`GET ${rec.key} answered nil: its acknowledged SET is lost`);
        else this.violation(`GET ${rec.key} answered ${show(r)}, not its acknowledged ${rec.value}: a reply of another request`);
      },
      onLost: () => {},
    };
  }

  // The parts of a transaction: SET a, SET b, RPUSH txlog; its EXEC answers [OK, OK, length].
  txParts() {
    const seq = ++this.seq;
    const a = this.ledger.set(this.key(`t${seq}a`), `${this.name}:t${seq}a:${token()}`);
    const b = this.ledger.set(this.key(`t${seq}b`), `${this.name}:t${seq}b:${token()}`);
    const l = this.ledger.list(this.key('txlog'));
    const p = this.ledger.push(l, seq);
    return { a, b, l, p, sentSoFar: l.sent, tx: this.ledger.tx([a, b], p) };
  }

  // EXEC's reply to the transaction of `parts`.
  settleExec(parts, r) {
    const { l, p, tx, sentSoFar } = parts;
    if (Array.isArray(r) && r.length === 3 && r[0] === 'OK' && r[1] === 'OK' &&
        Number.isInteger(r[2]) && r[2] >= 1 && r[2] <= sentSoFar) {
      p.reply = r[2];
      this.ledger.settleTx(tx, 'ack');
      this.acknowledged();
    } else if (r instanceof RespError) {
      this.ledger.settleTx(tx, this.ledger.writeError(r.message), r.message);
    } else {
      this.violation(`EXEC of ${tx.sets[0].key}.. (push ${p.seq} to ${l.key}, ${sentSoFar} sent) answered ${show(r)}: not a reply to it`);
      this.ledger.settleTx(tx, 'maybe');
    }
  }

  // MULTI, SET, SET, RPUSH, EXEC as five operations of a pipeline. MULTI's reply decides how the
  // others read: QUEUED in a transaction, or, if MULTI was refused, replies of plain commands.
  txOps() {
    const parts = this.txParts();
    const { a, b, l, p, tx, sentSoFar } = parts;
    let multi = null; // 'ok' | 'refused'
    const inner = (args, plain) => ({
      args,
      onReply: (r) => {
        if (multi === 'refused') return plain(r);
        if (r === 'QUEUED') return undefined;
        if (r instanceof RespError) return this.ledger.writeError(r.message); // EXEC will tell
        this.violation(`${args[0]} ${args[1]} inside MULTI answered ${show(r)}, not QUEUED`);
        return undefined;
      },
      onLost: () => {},
    });
    return [
      {
        args: ['MULTI'],
        onReply: (r) => {
          if (r === 'OK') {
            multi = 'ok';
          } else {
            if (r instanceof RespError) this.ledger.writeError(r.message);
            else this.violation(`MULTI answered ${show(r)}`);
            multi = 'refused';
            tx.plain = true;
          }
        },
        onLost: () => {},
      },
      inner(['SET', a.key, a.value], (r) => this.settleSet(a, r)),
      inner(['SET', b.key, b.value], (r) => this.settleSet(b, r)),
      inner(['RPUSH', l.key, p.seq], (r) => this.settlePush(l, p, r, sentSoFar)),
      {
        args: ['EXEC'],
        onReply: (r) => {
          if (multi !== 'refused') return this.settleExec(parts, r);
          // Commands after a refused MULTI ran (or not) on their own; count when some did.
          if ([a, b, p].some((x) => x.outcome === 'ack')) this.ledger.note('MULTI refused, later commands of its pipeline ran alone');
          // Without a transaction EXEC is an error whatever else happens ("EXEC without MULTI",
          // or the upstream's failure): it has no effect of its own.
          if (r instanceof RespError) this.ledger.readError(r.message);
          else this.violation(`EXEC after a refused MULTI answered ${show(r)}`);
          return undefined;
        },
        onLost: (outcome) => {
          if (multi === 'refused') {
            for (const x of [a, b]) this.ledger.settle(x, outcome);
            this.ledger.settle(p, outcome);
          } else {
            this.ledger.settleTx(tx, outcome);
          }
        },
      },
    ];
  }
}

// A writer on a raw socket: pipelines of 1..8 operations, replies read one by one; RESP3 (HELLO 3
// on every connection) when asked.
class RawWriter extends Writer {
  constructor(ledger, name, port, resp3) {
    super(ledger, name);
    this.port = port;
    this.resp3 = resp3;
    this.c = null;
  }

  async connect() {
    while (!this.stopping) {
      try {
        this.c = await RawClient.connect(this.port, h.HOST, { connectTimeoutMs: 2000 });
        if (!this.resp3) return true;
        const hello = await this.c.call('HELLO', '3');
        if (hello instanceof Map && hello.get('proto') === 3) return true;
        if (hello instanceof RespError) this.ledger.readError(hello.message);
        else this.violation(`HELLO 3 answered ${show(hello)}`);
        this.c.close();
      } catch {
        if (this.c) this.c.close();
        await h.sleep(30);
      }
    }
    return false;
  }

  async run() {
    while (!this.stopping) {
      if ((!this.c || this.c.isClosed) && !(await this.connect())) break;
      const ops = this.plan(true);
      // Operations that change their own lost-outcome (inner commands of a refused MULTI) settle
      // through EXEC's onLost, so every op gets exactly one onReply or onLost.
      this.c.write(Buffer.concat(ops.map((op) => encodeCommand(op.args))));
      let i = 0;
      for (; i < ops.length; i++) {
        let r;
        try {
          r = await this.c.read(REPLY_DEADLINE_MS);
        } catch (e) {
          if (this.c.parseError) this.violation(`unparsable reply: ${this.c.parseError.message}`);
          else if (!this.c.isClosed) this.violation(`no reply to ${ops[i].args[0]} within ${REPLY_DEADLINE_MS} ms (${e.message})`);
          this.c.close();
          break;
        }
        ops[i].onReply(r);
      }
      for (; i < ops.length; i++) ops[i].onLost('noreply');
      await h.sleep(1);
    }
    if (this.c) this.c.close();
  }
}

// What an ioredis rejection means: the server's error text, or a lost request.
function ioFailure(err) {
  if (err && err.name === 'ReplyError') return { reply: new RespError(err.message) };
  // enableOfflineQueue is off: a command issued while disconnected is refused without being sent.
  if (err && /Stream isn't writeable/.test(err.message)) return { lost: 'notrun' };
  return { lost: 'noreply' };
}

// A writer on ioredis (no offline queue, no resending: each command is sent at most once, and a
// command in flight when the connection closes is rejected at once).
class IoWriter extends Writer {
  constructor(ledger, name, port) {
    super(ledger, name);
    this.port = port;
  }

  async run() {
    const client = new Redis({
      host: h.HOST,
      port: this.port,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      enableReadyCheck: false,
      connectTimeout: 2000,
      retryStrategy: () => 50,
    });
    client.on('error', () => {});
    try {
      while (!this.stopping) {
        if (client.status !== 'ready') {
          await h.sleep(20);
          continue;
        }
        if (Math.random() < 0.2) await this.transaction(client);
        else await this.pipeline(client);
        await h.sleep(1);
      }
    } finally {
      client.disconnect();
    }
  }

  // Resolves with `promise`'s value, or {timedOut} after the deadline (a forgotten request).
  async settled(promise, what) {
    let timer;
    const r = await Promise.race([
      promise.then((value) => ({ value }), (error) => ({ error })),
      new Promise((resolve) => {
        timer = setTimeout(() => resolve({ timedOut: true }), REPLY_DEADLINE_MS);
      }),
    ]);
    clearTimeout(timer);
    if (r.timedOut) this.violation(`${what} not settled within ${REPLY_DEADLINE_MS} ms`);
    return r;
  }

  async pipeline(client) {
    const ops = this.plan(false);
    const p = client.pipeline();
    for (const op of ops) p[op.args[0].toLowerCase()](...op.args.slice(1));
    const r = await this.settled(p.exec(), 'ioredis pipeline');
    if (r.timedOut) return ops.forEach((op) => op.onLost('noreply'));
    if (r.error) {
      const f = ioFailure(r.error);
      return ops.forEach((op) => (f.reply ? op.onReply(f.reply) : op.onLost(f.lost)));
    }
    r.value.forEach(([err, value], i) => {
      if (!err) return ops[i].onReply(value);
      const f = ioFailure(err);
      return f.reply ? ops[i].onReply(f.reply) : ops[i].onLost(f.lost);
    });
    return undefined;
  }

  // ioredis sends MULTI, the commands and EXEC in one write and reports EXEC's outcome.
  async transaction(client) {
    const parts = this.txParts();
    const { a, b, l, p } = parts;
    const m = client.multi().set(a.key, a.value).set(b.key, b.value).rpush(l.key, p.seq);
    const r = await this.settled(m.exec(), 'ioredis MULTI/EXEC');
    if (r.timedOut) return this.ledger.settleTx(parts.tx, 'noreply');
    if (r.error) {
      const f = ioFailure(r.error);
      if (f.reply) return this.settleExec(parts, f.reply);
      return this.ledger.settleTx(parts.tx, f.lost);
    }
    const v = r.value;
    if (Array.isArray(v) && v.every(([err]) => !err)) return this.settleExec(parts, v.map(([, x]) => x));
    this.violation(`ioredis EXEC resolved ${show(v && v.map(([err, x]) => (err ? `-${err.message}` : x)))}`);
    return this.ledger.settleTx(parts.tx, 'maybe');
  }
}

// Read-through misses: GET profile:<id> of ids never read before, pipelined by four. A row that
// exists comes back as its own JSON (its user_id is the key's) or as an error; one that does not
// comes back nil or as an error; anything else is a wrong value.
class ProfileReader {
  constructor(ledger, name, port, ids) {
    this.ledger = ledger;
    this.name = name;
    this.port = port;
    this.ids = ids;
    this.stopping = false;
    this.filled = 0;
    this.errors = 0;
    this.lastFillSentAt = 0; // when the last request answered with a row was sent
    this.lastErrorSentAt = 0;
  }

  violation(msg) {
    this.ledger.violation(`${this.name}: ${msg}`);
  }

  check(q, r) {
    if (r instanceof RespError) {
      this.errors++;
      this.lastErrorSentAt = Math.max(this.lastErrorSentAt, q.sentAt);
      return this.ledger.readError(r.message);
    }
    if (!q.exists) {
      if (r !== null) this.violation(`GET profile:${q.id} (no such row) answered ${show(r)}`);
      return undefined;
    }
    let row = null;
    try {
      row = typeof r === 'string' ? JSON.parse(r) : null;
    } catch {
      // reported below
    }
    if (!row || row.user_id !== q.id || row.first_name !== q.firstName) {
      return this.violation(`GET profile:${q.id} (row ${q.firstName}) answered ${show(r)}`);
    }
    this.filled++;
    this.lastFillSentAt = Math.max(this.lastFillSentAt, q.sentAt);
    return undefined;
  }

  async run() {
    let c = null;
    while (!this.stopping) {
      if (!c || c.isClosed) {
        try {
          c = await RawClient.connect(this.port, h.HOST, { connectTimeoutMs: 2000 });
        } catch {
          await h.sleep(30);
          continue;
        }
      }
      const qs = Array.from({ length: 4 }, () => ({ ...this.ids.next(), sentAt: Date.now() }));
      c.write(Buffer.concat(qs.map((q) => encodeCommand(['GET', `profile:${q.id}`]))));
      for (const q of qs) {
        let r;
        try {
          r = await c.read(REPLY_DEADLINE_MS);
        } catch (e) {
          if (!c.isClosed) this.violation(`no reply to GET profile:${q.id} within ${REPLY_DEADLINE_MS} ms (${e.message})`);
          c.close();
          break;
        }
        this.check(q, r);
      }
      await h.sleep(2);
    }
    if (c) c.close();
  }
}

// Connections that go away mid-conversation, one kind after another. What they wrote is in the
// ledger: pipelined SETs may or may not have run; a transaction without EXEC never runs; one
// whose EXEC was sent runs whole or not at all.
class Vandal {
  constructor(ledger, name, port) {
    this.ledger = ledger;
    this.name = name;
    this.port = port;
    this.n = 0;
    this.kinds = new Map(); // kind -> times done
    this.stopping = false;
  }

  key(suffix) {
    return `${this.ledger.tag}:${this.name}:${suffix}`;
  }

  violation(msg) {
    this.ledger.violation(`${this.name}: ${msg}`);
  }

  async run() {
    while (!this.stopping) {
      let c;
      try {
        c = await RawClient.connect(this.port, h.HOST, { connectTimeoutMs: 2000 });
      } catch {
        await h.sleep(30);
        continue;
      }
      try {
        await this.once(c, ++this.n);
      } finally {
        c.close();
      }
      await h.sleep(3);
    }
  }

  // A transaction of two SETs and a push, as ledger records.
  txRecords(n) {
    const a = this.ledger.set(this.key(`x${n}a`), `${this.name}:x${n}a:${token()}`);
    const b = this.ledger.set(this.key(`x${n}b`), `${this.name}:x${n}b:${token()}`);
    const l = this.ledger.list(this.key('txlog'));
    const p = this.ledger.push(l, n);
    const tx = this.ledger.tx([a, b], p);
    const cmds = [['SET', a.key, a.value], ['SET', b.key, b.value], ['RPUSH', l.key, p.seq]];
    return { tx, cmds, recs: [a, b, p] };
  }

  // Reads n replies, false when the connection closed or a reply was not `want`.
  async expect(c, want, what) {
    for (const w of want) {
      let r;
      try {
        r = await c.read(REPLY_DEADLINE_MS);
      } catch (e) {
        if (!c.isClosed) this.violation(`${what}: no reply within ${REPLY_DEADLINE_MS} ms (${e.message})`);
        return false;
      }
      if (r === w) continue;
      if (r instanceof RespError) this.ledger.writeError(r.message);
      else this.violation(`${what}: answered ${show(r)}, expected ${w}`);
      return false;
    }
    return true;
  }

  async once(c, n) {
    const kinds = ['pipeline', 'multi-no-exec', 'multi-then-gone', 'exec-then-gone', 'half-request', 'blocked', 'half-read', 'watch-multi'];
    const kind = kinds[n % kinds.length];
    this.kinds.set(kind, (this.kinds.get(kind) || 0) + 1);
    const write = (cmds) => c.write(Buffer.concat(cmds.map((a) => encodeCommand(a))));
    switch (kind) {
      case 'pipeline': { // SETs pipelined, gone before a reply (or a moment after)
        const recs = Array.from({ length: 10 }, (_, i) => this.ledger.set(this.key(`p${n}:${i}`), `${this.name}:p${n}:${i}:${token()}`));
        write(recs.map((r) => ['SET', r.key, r.value]));
        if (n % 2) await new Promise((r) => setImmediate(r));
        for (const r of recs) this.ledger.settle(r, 'noreply');
        return;
      }
      case 'multi-no-exec': { // MULTI and queued commands acknowledged, then gone without EXEC
        const { tx, cmds, recs } = this.txRecords(n);
        write([['MULTI'], ...cmds]);
        if (await this.expect(c, ['OK', 'QUEUED', 'QUEUED', 'QUEUED'], `MULTI ${tx.sets[0].key}..`)) {
          this.ledger.settleTx(tx, 'noexec');
        } else {
          // MULTI refused or the link broke: whatever ran, ran alone.
          tx.plain = true;
          for (const r of recs) this.ledger.settle(r, 'noreply');
        }
        return;
      }
      case 'multi-then-gone': { // MULTI acknowledged, commands written, gone before their replies
        const { tx, cmds, recs } = this.txRecords(n);
        write([['MULTI']]);
        if (!(await this.expect(c, ['OK'], 'MULTI'))) {
          tx.plain = true;
          for (const r of recs) this.ledger.settle(r, 'noreply');
          return;
        }
        write(cmds);
        this.ledger.settleTx(tx, 'noexec');
        return;
      }
      case 'exec-then-gone': { // the whole transaction written, gone before EXEC's reply
        const { tx, cmds, recs } = this.txRecords(n);
        write([['MULTI']]);
        if (!(await this.expect(c, ['OK'], 'MULTI'))) {
          tx.plain = true;
          for (const r of recs) this.ledger.settle(r, 'noreply');
          return;
        }
        write([...cmds, ['EXEC']]);
        this.ledger.settleTx(tx, 'noreply');
        return;
      }
      case 'half-request': // a SET cut in the middle of its value
        c.write(`*3\r\n$3\r\nSET\r\n$${this.key(`h${n}`).length}\r\n${this.key(`h${n}`)}\r\n$10\r\nabc`);
        await new Promise((r) => setImmediate(r));
        return;
      case 'blocked': // gone while its BLPOP waits
        write([['BLPOP', this.key('empty'), '1']]);
        await h.sleep(20);
        return;
      case 'half-read': { // large SETs pipelined, gone after reading some of the replies
        const big = 'x'.repeat(16384);
        const recs = Array.from({ length: 8 }, (_, i) => this.ledger.set(this.key(`b${n}:${i}`), `${this.name}:b${n}:${i}:${token()}${big}`));
        write(recs.map((r) => ['SET', r.key, r.value]));
        let i = 0;
        for (; i < 3; i++) {
          let r;
          try {
            r = await c.read(REPLY_DEADLINE_MS);
          } catch {
            break;
          }
          if (r === 'OK') this.ledger.settle(recs[i], 'ack');
          else if (r instanceof RespError) this.ledger.settle(recs[i], this.ledger.writeError(r.message), r.message);
          else {
            this.violation(`SET ${recs[i].key} answered ${show(r)}`);
            this.ledger.settle(recs[i], 'maybe');
          }
        }
        for (; i < recs.length; i++) this.ledger.settle(recs[i], 'noreply');
        return;
      }
      case 'watch-multi': { // WATCH, MULTI, a queued SET, gone without EXEC
        const rec = this.ledger.set(this.key(`w${n}`), `${this.name}:w${n}:${token()}`);
        write([['WATCH', rec.key], ['MULTI'], ['SET', rec.key, rec.value]]);
        if (await this.expect(c, ['OK', 'OK', 'QUEUED'], `WATCH/MULTI ${rec.key}`)) this.ledger.settle(rec, 'noexec');
        else this.ledger.settle(rec, 'noreply');
        return;
      }
      default:
        throw new Error(`unknown kind ${kind}`);
    }
  }
}

// A set of clients started together against keywarden's port, stopped together.
class Load {
  constructor(ledger, port, { raw = 3, io = 2, readers = 2, vandals = 1, ids } = {}) {
    this.writers = [
      ...Array.from({ length: raw }, (_, i) => new RawWriter(ledger, `r${i}`, port, i % 2 === 1)),
      ...Array.from({ length: io }, (_, i) => new IoWriter(ledger, `i${i}`, port)),
    ];
    this.readers = Array.from({ length: readers }, (_, i) => new ProfileReader(ledger, `p${i}`, port, ids));
    this.vandals = Array.from({ length: vandals }, (_, i) => new Vandal(ledger, `v${i}`, port));
    this.runs = null;
  }

  get all() {
    return [...this.writers, ...this.readers, ...this.vandals];
  }

  start() {
    this.runs = this.all.map((x) => x.run());
  }

  async stop() {
    for (const x of this.all) x.stopping = true;
    await h.within(REPLY_DEADLINE_MS + 10000, Promise.all(this.runs), 'the load stopping');
  }

  // Waits until every writer has had a write acknowledged after `since`.
  async waitWriters(since, timeoutMs, what) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.writers.every((w) => w.lastAckAt > since)) return;
      await h.sleep(20);
    }
    const late = this.writers.filter((w) => w.lastAckAt <= since).map((w) => w.name);
    throw new Error(`${what}: writers ${late.join(', ')} had no write acknowledged within ${timeoutMs} ms`);
  }

  kindsDone() {
    const out = {};
    for (const v of this.vandals) for (const [k, n] of v.kinds) out[k] = (out[k] || 0) + n;
    return out;
  }
}

module.exports = { Load, REPLY_DEADLINE_MS };
