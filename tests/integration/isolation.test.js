'use strict';
// No reply or state ever crosses between clients. Each case here is a defect a proxy can have
// (and keywarden had): a request answered by more than one frame on a shared upstream
// connection, connection state left on a pooled pinned connection, a replication stream on a
// shared connection, replies owed to a client lost when it closes. One worker, so every client
// shares the same upstream connections and the same pinned pool.

const assert = require('node:assert/strict');
const { describe, before, after } = require('node:test');
const h = require('./harness');
const { RawClient, RespError, RespPush } = require('./resp');

describe('isolation between clients', () => {
  let redis;
  let kw;
  let direct;
  let redisAuth;
  let kwAuth;
  let directAuth;
  const open = [];

  async function client(opts, target = kw) {
    const c = await RawClient.connect(target.port, h.HOST, opts);
    open.push(c);
    return c;
  }

  // The upstream id of the pinned connection serving keywarden client `kwId` (KEYWARDEN UPSTREAM).
  // A link that sent no handshake learns its id when asked: -1 until then, so ask again.
  async function pinnedUpstreamId(admin, kwId) {
    for (let i = 0; i < 100; i++) {
      const lines = await admin.call('KEYWARDEN', 'UPSTREAM');
      const line = lines.find((l) => l.includes('role=pinned') && l.includes(` owner=${kwId} `));
      if (!line) return null;
      const id = Number(/upstream_id=(-?\d+)/.exec(line)[1]);
      if (id > 0) return id;
      await h.sleep(20);
    }
    throw new Error(`the pinned connection of client ${kwId} never learned its upstream id`);
  }

  // What became of a pinned connection its client left: 'pooled' once the pool holds it idle
  // (its reset done), 'gone' once Redis no longer lists it (closed, to be replaced).
  async function pinnedFate(admin, directConn, upstreamId) {
    const named = new RegExp(` upstream_id=${upstreamId}( |$)`);
    for (let i = 0; i < 100; i++) {
      const lines = await admin.call('KEYWARDEN', 'UPSTREAM');
      if (lines.some((l) => l.includes('role=pinned') && l.includes('owner=-') && named.test(l) && l.includes('inflight=0'))) return 'pooled';
      const listed = await directConn.call('CLIENT', 'LIST', 'ID', String(upstreamId));
      if (listed === '' && !lines.some((l) => named.test(l))) return 'gone';
      await h.sleep(20);
    }
    throw new Error(`pinned connection ${upstreamId} was neither pooled nor closed`);
  }

  // Redis's own view of a connection keywarden pools: no name of a client's, no tracking, db 0,
  // RESP2.
  async function assertCleanUpstream(directConn, upstreamId) {
    const info = await directConn.call('CLIENT', 'LIST', 'ID', String(upstreamId));
    assert.match(info, / db=0 /);
    assert.match(info, / resp=2/);
    assert.match(info, / name=(keywarden-w0-pinned)? /);  // a quiet link has no name
    assert.match(info, / flags=N /);
  }

  before(async () => {
    redis = await h.startRedis();
    kw = await h.startKeywarden({ upstreamPort: redis.port, args: ['--workers', '1'] });
    direct = await RawClient.connect(redis.port, h.HOST);
    redisAuth = await h.startRedis({ password: 'iso-pw' });
    kwAuth = await h.startKeywarden({ upstreamPort: redisAuth.port, upstreamPassword: 'iso-pw', args: ['--workers', '1'] });
    directAuth = await RawClient.connect(redisAuth.port, h.HOST);
    assert.equal(await directAuth.call('AUTH', 'iso-pw'), 'OK');
  }, { timeout: 30000 });

  after(async () => {
    for (const c of open) c.close();
    if (direct) direct.close();
    if (directAuth) directAuth.close();
    if (kw) await kw.stop();
    if (kwAuth) await kwAuth.stop();
    if (redis) await redis.stop();
    if (redisAuth) await redisAuth.stop();
  }, { timeout: 30000 });

  h.test('UNSUBSCRIBE x y z behind a busy shared connection: every frame goes to its own client', { timeout: 20000 }, async () => {
    const busy = await client();
    const a = await client();
    const b = await client();
    const d = await client();
    assert.equal(await b.call('SET', 'iso:b:secret', 'b-secret'), 'OK');
    assert.equal(await d.call('SET', 'iso:d:key', 'd-value'), 'OK');
    // Keeps the shared connection busy so the requests below queue up behind it.
    busy.send('EVAL', 'local t = redis.call("TIME") local s = t[1]*1000000+t[2] while true do t = redis.call("TIME") if t[1]*1000000+t[2] - s > 200000 then break end end return 1', '0');
    await h.sleep(20);
    a.send('UNSUBSCRIBE', 'x', 'y', 'z');
    b.send('GET', 'iso:b:secret');
    d.send('GET', 'iso:d:key');
    assert.equal(await busy.read(), 1);
    for (const ch of ['x', 'y', 'z']) assert.deepEqual(await a.read(), ['unsubscribe', ch, 0]);
    assert.equal(await b.read(), 'b-secret');
    assert.equal(await d.read(), 'd-value');
    // And nothing more arrives for anyone.
    await h.sleep(100);
    assert.equal(a.replies.length + b.replies.length + d.replies.length, 0);
    // UNSUBSCRIBE with no channel: one frame with a nil channel, RESP3 as a push.
    assert.deepEqual(await a.call('UNSUBSCRIBE'), ['unsubscribe', null, 0]);
    assert.deepEqual(await a.call('HELLO', '3').then(() => a.call('PUNSUBSCRIBE')).then((v) => v instanceof RespPush ? v.items : v), ['punsubscribe', null, 0]);
  });

  // Each leftover state: client A leaves it on its pinned connection and goes away; client B
  // then gets that same connection from the pool and must find it clean.
  const leftovers = [
    {
      name: 'MULTI with a queued write',
      leave: async (a, dc) => {
        assert.equal(await a.call('MULTI'), 'OK');
        assert.equal(await a.call('SET', 'iso:fromA', '1'), 'QUEUED');
      },
    },
    {
      name: 'WATCH',
      leave: async (a, dc) => {
        assert.equal(await a.call('WATCH', 'iso:wk'), 'OK');
        assert.equal(await dc.call('SET', 'iso:wk', 'changed'), 'OK');
      },
    },
    {
      name: 'SELECT 5',
      leave: async (a, dc) => {
        assert.equal(await a.call('SELECT', '5'), 'OK');
      },
    },
    {
      name: 'HELLO 3 after SELECT',
      leave: async (a, dc) => {
        assert.equal(await a.call('SELECT', '4'), 'OK');
        const hello = await a.call('HELLO', '3');
        assert.equal(hello.get('proto'), 3);
        assert.equal(await a.call('SET', 'iso:h3', 'v'), 'OK');
      },
    },
    {
      name: 'CLIENT NO-EVICT and READONLY',
      leave: async (a, dc) => {
        assert.equal(await a.call('WATCH', 'iso:nothing'), 'OK');
        assert.equal(await a.call('CLIENT', 'NO-EVICT', 'on'), 'OK');
        const r = await a.call('READONLY');
        assert.ok(r instanceof RespError);
      },
    },
    {
      name: 'CLIENT REPLY OFF inside a pinned session',
      leave: async (a, dc) => {
        assert.equal(await a.call('SELECT', '3'), 'OK');
        a.send('CLIENT', 'REPLY', 'OFF');
        a.send('SET', 'iso:silent', '1');
        a.send('CLIENT', 'REPLY', 'ON');
        assert.equal(await a.read(), 'OK');
      },
    },
  ];

  // Two ways a pooled pinned connection comes back: with no handshake of its own (no upstream
  // password, RESP2, db 0) one that holds state is closed and replaced; with AUTH in its
  // handshake it is RESET and reused. Both must give the next client a clean connection.
  const rigs = [
    { name: 'quiet links', fate: 'gone', get kw() { return kw; }, get direct() { return direct; } },
    { name: 'links with AUTH', fate: 'pooled', get kw() { return kwAuth; }, get direct() { return directAuth; } },
  ];

  for (const rig of rigs) {
    for (const l of leftovers) {
      h.test(`the next client gets a clean pinned connection after: ${l.name} (${rig.name})`, { timeout: 20000 }, async () => {
        const admin = await client({}, rig.kw);
        const dc = rig.direct;
        await dc.call('DEL', 'iso:fromA', 'iso:fromB', 'iso:wk');
        const a = await client({}, rig.kw);
        const aId = await a.call('CLIENT', 'ID');
        await l.leave(a, dc);
        const upstreamId = await pinnedUpstreamId(admin, aId);
        assert.ok(upstreamId, 'A had a pinned connection');
        a.close();
        assert.equal(await pinnedFate(admin, dc, upstreamId), rig.fate);
        if (rig.fate === 'pooled') await assertCleanUpstream(dc, upstreamId);

        const b = await client({}, rig.kw);
        const bId = await b.call('CLIENT', 'ID');
        assert.equal(await b.call('WATCH', 'iso:other'), 'OK');
        const bUpstream = await pinnedUpstreamId(admin, bId);
        if (rig.fate === 'pooled') assert.equal(bUpstream, upstreamId, 'B got the connection A left');
        assert.equal(await b.call('MULTI'), 'OK');
        assert.equal(await b.call('SET', 'iso:fromB', 'b'), 'QUEUED');
        assert.equal(await b.call('GET', 'iso:fromA'), 'QUEUED');
        assert.deepEqual(await b.call('EXEC'), ['OK', null], 'B ran its own transaction only, in RESP2');
        assert.equal(b.lastType, '*');
        // B's write landed in db 0 (the configured db), seen directly in Redis.
        assert.equal(await dc.call('GET', 'iso:fromB'), 'b');
        assert.equal(await dc.call('EXISTS', 'iso:fromA'), 0, "A's queued write never ran");
        await assertCleanUpstream(dc, bUpstream);
        b.close();
      });
    }
  }

  h.test('RESET inside MULTI: the next client of that connection is not in a transaction', { timeout: 20000 }, async () => {
    for (const rig of rigs) {
      const a = await client({}, rig.kw);
      assert.equal(await a.call('MULTI'), 'OK');
      assert.equal(await a.call('SET', 'iso:reset', 'a'), 'QUEUED');
      assert.equal(await a.call('RESET'), 'RESET');
      // Many clients, one worker: whichever gets A's old connection must not be in MULTI.
      const others = [];
      for (let i = 0; i < 4; i++) others.push(await client({}, rig.kw));
      for (const o of others) {
        assert.equal(await o.call('WATCH', 'iso:w'), 'OK');
        assert.equal(await o.call('MULTI'), 'OK', rig.name);
        assert.deepEqual(await o.call('EXEC'), [], rig.name);
      }
      assert.equal(await a.call('MULTI'), 'OK');
      assert.deepEqual(await a.call('EXEC'), []);
      assert.equal(await rig.direct.call('EXISTS', 'iso:reset'), 0);
      for (const o of others) o.close();
    }
  });

  h.test('a client blocked in BLPOP that leaves does not take a later push', { timeout: 20000 }, async () => {
    await direct.call('DEL', 'iso:q');
    const a = await client();
    a.send('BLPOP', 'iso:q', '0');
    await h.sleep(100);
    a.close();
    await h.sleep(200);
    const b = await client();
    assert.equal(await b.call('LPUSH', 'iso:q', 'x'), 1);
    await h.sleep(100);
    assert.equal(await b.call('LLEN', 'iso:q'), 1, 'the departed BLPOP consumed nothing');
  });

  h.test('a subscriber that leaves: its connection is closed, never reused', { timeout: 20000 }, async () => {
    const admin = await client();
    const a = await client();
    const aId = await a.call('CLIENT', 'ID');
    assert.deepEqual(await a.call('SUBSCRIBE', 'iso:ch'), ['subscribe', 'iso:ch', 1]);
    const upstreamId = await pinnedUpstreamId(admin, aId);
    a.close();
    await h.sleep(200);
    const list = await direct.call('CLIENT', 'LIST');
    assert.ok(!list.includes(`id=${upstreamId} `), 'the subscribed connection is gone');
    assert.equal(await direct.call('PUBLISH', 'iso:ch', 'm'), 0);
  });

  h.test('SYNC runs on a connection of its own; other clients are not held up', { timeout: 30000 }, async () => {
    const other = await client();
    assert.equal(await other.call('SET', 'iso:sync', 'before'), 'OK');
    const s = await client();
    s.write('SYNC\r\n');
    // The RDB arrives as a bulk header then raw bytes (no trailing CRLF): read raw.
    const first = await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no replication stream')), 10000);
      s.socket.removeAllListeners('data');
      let buf = Buffer.alloc(0);
      s.socket.on('data', (chunk) => {
        buf = Buffer.concat([buf, chunk]);
        const text = buf.toString('latin1').replace(/^\n+/, '');
        if (text.startsWith('$') && text.includes('\r\n')) {
          clearTimeout(t);
          resolve(text);
        }
      });
    });
    assert.match(first, /^\$\d+\r\n/);
    for (let i = 0; i < 20; i++) assert.equal(await other.call('GET', 'iso:sync'), 'before');
    const replicas = await direct.call('INFO', 'replication');
    assert.match(replicas, /connected_slaves:1/);
    s.close();
  });

  h.test('replies owed are written before a close: pipelined SET then QUIT', { timeout: 10000 }, async () => {
    const c = await client();
    c.write('SET iso:q 1\r\nQUIT\r\n');
    assert.equal(await c.read(), 'OK');
    assert.equal(await c.read(), 'OK');
    await c.closed;
    const k = await client();
    const id = await k.call('CLIENT', 'ID');
    k.write(`SET iso:k 1\r\nCLIENT KILL ID ${id} SKIPME no\r\n`);
    assert.equal(await k.read(), 'OK');
    assert.equal(await k.read(), 1);
    await k.closed;
  });

  h.test('CLIENT UNBLOCK takes keywarden client ids; CLIENT LIST shows the blocked command', { timeout: 20000 }, async () => {
    const admin = await client();
    const rd = await client();
    const rdId = await rd.call('CLIENT', 'ID');
    await direct.call('DEL', 'iso:blk');
    rd.send('BLPOP', 'iso:blk', '0');
    let line = '';
    for (let i = 0; i < 50 && !/flags=b/.test(line); i++) {
      await h.sleep(20);
      line = await admin.call('CLIENT', 'LIST', 'ID', String(rdId));
    }
    assert.match(line, /flags=b/);
    assert.match(line, /cmd=blpop/);
    assert.equal(await admin.call('CLIENT', 'UNBLOCK', String(rdId), 'ERROR'), 1);
    const e = await rd.read();
    assert.ok(e instanceof RespError && e.message === 'UNBLOCKED client unblocked via CLIENT UNBLOCK', String(e));
    assert.equal(await admin.call('CLIENT', 'UNBLOCK', String(await admin.call('CLIENT', 'ID'))), 0);
    const bad = await admin.call('CLIENT', 'UNBLOCK', 'asd');
    assert.ok(bad instanceof RespError && bad.message === 'ERR value is not an integer or out of range');
  });

  h.test('100 pipelined GETs of a 1 MiB value all arrive (back-pressure, not a disconnect)', { timeout: 60000 }, async () => {
    const big = 'x'.repeat(1 << 20);
    const c = await client();
    assert.equal(await c.call('SET', 'iso:big', big), 'OK');
    let pipeline = '';
    for (let i = 0; i < 100; i++) pipeline += 'GET iso:big\r\n';
    c.write(pipeline);
    for (let i = 0; i < 100; i++) assert.equal((await c.read(20000)).length, 1 << 20);
    assert.equal(await c.call('PING'), 'PONG');
  });
});
