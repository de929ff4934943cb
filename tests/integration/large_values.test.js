'use strict';
// Large values, deep pipelines, slow readers and a busy Redis: what a direct client of Redis gets,
// keywarden must give too (issue 15).
//   - 600 pipelined SETs of 1 MiB, then 600 GETs, on one connection: every reply right, and the
//     upstream link never declared broken while Redis is sending (the request timeout measures
//     progress, not the age of the oldest request);
//   - one 100 MiB value both ways, byte for byte;
//   - a client that does not read its replies, beside clients that do: they are served all the
//     while, the slow one moves to a link of its own where keywarden stops reading Redis for it
//     (Redis buffers its replies, as for a direct client), and keywarden's memory stays bounded;
//   - a long script: clients sharing its link hear -BUSY at once, and SCRIPT KILL gets through.
// Timings here are loose bounds that fail only when something hangs; speed is measured in
// bench/large.sh.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const Redis = require('ioredis');
const h = require('./harness');
const { RawClient, RespError } = require('./resp');

function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

async function infoField(port, section, field) {
  const c = await RawClient.connect(port, h.HOST);
  try {
    const text = String(await c.call('INFO', section));
    const m = new RegExp(`^${field}:(.*)$`, 'm').exec(text);
    return m ? m[1].trim() : null;
  } finally {
    c.close();
  }
}

function sha(buf) {
  return crypto.createHash('sha1').update(buf).digest('hex');
}

h.proxyTest('600 pipelined SETs of 1 MiB then 600 GETs on one connection; one 100 MiB value', { timeout: 600000 }, async () => {
  const redis = await h.startRedis();
  // A short request timeout: measured from the send of the oldest request, the 600 MiB of GET
  // replies below would outlast it; measured from the link's progress, they never do.
  const kw = await h.startKeywarden({
    upstreamPort: redis.port,
    toml: { server: { workers: 1 }, upstream: { request_timeout_ms: 2000 } },
  });
  const r = new Redis({ port: kw.port, host: h.HOST, maxRetriesPerRequest: 0 });
  const direct = new Redis({ port: redis.port, host: h.HOST });
  try {
    const values = [];
    let p = r.pipeline();
    for (let i = 0; i < 600; i++) {
      const v = Buffer.alloc(1 << 20, 97 + (i % 26));
      v.writeUInt32BE(i, 0);
      values.push(v);
      p.set(`big:${i}`, v);
    }
    let res = await p.exec();
    assert.equal(res.filter(([e, v]) => e || v !== 'OK').length, 0, 'every SET answered OK');
    p = r.pipeline();
    for (let i = 0; i < 600; i++) p.getBuffer(`big:${i}`);
    res = await p.exec();
    for (let i = 0; i < 600; i++) {
      const [e, v] = res[i];
      assert.equal(e, null, `GET ${i}: ${e && e.message}`);
      assert.ok(v && v.equals(values[i]), `GET ${i} is its own value`);
    }
    assert.equal(await infoField(kw.port, 'keywarden', 'errors_timeout'), '0');
    assert.equal(await infoField(kw.port, 'keywarden', 'errors_upstream_lost'), '0');
    await direct.flushall();

    const v = crypto.randomBytes(100 << 20);
    assert.equal(await r.set('huge', v), 'OK');
    const got = await r.getBuffer('huge');
    assert.equal(got.length, v.length);
    assert.equal(sha(got), sha(v));
    // What keywarden stored is the value, byte for byte, as Redis has it.
    assert.equal(sha(await direct.getBuffer('huge')), sha(v));
  } finally {
    r.disconnect();
    direct.disconnect();
  }
});

