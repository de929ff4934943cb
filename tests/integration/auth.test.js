'use strict';
// AUTH with the production users: errors with Redis's own texts, what is
// allowed before AUTH, failed-attempt throttling per client address, the
// stricter protocol caps before AUTH, RESET back to the default user.

const assert = require('node:assert/strict');
const net = require('node:net');
const { describe, before, after } = require('node:test');
const h = require('./harness');
const { RawClient, RespError } = require('./resp');

const WRONGPASS = 'WRONGPASS invalid username-password pair or user is disabled.';
const NOAUTH = 'NOAUTH Authentication required.';
const THROTTLED = 'ERR too many failed authentication attempts from this address; try again later';

function assertErr(v, text, what = '') {
  assert.ok(v instanceof RespError, `${what} expected error ${JSON.stringify(text)}, got ${JSON.stringify(v)}`);
  assert.equal(v.message, text, what);
}

function connectFrom(port, localAddress) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: h.HOST, localAddress });
    s.setNoDelay(true);
    s.once('connect', () => {
      s.removeAllListeners('error');
      resolve(new RawClient(s, {}));
    });
    s.once('error', reject);
  });
}

function productionKeywarden(redisPort, policy = {}) {
  return h.startKeywarden({
    upstreamPort: redisPort,
    toml: { policy: { outside_namespaces: 'refuse', default_user: '', ...policy } },
    tomlText: h.confPolicyBlocks(),
  });
}

