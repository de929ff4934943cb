'use strict';
// Redis dies under load and comes back: clients must get errors rather than
// hangs, the proxy must stay up and recover, and no reply may ever reach the
// wrong client.

const assert = require('node:assert/strict');
const { describe, before, after } = require('node:test');
const fs = require('node:fs');
const { execFileSync } = require('node:child_process');
const h = require('./harness');
const { RawClient, RespError } = require('./resp');

const REQUEST_DEADLINE_MS = 2000;

// One client looping over SET / GET / ECHO on keys only it uses. Every reply
// is checked against what this very client can legitimately see.
class Worker {
  constructor(id, port) {
    this.id = id;
    this.port = port;
    this.prefix = `w${id}-`;
    this.seq = 0;
    this.ok = 0;
    this.errors = 0;
    this.errorTexts = new Map();
    this.violations = [];
    this.lastOkAt = 0;
    this.stopping = false;
  }

  violation(msg) {
    if (this.violations.length < 20) this.violations.push(`worker ${this.id}: ${msg}`);
  }

  async request(c, args) {
    const t0 = Date.now();
    let r;
    try {
      c.send(...args);
      r = await c.read(REQUEST_DEADLINE_MS);
    } catch (e) {
      this.violation(`${args[0]} did not settle properly within ${REQUEST_DEADLINE_MS} ms: ${e.message} (after ${Date.now() - t0} ms)`);
      return { broken: true };
    }
    if (r instanceof RespError) {
      this.errors++;
      const head = r.message.split(' ')[0];
      this.errorTexts.set(r.message.slice(0, 80), (this.errorTexts.get(r.message.slice(0, 80)) || 0) + 1);
      if (head !== 'UPSTREAMDOWN') this.violation(`unexpected error text for ${args[0]}: ${r.message}`);
      return { error: r };
    }
    return { value: r };
  }

  async run() {
    let c = await RawClient.connect(this.port);
    const key = `kw:uf:${this.id}`;
    let lastSetOk = false;
    while (!this.stopping) {
      this.seq++;
      const val = `${this.prefix}${this.seq}`;
      const s = await this.request(c, ['SET', key, val]);
      if (s.broken) break;
      if (s.error) {
        lastSetOk = false;
      } else if (s.value !== 'OK') {
        this.violation(`SET replied ${JSON.stringify(s.value)}`);
      } else {
        lastSetOk = true;
      }
      const g = await this.request(c, ['GET', key]);
      if (g.broken) break;
      if (!g.error) {
        const v = g.value;
        if (v !== null && (typeof v !== 'string' || !v.startsWith(this.prefix))) {
          this.violation(`GET ${key} returned a foreign value ${JSON.stringify(v)}`);
        } else if (lastSetOk && v !== val && v !== null) {
          // null is legitimate: Redis restarted empty right after our SET.
          this.violation(`GET ${key} returned ${JSON.stringify(v)} right after SET ${val} succeeded`);
        }
      }
      const token = `${this.prefix}echo-${this.seq}`;
      const e = await this.request(c, ['ECHO', token]);
      if (e.broken) break;
      if (!e.error && e.value !== token) this.violation(`ECHO ${token} returned ${JSON.stringify(e.value)}`);
      if (!s.error && !g.error && !e.error) {
        this.ok++;
        this.lastOkAt = Date.now();
      }
      await h.sleep(5);
    }
    if (c.isClosed) this.violation('the proxy closed the client connection');
    c.close();
  }
}

