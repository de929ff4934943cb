'use strict';
// Wire-level behaviour seen through a plain socket: framing, pipelining,
// protocol errors, limits, and the connection-level commands a proxy must
// answer the way Redis does.

const assert = require('node:assert/strict');
const { describe } = require('node:test');
const h = require('./harness');
const { RawClient, RespError } = require('./resp');

function assertError(reply, prefix, what) {
  assert.ok(reply instanceof RespError, `${what}: expected an error reply starting with ${prefix}, got ${JSON.stringify(reply)}`);
  assert.ok(reply.message.startsWith(prefix), `${what}: expected error starting with "${prefix}", got "${reply.message}"`);
}

async function assertWorks(port, tag) {
  const c = await RawClient.connect(port);
  try {
    assert.equal(await c.call('PING'), 'PONG', `${tag}: PING on an unrelated client`);
    assert.equal(await c.call('SET', `kw:raw:alive:${tag}`, tag), 'OK');
    assert.equal(await c.call('GET', `kw:raw:alive:${tag}`), tag);
  } finally {
    c.close();
  }
}

describe('raw protocol', () => {
  let redis;
  let kw;

  h.withServers((r, k) => {
    redis = r;
    kw = k;
  });

  h.test('PING inline and multibulk, PING with argument', { timeout: 10000 }, async () => {
    const c = await RawClient.connect(kw.port);
    try {
      c.write('PING\r\n');
      assert.equal(await c.read(), 'PONG');
      assert.equal(c.lastType, '+');
      c.write('*1\r\n$4\r\nPING\r\n');
      assert.equal(await c.read(), 'PONG');
      c.send('PING', 'hello');
      assert.equal(await c.read(), 'hello');
      assert.equal(c.lastType, '$');
      // Inline with a bare LF is accepted by Redis too.
      c.write('PING\n');
      assert.equal(await c.read(), 'PONG');
    } finally {
      c.close();
    }
  });

  h.test('ECHO multibulk and inline (with quotes)', { timeout: 10000 }, async () => {
    const c = await RawClient.connect(kw.port);
    try {
      assert.equal(await c.call('ECHO', 'hello world'), 'hello world');
      c.write('ECHO plain\r\n');
      assert.equal(await c.read(), 'plain');
      c.write('ECHO "quoted arg"\r\n');
      assert.equal(await c.read(), 'quoted arg');
      assert.equal(await c.call('ECHO', ''), '');
      assertError(await c.call('ECHO'), "ERR wrong number of arguments for 'echo' command", 'ECHO without argument');
    } finally {
      c.close();
    }
  });

  h.test('10,000-command pipeline (SET/GET mix) returns every reply in order', { timeout: 60000 }, async () => {
    const c = await RawClient.connect(kw.port);
    try {
      const n = 5000;
      const parts = [];
      for (let i = 0; i < n; i++) {
        parts.push(`*3\r\n$3\r\nSET\r\n$${`kw:pipe:${i}`.length}\r\nkw:pipe:${i}\r\n$${`v${i}`.length}\r\nv${i}\r\n`);
        parts.push(`*2\r\n$3\r\nGET\r\n$${`kw:pipe:${i}`.length}\r\nkw:pipe:${i}\r\n`);
      }
      // One big write: replies must still come back one per command, in order.
      c.write(Buffer.from(parts.join(''), 'latin1'));
      const replies = await c.readMany(2 * n, 50000);
      for (let i = 0; i < n; i++) {
        assert.equal(replies[2 * i], 'OK', `reply #${2 * i} (SET kw:pipe:${i})`);
        assert.equal(replies[2 * i + 1], `v${i}`, `reply #${2 * i + 1} (GET kw:pipe:${i})`);
      }
      // Nothing extra arrives.
      assert.equal(await c.call('PING'), 'PONG');
    } finally {
      c.close();
    }
  });

  h.test('malformed RESP gets -ERR Protocol error and close; other clients unaffected', { timeout: 30000 }, async () => {
    const cases = [
      ['integer inside a multibulk', '*1\r\n:5\r\n'],
      ['non-numeric bulk length', '*1\r\n$x\r\n'],
      ['non-numeric multibulk length', '*x\r\n'],
      ['nested array in a request', '*1\r\n*1\r\n$4\r\nPING\r\n'],
      ['negative bulk length', '*1\r\n$-5\r\n'],
      ['unbalanced quotes in an inline command', 'SET "abc\r\n'],
    ];
    const bystander = await RawClient.connect(kw.port);
    try {
      for (const [what, bytes] of cases) {
        const c = await RawClient.connect(kw.port);
        try {
          c.write(bytes);
          const r = await c.read(3000);
          assertError(r, 'ERR Protocol error', what);
          assert.equal(await c.waitClosed(3000), true, `${what}: connection must be closed after the protocol error`);
        } finally {
          c.close();
        }
        assert.equal(await bystander.call('PING'), 'PONG', `bystander after ${what}`);
        await assertWorks(kw.port, what.replace(/\W+/g, '_'));
      }
    } finally {
      bystander.close();
    }
  });

  h.test('oversized bulk header (no payload) -> protocol error and close', { timeout: 30000 }, async () => {
    // Redis cannot go below 1mb for proto-max-bulk-len; keywarden is set small.
    const limit = h.TARGET_REDIS ? 1024 * 1024 : 4096;
    const target = await h.startKeywarden({
      upstreamPort: redis.port,
      toml: { limits: { max_bulk_len: limit } },
      redisArgs: ['--proto-max-bulk-len', String(limit)],
    });
    // At the limit is fine.
    const ok = await RawClient.connect(target.port);
    const val = Buffer.alloc(limit, 0x61);
    assert.equal(await ok.call('SET', 'kw:raw:bulklimit', val), 'OK');
    assert.equal((await ok.call('STRLEN', 'kw:raw:bulklimit')), limit);

    const c = await RawClient.connect(target.port);
    c.write(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${limit + 1}\r\n`);
    assertError(await c.read(3000), 'ERR Protocol error', 'bulk over max_bulk_len');
    assert.equal(await c.waitClosed(3000), true, 'connection must close after oversized bulk header');

    assert.equal(await ok.call('PING'), 'PONG', 'other client still served');
    ok.close();
  });

  h.test('too-long array count -> protocol error and close', { timeout: 30000 }, async () => {
    // Redis 7.0 accepts up to INT_MAX elements; keywarden is configured small.
    const maxLen = h.TARGET_REDIS ? 2147483647 : 16;
    const target = await h.startKeywarden({
      upstreamPort: redis.port,
      toml: { limits: { max_array_len: maxLen } },
    });
    const ok = await RawClient.connect(target.port);
    if (!h.TARGET_REDIS) {
      // Exactly max_array_len elements is still accepted.
      const args = ['RPUSH', 'kw:raw:arrlimit'];
      while (args.length < maxLen) args.push('x');
      assert.equal(typeof (await ok.call(...args)), 'number');
    }
    const c = await RawClient.connect(target.port);
    c.write(`*${maxLen + 1}\r\n`);
    assertError(await c.read(3000), 'ERR Protocol error', 'array over max_array_len');
    assert.equal(await c.waitClosed(3000), true, 'connection must close after oversized array header');
    assert.equal(await ok.call('PING'), 'PONG', 'other client still served');
    ok.close();
  });

  h.test('max_clients = 3: the 4th connection gets the error and is closed', { timeout: 30000 }, async () => {
    const target = await h.startKeywarden({
      upstreamPort: redis.port,
      toml: { limits: { max_clients: 3 } },
      redisArgs: ['--maxclients', '3'],
    });
    const clients = [];
    try {
      for (let i = 0; i < 3; i++) {
        const c = await RawClient.connect(target.port);
        clients.push(c);
        assert.equal(await c.call('PING'), 'PONG', `client ${i + 1} of 3`);
      }
      const fourth = await RawClient.connect(target.port);
      const r = await fourth.read(3000);
      assertError(r, 'ERR max number of clients reached', '4th connection');
      assert.equal(await fourth.waitClosed(3000), true, '4th connection must be closed');
      for (const c of clients) assert.equal(await c.call('PING'), 'PONG', 'admitted clients keep working');

      // A slot frees up once a client leaves.
      await clients.shift().quitGracefully();
      let admitted = false;
      const deadline = Date.now() + 3000;
      while (!admitted && Date.now() < deadline) {
        const c = await RawClient.connect(target.port);
        c.send('PING');
        const reply = await c.read(2000).catch((e) => e);
        if (reply === 'PONG') {
          admitted = true;
          clients.push(c);
        } else {
          c.close();
          await h.sleep(50);
        }
      }
      assert.ok(admitted, 'a new client is admitted after one of the 3 disconnects');
    } finally {
      for (const c of clients) c.close();
    }
  });

  // Over max_reply_buffer_bytes keywarden stops reading the client (back-pressure); a client
  // that then takes nothing for reply_stall_timeout_s is not reading its replies: disconnected.
  h.test('a client that stops reading its replies is disconnected after the stall timeout', { timeout: 45000 }, async () => {
    const limit = 1024 * 1024;
    const target = await h.startKeywarden({
      upstreamPort: redis.port,
      toml: { limits: { max_reply_buffer_bytes: limit, reply_stall_timeout_s: 1 } },
      redisArgs: ['--client-output-buffer-limit', `normal ${limit} 0 0`],
    });
    const setup = await RawClient.connect(target.port);
    const value = Buffer.alloc(512 * 1024, 0x78);
    assert.equal(await setup.call('SET', 'kw:raw:big', value), 'OK');

    // The slow client: pipeline 100 GETs (~50 MiB of replies) and read nothing.
    const gets = 100;
    const slow = await RawClient.connect(target.port);
    slow.socket.removeAllListeners('data');
    let received = 0;
    slow.socket.on('data', (d) => {
      received += d.length;
    });
    slow.socket.pause();
    const one = Buffer.from('*2\r\n$3\r\nGET\r\n$10\r\nkw:raw:big\r\n', 'latin1');
    slow.write(Buffer.concat(Array(gets).fill(one)));

    // Meanwhile another client is served normally.
    const t0 = Date.now();
    while (Date.now() - t0 < 3000) {
      assert.equal(await setup.call('SET', 'kw:raw:other', 'x'), 'OK');
      assert.equal(await setup.call('GET', 'kw:raw:other'), 'x');
      await h.sleep(20);
    }

    // Now drain: the server must have cut us off well before all replies.
    slow.socket.resume();
    const closed = await slow.waitClosed(20000);
    const expected = gets * (value.length + '$524288\r\n\r\n'.length);
    assert.equal(closed, true, `slow client still connected (received ${received} of ${expected} bytes)`);
    assert.ok(received < expected, `slow client got all ${received} bytes; it should have been disconnected`);

    assert.equal(await setup.call('PING'), 'PONG', 'other client still served after the disconnect');
    setup.close();
  });

  h.test('QUIT replies +OK and closes', { timeout: 10000 }, async () => {
    const c = await RawClient.connect(kw.port);
    c.send('QUIT');
    assert.equal(await c.read(), 'OK');
    assert.equal(c.lastType, '+');
    assert.equal(await c.waitClosed(3000), true, 'connection closed after QUIT');
  });

  h.test('HELLO 3 returns a RESP3 map and switches the connection to RESP3', { timeout: 10000 }, async () => {
    const c = await RawClient.connect(kw.port);
    try {
      c.send('HELLO', '3');
      const m = await c.read();
      assert.equal(c.lastType, '%', 'HELLO 3 reply must be a RESP3 map');
      assert.ok(m instanceof Map);
      for (const k of ['server', 'version', 'proto', 'id', 'mode', 'role', 'modules']) {
        assert.ok(m.has(k), `HELLO 3 map lacks "${k}" (keys: ${[...m.keys()].join(',')})`);
      }
      assert.equal(m.get('proto'), 3);
      assert.equal(typeof m.get('server'), 'string');
      assert.match(m.get('version'), /^\d+\.\d+\.\d+/);
      assert.ok(Number.isInteger(m.get('id')) && m.get('id') > 0, `id ${m.get('id')}`);
      assert.equal(m.get('mode'), 'standalone');
      assert.equal(m.get('role'), 'master');
      assert.ok(Array.isArray(m.get('modules')));
      // The id must be this connection's CLIENT ID.
      assert.equal(await c.call('CLIENT', 'ID'), m.get('id'), 'HELLO id equals CLIENT ID');

      // The connection now speaks RESP3.
      assert.equal(await c.call('HSET', 'kw:raw:h3', 'f1', 'v1', 'f2', 'v2'), 2);
      const hm = await c.call('HGETALL', 'kw:raw:h3');
      assert.equal(c.lastType, '%', 'HGETALL after HELLO 3 must be a map');
      assert.deepEqual(hm, new Map([['f1', 'v1'], ['f2', 'v2']]));
      assert.equal(await c.call('GET', 'kw:raw:missing'), null);
      assert.equal(c.lastType, '_', 'RESP3 null');
      assert.equal(await c.call('ZADD', 'kw:raw:z3', '1.5', 'm'), 1);
      assert.equal(await c.call('ZSCORE', 'kw:raw:z3', 'm'), 1.5);
      assert.equal(c.lastType, ',', 'RESP3 double');
    } finally {
      c.close();
    }
  });

  h.test('HELLO 2 returns a flat array; HELLO 4 -> NOPROTO', { timeout: 10000 }, async () => {
    const c = await RawClient.connect(kw.port);
    try {
      const a = await c.call('HELLO', '2');
      assert.equal(c.lastType, '*');
      assert.ok(Array.isArray(a) && a.length === 14, `HELLO 2 reply: ${JSON.stringify(a)}`);
      const keys = a.filter((_, i) => i % 2 === 0);
      assert.deepEqual(keys, ['server', 'version', 'proto', 'id', 'mode', 'role', 'modules']);
      assert.equal(a[5], 2);
      assert.ok(Number.isInteger(a[7]));
      assert.ok(Array.isArray(a[13]));
      assertError(await c.call('HELLO', '4'), 'NOPROTO', 'HELLO 4');
      // Still RESP2 and usable.
      assert.equal(await c.call('GET', 'kw:raw:missing'), null);
      assert.equal(c.lastType, '$');
    } finally {
      c.close();
    }
  });

  h.test('RESET replies +RESET and resets protocol, db and name', { timeout: 10000 }, async () => {
    const c = await RawClient.connect(kw.port);
    try {
      await c.call('HELLO', '3');
      assert.equal(await c.call('SELECT', '5'), 'OK');
      assert.equal(await c.call('SET', 'kw:raw:reset', 'in5'), 'OK');
      assert.equal(await c.call('CLIENT', 'SETNAME', 'resetme'), 'OK');
      assert.equal(await c.call('RESET'), 'RESET');
      assert.equal(c.lastType, '+');
      assert.equal(await c.call('GET', 'kw:raw:reset'), null, 'back in db 0');
      assert.equal(c.lastType, '$', 'back to RESP2 ($-1 null)');
      assert.equal(await c.call('CLIENT', 'GETNAME'), null, 'name cleared');
      assert.equal(await c.call('SELECT', '5'), 'OK');
      assert.equal(await c.call('GET', 'kw:raw:reset'), 'in5');
    } finally {
      c.close();
    }
  });

  h.test('CLIENT SETINFO lib-name -> +OK', { timeout: 10000 }, async (t) => {
    const c = await RawClient.connect(kw.port);
    try {
      if (h.TARGET_REDIS) {
        const v = await h.serverVersion(c);
        if (!h.versionAtLeast(v, '7.2.0')) {
          t.skip(`redis-server ${v} has no CLIENT SETINFO (Redis 7.2+)`);
          return;
        }
      }
      assert.equal(await c.call('CLIENT', 'SETINFO', 'lib-name', 'x'), 'OK');
      assert.equal(await c.call('CLIENT', 'SETINFO', 'lib-ver', '1.2.3'), 'OK');
      assert.equal(await c.call('PING'), 'PONG');
    } finally {
      c.close();
    }
  });

  h.test('CLIENT ID is an integer, distinct per connection', { timeout: 10000 }, async () => {
    const a = await RawClient.connect(kw.port);
    const b = await RawClient.connect(kw.port);
    try {
      const ida = await a.call('CLIENT', 'ID');
      assert.equal(a.lastType, ':');
      const idb = await b.call('CLIENT', 'ID');
      assert.ok(Number.isInteger(ida) && ida > 0);
      assert.ok(Number.isInteger(idb) && idb > 0);
      assert.notEqual(ida, idb);
      assert.equal(await a.call('CLIENT', 'ID'), ida, 'stable for a connection');
    } finally {
      a.close();
      b.close();
    }
  });

  h.test('binary-safe keys and values (all 256 byte values, CRLF inside)', { timeout: 10000 }, async () => {
    const c = await RawClient.connect(kw.port, '127.0.0.1', { buffers: true });
    try {
      const bytes = Buffer.alloc(256);
      for (let i = 0; i < 256; i++) bytes[i] = i;
      const value = Buffer.concat([bytes, Buffer.from('\r\n$3\r\n*1\r\n\r\n'), bytes.reverse(), Buffer.from('\r\n')]);
      const key = Buffer.concat([Buffer.from('kw:raw:bin\r\n\0'), Buffer.from([0xff, 0xfe, 0x0d, 0x0a])]);
      assert.equal((await c.call('SET', key, value)).toString(), 'OK');
      const got = await c.call('GET', key);
      assert.ok(Buffer.isBuffer(got));
      assert.ok(got.equals(value), 'GET returns the exact bytes');
      assert.equal(await c.call('STRLEN', key), value.length);
      const echoed = await c.call('ECHO', value);
      assert.ok(echoed.equals(value), 'ECHO returns the exact bytes');
      // Empty value round trip.
      await c.call('SET', key, Buffer.alloc(0));
      assert.equal((await c.call('GET', key)).length, 0);
    } finally {
      c.close();
    }
  });
});