h.proxyTest('a client that does not read beside clients that do', { timeout: 300000 }, async () => {
  const redis = await h.startRedis();
  // One worker: the slow reader and the others share its shared link to begin with.
  const kw = await h.startKeywarden({
    upstreamPort: redis.port,
    toml: { server: { workers: 1 }, limits: { max_reply_buffer_bytes: 4 << 20 } },
  });
  const seed = new Redis({ port: redis.port, host: h.HOST });
  const value = Buffer.alloc(1 << 20, 'v');
  await seed.set('slow:value', value);
  const slow = await RawClient.connect(kw.port, h.HOST);
  const fast = [];
  try {
    const rssBefore = rssKiB(kw.proc.pid);
    // 24 MiB of replies asked for in one go, none read yet: six times the cap.
    for (let i = 0; i < 24; i++) slow.send('GET', 'slow:value');
    slow.socket.pause();
    await h.sleep(500);
    // The others are served all the while (each round trip is bounded loosely: a hang fails).
    for (let i = 0; i < 4; i++) fast.push(new Redis({ port: kw.port, host: h.HOST }));
    for (let round = 0; round < 50; round++) {
      await Promise.all(
        fast.map((c, i) =>
          h.within(3000, c.set(`fast:${i}`, `${round}`).then(() => c.get(`fast:${i}`)), 'a fast client'),
        ),
      );
    }
    assert.equal(await infoField(kw.port, 'keywarden', 'clients_slow_reader_links'), '1');
    // What keywarden holds for it: the replies it had in flight when it crossed the cap, not more.
    const grownMiB = (rssKiB(kw.proc.pid) - rssBefore) / 1024;
    assert.ok(grownMiB < 24 + 4 + 48, `keywarden grew by ${grownMiB.toFixed(1)} MiB`);

    // It reads a little at a time: its next requests run on a link of its own, where keywarden
    // stops reading while it does not read, so Redis holds its replies (omem) as for a direct
    // client.
    for (let i = 0; i < 24; i++) slow.send('GET', 'slow:value');
    slow.socket.resume();
    let sawRedisBuffering = false;
    let got = 0;
    const admin = new Redis({ port: redis.port, host: h.HOST });
    try {
      while (got < 48) {
        const v = await slow.read(60000);
        assert.ok(!(v instanceof RespError), String(v));
        assert.equal(v.length, value.length);
        got += 1;
        if (got % 8 === 0 && !sawRedisBuffering) {
          slow.socket.pause();
          await h.sleep(300);
          const list = await admin.client('LIST');
          sawRedisBuffering = /omem=[1-9]\d{5,}/.test(list);
          slow.socket.resume();
        }
      }
    } finally {
      admin.disconnect();
    }
    assert.ok(sawRedisBuffering, "Redis held the slow client's replies (omem) on its own link");
    assert.equal(await infoField(kw.port, 'keywarden', 'errors_upstream_lost'), '0');
  } finally {
    slow.close();
    for (const c of fast) c.disconnect();
    seed.disconnect();
    await kw.stop();
    await redis.stop();
  }
});

h.proxyTest('a long script: clients sharing its link hear BUSY at once; SCRIPT KILL gets through', { timeout: 60000 }, async () => {
  // Redis answers -BUSY to other connections once a script has run 100 ms; keywarden learns the
  // threshold with CONFIG GET at startup.
  const redis = await h.startRedis({ args: ['--busy-reply-threshold', '100'] });
  const kw = await h.startKeywarden({ upstreamPort: redis.port, toml: { server: { workers: 1 } } });
  const runner = await RawClient.connect(kw.port, h.HOST);
  const other = await RawClient.connect(kw.port, h.HOST);
  const killer = await RawClient.connect(kw.port, h.HOST);
  try {
    // All three share the worker's one shared link (none holds a link of its own).
    assert.equal(await other.call('PING'), 'PONG');
    runner.send('EVAL', 'local i = 0 while true do i = i + 1 end', '0');
    await h.sleep(300);
    const t0 = Date.now();
    other.send('PING');
    const pong = await other.read(2000);
    assert.ok(pong instanceof RespError && pong.message.startsWith('BUSY'), `PING got ${String(pong)}`);
    assert.ok(Date.now() - t0 < 2000);
    // A health check on a brand-new connection too.
    const probe = await RawClient.connect(kw.port, h.HOST);
    const p = await probe.call('PING');
    probe.close();
    assert.ok(p instanceof RespError && p.message.startsWith('BUSY'), `PING got ${String(p)}`);
    assert.equal(await killer.call('SCRIPT', 'KILL'), 'OK');
    const r = await runner.read(10000);
    assert.ok(r instanceof RespError && /killed/i.test(r.message), String(r));
    assert.equal(await other.call('PING'), 'PONG');
    assert.equal(await runner.call('PING'), 'PONG');
  } finally {
    runner.close();
    other.close();
    killer.close();
    await kw.stop();
    await redis.stop();
  }
});
