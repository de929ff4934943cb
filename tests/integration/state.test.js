'use strict';
// Per-connection state a proxy has to keep straight: transactions, WATCH,
// blocking pops, pub/sub, selected db and client name.

const assert = require('node:assert/strict');
const { describe, before, after } = require('node:test');
const h = require('./harness');
const { RawClient, RespError, RespPush } = require('./resp');

describe('connection state', () => {
  let redis;
  let kw;
  const open = [];

  async function client(opts) {
    const c = await RawClient.connect(kw.port, h.HOST, opts);
    open.push(c);
    return c;
  }

  before(async () => {
    redis = await h.startRedis();
    kw = await h.startKeywarden({ upstreamPort: redis.port });
  }, { timeout: 30000 });

  after(async () => {
    for (const c of open) c.close();
    if (kw) await kw.stop();
    if (redis) await redis.stop();
  }, { timeout: 30000 });

  h.test('MULTI/EXEC: QUEUED replies and an EXEC array', { timeout: 10000 }, async () => {
    const c = await client();
    assert.equal(await c.call('DEL', 'kw:st:m1', 'kw:st:m2'), 0);
    assert.equal(await c.call('MULTI'), 'OK');
    assert.equal(await c.call('SET', 'kw:st:m1', 'a'), 'QUEUED');
    assert.equal(await c.call('INCR', 'kw:st:m2'), 'QUEUED');
    assert.equal(await c.call('INCR', 'kw:st:m2'), 'QUEUED');
    assert.equal(await c.call('GET', 'kw:st:m1'), 'QUEUED');
    assert.deepEqual(await c.call('EXEC'), ['OK', 1, 2, 'a']);
    const e = await c.call('EXEC');
    assert.ok(e instanceof RespError && e.message === 'ERR EXEC without MULTI', `got ${JSON.stringify(e)}`);
  });

  h.test('MULTI with a bad command -> EXECABORT', { timeout: 10000 }, async () => {
    const c = await client();
    assert.equal(await c.call('MULTI'), 'OK');
    const bad = await c.call('SET', 'kw:st:onlykey');
    assert.ok(bad instanceof RespError && bad.message.startsWith('ERR wrong number of arguments'), `got ${JSON.stringify(bad)}`);
    const ex = await c.call('EXEC');
    assert.ok(ex instanceof RespError && ex.message.startsWith('EXECABORT'), `got ${JSON.stringify(ex)}`);
    assert.equal(await c.call('PING'), 'PONG');
  });

  h.test('DISCARD drops the queued commands', { timeout: 10000 }, async () => {
    const c = await client();
    assert.equal(await c.call('SET', 'kw:st:d', 'before'), 'OK');
    assert.equal(await c.call('MULTI'), 'OK');
    assert.equal(await c.call('SET', 'kw:st:d', 'after'), 'QUEUED');
    assert.equal(await c.call('DISCARD'), 'OK');
    assert.equal(await c.call('GET', 'kw:st:d'), 'before');
    const e = await c.call('DISCARD');
    assert.ok(e instanceof RespError && e.message === 'ERR DISCARD without MULTI', `got ${JSON.stringify(e)}`);
  });

  h.test('WATCH + conflicting write from another client -> EXEC returns null', { timeout: 10000 }, async () => {
    const a = await client();
    const b = await client();
    assert.equal(await a.call('SET', 'kw:st:w', '1'), 'OK');
    assert.equal(await a.call('WATCH', 'kw:st:w'), 'OK');
    assert.equal(await b.call('SET', 'kw:st:w', 'theirs'), 'OK');
    assert.equal(await a.call('MULTI'), 'OK');
    assert.equal(await a.call('SET', 'kw:st:w', 'mine'), 'QUEUED');
    assert.equal(await a.call('EXEC'), null);
    assert.equal(a.lastType, '*', 'RESP2 null array');
    assert.equal(await b.call('GET', 'kw:st:w'), 'theirs');

    // Without a conflict the same sequence commits, and UNWATCH works.
    assert.equal(await a.call('WATCH', 'kw:st:w'), 'OK');
    assert.equal(await a.call('MULTI'), 'OK');
    assert.equal(await a.call('SET', 'kw:st:w', 'mine'), 'QUEUED');
    assert.deepEqual(await a.call('EXEC'), ['OK']);
    assert.equal(await b.call('GET', 'kw:st:w'), 'mine');
    assert.equal(await a.call('WATCH', 'kw:st:w'), 'OK');
    assert.equal(await a.call('UNWATCH'), 'OK');
    assert.equal(await b.call('SET', 'kw:st:w', 'x'), 'OK');
    assert.equal(await a.call('MULTI'), 'OK');
    assert.equal(await a.call('GET', 'kw:st:w'), 'QUEUED');
    assert.deepEqual(await a.call('EXEC'), ['x']);
  });

  h.test('BLPOP is unblocked by another client\'s LPUSH', { timeout: 10000 }, async () => {
    const a = await client();
    const b = await client();
    await a.call('DEL', 'kw:st:list');
    a.send('BLPOP', 'kw:st:list', '5');
    await h.sleep(200);
    const t0 = Date.now();
    assert.equal(await b.call('LPUSH', 'kw:st:list', 'hello'), 1);
    assert.deepEqual(await a.read(3000), ['kw:st:list', 'hello']);
    assert.ok(Date.now() - t0 < 2000, 'BLPOP returned promptly after LPUSH');
    // The connection is usable afterwards.
    assert.equal(await a.call('PING'), 'PONG');
  });

  h.test('BLPOP with a timeout returns null', { timeout: 10000 }, async () => {
    const a = await client();
    const b = await client();
    const t0 = Date.now();
    a.send('BLPOP', 'kw:st:empty', '0.3');
    const blpopReply = a.read(3000).then((v) => ({ v, at: Date.now() }));
    await h.sleep(50);
    // Other clients are not held up by a blocked one.
    assert.equal(await b.call('PING'), 'PONG');
    const pingAt = Date.now();
    const { v, at } = await blpopReply;
    assert.equal(v, null);
    assert.equal(a.lastType, '*', 'RESP2 null array');
    assert.ok(pingAt < at, 'another client is served while one is blocked');
    const el = at - t0;
    assert.ok(el >= 250 && el < 2500, `BLPOP 0.3 took ${el} ms`);
    assert.equal(await a.call('PING'), 'PONG');
  });

  h.test('SUBSCRIBE receives PUBLISH from another client (RESP2)', { timeout: 10000 }, async () => {
    const sub = await client();
    const pub = await client();
    assert.deepEqual(await sub.call('SUBSCRIBE', 'kw:st:ch'), ['subscribe', 'kw:st:ch', 1]);
    assert.equal(await pub.call('PUBLISH', 'kw:st:ch', 'hello'), 1);
    assert.deepEqual(await sub.read(3000), ['message', 'kw:st:ch', 'hello']);
    assert.equal(await pub.call('PUBLISH', 'kw:st:ch', 'bin\r\n\u0000'), 1);
    assert.deepEqual(await sub.read(3000), ['message', 'kw:st:ch', 'bin\r\n\u0000']);
    // PING in subscribed RESP2 mode has its own shape.
    assert.deepEqual(await sub.call('PING'), ['pong', '']);
    const e = await sub.call('GET', 'x');
    assert.ok(e instanceof RespError && e.message.startsWith('ERR'), `GET while subscribed: ${JSON.stringify(e)}`);
    assert.deepEqual(await sub.call('UNSUBSCRIBE', 'kw:st:ch'), ['unsubscribe', 'kw:st:ch', 0]);
    assert.equal(await pub.call('PUBLISH', 'kw:st:ch', 'gone'), 0);
    assert.equal(await sub.call('SET', 'kw:st:aftersub', 'ok'), 'OK', 'normal commands after UNSUBSCRIBE');
    assert.equal(await sub.call('GET', 'kw:st:aftersub'), 'ok');
  });

  h.test('PSUBSCRIBE receives pmessage', { timeout: 10000 }, async () => {
    const sub = await client();
    const pub = await client();
    assert.deepEqual(await sub.call('PSUBSCRIBE', 'kw:st:p:*'), ['psubscribe', 'kw:st:p:*', 1]);
    assert.equal(await pub.call('PUBLISH', 'kw:st:p:one', 'm1'), 1);
    assert.equal(await pub.call('PUBLISH', 'kw:st:other', 'no'), 0);
    assert.equal(await pub.call('PUBLISH', 'kw:st:p:two', 'm2'), 1);
    assert.deepEqual(await sub.read(3000), ['pmessage', 'kw:st:p:*', 'kw:st:p:one', 'm1']);
    assert.deepEqual(await sub.read(3000), ['pmessage', 'kw:st:p:*', 'kw:st:p:two', 'm2']);
    assert.deepEqual(await sub.call('PUNSUBSCRIBE'), ['punsubscribe', 'kw:st:p:*', 0]);
    assert.equal(await sub.call('PING'), 'PONG');
  });

  h.test('RESP3 pub/sub: push messages interleave with normal replies', { timeout: 10000 }, async () => {
    const sub = await client();
    const pub = await client();
    await sub.call('HELLO', '3');
    const conf = await sub.call('SUBSCRIBE', 'kw:st:r3');
    assert.ok(conf instanceof RespPush, `SUBSCRIBE confirmation must be a push, got ${JSON.stringify(conf)}`);
    assert.deepEqual(conf.items, ['subscribe', 'kw:st:r3', 1]);
    assert.equal(await pub.call('PUBLISH', 'kw:st:r3', 'p1'), 1);
    const msg = await sub.read(3000);
    assert.ok(msg instanceof RespPush);
    assert.deepEqual(msg.items, ['message', 'kw:st:r3', 'p1']);
    // In RESP3 regular commands are allowed while subscribed.
    assert.equal(await sub.call('SET', 'kw:st:r3k', 'v'), 'OK');
    assert.equal(await sub.call('GET', 'kw:st:r3k'), 'v');
    const un = await sub.call('UNSUBSCRIBE', 'kw:st:r3');
    assert.ok(un instanceof RespPush);
    assert.deepEqual(un.items, ['unsubscribe', 'kw:st:r3', 0]);
  });

  h.test('SELECT isolation between clients', { timeout: 10000 }, async () => {
    const a = await client();
    const b = await client();
    assert.equal(await a.call('SELECT', '3'), 'OK');
    assert.equal(await a.call('SET', 'kw:st:sel', 'in-db3'), 'OK');
    assert.equal(await b.call('GET', 'kw:st:sel'), null, 'client B in db 0 must not see the key');
    assert.equal(await a.call('GET', 'kw:st:sel'), 'in-db3');
    assert.equal(await b.call('SET', 'kw:st:sel', 'in-db0'), 'OK');
    assert.equal(await a.call('GET', 'kw:st:sel'), 'in-db3');
    assert.equal(await b.call('SELECT', '3'), 'OK');
    assert.equal(await b.call('GET', 'kw:st:sel'), 'in-db3');
    const bad = await a.call('SELECT', '100000');
    assert.ok(bad instanceof RespError && bad.message.startsWith('ERR'), `SELECT out of range: ${JSON.stringify(bad)}`);
    assert.equal(await a.call('GET', 'kw:st:sel'), 'in-db3', 'failed SELECT keeps the old db');
    // A fresh connection starts in db 0.
    const c = await client();
    assert.equal(await c.call('GET', 'kw:st:sel'), 'in-db0');
  });

  h.test('CLIENT SETNAME is per connection', { timeout: 10000 }, async () => {
    const a = await client();
    const b = await client();
    assert.equal(await a.call('CLIENT', 'SETNAME', 'alpha'), 'OK');
    assert.equal(await b.call('CLIENT', 'GETNAME'), null);
    assert.equal(await a.call('CLIENT', 'GETNAME'), 'alpha');
    assert.equal(await b.call('CLIENT', 'SETNAME', 'beta'), 'OK');
    assert.equal(await a.call('CLIENT', 'GETNAME'), 'alpha');
    assert.equal(await b.call('CLIENT', 'GETNAME'), 'beta');
    const bad = await a.call('CLIENT', 'SETNAME', 'has space');
    assert.ok(bad instanceof RespError && bad.message.startsWith('ERR'), `name with space: ${JSON.stringify(bad)}`);
  });

  // Redis's tracking unit turns tracking off and on again with REDIRECT: the second time the
  // client already holds its own (streaming) connection, and the keywarden id must still be
  // translated (it used to reach Redis as is: "client ID ... does not exist").
  h.test('CLIENT TRACKING REDIRECT again after TRACKING off, and after a bad id', { timeout: 10000 }, async () => {
    const rd = await client();
    const redirId = await rd.call('CLIENT', 'ID');
    rd.send('SUBSCRIBE', '__redis__:invalidate');
    await rd.read();
    const c = await client();
    assert.equal(await c.call('CLIENT', 'TRACKING', 'on', 'REDIRECT', String(redirId)), 'OK');
    assert.equal(await c.call('CLIENT', 'TRACKING', 'off'), 'OK');
    const bad = await c.call('CLIENT', 'TRACKING', 'on', 'BCAST', 'REDIRECT', '999999');
    assert.ok(bad instanceof RespError && /redirect to does not exist/.test(bad.message), String(bad));
    assert.equal(await c.call('CLIENT', 'TRACKING', 'on', 'BCAST', 'PREFIX', 'kw:trk:', 'REDIRECT', String(redirId)), 'OK');
    assert.equal(await c.call('SET', 'kw:trk:a', '1'), 'OK');
    const msg = await rd.read();
    assert.deepEqual(msg.slice(0, 2), ['message', '__redis__:invalidate'], JSON.stringify(msg));
    assert.deepEqual(msg[2], ['kw:trk:a']);
    assert.equal(await c.call('PING'), 'PONG', 'replies stay in order after the lookups');
  });
});
