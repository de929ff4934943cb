'use strict';
// Drives one client: every step goes to the reference Redis and to the server under test at
// the same time, on separate connections; the frames each command produces are read from both
// and compared, and every frame from the server under test is checked for other clients' tags.

const { FrameConn } = require('./frame_conn');
const { compareFrames } = require('./compare');
const { foreignNumbers } = require('./tags');
const { show } = require('./resp_frames');

const READ_TIMEOUT_MS = 10000;
const CLOSE_TIMEOUT_MS = 3000;
const HISTORY = 60;

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function describeCmd(c) {
  if (c.raw) return `raw ${JSON.stringify(c.raw.toString('latin1'))}`;
  const words = c.args.map((a) => {
    const s = Buffer.isBuffer(a) ? a.toString('latin1') : String(a);
    return s.length > 60 ? `${JSON.stringify(s.slice(0, 60))}...(${s.length})` : /^[\x21-\x7e]+$/.test(s) ? s : JSON.stringify(s);
  });
  return words.join(' ') + (c.enc ? ` [${c.enc}]` : '');
}

// Where two frame lists first differ, with some bytes around it (the report's frame display is
// cut after a few hundred characters).
function firstDifference(ref, got) {
  for (let i = 0; i < Math.min(ref.length, got.length); i++) {
    const a = ref[i].raw;
    const b = got[i].raw;
    if (a.equals(b)) continue;
    let k = 0;
    while (k < a.length && k < b.length && a[k] === b[k]) k++;
    const at = (buf) => JSON.stringify(buf.subarray(Math.max(0, k - 40), k + 60).toString('latin1'));
    return `; frame ${i + 1} first differs at byte ${k}: redis ...${at(a)}... vs ...${at(b)}...`;
  }
  return '';
}

class Side {
  constructor(name, port) {
    this.name = name;
    this.port = port;
    this.main = null;
    this.aux = null;
  }
}

class ClientRunner {
  constructor({ n, generator, refPort, dutPort, dutName, shared, trace }) {
    this.trace = trace; // (client, entry) => void: every exchange, for DIFF_TRACE
    this.n = n;
    this.gen = generator;
    this.ref = new Side('redis', refPort);
    this.dut = new Side(dutName, dutPort);
    this.shared = shared; // { stop, failures: [], onFailure(f) }
    this.history = [];
    this.step = 0;
    this.steps = 0;
    this.failed = false;
    this.stats = new Map(); // step label -> { n, ms }
    this.current = null; // the step being run, for the failure report
  }

  record(entry) {
    entry.step = this.step;
    if (this.trace) this.trace(this.n, entry);
    this.history.push(entry);
    if (this.history.length > HISTORY) this.history.shift();
  }

  fail(kind, message, extra = {}) {
    if (this.failed) return false;
    this.failed = true;
    const cur = this.current && this.current.cmds ? this.current.cmds.map((c) => `${describeCmd(c)}  -> ${c.frames} frame(s)${c.note ? ` (${c.note})` : ''}`) : [];
    this.shared.onFailure({ client: this.n, step: this.step, kind, message, history: this.history.slice(), stepCmds: cur, ...extra });
    return false;
  }

  async connectMain() {
    const [a, b] = await Promise.all([FrameConn.connect(this.ref.port), FrameConn.connect(this.dut.port)]);
    this.ref.main = a;
    this.dut.main = b;
  }

  async ensureAux() {
    if (this.ref.aux && !this.ref.aux.isClosed && this.dut.aux && !this.dut.aux.isClosed) return;
    if (this.ref.aux) this.ref.aux.destroy();
    if (this.dut.aux) this.dut.aux.destroy();
    const [a, b] = await Promise.all([FrameConn.connect(this.ref.port), FrameConn.connect(this.dut.port)]);
    this.ref.aux = a;
    this.dut.aux = b;
  }