describe('auth', () => {
  let redis;
  const open = [];

  async function raw(port) {
    const c = await RawClient.connect(port, h.HOST);
    open.push(c);
    return c;
  }

  before(async () => {
    redis = await h.startRedis();
  }, { timeout: 30000 });

  after(async () => {
    for (const c of open) c.close();
    if (redis) await redis.stop();
  }, { timeout: 30000 });

  h.proxyTest('AUTH errors, NOAUTH, what works before AUTH, HELLO AUTH', { timeout: 20000 }, async () => {
    const kw = await productionKeywarden(redis.port);
    const c = await raw(kw.port);
    assertErr(await c.call('GET', 'x'), NOAUTH, 'command before AUTH');
    assertErr(await c.call('SET', 'session:x', 'v'), NOAUTH);
    assert.equal(await c.call('PING'), 'PONG', 'PING before AUTH');
    assertErr(await c.call('AUTH', 'auth-service', 'wrong'), WRONGPASS, 'wrong password');
    assertErr(await c.call('AUTH', 'no-such-user', 'auth-service-secret'), WRONGPASS, 'unknown user');
    assertErr(await c.call('GET', 'x'), NOAUTH, 'still not authenticated');
    const hello = await c.call('HELLO', '3');
    assert.ok(hello instanceof RespError && hello.message.startsWith('NOAUTH'), `HELLO 3 without AUTH: ${JSON.stringify(hello)}`);
    assertErr(await c.call('GET', 'x'), NOAUTH);
    assert.equal(c.lastType, '-', 'the failed HELLO did not switch to RESP3');

    const m = await c.call('HELLO', '3', 'AUTH', 'auth-service', 'auth-service-secret');
    assert.ok(m instanceof Map, `HELLO 3 AUTH returns a map, got ${JSON.stringify(m)}`);
    assert.equal(c.lastType, '%');
    assert.equal(m.get('proto'), 3);
    assert.equal(await c.call('SET', 'session:2f1b4a8e-7c4d-4e2a-9a0b-123456789abc:s', 'v'), 'OK');

    // A failed AUTH or HELLO AUTH keeps the user already authenticated, as in Redis.
    assertErr(await c.call('AUTH', 'ops', 'wrong'), WRONGPASS);
    assertErr(await c.call('HELLO', '3', 'AUTH', 'ops', 'wrong'), WRONGPASS);
    assert.equal(await c.call('GET', 'session:2f1b4a8e-7c4d-4e2a-9a0b-123456789abc:s'), 'v', 'still auth-service');
    assert.ok((await c.call('GET', 'profile:2f1b4a8e-7c4d-4e2a-9a0b-123456789abc')) instanceof RespError, 'not ops');

    // Plain AUTH with the right password, on another connection.
    const d = await raw(kw.port);
    assert.equal(await d.call('AUTH', 'user-service', 'user-service-secret'), 'OK');
    assert.equal(await d.call('GET', 'user:id:1'), null);

    // QUIT before AUTH: +OK and the server closes.
    const q = await raw(kw.port);
    assert.equal(await q.call('QUIT'), 'OK');
    assert.ok(await q.waitClosed(3000), 'QUIT closes the connection');
  });

  h.proxyTest('RESET returns the client to the default user', { timeout: 20000 }, async () => {
    const kw = await productionKeywarden(redis.port);
    const c = await raw(kw.port);
    assert.equal(await c.call('AUTH', 'ops', 'ops-secret'), 'OK');
    assert.equal(await c.call('SET', 'rl:reset', '1'), 'OK');
    assert.equal(await c.call('RESET'), 'RESET');
    assertErr(await c.call('GET', 'rl:reset'), NOAUTH, 'after RESET with default_user=""');
    assert.equal(await c.call('AUTH', 'auth-service', 'auth-service-secret'), 'OK');
    assert.equal(await c.call('GET', 'rl:reset'), '1');

    // With a default user, RESET drops back to it and its rights.
    const kw2 = await h.startKeywarden({
      upstreamPort: redis.port,
      toml: { policy: { outside_namespaces: 'refuse', default_user: 'user-service' } },
      tomlText: h.confPolicyBlocks(),
    });
    const e = await raw(kw2.port);
    assert.equal(await e.call('GET', 'user:id:7'), null, 'default user may read its namespaces');
    assert.ok((await e.call('GET', 'rl:reset')) instanceof RespError, 'default user may not read rl');
    assert.equal(await e.call('AUTH', 'ops', 'ops-secret'), 'OK');
    assert.equal(await e.call('GET', 'rl:reset'), '1');
    assert.equal(await e.call('RESET'), 'RESET');
    const after = await e.call('GET', 'rl:reset');
    assert.ok(after instanceof RespError && after.message.startsWith('NOPERM User user-service'), `after RESET: ${JSON.stringify(after)}`);
  });

  h.proxyTest('failed AUTHs from one address block AUTH for auth_block_s', { timeout: 20000 }, async () => {
    const kw = await productionKeywarden(redis.port, { auth_max_failures: 5, auth_failure_window_s: 60, auth_block_s: 2 });
    const c = await raw(kw.port);
    for (let i = 0; i < 5; i++) assertErr(await c.call('AUTH', 'auth-service', `bad${i}`), WRONGPASS, `failure ${i + 1}`);
    assertErr(await c.call('AUTH', 'auth-service', 'auth-service-secret'), THROTTLED, 'right password while blocked');
    // Every connection from the address is blocked, HELLO AUTH too.
    const d = await raw(kw.port);
    assertErr(await d.call('AUTH', 'ops', 'ops-secret'), THROTTLED, 'other connection, same address');
    const hello = await d.call('HELLO', '3', 'AUTH', 'ops', 'ops-secret');
    assert.ok(hello instanceof RespError && hello.message === THROTTLED, `HELLO AUTH while blocked: ${JSON.stringify(hello)}`);
    assertErr(await d.call('GET', 'rl:x'), NOAUTH);
    // Another address is not blocked.
    const other = await connectFrom(kw.port, '127.0.0.2');
    open.push(other);
    assert.equal(await other.call('AUTH', 'ops', 'ops-secret'), 'OK', 'AUTH from 127.0.0.2');
    // After the block, the right password works again.
    await h.sleep(2300);
    assert.equal(await c.call('AUTH', 'auth-service', 'auth-service-secret'), 'OK', 'after auth_block_s');
    assert.equal(await c.call('GET', 'rl:x'), null);
  });

  h.proxyTest('stricter protocol caps before AUTH; large values after', { timeout: 20000 }, async () => {
    const kw = await productionKeywarden(redis.port);
    const c = await raw(kw.port);
    // A bulk header over preauth_max_bulk_len is refused at once, before its payload.
    c.write('*3\r\n$3\r\nSET\r\n$5\r\nrl:bb\r\n$16385\r\n');
    assertErr(await c.read(3000), 'ERR Protocol error: unauthenticated bulk length');
    assert.ok(await c.waitClosed(3000), 'closed after the protocol error');

    // Exactly the cap is accepted by the decoder (and gets NOAUTH).
    const e = await raw(kw.port);
    assertErr(await e.call('SET', 'rl:bb', 'x'.repeat(16384)), NOAUTH);

    const a = await raw(kw.port);
    a.send(...Array.from({ length: 11 }, (_, i) => (i === 0 ? 'DEL' : `k${i}`)));
    assertErr(await a.read(3000), 'ERR Protocol error: unauthenticated multibulk length');
    assert.ok(await a.waitClosed(3000), 'closed after the protocol error');

    const d = await raw(kw.port);
    assert.equal(await d.call('AUTH', 'auth-service', 'auth-service-secret'), 'OK');
    const big = 'v'.repeat(1024 * 1024);
    assert.equal(await d.call('SET', 'rl:big', big), 'OK');
    assert.equal(await d.call('GET', 'rl:big'), big);
    assert.equal(await d.call('DEL', ...Array.from({ length: 20 }, (_, i) => `rl:k${i}`)), 0);
  });
});