describe('upstream failure', () => {
  let redis;
  let kw;

  before(async () => {
    redis = await h.startRedis();
  }, { timeout: 30000 });

  after(async () => {
    if (kw) await kw.stop();
    if (redis) await redis.stop();
  }, { timeout: 30000 });

  h.proxyTest('SIGKILL of redis under traffic: errors not hangs, recovery, no crossed replies', { timeout: 60000 }, async () => {
    kw = await h.startKeywarden({
      upstreamPort: redis.port,
      toml: { upstream: { request_timeout_ms: 1500, connect_timeout_ms: 500 } },
    });
    const workers = Array.from({ length: 8 }, (_, i) => new Worker(i, kw.port));
    const runs = workers.map((w) => w.run());
    const allViolations = () => workers.flatMap((w) => w.violations);
    try {
      await h.sleep(1000);
      assert.ok(workers.every((w) => w.ok > 0), 'every worker made progress before the kill');

      const killedAt = Date.now();
      await redis.kill();
      // Longer than the per-request deadline, so a hung request shows up here.
      await h.sleep(REQUEST_DEADLINE_MS + 500);
      assert.deepEqual(allViolations(), [], 'while redis was down');
      const errorsWhileDown = workers.reduce((n, w) => n + w.errors, 0);
      assert.ok(errorsWhileDown > 0, 'clients saw errors while redis was down');
      assert.equal(kw.alive, true, 'keywarden is still running while redis is down');
      const stuck = workers.filter((w) => w.lastOkAt > killedAt + 200);
      assert.equal(stuck.length, 0, 'no request succeeded while redis was down');

      const restartedAt = Date.now();
      await redis.restart();
      const deadline = restartedAt + 8000;
      while (Date.now() < deadline && !workers.every((w) => w.lastOkAt > restartedAt)) await h.sleep(50);
      const recovered = workers.filter((w) => w.lastOkAt > restartedAt).length;
      assert.equal(recovered, workers.length,
        `${recovered}/${workers.length} clients recovered within 8 s of redis restarting; ` +
        `errors seen: ${JSON.stringify(workers.map((w) => [...w.errorTexts]))}; violations: ${JSON.stringify(allViolations())}`);
      // A little more traffic after recovery, still checked.
      await h.sleep(500);
    } finally {
      for (const w of workers) w.stopping = true;
      await h.within(10000, Promise.all(runs), 'workers stopping');
    }
    assert.deepEqual(allViolations(), []);
    assert.equal(kw.alive, true, 'keywarden still alive at the end');
  });

  h.proxyTest('requests while redis is down get UPSTREAMDOWN promptly; service resumes when it returns', { timeout: 30000 }, async () => {
    if (!redis.alive) await redis.restart();
    if (!kw || !kw.alive) kw = await h.startKeywarden({ upstreamPort: redis.port });
    const c = await RawClient.connect(kw.port);
    try {
      assert.equal(await c.call('SET', 'kw:uf:k', 'v'), 'OK');
      await redis.stop();
      for (let i = 0; i < 5; i++) {
        const t0 = Date.now();
        c.send('GET', 'kw:uf:k');
        const r = await c.read(REQUEST_DEADLINE_MS);
        assert.ok(r instanceof RespError && r.message.startsWith('UPSTREAMDOWN'), `GET while down: ${JSON.stringify(r)}`);
        assert.ok(Date.now() - t0 < REQUEST_DEADLINE_MS);
      }
      // New connections are accepted and answered too.
      const c2 = await RawClient.connect(kw.port);
      const r2 = await c2.call('GET', 'kw:uf:k');
      assert.ok(r2 instanceof RespError && r2.message.startsWith('UPSTREAMDOWN'), `new client while down: ${JSON.stringify(r2)}`);
      c2.close();

      await redis.restart();
      const deadline = Date.now() + 8000;
      let last;
      while (Date.now() < deadline) {
        last = await c.call('SET', 'kw:uf:k', 'back');
        if (last === 'OK') break;
        await h.sleep(100);
      }
      assert.equal(last, 'OK', `SET after redis returned: ${JSON.stringify(last)}`);
      assert.equal(await c.call('GET', 'kw:uf:k'), 'back');
    } finally {
      c.close();
    }
  });

  h.proxyTest('a pinned connection that cannot get a socket: an error reply, and the proxy lives on', { timeout: 30000 }, async () => {
    // Regression: a pinned connection whose connect failed inside uv_tcp_connect (here: no file
    // descriptor left) used to stay referenced after it had destroyed itself.
    if (!redis.alive) await redis.restart();
    // No startup doctor: its link is a pinned one, and under ASan it could take a prewarmed link
    // between the count below and the WATCHes (then a spare needs a socket past the cap).
    const k = await h.startKeywarden({ upstreamPort: redis.port, toml: { server: { workers: 1 }, budgets: { doctor_at_startup: false } } });
    const c = await RawClient.connect(k.port);
    const spare = [];
    try {
      assert.equal(await c.call('PING'), 'PONG');
      // The startup probe's command table must be in before the cap: the worker takes it at its
      // next request, and doing that under the cap makes UBSan (whose vptr check needs a pipe to
      // test memory) report a false "invalid vptr" (seen in the test command, 3 runs of 4).
      // (Until the probe answers, INFO says 7.2.0.)
      for (let i = 0; i < 200 && /redis_version:7\.2\.0\r?\n/.test(String(await c.call('INFO', 'server'))); i++) await h.sleep(10);
      await h.sleep(50);
      assert.equal(await c.call('PING'), 'PONG');
      // The pool keeps pinned connections ready: the clients that take those come first, so the
      // last one needs a new socket. Every client connects before the cap (accept needs one too).
      let ready = 0;
      for (let i = 0; i < 100; i++) {
        const lines = await c.call('KEYWARDEN', 'UPSTREAM');
        ready = lines.filter((l) => l.includes('role=pinned') && l.includes('owner=-') && l.includes('state=ready')).length;
        if (ready >= 2) break;
        await h.sleep(20);
      }
      for (let i = 0; i < ready; i++) {
        const s = await RawClient.connect(k.port);
        spare.push(s);
        assert.equal(await s.call('PING'), 'PONG');
      }
      const pid = String(k.proc.pid);
      // A new descriptor always takes the lowest free number: capping the limit there makes the
      // very next socket() fail with EMFILE.
      const used = new Set(fs.readdirSync(`/proc/${pid}/fd`).map(Number));
      let lowestFree = 0;
      while (used.has(lowestFree)) lowestFree++;
      // Only the soft limit, so it can be raised back afterwards.
      const soft = /Max open files\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/limits`, 'utf8'))[1];
      execFileSync('prlimit', ['--pid', pid, `--nofile=${lowestFree}:`]);
      for (const s of spare) assert.equal(await s.call('WATCH', 'kw:uf:w'), 'OK');
      const r = await c.call('BLPOP', 'kw:uf:fd', '1');
      assert.ok(r instanceof RespError && r.message.startsWith('UPSTREAMDOWN'), `BLPOP without fds: ${JSON.stringify(r)}`);
      execFileSync('prlimit', ['--pid', pid, `--nofile=${soft}:`]);
      assert.equal(await c.call('PING'), 'PONG');
      assert.equal(await c.call('BLPOP', 'kw:uf:fd', '1'), null);  // pinning works again
      for (const s of spare) assert.equal(await s.call('UNWATCH'), 'OK');
    } finally {
      c.close();
      for (const s of spare) s.close();
      await k.stop();
    }
  });
});