  async run(deadline, maxSteps) {
    try {
      await this.connectMain();
    } catch (e) {
      return this.fail('connect', `cannot connect: ${e.message}`);
    }
    while (!this.shared.stop && Date.now() < deadline && this.step < maxSteps) {
      const s = this.gen.next();
      this.current = s;
      let ok;
      const t0 = Date.now();
      try {
        ok = await this.exec(s);
      } catch (e) {
        ok = this.fail('runner', `runner error: ${e.stack}`);
      }
      const label = s.kind === 'cmds' ? (s.cmds.length > 1 ? 'pipeline' : s.cmds[0].family) : s.kind === 'disconnect' ? 'disconnect' : s.kind;
      const st = this.stats.get(label) || { n: 0, ms: 0 };
      st.n++;
      st.ms += Date.now() - t0;
      this.stats.set(label, st);
      if (!ok) break;
      this.step++;
    }
    this.steps = this.step;
    if (!this.failed) await this.finalCheck();
    for (const side of [this.ref, this.dut]) {
      if (side.main) side.main.destroy();
      if (side.aux) side.aux.destroy();
    }
    return !this.failed;
  }

  // Frames nobody asked for, after a quiet moment: keywarden must not make them up.
  async finalCheck() {
    await sleep(100);
    for (const conn of ['main', 'aux']) {
      const extraDut = this.dut[conn] ? this.dut[conn].surplus() : [];
      const extraRef = this.ref[conn] ? this.ref[conn].surplus() : [];
      if (extraRef.length) return this.fail('reference', `reference sent ${extraRef.length} unexpected frame(s) on ${conn} at the end: ${extraRef.map((f) => show(f)).join(' ')}`);
      if (extraDut.length) return this.fail('extra', `${this.dut.name} sent ${extraDut.length} frame(s) nobody asked for on ${conn} at the end: ${extraDut.map((f) => show(f)).join(' ')}`);
    }
    return true;
  }

  exec(s) {
    switch (s.kind) {
      case 'sleep':
        return sleep(s.ms).then(() => true);
      case 'cmds':
        return this.execCmds(s);
      case 'aux':
        return this.execAux(s);
      case 'disconnect':
        return this.execDisconnect(s);
      default:
        throw new Error(`unknown step kind ${s.kind}`);
    }
  }

  async writeBoth(conn, bytes, split) {
    const rng = this.gen.rng;
    const cuts = [];
    if (split && bytes.length > 1) {
      for (let i = rng.int(1, 3); i > 0; i--) cuts.push(rng.int(1, bytes.length - 1));
      cuts.sort((a, b) => a - b);
    }
    let from = 0;
    for (const at of [...cuts, bytes.length]) {
      if (at <= from) continue;
      const chunk = bytes.subarray(from, at);
      this.ref[conn].write(chunk);
      this.dut[conn].write(chunk);
      from = at;
      if (at < bytes.length) await sleep(rng.int(0, 2));
    }
  }

  // Reads and compares the frames of one command on `conn`. Returns false on failure.
  async readCompare(conn, c, label) {
    const want = c.frames;
    const tmo = READ_TIMEOUT_MS + (c.blockMs || 0);
    const [a, b] = await Promise.all([this.ref[conn].read(want, tmo), this.dut[conn].read(want, tmo)]);
    const entry = { conn, req: label || describeCmd(c), family: c.family, note: c.note, want, ref: a.frames.map((f) => show(f)), dut: b.frames.map((f) => show(f)) };
    if (c.cmp) entry.cmp = typeof c.cmp === 'string' ? c.cmp : JSON.stringify(c.cmp);
    this.record(entry);
    for (const f of a.frames) {
      const foreign = foreignNumbers(f.raw, this.n);
      if (foreign.length) return this.fail('reference', `reference reply carries other clients' tags ${foreign.join(',')} (generator bug)`);
    }
    for (const f of b.frames) {
      const foreign = foreignNumbers(f.raw, this.n);
      if (foreign.length) return this.fail('foreign', `reply to client ${this.n} carries data of client(s) ${foreign.join(',')}`);
    }
    if (a.error) return this.fail('reference', `reference Redis: ${a.error} after ${a.frames.length} of ${want} frame(s) (model or generator bug)`);
    if (b.error) return this.fail(b.error === 'timeout' ? 'missing' : 'closed', `${this.dut.name}: ${b.error} after ${b.frames.length} of ${want} frame(s)`);
    const diff = compareFrames(c.cmp, a.frames, b.frames);
    if (diff) {
      entry.verdict = 'differs';
      return this.fail('mismatch', `${diff}${firstDifference(a.frames, b.frames)}`);
    }
    if (c.cmp && !a.frames.every((f, i) => f.raw.equals(b.frames[i].raw))) entry.verdict = `equivalent (${typeof c.cmp === 'string' ? c.cmp : JSON.stringify(c.cmp).slice(0, 40)})`;
    return true;
  }

