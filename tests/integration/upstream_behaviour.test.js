'use strict';
// What the proxy answers itself, it answers as Redis would given the upstream's state: PING while
// Redis is busy with a script, the commands Redis serves while busy reaching it, AUTH against the
// upstream's own ACL users when keywarden has none, SLOWLOG-style upstream state, HELLO after
// SELECT.

const assert = require('node:assert/strict');
const { describe, before, after } = require('node:test');
const h = require('./harness');
const { RawClient, RespError } = require('./resp');

// A script that keeps Redis busy until SCRIPT KILL (it never writes, so it can be killed).
const BUSY_SCRIPT = 'local i = 0 while true do i = i + 1 end';

describe('upstream behaviour seen through the proxy', () => {
  let redis;
  let kw;
  const open = [];

  async function client(port = kw.port) {
    const c = await RawClient.connect(port, h.HOST);
    open.push(c);
    return c;
  }

  before(async () => {
    redis = await h.startRedis({ args: ['--busy-reply-threshold', '50'] });
    // No pinned connections kept idle: SCRIPT KILL below needs a brand-new upstream connection,
    // whose handshake must succeed while Redis is busy.
    kw = await h.startKeywarden({ upstreamPort: redis.port, toml: { upstream: { pinned_pool_size: 0 } } });
  }, { timeout: 30000 });

  after(async () => {
    for (const c of open) c.close();
    if (kw) await kw.stop();
    if (redis) await redis.stop();
  }, { timeout: 30000 });

  h.test('a busy script: PING says BUSY, SCRIPT KILL reaches Redis on a fresh connection', { timeout: 30000 }, async () => {
    const runner = await client();
    const other = await client();
    // On a connection of its own (a non-default db pins one): a client that shares the runner's
    // upstream connection waits behind the script instead (head-of-line blocking, README), and
    // with two workers the two clients share one about half the time.
    assert.equal(await other.call('SELECT', '1'), 'OK');
    runner.send('EVAL', BUSY_SCRIPT, '0');
    let pong;
    for (let i = 0; i < 50; i++) {
      await h.sleep(50);
      pong = await other.call('PING');
      if (pong instanceof RespError) break;
    }
    assert.ok(pong instanceof RespError && pong.message.startsWith('BUSY'), `PING got ${String(pong)}`);
    const killer = await client();
    assert.equal(await killer.call('SCRIPT', 'KILL'), 'OK');
    const r = await runner.read(10000);
    assert.ok(r instanceof RespError && /killed/i.test(r.message), String(r));
    assert.equal(await other.call('PING'), 'PONG');
  });

  h.test('HELLO 3 after SELECT switches the protocol of the pinned connection', { timeout: 10000 }, async () => {
    const c = await client();
    assert.equal(await c.call('SELECT', '2'), 'OK');
    const hello = await c.call('HELLO', '3');
    assert.equal(hello.get('proto'), 3);
    assert.equal(await c.call('SET', 'ub:h', '1'), 'OK');
    assert.equal(await c.call('HGETALL', 'ub:nohash').then((v) => v instanceof Map), true);
    assert.equal(c.lastType, '%', 'a RESP3 map from the pinned connection');
    const back = await c.call('HELLO', '2');
    assert.ok(Array.isArray(back));
    assert.deepEqual(await c.call('HGETALL', 'ub:nohash'), []);
    const direct = await client(redis.port);
    assert.equal(await direct.call('SELECT', '2'), 'OK');
    assert.equal(await direct.call('GET', 'ub:h'), '1');
  });
});

describe('AUTH against the upstream Redis ACL users (keywarden has no users)', () => {
  let redis;
  let kw;
  const open = [];

  async function client(port = kw.port) {
    const c = await RawClient.connect(port, h.HOST);
    open.push(c);
    return c;
  }

  before(async () => {
    redis = await h.startRedis();
    const admin = await client(redis.port);
    assert.equal(await admin.call('ACL', 'SETUSER', 'reader', 'on', '>readerpw', '~ub:*', '+get', '+ping', '+acl|whoami'), 'OK');
    assert.equal(await admin.call('SET', 'ub:k', 'v'), 'OK');
    kw = await h.startKeywarden({ upstreamPort: redis.port });
  }, { timeout: 30000 });

  after(async () => {
    for (const c of open) c.close();
    if (kw) await kw.stop();
    if (redis) await redis.stop();
  }, { timeout: 30000 });

  h.test('AUTH user pass is checked by Redis; the client then runs as that user', { timeout: 10000 }, async () => {
    const c = await client();
    const bad = await c.call('AUTH', 'reader', 'wrong');
    assert.ok(bad instanceof RespError && bad.message.startsWith('WRONGPASS'), String(bad));
    // Pipelined: the GET and SET behind AUTH run as the user AUTH sets.
    c.send('AUTH', 'reader', 'readerpw');
    c.send('ACL', 'WHOAMI');
    c.send('GET', 'ub:k');
    c.send('SET', 'ub:k', 'nope');
    assert.equal(await c.read(), 'OK');
    assert.equal(await c.read(), 'reader');
    assert.equal(await c.read(), 'v');
    const denied = await c.read();
    assert.ok(denied instanceof RespError && denied.message.startsWith('NOPERM'), String(denied));
    // Another client is unaffected: it still runs as keywarden's own upstream user.
    const other = await client();
    assert.equal(await other.call('ACL', 'WHOAMI'), 'default');
    assert.equal(await other.call('SET', 'ub:k2', 'x'), 'OK');
    // RESET goes back to the default user.
    assert.equal(await c.call('RESET'), 'RESET');
    assert.equal(await c.call('ACL', 'WHOAMI'), 'default');
  });

  h.test('HELLO 3 AUTH user pass: answered after Redis accepted it, in RESP3', { timeout: 10000 }, async () => {
    const c = await client();
    const hello = await c.call('HELLO', '3', 'AUTH', 'reader', 'readerpw', 'SETNAME', 'app1');
    assert.equal(hello.get('proto'), 3);
    assert.equal(await c.call('ACL', 'WHOAMI'), 'reader');
    assert.equal(await c.call('CLIENT', 'GETNAME'), 'app1');
    const bad = await (await client()).call('HELLO', '3', 'AUTH', 'reader', 'bad');
    assert.ok(bad instanceof RespError && bad.message.startsWith('WRONGPASS'), String(bad));
  });

  h.test('AUTH <password> with no password on the default user: Redis\'s own answer', { timeout: 10000 }, async () => {
    const c = await client();
    const e = await c.call('AUTH', 'whatever');
    assert.ok(e instanceof RespError && e.message.includes('without any password configured'), String(e));
  });
});
