'use strict';
// The integration suite's core cases as a set a transport test runs over its own listener:
// unix_socket.test.js over a Unix socket, tls_clients.test.js over TLS. Each case talks to
// keywarden through `target()` (a resp.js connectSocket target: {path}, {port, tls}) and, for
// ioredis, `ioredisOptions()`; they are the cases every client of any transport relies on:
// requests and replies, a deep pipeline in one write, transactions, pub/sub, a blocked command,
// RESP3, a large value both ways, a protocol error, and a real client library.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const Redis = require('ioredis');
const h = require('./harness');
const { RawClient, RespError, RespPush, encodeCommand } = require('./resp');

// Registers the cases with h.proxyTest. `target()` and `ioredisOptions()` are read when a case
// runs (the servers are started in a before hook). `name` prefixes every test's name.
function coreCases(name, { target, ioredisOptions }) {
  const u = crypto.randomUUID().slice(0, 8);
  const key = (k) => `core:${u}:${k}`;
  async function client(opts) {
    return RawClient.open(target(), opts);
  }

  h.proxyTest(`${name}: requests and replies`, { timeout: 15000 }, async () => {
    const c = await client();
    try {
      assert.equal(await c.call('PING'), 'PONG');
      assert.equal(await c.call('SET', key('a'), 'v1'), 'OK');
      assert.equal(await c.call('GET', key('a')), 'v1');
      assert.equal(await c.call('INCR', key('n')), 1);
      assert.equal(await c.call('DEL', key('a'), key('n')), 2);
      assert.equal(await c.call('GET', key('a')), null);
      const e = await c.call('NOSUCHCOMMAND');
      assert.ok(e instanceof RespError && e.message.startsWith('ERR unknown command'), String(e));
      assert.equal(await c.call('ECHO', 'still here'), 'still here');
    } finally {
      c.close();
    }
  });

  h.proxyTest(`${name}: a deep pipeline in one write, replies in order`, { timeout: 30000 }, async () => {
    const c = await client();
    try {
      const n = 10000;
      const parts = [];
      for (let i = 0; i < n; i++) {
        parts.push(encodeCommand(['SET', key(`p${i}`), `v${i}`]));
        parts.push(encodeCommand(['GET', key(`p${i}`)]));
      }
      c.write(Buffer.concat(parts.map((p) => Buffer.from(p, 'latin1'))));
      const replies = await c.readMany(2 * n, 25000);
      for (let i = 0; i < n; i++) {
        assert.equal(replies[2 * i], 'OK');
        assert.equal(replies[2 * i + 1], `v${i}`);
      }
    } finally {
      c.close();
    }
  });

  h.proxyTest(`${name}: MULTI/EXEC and WATCH`, { timeout: 15000 }, async () => {
    const a = await client();
    const b = await client();
    try {
      assert.equal(await a.call('MULTI'), 'OK');
      assert.equal(await a.call('SET', key('t'), '1'), 'QUEUED');
      assert.equal(await a.call('INCR', key('t')), 'QUEUED');
      assert.deepEqual(await a.call('EXEC'), ['OK', 2]);
      assert.equal(await a.call('WATCH', key('t')), 'OK');
      assert.equal(await b.call('SET', key('t'), 'changed'), 'OK');
      assert.equal(await a.call('MULTI'), 'OK');
      assert.equal(await a.call('SET', key('t'), 'mine'), 'QUEUED');
      assert.equal(await a.call('EXEC'), null, 'the watched key changed: EXEC aborts');
      assert.equal(await b.call('GET', key('t')), 'changed');
    } finally {
      a.close();
      b.close();
    }
  });

  h.proxyTest(`${name}: pub/sub`, { timeout: 15000 }, async () => {
    const sub = await client();
    const pub = await client();
    try {
      const ch = key('ch');
      assert.deepEqual(await sub.call('SUBSCRIBE', ch), ['subscribe', ch, 1]);
      assert.equal(await pub.call('PUBLISH', ch, 'hello'), 1);
      assert.deepEqual(await sub.read(), ['message', ch, 'hello']);
      assert.deepEqual(await sub.call('UNSUBSCRIBE', ch), ['unsubscribe', ch, 0]);
      assert.equal(await sub.call('PING'), 'PONG');
    } finally {
      sub.close();
      pub.close();
    }
  });

  h.proxyTest(`${name}: a blocked BLPOP is served`, { timeout: 15000 }, async () => {
    const waiter = await client();
    const pusher = await client();
    try {
      waiter.send('BLPOP', key('q'), '5');
      await h.sleep(200);
      assert.equal(await pusher.call('RPUSH', key('q'), 'job'), 1);
      assert.deepEqual(await waiter.read(6000), [key('q'), 'job']);
    } finally {
      waiter.close();
      pusher.close();
    }
  });

  h.proxyTest(`${name}: RESP3`, { timeout: 15000 }, async () => {
    const c = await client();
    try {
      const hello = await c.call('HELLO', '3');
      assert.ok(hello instanceof Map, `HELLO 3 answers a map: ${JSON.stringify(hello)}`);
      assert.equal(hello.get('proto'), 3);
      assert.equal(await c.call('HSET', key('h'), 'f', 'v'), 1);
      const all = await c.call('HGETALL', key('h'));
      assert.ok(all instanceof Map);
      assert.equal(all.get('f'), 'v');
      assert.equal(await c.call('CLIENT', 'TRACKING', 'on'), 'OK');
      assert.equal(await c.call('GET', key('h2')), null);
      const other = await client();
      assert.equal(await other.call('SET', key('h2'), 'x'), 'OK');
      other.close();
      const push = await c.read();
      assert.ok(push instanceof RespPush, `an invalidation push: ${JSON.stringify(push)}`);
      assert.equal(push.items[0], 'invalidate');
    } finally {
      c.close();
    }
  });

  h.proxyTest(`${name}: an 8 MiB value both ways`, { timeout: 60000 }, async () => {
    const c = await client({ buffers: true });
    try {
      const value = crypto.randomBytes(8 << 20);
      c.write(Buffer.concat([
        Buffer.from(`*3\r\n$3\r\nSET\r\n$${Buffer.byteLength(key('big'))}\r\n${key('big')}\r\n$${value.length}\r\n`, 'latin1'),
        value,
        Buffer.from('\r\n'),
      ]));
      assert.equal(String(await c.read(30000)), 'OK');
      c.send('GET', key('big'));
      c.send('GET', key('big'));
      const [a, b] = await c.readMany(2, 30000);
      assert.ok(value.equals(a), 'the first GET returns the value byte for byte');
      assert.ok(value.equals(b), 'the second too');
      assert.equal(String(await c.call('PING')), 'PONG');
    } finally {
      c.close();
    }
  });

  h.proxyTest(`${name}: a protocol error is answered, then the connection closes`, { timeout: 15000 }, async () => {
    const c = await client();
    try {
      c.write('*1\r\n$4\r\nPING\r\n*x\r\n');
      assert.equal(await c.read(), 'PONG');
      const e = await c.read();
      assert.ok(e instanceof RespError && e.message.startsWith('ERR Protocol error'), String(e));
      assert.ok(await c.waitClosed(5000), 'closed after the error');
    } finally {
      c.close();
    }
  });

  h.proxyTest(`${name}: ioredis`, { timeout: 30000 }, async () => {
    const c = new Redis({ lazyConnect: true, maxRetriesPerRequest: 1, ...ioredisOptions() });
    c.on('error', () => {});
    try {
      await h.within(5000, c.connect(), 'ioredis connect');
      assert.equal(await c.ping(), 'PONG');
      const pl = c.pipeline();
      for (let i = 0; i < 1000; i++) pl.set(key(`io${i}`), `v${i}`).get(key(`io${i}`));
      const res = await pl.exec();
      assert.equal(res.length, 2000);
      for (let i = 0; i < 1000; i++) assert.deepEqual(res[2 * i + 1], [null, `v${i}`]);
      const [[, one], [, two]] = await c.multi().incr(key('ioc')).incr(key('ioc')).exec();
      assert.deepEqual([one, two], [1, 2]);
    } finally {
      c.disconnect();
    }
  });
}

module.exports = { coreCases };
