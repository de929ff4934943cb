'use strict';
// Real client libraries with their default handshakes (HELLO 3, CLIENT
// SETINFO, ...) and with RESP2 forced, doing what applications do.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { describe, before, after } = require('node:test');
const Redis = require('ioredis');
const { createClient, RESP_TYPES, WatchError } = require('redis');
const h = require('./harness');

let redis;
let kw;

h.withServers((r, k) => {
  redis = r;
  kw = k;
});

function waitFor(emitter, event, predicate, ms, what) {
  return h.within(ms, new Promise((resolve) => {
    const fn = (...args) => {
      if (predicate(...args)) {
        emitter.off(event, fn);
        resolve(args);
      }
    };
    emitter.on(event, fn);
  }), what);
}

const LUA = "redis.call('SET', KEYS[1], ARGV[1]); return {KEYS[1], redis.call('GET', KEYS[1]), 42}";

// ---------------------------------------------------------------- ioredis
const ioredisConfigs = [
  { name: 'ioredis defaults (protocol 3)', opts: {}, proto: 3 },
  { name: 'ioredis protocol 3 with resp3 reply mapping', opts: { protocol: 3, replyMapping: 'resp3' }, proto: 3, mapAsObject: true },
  { name: 'ioredis protocol 2', opts: { protocol: 2 }, proto: 2 },
];

for (const cfg of ioredisConfigs) {
  describe(cfg.name, () => {
    const open = [];
    const p = `kw:io${cfg.proto}${cfg.mapAsObject ? 'm' : ''}:`;
    async function client() {
      const c = new Redis({ port: kw.port, host: h.HOST, lazyConnect: true, maxRetriesPerRequest: 1, ...cfg.opts });
      c.on('error', () => {}); // surfaced through the failing command instead
      open.push(c);
      await h.within(5000, c.connect(), 'ioredis connect');
      return c;
    }
    after(() => {
      for (const c of open) c.disconnect();
    });

    h.test('handshake, PING, negotiated protocol', { timeout: 15000 }, async () => {
      const c = await client();
      assert.equal(await c.ping(), 'PONG');
      const hello = await c.call('HELLO');
      const proto = Array.isArray(hello) ? hello[hello.indexOf('proto') + 1] : hello.proto;
      assert.equal(proto, cfg.proto, `HELLO reports the negotiated protocol: ${JSON.stringify(hello)}`);
      assert.equal(await c.set(`${p}hs`, 'v'), 'OK');
      assert.equal(await c.get(`${p}hs`), 'v');
    });

    h.test('pipeline', { timeout: 15000 }, async () => {
      const c = await client();
      const pl = c.pipeline();
      for (let i = 0; i < 500; i++) pl.set(`${p}pl:${i}`, `v${i}`).get(`${p}pl:${i}`).incr(`${p}plc`);
      const res = await pl.exec();
      assert.equal(res.length, 1500);
      for (let i = 0; i < 500; i++) {
        assert.deepEqual(res[3 * i], [null, 'OK']);
        assert.deepEqual(res[3 * i + 1], [null, `v${i}`]);
        assert.deepEqual(res[3 * i + 2], [null, i + 1]);
      }
    });

    h.test('MULTI and WATCH', { timeout: 15000 }, async () => {
      const a = await client();
      const b = await client();
      assert.deepEqual(await a.multi().set(`${p}tx`, '1').incr(`${p}tx`).get(`${p}tx`).exec(), [[null, 'OK'], [null, 2], [null, '2']]);
      await a.watch(`${p}tx`);
      await b.set(`${p}tx`, 'other');
      assert.equal(await a.multi().set(`${p}tx`, 'mine').exec(), null, 'EXEC after a conflicting write');
      assert.equal(await b.get(`${p}tx`), 'other');
      await a.watch(`${p}tx`);
      assert.deepEqual(await a.multi().set(`${p}tx`, 'mine').exec(), [[null, 'OK']]);
      assert.equal(await b.get(`${p}tx`), 'mine');
    });

    h.test('pub/sub: SUBSCRIBE and PSUBSCRIBE', { timeout: 15000 }, async () => {
      const sub = await client();
      const pub = await client();
      await sub.subscribe(`${p}ch`);
      await sub.psubscribe(`${p}pat:*`);
      const gotMsg = waitFor(sub, 'message', (ch) => ch === `${p}ch`, 3000, 'message');
      const gotPmsg = waitFor(sub, 'pmessage', (pat) => pat === `${p}pat:*`, 3000, 'pmessage');
      assert.equal(await pub.publish(`${p}ch`, 'hello'), 1);
      assert.equal(await pub.publish(`${p}pat:x`, 'world'), 1);
      assert.deepEqual(await gotMsg, [`${p}ch`, 'hello']);
      assert.deepEqual(await gotPmsg, [`${p}pat:*`, `${p}pat:x`, 'world']);
      await sub.unsubscribe(`${p}ch`);
      await sub.punsubscribe(`${p}pat:*`);
      assert.equal(await pub.publish(`${p}ch`, 'nobody'), 0);
    });

    h.test('SCAN over 1000 keys sees every key', { timeout: 20000 }, async () => {
      const c = await client();
      const args = [];
      for (let i = 0; i < 1000; i++) args.push(`${p}scan:${i}`, String(i));
      assert.equal(await c.mset(...args), 'OK');
      const seen = new Set();
      for await (const keys of c.scanStream({ match: `${p}scan:*`, count: 50 })) for (const k of keys) seen.add(k);
      assert.equal(seen.size, 1000);
      for (let i = 0; i < 1000; i++) assert.ok(seen.has(`${p}scan:${i}`));
    });

    h.test('Lua EVAL and EVALSHA (defineCommand)', { timeout: 15000 }, async () => {
      const c = await client();
      assert.deepEqual(await c.eval(LUA, 1, `${p}lua`, 'val'), [`${p}lua`, 'val', 42]);
      c.defineCommand('kwPair', { numberOfKeys: 1, lua: 'return {KEYS[1], ARGV[1]}' });
      assert.deepEqual(await c.kwPair(`${p}k`, 'a'), [`${p}k`, 'a']);
      assert.deepEqual(await c.kwPair(`${p}k`, 'b'), [`${p}k`, 'b']);
      await assert.rejects(c.eval('return redis.call("NOSUCHCMD")', 0), /ERR/);
    });

    h.test('binary-safe Buffer values and a 1 MiB round trip', { timeout: 20000 }, async () => {
      const c = await client();
      const bin = Buffer.alloc(256 * 4);
      for (let i = 0; i < bin.length; i++) bin[i] = i % 256;
      const key = Buffer.from(`${p}bin\r\n\0\xff`, 'latin1');
      await c.set(key, bin);
      assert.ok((await c.getBuffer(key)).equals(bin));
      const big = crypto.randomBytes(1024 * 1024);
      await c.set(`${p}big`, big);
      assert.ok((await c.getBuffer(`${p}big`)).equals(big), '1 MiB binary value');
      const bigStr = 'ab\r\n'.repeat(256 * 1024);
      await c.set(`${p}bigs`, bigStr);
      assert.equal(await c.get(`${p}bigs`), bigStr);
    });

    h.test('hash replies', { timeout: 15000 }, async () => {
      const c = await client();
      await c.hset(`${p}h`, 'f1', 'v1', 'f2', 'v2');
      assert.deepEqual(await c.hgetall(`${p}h`), { f1: 'v1', f2: 'v2' });
      const raw = await c.call('HGETALL', `${p}h`);
      if (cfg.mapAsObject) assert.deepEqual(raw, { f1: 'v1', f2: 'v2' }, 'RESP3 map arrives as an object');
      else assert.deepEqual([...raw].sort(), ['f1', 'f2', 'v1', 'v2']);
    });
  });
}

