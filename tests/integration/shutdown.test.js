'use strict';
// SIGTERM drains: requests already in flight get their replies, and the
// process exits 0.

const assert = require('node:assert/strict');
const { describe, before, after } = require('node:test');
const h = require('./harness');
const { RawClient } = require('./resp');

describe('graceful shutdown', () => {
  let redis;

  before(async () => {
    redis = await h.startRedis();
  }, { timeout: 30000 });

  after(async () => {
    if (redis) await redis.stop();
  }, { timeout: 30000 });

  h.proxyTest('SIGTERM while a BLPOP (1 s timeout) is in flight: the reply still arrives, exit 0', { timeout: 30000 }, async () => {
    const kw = await h.startKeywarden({ upstreamPort: redis.port, toml: { server: { shutdown_deadline_ms: 5000 } } });
    const c = await RawClient.connect(kw.port);
    try {
      assert.equal(await c.call('PING'), 'PONG');
      const t0 = Date.now();
      c.send('BLPOP', 'kw:sd:empty', '1');
      await h.sleep(200);
      kw.signal('SIGTERM');
      const reply = await c.read(4000);
      assert.equal(reply, null, 'BLPOP times out normally with a null reply');
      assert.equal(c.lastType, '*');
      const el = Date.now() - t0;
      assert.ok(el >= 900, `BLPOP reply came after ${el} ms, before its 1 s timeout`);
      const exit = await kw.waitExit(8000);
      assert.ok(exit !== null, 'keywarden did not exit within 8 s of SIGTERM');
      assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, 'exit status after SIGTERM');
    } finally {
      c.close();
    }
  });

  h.proxyTest('SIGTERM with idle clients connected exits 0 promptly', { timeout: 30000 }, async () => {
    const kw = await h.startKeywarden({ upstreamPort: redis.port });
    const clients = [];
    try {
      for (let i = 0; i < 5; i++) {
        const c = await RawClient.connect(kw.port);
        assert.equal(await c.call('PING'), 'PONG');
        clients.push(c);
      }
      const t0 = Date.now();
      await kw.stop(); // asserts exit code 0
      assert.ok(Date.now() - t0 < 6000, `took ${Date.now() - t0} ms to exit`);
      for (const c of clients) assert.equal(await c.waitClosed(2000), true, 'client connections are closed on shutdown');
    } finally {
      for (const c of clients) c.close();
    }
  });
});