  checkSurplus(conn) {
    const extraRef = this.ref[conn].surplus();
    const extraDut = this.dut[conn].surplus();
    if (extraRef.length) {
      this.record({ conn, req: '(unexpected)', ref: extraRef.map((f) => show(f)), dut: extraDut.map((f) => show(f)) });
      return this.fail('reference', `reference sent ${extraRef.length} more frame(s) than the model expects (model bug)`);
    }
    if (extraDut.length) {
      this.record({ conn, req: '(unexpected)', ref: [], dut: extraDut.map((f) => show(f)) });
      for (const f of extraDut) {
        const foreign = foreignNumbers(f.raw, this.n);
        if (foreign.length) return this.fail('foreign', `unrequested frame to client ${this.n} carries data of client(s) ${foreign.join(',')}`);
      }
      return this.fail('extra', `${this.dut.name} sent ${extraDut.length} frame(s) more than Redis`);
    }
    return true;
  }

  async reconnectMain() {
    this.ref.main.destroy();
    this.dut.main.destroy();
    await this.connectMain();
  }

  async execCmds(s) {
    const bytes = Buffer.concat(s.cmds.map((c) => c.bytes));
    await this.writeBoth('main', bytes, s.split);
    const many = s.cmds.length > 1;
    for (let i = 0; i < s.cmds.length; i++) {
      const c = s.cmds[i];
      if (!(await this.readCompare('main', c, many ? `[${i + 1}/${s.cmds.length}] ${describeCmd(c)}` : undefined))) return false;
    }
    if (!this.checkSurplus('main')) return false;
    if (this.gen.reconnect) {
      // The connection ended (QUIT, protocol error): both servers must close it.
      const [a, b] = await Promise.all([this.ref.main.waitClosed(CLOSE_TIMEOUT_MS), this.dut.main.waitClosed(CLOSE_TIMEOUT_MS)]);
      if (!this.checkSurplus('main')) return false;
      if (!a) return this.fail('reference', 'reference Redis did not close the connection (model bug)');
      if (!b) return this.fail('not-closed', `${this.dut.name} did not close the connection within ${CLOSE_TIMEOUT_MS} ms after Redis did`);
      await this.reconnectMain();
    }
    return true;
  }

  async execAux(s) {
    await this.ensureAux();
    const bytes = Buffer.concat(s.cmds.map((c) => c.bytes));
    await this.writeBoth('aux', bytes, false);
    for (const c of s.cmds) {
      c.frames = 1;
      if (!(await this.readCompare('aux', c, `(second connection) ${describeCmd(c)}`))) return false;
    }
    if (!this.checkSurplus('aux')) return false;
    if (s.mainFrames > 0) {
      const pushed = { frames: s.mainFrames, cmp: 'anyOrder', family: 'pubsub' };
      if (!(await this.readCompare('main', pushed, `(messages for the PUBLISH above: ${s.mainFrames})`))) return false;
    }
    return this.checkSurplus('main');
  }

  async execDisconnect(s) {
    let bytes = Buffer.concat(s.cmds.map((c) => c.bytes));
    if (s.cutLast && s.cmds.length) {
      const last = s.cmds[s.cmds.length - 1].bytes.length;
      bytes = bytes.subarray(0, bytes.length - this.gen.rng.int(1, last - 1 > 0 ? last - 1 : 1));
    }
    await this.writeBoth('main', bytes, false);
    this.record({ conn: 'main', req: `(disconnect ${s.variant}: ${s.cmds.length} command(s)${s.cutLast ? ', last one cut' : ''}, read ${s.readFrames} frame(s), then close)` });
    let left = s.readFrames;
    for (let i = 0; i < s.cmds.length && left > 0; i++) {
      const c = s.cmds[i];
      if (c.frames === 0) continue;
      const part = { ...c, frames: Math.min(left, c.frames) };
      if (part.frames < c.frames) part.cmp = undefined;
      left -= part.frames;
      if (!(await this.readCompare('main', part, `[${i + 1}/${s.cmds.length}] ${describeCmd(c)}`))) return false;
    }
    if (s.delayMs) await sleep(s.delayMs);
    // Replies still in flight are dropped with the socket.
    await this.reconnectMain();
    return true;
  }
}

module.exports = { ClientRunner, describeCmd };