// ------------------------------------------------------------- node-redis
const nodeRedisConfigs = [
  { name: 'node-redis defaults (RESP3)', opts: {}, proto: 3 },
  { name: 'node-redis RESP2', opts: { RESP: 2 }, proto: 2 },
];

for (const cfg of nodeRedisConfigs) {
  describe(cfg.name, () => {
    const open = [];
    const p = `kw:nr${cfg.proto}:`;
    async function client() {
      const c = createClient({ socket: { host: h.HOST, port: kw.port, reconnectStrategy: false }, ...cfg.opts });
      c.on('error', () => {});
      open.push(c);
      await h.within(5000, c.connect(), 'node-redis connect');
      return c;
    }
    after(async () => {
      for (const c of open) {
        try {
          c.destroy();
        } catch {
          // already closed
        }
      }
    });

    h.test('handshake, PING, negotiated protocol', { timeout: 15000 }, async () => {
      const c = await client();
      assert.equal(await c.ping(), 'PONG');
      const hello = await c.sendCommand(['HELLO']);
      const proto = Array.isArray(hello) ? hello[hello.indexOf('proto') + 1] : hello.proto;
      assert.equal(proto, cfg.proto, `HELLO reports the negotiated protocol: ${JSON.stringify(hello)}`);
      assert.equal(await c.set(`${p}hs`, 'v'), 'OK');
      assert.equal(await c.get(`${p}hs`), 'v');
    });

    h.test('pipeline (execAsPipeline and implicit pipelining)', { timeout: 15000 }, async () => {
      const c = await client();
      const m = c.multi();
      for (let i = 0; i < 500; i++) m.set(`${p}pl:${i}`, `v${i}`).get(`${p}pl:${i}`);
      const res = await m.execAsPipeline();
      assert.equal(res.length, 1000);
      for (let i = 0; i < 500; i++) {
        assert.equal(res[2 * i], 'OK');
        assert.equal(res[2 * i + 1], `v${i}`);
      }
      // Promises issued in one tick are written as one pipeline.
      const got = await Promise.all(Array.from({ length: 500 }, (_, i) => c.get(`${p}pl:${i}`)));
      got.forEach((v, i) => assert.equal(v, `v${i}`));
    });

    h.test('MULTI and WATCH', { timeout: 15000 }, async () => {
      const a = await client();
      const b = await client();
      assert.deepEqual(await a.multi().set(`${p}tx`, '1').incr(`${p}tx`).get(`${p}tx`).exec(), ['OK', 2, '2']);
      await a.watch(`${p}tx`);
      await b.set(`${p}tx`, 'other');
      await assert.rejects(a.multi().set(`${p}tx`, 'mine').exec(), WatchError);
      assert.equal(await b.get(`${p}tx`), 'other');
      await a.watch(`${p}tx`);
      assert.deepEqual(await a.multi().set(`${p}tx`, 'mine').exec(), ['OK']);
      assert.equal(await b.get(`${p}tx`), 'mine');
    });

    h.test('pub/sub: SUBSCRIBE and PSUBSCRIBE', { timeout: 15000 }, async () => {
      const c = await client();
      const sub = c.duplicate();
      sub.on('error', () => {});
      open.push(sub);
      await h.within(5000, sub.connect(), 'subscriber connect');
      const msgs = [];
      let wake;
      const on = (message, channel) => {
        msgs.push([channel, message]);
        if (wake) wake();
      };
      await sub.subscribe(`${p}ch`, on);
      await sub.pSubscribe(`${p}pat:*`, on);
      assert.equal(await c.publish(`${p}ch`, 'hello'), 1);
      assert.equal(await c.publish(`${p}pat:x`, 'world'), 1);
      await h.within(3000, new Promise((resolve) => {
        wake = () => msgs.length >= 2 && resolve();
        wake();
      }), 'two messages');
      assert.deepEqual(msgs, [[`${p}ch`, 'hello'], [`${p}pat:x`, 'world']]);
      await sub.unsubscribe(`${p}ch`);
      await sub.pUnsubscribe(`${p}pat:*`);
      assert.equal(await c.publish(`${p}ch`, 'nobody'), 0);
    });

    h.test('SCAN over 1000 keys sees every key', { timeout: 20000 }, async () => {
      const c = await client();
      const kv = {};
      for (let i = 0; i < 1000; i++) kv[`${p}scan:${i}`] = String(i);
      assert.equal(await c.mSet(kv), 'OK');
      const seen = new Set();
      for await (const keys of c.scanIterator({ MATCH: `${p}scan:*`, COUNT: 50 })) for (const k of keys) seen.add(k);
      assert.equal(seen.size, 1000);
      for (let i = 0; i < 1000; i++) assert.ok(seen.has(`${p}scan:${i}`));
    });

    h.test('Lua EVAL', { timeout: 15000 }, async () => {
      const c = await client();
      assert.deepEqual(await c.eval(LUA, { keys: [`${p}lua`], arguments: ['val'] }), [`${p}lua`, 'val', 42]);
      await assert.rejects(c.eval('return redis.call("NOSUCHCMD")', { keys: [], arguments: [] }), /ERR/);
    });

    h.test('binary-safe Buffer values and a 1 MiB round trip', { timeout: 20000 }, async () => {
      const c = await client();
      const bc = c.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
      const bin = Buffer.alloc(256 * 4);
      for (let i = 0; i < bin.length; i++) bin[i] = i % 256;
      const key = Buffer.from(`${p}bin\r\n\0\xff`, 'latin1');
      assert.equal(await c.set(key, bin), 'OK');
      assert.ok((await bc.get(key)).equals(bin));
      const big = crypto.randomBytes(1024 * 1024);
      assert.equal(await c.set(`${p}big`, big), 'OK');
      assert.ok((await bc.get(`${p}big`)).equals(big), '1 MiB binary value');
    });

    h.test('HGETALL arrives as a map (RESP3) / flat array (RESP2)', { timeout: 15000 }, async () => {
      const c = await client();
      await c.hSet(`${p}h`, { f1: 'v1', f2: 'v2' });
      assert.deepEqual({ ...(await c.hGetAll(`${p}h`)) }, { f1: 'v1', f2: 'v2' });
      const raw = await c.sendCommand(['HGETALL', `${p}h`]);
      if (cfg.proto === 3) {
        assert.ok(!Array.isArray(raw), `RESP3 HGETALL must be a map, got ${JSON.stringify(raw)}`);
        assert.deepEqual({ ...raw }, { f1: 'v1', f2: 'v2' });
      } else {
        assert.deepEqual(raw, ['f1', 'v1', 'f2', 'v2']);
      }
    });
  });
}
