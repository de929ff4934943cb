'use strict';
// Namespaces, users and TTL rules (issue 3) with the production config:
// every client must AUTH, each service reaches only its own namespaces, keys
// outside every namespace are refused. What Redis really stored is checked
// on a direct connection to it, never through the proxy.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { describe, before, after, beforeEach } = require('node:test');
const Redis = require('ioredis');
const { createClient } = require('redis');
const h = require('./harness');
const { RawClient, RespError } = require('./resp');

const MONTH = 2592000;
const USERS = {
  auth: ['auth-service', 'auth-service-secret'],
  user: ['user-service', 'user-service-secret'],
  ops: ['ops', 'ops-secret'],
};

function isErr(v, text) {
  return v instanceof RespError && (text === undefined || v.message === text);
}

function assertErr(v, text, what = '') {
  assert.ok(v instanceof RespError, `${what} expected error ${JSON.stringify(text)}, got ${JSON.stringify(v)}`);
  assert.equal(v.message, text, what);
}

describe('policy (production config)', () => {
  let redis;
  let kw;
  let direct; // straight to Redis
  const open = [];

  async function raw() {
    const c = await RawClient.connect(kw.port, h.HOST);
    open.push(c);
    return c;
  }

  async function as(who) {
    const c = await raw();
    assert.equal(await c.call('AUTH', ...USERS[who]), 'OK', `AUTH ${who}`);
    return c;
  }

  before(async () => {
    redis = await h.startRedis();
    kw = await h.startKeywarden({
      upstreamPort: redis.port,
      toml: { policy: { outside_namespaces: 'refuse', default_user: '' } },
      tomlText: h.confPolicyBlocks(),
    });
    direct = await RawClient.connect(redis.port, h.HOST);
  }, { timeout: 30000 });

  after(async () => {
    for (const c of open) c.close();
    if (direct) direct.close();
    if (kw) await kw.stop();
    if (redis) await redis.stop();
  }, { timeout: 30000 });

  beforeEach(async () => {
    assert.equal(await direct.call('FLUSHALL'), 'OK');
  });

  h.proxyTest('a session-only user cannot read profiles but owns its sessions', { timeout: 10000 }, async () => {
    const u = crypto.randomUUID();
    await direct.call('SET', `profile:${u}`, 'secret-profile');
    const c = await as('auth');
    assertErr(await c.call('GET', `profile:${u}`),
      `NOPERM User auth-service has no permissions to access the 'profile:${u}' key (namespace 'profile' is not readable by this user)`);
    const sk = `session:${u}:sid-1`;
    assert.equal(await c.call('SET', sk, 'tok'), 'OK');
    assert.equal(await c.call('GET', sk), 'tok');
    assert.equal(await direct.call('GET', sk), 'tok');
    assert.equal(await c.call('DEL', sk), 1);
    // The connection stays usable after a refusal, and user-service reads the profile.
    const p = await as('user');
    assert.equal(await p.call('GET', `profile:${u}`), 'secret-profile');
    assert.ok(isErr(await p.call('GET', sk)), 'user-service may not read sessions');
  });

  h.proxyTest('MSET across namespaces is refused as a whole', { timeout: 10000 }, async () => {
    const u = crypto.randomUUID();
    const c = await as('auth');
    const r = await c.call('MSET', `session:${u}:s`, 'a', `profile:${u}`, 'b');
    assertErr(r, `NOPERM User auth-service has no permissions to access the 'profile:${u}' key (namespace 'profile' is not writable by this user)`);
    assert.equal(await direct.call('EXISTS', `session:${u}:s`, `profile:${u}`), 0, 'nothing written');
    // Allowed on both sides -> written, each key with its namespace's default TTL.
    const o = await as('ops');
    assert.equal(await o.call('MSET', `session:${u}:s`, 'a', `profile:${u}`, 'b'), 'OK');
    assert.equal(await direct.call('TTL', `session:${u}:s`), MONTH);
    assert.equal(await direct.call('TTL', `profile:${u}`), 300);
  });

  h.proxyTest('TTL defaults, clamping and PERSIST refusal', { timeout: 10000 }, async () => {
    const u = crypto.randomUUID();
    const c = await as('auth');
    const k = `session:${u}:s1`;
    assert.equal(await c.call('SET', k, 'v'), 'OK');
    assert.equal(await direct.call('TTL', k), MONTH, 'default_ttl_s applied');
    assert.equal(await c.call('SET', k, 'v', 'EX', '99999999'), 'OK');
    assert.equal(await direct.call('TTL', k), MONTH, 'SET EX clamped to max_ttl_s');
    assert.equal(await c.call('SET', k, 'v', 'EX', '100'), 'OK');
    assert.equal(await direct.call('TTL', k), 100, 'a TTL under the maximum is kept');
    assert.equal(await c.call('EXPIRE', k, '99999999'), 1);
    assert.equal(await direct.call('TTL', k), MONTH, 'EXPIRE clamped to max_ttl_s');
    const persistErr = "ERR PERSIST refused: keys of namespace 'session' must have a TTL";
    assertErr(await c.call('PERSIST', k), persistErr, 'PERSIST');
    assertErr(await c.call('GETEX', k, 'PERSIST'), persistErr, 'GETEX PERSIST');
    assert.equal(await direct.call('TTL', k), MONTH, 'the key still has its TTL');
    assert.equal(await c.call('GET', k), 'v');

    const o = await as('ops');
    const d = `doc:processing:${u}`;
    assert.equal(await o.call('SET', d, 'x'), 'OK');
    assert.equal(await direct.call('TTL', d), 3600, 'doc:processing default');
    assert.equal(await o.call('SET', d, 'x', 'EX', '999999'), 'OK');
    assert.equal(await direct.call('TTL', d), 86400, 'doc:processing max');
  });

  h.proxyTest('RESET inside MULTI drops the queued commands\' TTL follow-ups', { timeout: 10000 }, async () => {
    // Regression: the follow-ups of a transaction discarded by RESET used to stay queued and go
    // out after the next EXEC. MONITOR on Redis itself shows every command the proxy sends.
    const u = crypto.randomUUID();
    const kept = `session:${u}:kept`;
    const dropped = `session:${u}:dropped`;
    const monitor = await RawClient.connect(redis.port, h.HOST);
    open.push(monitor);
    assert.equal(await monitor.call('MONITOR'), 'OK');
    const c = await as('auth');
    assert.equal(await c.call('MULTI'), 'OK');
    assert.equal(await c.call('HSET', dropped, 'f', 'v'), 'QUEUED');
    assert.equal(await c.call('RESET'), 'RESET');
    assert.equal(await c.call('AUTH', ...USERS.auth), 'OK');
    assert.equal(await c.call('MULTI'), 'OK');
    assert.equal(await c.call('HSET', kept, 'f', 'v'), 'QUEUED');
    assert.deepEqual(await c.call('EXEC'), [1]);
    await h.sleep(300);
    const seen = monitor.replies.map((r) => String(r.value));
    assert.ok(seen.some((l) => l.includes('"EXPIRE"') && l.includes(kept)),
      `the kept transaction's follow-up reached Redis: ${seen.join('\n')}`);
    assert.ok(!seen.some((l) => l.includes('"EXPIRE"') && l.includes(dropped)),
      `no follow-up for the discarded transaction: ${seen.join('\n')}`);
    assert.equal(await direct.call('EXISTS', dropped), 0);
  });

  h.proxyTest('collection writes into a ttl_required namespace get a TTL; replies unchanged', { timeout: 15000 }, async () => {
    const u = crypto.randomUUID();
    const k = (s) => `session:${u}:${s}`;
    const c = await as('auth');
    assert.equal(await c.call('HSET', k('h'), 'f', 'v'), 1);
    assert.equal(await c.call('LPUSH', k('l'), 'a'), 1);
    assert.equal(await c.call('INCR', k('i')), 1);
    assert.equal(await c.call('SADD', k('s'), 'm'), 1);
    assert.equal(await c.call('ZADD', k('z'), '1', 'm'), 1);
    for (const s of ['h', 'l', 'i', 's', 'z']) {
      const ttl = await direct.call('TTL', k(s));
      assert.ok(ttl > 0 && ttl <= MONTH, `${k(s)} TTL ${ttl}`);
    }
    // A pipeline: exactly one reply per command, in order, nothing extra.
    const cmds = [
      ['HSET', k('ph'), 'f', 'v'], ['LPUSH', k('pl'), 'a', 'b'], ['INCR', k('pi')],
      ['SADD', k('ps'), 'x', 'y', 'z'], ['ZADD', k('pz'), '1', 'a'], ['INCR', k('pi')],
      ['HSET', k('ph'), 'f', 'w'], ['PING'],
    ];
    for (const cmd of cmds) c.send(...cmd);
    assert.deepEqual(await c.readMany(cmds.length, 5000), [1, 2, 1, 3, 1, 2, 0, 'PONG']);
    await h.sleep(200);
    assert.equal(c.replies.length, 0, `no extra replies: ${JSON.stringify(c.replies)}`);
    for (const s of ['ph', 'pl', 'pi', 'ps', 'pz']) {
      const ttl = await direct.call('TTL', k(s));
      assert.ok(ttl > 0 && ttl <= MONTH, `${k(s)} TTL ${ttl}`);
    }
    // A write Redis refuses gets Redis's error and nothing else; an existing
    // (shorter) TTL is left alone by later writes.
    c.send('SET', k('w'), 'v');
    c.send('HSET', k('w'), 'f', 'v');
    c.send('EXPIRE', k('ph'), '100');
    c.send('HSET', k('ph'), 'g', 'v');
    c.send('PEXPIRE', k('pi'), '99999999999');
    c.send('SETEX', k('se'), '99999999', 'v');
    const more = await c.readMany(6, 5000);
    assert.equal(more[0], 'OK');
    assertErr(more[1], 'WRONGTYPE Operation against a key holding the wrong kind of value');
    assert.deepEqual(more.slice(2), [1, 1, 1, 'OK']);
    await h.sleep(100);
    assert.equal(c.replies.length, 0, `no extra replies: ${JSON.stringify(c.replies)}`);
    assert.equal(await direct.call('TTL', k('ph')), 100, 'HSET keeps the existing TTL');
    assert.equal(await direct.call('TTL', k('pi')), MONTH, 'PEXPIRE clamped');
    assert.equal(await direct.call('TTL', k('se')), MONTH, 'SETEX clamped');

    // MULTI/EXEC: the EXEC array holds exactly the queued commands' replies.
    assert.equal(await c.call('MULTI'), 'OK');
    assert.equal(await c.call('HSET', k('mh'), 'f', 'v'), 'QUEUED');
    assert.equal(await c.call('INCR', k('mi')), 'QUEUED');
    assert.equal(await c.call('SADD', k('ms'), 'a'), 'QUEUED');
    assert.deepEqual(await c.call('EXEC'), [1, 1, 1]);
    assert.equal(await c.call('PING'), 'PONG');
    await h.sleep(100);
    assert.equal(c.replies.length, 0, `no extra replies after EXEC: ${JSON.stringify(c.replies)}`);
    for (const s of ['mh', 'mi', 'ms']) {
      const ttl = await direct.call('TTL', k(s));
      assert.ok(ttl > 0 && ttl <= MONTH, `${k(s)} TTL after EXEC ${ttl}`);
    }
  });

  h.proxyTest('pipelines mixing refusals, follow-ups and plain replies keep one reply per command, in order (RESP2 and RESP3)', { timeout: 15000 }, async () => {
    for (const proto of ['2', '3']) {
      const u = crypto.randomUUID();
      const k = (s) => `session:${u}:${s}`;
      const c = await raw();
      const hello = await c.call('HELLO', proto, 'AUTH', ...USERS.auth);
      assert.ok(proto === '3' ? hello instanceof Map : Array.isArray(hello));
      const expected = [];
      for (let i = 0; i < 300; i++) {
        switch (i % 6) {
          case 0: c.send('HSET', k(`h${i % 12}`), `f${i}`, 'v'); expected.push(1); break;
          case 1: c.send('GET', `profile:${u}`); expected.push('NOPERM'); break;
          case 2: c.send('INCR', k('ctr')); expected.push((i - 2) / 6 + 1); break;
          case 3: c.send('SET', 'session:bad', 'v'); expected.push('ERR key'); break;
          case 4: c.send('SADD', k('set'), `m${i}`); expected.push(1); break;
          default: c.send('PERSIST', k('ctr')); expected.push('ERR PERSIST'); break;
        }
      }
      const got = await c.readMany(expected.length, 10000);
      for (let i = 0; i < expected.length; i++) {
        if (typeof expected[i] === 'string') {
          assert.ok(got[i] instanceof RespError && got[i].message.startsWith(expected[i]), `RESP${proto} reply ${i}: ${JSON.stringify(got[i])}`);
        } else {
          assert.equal(got[i], expected[i], `RESP${proto} reply ${i}`);
        }
      }
      assert.equal(await c.call('PING'), 'PONG');
      await h.sleep(100);
      assert.equal(c.replies.length, 0, `RESP${proto} no extra replies: ${JSON.stringify(c.replies)}`);
      for (const s of ['h0', 'h6', 'ctr', 'set']) {
        const ttl = await direct.call('TTL', k(s));
        assert.ok(ttl > 0 && ttl <= MONTH, `RESP${proto} ${k(s)} TTL ${ttl}`);
      }
      // SET inside MULTI gets the default TTL too; EXEC has exactly the queued replies.
      assert.equal(await c.call('MULTI'), 'OK');
      assert.equal(await c.call('SET', k('ms'), 'v'), 'QUEUED');
      assert.equal(await c.call('LPUSH', k('ml'), 'a'), 'QUEUED');
      assert.equal(await c.call('GET', k('ms')), 'QUEUED');
      assert.deepEqual(await c.call('EXEC'), ['OK', 1, 'v']);
      assert.equal(await direct.call('TTL', k('ms')), MONTH);
      assert.ok((await direct.call('TTL', k('ml'))) > 0);
      assert.equal(await c.call('PING'), 'PONG');
    }
  });

  h.proxyTest('key shape and keys outside every namespace', { timeout: 10000 }, async () => {
    const c = await as('auth');
    assertErr(await c.call('SET', 'session:abc', 'v'),
      "ERR key 'session:abc' does not match namespace 'session' (session:{user_id:uuid}:{session_id})");
    assertErr(await c.call('GET', 'nowhere'), "NOPERM key 'nowhere' is outside every namespace");
    const u = await as('user');
    assertErr(await u.call('SET', 'nowhere', 'v'), "NOPERM key 'nowhere' is outside every namespace");
    assertErr(await u.call('MSET', `user:id:1`, 'a', 'nowhere', 'b'), "NOPERM key 'nowhere' is outside every namespace");
    assert.equal(await direct.call('EXISTS', 'session:abc', 'nowhere', 'user:id:1'), 0);
    // Admins reach every key, whatever outside_namespaces says (src/policy/policy.h).
    const o = await as('ops');
    assert.equal(await o.call('SET', 'nowhere', 'v'), 'OK');
    assert.equal(await direct.call('GET', 'nowhere'), 'v');
  });

  h.proxyTest('KEYS and dangerous commands need an admin', { timeout: 10000 }, async () => {
    const u = crypto.randomUUID();
    await direct.call('SET', `session:${u}:a`, '1');
    const c = await as('auth');
    assertErr(await c.call('KEYS', '*'),
      "NOPERM User auth-service has no permissions to run the 'keys' command (use SCAN instead of KEYS)");
    assertErr(await c.call('FLUSHALL'),
      "NOPERM User auth-service has no permissions to run the 'flushall' command (dangerous commands need an admin user)");
    assert.equal(await direct.call('DBSIZE'), 1, 'FLUSHALL did not run');
    const o = await as('ops');
    assert.deepEqual(await o.call('KEYS', '*'), [`session:${u}:a`]);
    assert.equal(await o.call('FLUSHDB'), 'OK');
    assert.equal(await direct.call('DBSIZE'), 0);
  });

  h.proxyTest('SCAN returns only keys of readable namespaces; RANDOMKEY refused', { timeout: 20000 }, async () => {
    const readable = new Set();
    const hidden = new Set();
    const seed = [];
    for (let i = 0; i < 60; i++) {
      const u = crypto.randomUUID();
      const add = (key, ok) => {
        (ok ? readable : hidden).add(key);
        seed.push(key, 'v');
      };
      add(`session:${u}:s${i}`, true);
      add(`blacklist:access:jti${i}`, true);
      add(`rl:ip:10.0.0.${i}`, true);
      add(`profile:${u}`, false);
      add(`outside:${i}`, false);
    }
    assert.equal(await direct.call('MSET', ...seed), 'OK');
    assert.equal(await direct.call('DBSIZE'), 300);

    const c = await as('auth');
    const seen = new Set();
    let cursor = '0';
    let rounds = 0;
    do {
      const r = await c.call('SCAN', cursor, 'COUNT', '10');
      assert.ok(Array.isArray(r) && r.length === 2 && Array.isArray(r[1]), `SCAN reply ${JSON.stringify(r)}`);
      [cursor] = r;
      for (const key of r[1]) {
        assert.ok(!hidden.has(key), `SCAN returned unreadable key ${key}`);
        seen.add(key);
      }
      rounds++;
      assert.ok(rounds < 1000, 'SCAN cursor never returned to 0');
    } while (cursor !== '0');
    const missing = [...readable].filter((k) => !seen.has(k));
    assert.deepEqual(missing, [], 'every readable key is seen');
    assert.equal(seen.size, readable.size);

    // MATCH inside the filter still works.
    const m = new Set();
    cursor = '0';
    do {
      const r = await c.call('SCAN', cursor, 'MATCH', 'rl:*', 'COUNT', '50');
      [cursor] = r;
      for (const key of r[1]) m.add(key);
    } while (cursor !== '0');
    assert.equal(m.size, 60);

    assertErr(await c.call('RANDOMKEY'),
      "NOPERM User auth-service has no permissions to run the 'randomkey' command (it can return keys of namespaces this user may not read; use SCAN)");
    const o = await as('ops');
    assert.equal(typeof (await o.call('RANDOMKEY')), 'string', 'admin may RANDOMKEY');
  });

  h.proxyTest('a refused command inside MULTI aborts the transaction', { timeout: 10000 }, async () => {
    const u = crypto.randomUUID();
    const c = await as('auth');
    assert.equal(await c.call('MULTI'), 'OK');
    assert.equal(await c.call('SET', `session:${u}:x`, 'v'), 'QUEUED');
    const refused = await c.call('GET', `profile:${u}`);
    assert.ok(isErr(refused) && refused.message.startsWith('NOPERM'), `refused inside MULTI: ${JSON.stringify(refused)}`);
    assertErr(await c.call('EXEC'), 'EXECABORT Transaction discarded because of previous errors.');
    assert.equal(await direct.call('EXISTS', `session:${u}:x`), 0, 'nothing written');
    assert.equal(await c.call('PING'), 'PONG');
    // A shape refusal inside MULTI as well.
    assert.equal(await c.call('MULTI'), 'OK');
    assert.equal(await c.call('INCR', `session:${u}:y`), 'QUEUED');
    assert.ok(isErr(await c.call('SET', 'session:bad', 'v')));
    assertErr(await c.call('EXEC'), 'EXECABORT Transaction discarded because of previous errors.');
    assert.equal(await direct.call('EXISTS', `session:${u}:y`), 0, 'nothing written');
  });

  for (const protocol of [2, 3]) {
    h.proxyTest(`ioredis with username/password (protocol ${protocol})`, { timeout: 15000 }, async () => {
      const u = crypto.randomUUID();
      const c = new Redis({
        port: kw.port, host: h.HOST, username: 'auth-service', password: 'auth-service-secret',
        protocol, lazyConnect: true, maxRetriesPerRequest: 1,
      });
      c.on('error', () => {});
      try {
        await h.within(5000, c.connect(), 'ioredis connect');
        assert.equal(await c.set(`session:${u}:io`, 'v'), 'OK');
        assert.equal(await c.get(`session:${u}:io`), 'v');
        assert.equal(await direct.call('TTL', `session:${u}:io`), MONTH);
        assert.equal(await c.hset(`session:${u}:ioh`, 'f', 'v'), 1);
        assert.ok((await direct.call('TTL', `session:${u}:ioh`)) > 0);
        await assert.rejects(c.get(`profile:${u}`), (e) => {
          assert.equal(e.message, `NOPERM User auth-service has no permissions to access the 'profile:${u}' key (namespace 'profile' is not readable by this user)`);
          return true;
        });
        await assert.rejects(c.persist(`session:${u}:io`), /^ReplyError: ERR PERSIST refused|ERR PERSIST refused/);
        await assert.rejects(c.keys('*'), /use SCAN instead of KEYS/);
        const seen = [];
        await new Promise((resolve, reject) => {
          const s = c.scanStream({ count: 10 });
          s.on('data', (keys) => seen.push(...keys));
          s.on('end', resolve);
          s.on('error', reject);
        });
        assert.deepEqual(seen.sort(), [`session:${u}:io`, `session:${u}:ioh`]);
      } finally {
        c.disconnect();
      }
    });
  }

  for (const RESP of [2, 3]) {
    h.proxyTest(`node-redis with username/password (RESP${RESP})`, { timeout: 15000 }, async () => {
      const u = crypto.randomUUID();
      await direct.call('SET', `profile:${u}`, 'p');
      const c = createClient({
        socket: { port: kw.port, host: h.HOST, reconnectStrategy: false },
        username: 'user-service', password: 'user-service-secret', RESP,
      });
      c.on('error', () => {});
      try {
        await h.within(5000, c.connect(), 'node-redis connect');
        assert.equal(await c.get(`profile:${u}`), 'p');
        assert.equal(await c.set(`profile:${u}`, 'q', { EX: 99999 }), 'OK');
        assert.equal(await direct.call('TTL', `profile:${u}`), 300, 'clamped to the profile max');
        assert.equal(await c.set(`user:id:${u}`, 'x'), 'OK');
        assert.equal(await direct.call('TTL', `user:id:${u}`), 600);
        await assert.rejects(c.get(`session:${u}:x`), /NOPERM User user-service has no permissions to access/);
        await assert.rejects(c.get('nowhere'), (e) => e.message === "NOPERM key 'nowhere' is outside every namespace");
        const res = await c.multi().set(`profile:${u}`, 'r').get(`profile:${u}`).exec();
        assert.deepEqual(res, ['OK', 'r']);
        assert.equal(await direct.call('TTL', `profile:${u}`), 300);
      } finally {
        await c.disconnect().catch(() => {});
      }
    });
  }

  h.proxyTest('clients that never AUTH are refused', { timeout: 10000 }, async () => {
    const c = await raw();
    assertErr(await c.call('GET', 'x'), 'NOAUTH Authentication required.');
    assertErr(await c.call('SET', 'session:x', 'v'), 'NOAUTH Authentication required.');
    // ioredis without credentials: its HELLO 3 handshake is refused, so it never gets ready.
    const bad = new Redis({ port: kw.port, host: h.HOST, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    let connectErr = null;
    bad.on('error', (e) => {
      connectErr = connectErr || e;
    });
    try {
      await h.within(5000, bad.connect().catch((e) => {
        connectErr = connectErr || e;
      }), 'ioredis connect');
      assert.ok(connectErr && /NOAUTH/.test(connectErr.message), `ioredis connect error: ${connectErr && connectErr.message}`);
    } finally {
      bad.disconnect();
    }
  });
});

// The demo config (conf/keywarden.toml) as shipped: no [[users]], so every client is the implicit
// admin "default". Admins skip grants, not the data rules: key shapes and TTLs bind them too.
describe('policy (demo config, implicit admin)', () => {
  let redis;
  let kw;
  let direct;
  let c;

  before(async () => {
    if (h.TARGET_REDIS) return;
    redis = await h.startRedis();
    const port = await h.freePort();
    kw = await h.startKeywardenWith({
      args: ['-c', `${h.REPO_ROOT}/conf/keywarden.toml`, '--listen', `${h.HOST}:${port}`,
        '--upstream', `${h.HOST}:${redis.port}`, '--metrics-listen', `${h.HOST}:0`, '--workers', '2'],
      port,
    });
    direct = await RawClient.connect(redis.port, h.HOST);
    c = await RawClient.connect(kw.port, h.HOST);
  }, { timeout: 30000 });

  after(async () => {
    if (c) c.close();
    if (direct) direct.close();
    if (kw) await kw.stop();
    if (redis) await redis.stop();
  }, { timeout: 30000 });

  h.proxyTest('enforce_shape refuses a malformed session key for the default admin user', { timeout: 10000 }, async () => {
    assert.match(String(await c.call('CLIENT', 'INFO')), / user=default /);
    assertErr(await c.call('SET', 'session:not-a-uuid:x', '1'),
      "ERR key 'session:not-a-uuid:x' does not match namespace 'session' (session:{user_id:uuid}:{session_id})");
    assert.equal(await direct.call('EXISTS', 'session:not-a-uuid:x'), 0, 'nothing written');
    // Every key of a multi-key command, not only the first.
    const u = crypto.randomUUID();
    assert.ok(isErr(await c.call('MSET', `session:${u}:ok`, 'v', 'session:bad', 'v')));
    assert.equal(await direct.call('EXISTS', `session:${u}:ok`), 0, 'MSET refused as a whole');
    // Well-formed keys pass, with the namespace's TTL rules (which already bound admins).
    assert.equal(await c.call('SET', `session:${u}:s1`, '{"ok":1}'), 'OK');
    assert.equal(await direct.call('TTL', `session:${u}:s1`), MONTH);
    assert.equal(await c.call('SET', `session:${u}:s2`, 'v', 'EX', '99999999'), 'OK');
    assert.equal(await direct.call('TTL', `session:${u}:s2`), MONTH, 'clamped to max_ttl_s');
    assert.ok(isErr(await c.call('PERSIST', `session:${u}:s1`)), 'PERSIST refused where keys must expire');
    // Grants are still the admin's: keys outside every namespace, dangerous commands.
    assert.equal(await c.call('SET', 'anything:else', 'v'), 'OK');
    assert.equal(await c.call('DBSIZE'), await direct.call('DBSIZE'));
  });
});
