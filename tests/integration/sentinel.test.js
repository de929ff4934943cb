'use strict';
// keywarden in front of a Sentinel-managed master ([upstream] mode = "sentinel"): a real group on
// loopback (1 master, 2 replicas, 3 redis-server --sentinel; harness startSentinelGroup), and a
// scripted sentinel (a few lines of RESP below) where a test needs to choose what a sentinel says.
//
//   startup               the master asked of the sentinels; none answering fails startup
//   SENTINEL FAILOVER     under load: writers through keywarden record every acknowledged write,
//                         compared with the new master's contents afterwards; a reference writer
//                         straight to Redis with WAIT 1 shows what replication itself loses
//   killed master         the same, the master SIGKILLed
//   ROLE / -READONLY      a link that reaches a replica is closed before it serves anyone; a
//                         demoted master's -READONLY closes its link; requests wait for the new
//                         master meanwhile
// The client-visible error window of each failover is printed (t.diagnostic).

const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { describe } = require('node:test');
const h = require('./harness');
const { RawClient, RespError } = require('./resp');

const MASTER_NAME = 'kwmaster';

// keywarden with [upstream] mode = "sentinel" over `sentinels` ("host:port" strings).
async function startSentinelKeywarden(sentinels, upstream = {}, extraToml = '') {
  const dir = h.makeTempDir('kw-proxy-');
  const port = await h.freePort();
  const config = path.join(dir, 'keywarden.toml');
  const lines = [
    '[server]',
    `listen = "${h.HOST}:${port}"`,
    'workers = 2',
    'shutdown_deadline_ms = 5000',
    'log_level = "info"',
    '',
    '[upstream]',
    'mode = "sentinel"',
    `sentinels = [${sentinels.map((s) => `"${s}"`).join(', ')}]`,
    `master_name = "${MASTER_NAME}"`,
    'connect_timeout_ms = 500',
    'reconnect_backoff_min_ms = 20',
    'reconnect_backoff_max_ms = 300',
  ];
  for (const [k, v] of Object.entries(upstream)) lines.push(`${k} = ${typeof v === 'string' ? `"${v}"` : v}`);
  lines.push('', '[metrics]', 'enabled = false', '');
  fs.writeFileSync(config, lines.join('\n') + extraToml);
  const kw = await h.startKeywardenWith({ args: ['-c', config], port, dir });
  kw.configPath = config;
  return kw;
}

// INFO topology through keywarden, as {field: value}.
async function topology(c) {
  const text = String(await c.call('INFO', 'topology'));
  const out = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

async function infoField(c, section, field) {
  const m = new RegExp(`^${field}:(.*)$`, 'm').exec(String(await c.call('INFO', section)));
  return m ? m[1].trim() : null;
}

// Writers through keywarden: each sets w<i>:<seq> in a loop and records every acknowledged key
// with the time of its acknowledgement, and every error with its time.
function startWriters(port, n) {
  const writers = [];
  let stop = false;
  const run = async (i) => {
    const w = { acked: [], errors: [], maxLatencyMs: 0 };
    writers.push(w);
    const c = await RawClient.connect(port);
    let seq = 0;
    try {
      while (!stop) {
        const key = `w${i}:${seq++}`;
        const sent = Date.now();
        let r;
        try {
          r = await c.call('SET', key, String(seq));
        } catch (e) {
          w.errors.push({ at: Date.now(), message: `client: ${e.message}` });
          break;
        }
        const at = Date.now();
        w.maxLatencyMs = Math.max(w.maxLatencyMs, at - sent);
        if (r === 'OK') w.acked.push({ key, at });
        else w.errors.push({ at, message: r instanceof RespError ? r.message : JSON.stringify(r) });
      }
    } finally {
      c.close();
    }
  };
  const done = Promise.all(Array.from({ length: n }, (_, i) => run(i)));
  return { writers, stop: async () => { stop = true; await done; } };
}

// The reference: SET + WAIT 1 straight to the master of the moment (asked of the sentinels
// again after any error): what Redis's own replication keeps and loses over the same failover.
function startReferenceWriter(g) {
  const ref = { replicated: [], unreplicated: [], errors: 0 };
  let stop = false;
  const done = (async () => {
    let seq = 0;
    let c = null;
    while (!stop) {
      try {
        if (!c) {
          const m = await g.currentMaster();
          c = await RawClient.connect(m.port);
        }
        const key = `ref:${seq++}`;
        const r = await c.call('SET', key, '1');
        if (r !== 'OK') throw new Error(String(r && r.message));
        const acks = await c.call('WAIT', '1', '200');
        (Number(acks) >= 1 ? ref.replicated : ref.unreplicated).push({ key, at: Date.now() });
      } catch {
        ref.errors++;
        if (c) c.close();
        c = null;
        await h.sleep(20);
      }
    }
    if (c) c.close();
  })();
  return { ref, stop: async () => { stop = true; await done; } };
}

// Which of `keys` the node has (EXISTS, in batches).
async function present(port, keys) {
  const c = await RawClient.connect(port);
  const have = new Set();
  try {
    for (let i = 0; i < keys.length; i += 500) {
      const batch = keys.slice(i, i + 500);
      for (const k of batch) c.send('EXISTS', k);
      const replies = await c.readMany(batch.length);
      batch.forEach((k, j) => { if (replies[j] === 1) have.add(k); });
    }
  } finally {
    c.close();
  }
  return have;
}

// Polls INFO topology until failovers_seen reaches `n`: the time keywarden switched.
async function waitKeywardenSwitch(admin, n, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  let last = {};
  while (Date.now() < deadline) {
    last = await topology(admin);
    if (Number(last.failovers_seen) >= n) return { at: Date.now(), topology: last };
    await h.sleep(10);
  }
  throw new Error(`keywarden saw no failover within ${timeoutMs} ms: ${JSON.stringify(last)}`);
}

// What the writers saw: the error window (first to last error), the longest wait for one reply,
// the errors by kind, and the acknowledged writes the new master lacks.
async function report(t, label, load, newMasterPort, switchAt) {
  const errors = load.writers.flatMap((w) => w.errors);
  const acked = load.writers.flatMap((w) => w.acked);
  const first = errors.length ? Math.min(...errors.map((e) => e.at)) : null;
  const last = errors.length ? Math.max(...errors.map((e) => e.at)) : null;
  const kinds = {};
  for (const e of errors) {
    const kind = e.message.replace(/[0-9.:]+/g, '#').slice(0, 90);
    kinds[kind] = (kinds[kind] || 0) + 1;
  }
  const have = await present(newMasterPort, acked.map((a) => a.key));
  const lost = acked.filter((a) => !have.has(a.key));
  const maxLatency = Math.max(...load.writers.map((w) => w.maxLatencyMs));
  t.diagnostic(`${label}: ${acked.length} writes acknowledged, ${errors.length} errors, ` +
    `error window ${first === null ? 0 : last - first} ms, longest single reply ${maxLatency} ms, ` +
    `${lost.length} acknowledged writes not on the new master` +
    (lost.length ? ` (acknowledged ${Math.min(...lost.map((l) => switchAt - l.at))}..${Math.max(...lost.map((l) => switchAt - l.at))} ms before keywarden switched)` : ''));
  for (const [k, n] of Object.entries(kinds)) t.diagnostic(`  ${n} x ${k}`);
  return { errors, acked, lost, first, last, maxLatency };
}

// The reference writer's writes the new master lacks: those a replica had acknowledged (WAIT 1)
// and those it had not.
async function referenceReport(t, ref, newMasterPort) {
  const have = await present(newMasterPort, [...ref.replicated, ...ref.unreplicated].map((x) => x.key));
  const lostReplicated = ref.replicated.filter((x) => !have.has(x.key));
  const lostUnreplicated = ref.unreplicated.filter((x) => !have.has(x.key));
  t.diagnostic(`reference writer straight to Redis (SET + WAIT 1): ${ref.replicated.length} acknowledged by a replica, ` +
    `${lostReplicated.length} of them not on the new master; ${ref.unreplicated.length} not acknowledged by a replica, ` +
    `${lostUnreplicated.length} of them lost; ${ref.errors} errors`);
  return { lostReplicated, lostUnreplicated };
}

const CACHE_TOML = `
[near_cache]
heartbeat_ms = 100
feed_timeout_ms = 600

[[namespaces]]
name = "profile"
pattern = "profile:{id}"
near_cache = true

[[namespaces]]
name = "blacklist:access"
pattern = "blacklist:access:{jti}"
kind = "blacklist"
max_ttl_s = 2592000
ttl_required = true
`;

// Every worker's invalidation feed covers its prefixes and its blacklist replica is loaded.
async function waitFeeds(c, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = String(await c.call('INFO', 'keywarden'));
    const field = (f) => Number((new RegExp(`^${f}:(.*)$`, 'm').exec(info) || [])[1]);
    if (field('invalidation_feeds_covered') === 2 && field('blacklist_replicas_complete') === field('blacklist_replicas')) return;
    if (Date.now() > deadline) assert.fail(`feeds not covering after ${timeoutMs} ms:\n${info}`);
    await h.sleep(20);
  }
}

describe('Sentinel mode', () => {
  h.proxyTest('startup through the sentinels with their own credentials; CONFIG GET, INFO topology, KEYWARDEN UPSTREAM', { timeout: 90000 }, async () => {
    const g = await h.startSentinelGroup({ password: 'datapw', sentinelPassword: 'sentpw' });
    const kw = await startSentinelKeywarden(g.sentinelAddresses, { password: 'datapw', sentinel_password: 'sentpw' });
    const c = await RawClient.connect(kw.port);
    try {
      assert.equal(await c.call('SET', 'sentinel:start', 'v'), 'OK');
      assert.equal(await g.nodeCall(g.master, 'GET', 'sentinel:start'), 'v');

      const conf = await c.call('KEYWARDEN', 'CONFIG', 'GET', 'upstream.*');
      const m = new Map();
      for (let i = 0; i < conf.length; i += 2) m.set(conf[i], conf[i + 1]);
      assert.equal(m.get('upstream.mode'), 'sentinel');
      assert.equal(m.get('upstream.sentinels'), g.sentinelAddresses.join(','));
      assert.equal(m.get('upstream.master_name'), MASTER_NAME);
      assert.equal(m.get('upstream.sentinel_password'), '********');
      assert.ok(!JSON.stringify(conf).includes('sentpw') && !JSON.stringify(conf).includes('datapw'));

      const top = await topology(c);
      assert.equal(top.mode, 'sentinel');
      assert.equal(top.master, `${h.HOST}:${g.master.port}`);
      assert.equal(top.failovers_seen, '0');
      assert.equal(top.sentinels, g.sentinelAddresses.join(','));
      // Every sentinel's +switch-master subscription is up soon after start.
      for (let i = 0; i < 100 && (await topology(c)).sentinels_subscribed !== '3'; i++) await h.sleep(50);
      assert.equal((await topology(c)).sentinels_subscribed, '3');
      // A sentinel that goes away and comes back is subscribed to again.
      const waitSubscribed = async (n, timeoutMs) => {
        const deadline = Date.now() + timeoutMs;
        let top = {};
        while (Date.now() < deadline) {
          top = await topology(c);
          if (top.sentinels_subscribed === String(n)) return top;
          await h.sleep(20);
        }
        throw new Error(`sentinels_subscribed is not ${n}: ${JSON.stringify(top)}`);
      };
      await g.sentinels[2].kill();
      const down = await waitSubscribed(2, 5000);
      assert.match(down.sentinel2, /,down /);
      await g.sentinels[2].restart();
      await waitSubscribed(3, 10000);
      assert.equal(await c.call('GET', 'sentinel:start'), 'v');

      const lines = await c.call('KEYWARDEN', 'UPSTREAM');
      assert.ok(lines.includes(`topology master:${h.HOST}:${g.master.port}`), lines.join('\n'));
      const links = lines.filter((l) => l.startsWith('worker='));
      assert.ok(links.length > 0 && links.every((l) => l.includes(` node=${h.HOST}:${g.master.port} `)), links.join('\n'));
    } finally {
      c.close();
    }
    await g.stop();
  });

  h.proxyTest('no sentinel answering fails startup clearly; bad combinations fail --check-config with their line', { timeout: 40000 }, async () => {
    const closed = await h.freePort();
    const dir = h.makeTempDir('kw-sentinel-bad-');
    const config = path.join(dir, 'k.toml');
    fs.writeFileSync(config, ['[server]', `listen = "${h.HOST}:${await h.freePort()}"`, '[upstream]', 'mode = "sentinel"',
      `sentinels = ["${h.HOST}:${closed}"]`, `master_name = "${MASTER_NAME}"`, '[metrics]', 'enabled = false', ''].join('\n'));
    const since = Date.now();
    const r = h.runKeywardenSync(['-c', config], { cwd: dir, timeoutMs: 30000 });
    assert.notEqual(r.status, 0, r.output);
    assert.match(r.output, new RegExp(`no sentinel named master "${MASTER_NAME}" within 10000 ms \\(${h.HOST}:${closed}: .*refused`));
    assert.ok(Date.now() - since < 25000);

    fs.writeFileSync(config, ['[upstream]', 'mode = "cluster"', `seeds = ["${h.HOST}:7000"]`, `sentinels = ["${h.HOST}:26379"]`, ''].join('\n'));
    const bad = h.runKeywardenSync(['-c', config, '--check-config'], { cwd: dir });
    assert.notEqual(bad.status, 0);
    assert.match(bad.output, /k\.toml:4: upstream\.sentinels: only for mode = "sentinel" \(mode is "cluster"\)/);
  });

  h.proxyTest('SENTINEL FAILOVER under load: writes follow the new master, nothing acknowledged after the switch is lost', { timeout: 120000 }, async (t) => {
    const g = await h.startSentinelGroup();
    const kw = await startSentinelKeywarden(g.sentinelAddresses, { request_timeout_ms: 8000 });
    const admin = await RawClient.connect(kw.port);
    const m0 = await g.currentMaster();
    const load = startWriters(kw.port, 8);
    const reference = startReferenceWriter(g);
    await h.sleep(1000);
    const failoverAt = Date.now();
    const f = await g.failover();
    const sw = await waitKeywardenSwitch(admin, 1);
    t.diagnostic(`SENTINEL FAILOVER: sentinels named ${f.to.port} after ${f.msFirst} ms; keywarden's master: ${sw.topology.master} (told by ${sw.topology.master_told_by})`);
    await h.sleep(1500);
    await load.stop();
    await reference.stop();
    assert.equal(sw.topology.master, `${h.HOST}:${f.to.port}`);
    assert.notEqual(f.to.port, m0.port);

    const r = await report(t, 'SENTINEL FAILOVER', load, f.to.port, sw.at);
    // Writes acknowledged once keywarden had switched all reached the new master; what it lost is
    // what the old master acknowledged before, as Redis's own asynchronous replication does.
    const margin = 200;
    const lateLost = r.lost.filter((l) => l.at > sw.at + margin);
    assert.deepEqual(lateLost.map((l) => l.key), [], 'no acknowledged write lost after keywarden switched');
    assert.ok(r.acked.some((a) => a.at > sw.at + margin), 'writes went on after the switch');
    // Nothing acknowledged before the failover began is lost, through keywarden or straight to
    // Redis; the reference shows what Redis itself loses meanwhile.
    assert.deepEqual(r.lost.filter((l) => l.at < failoverAt).map((l) => l.key), []);
    const ref = await referenceReport(t, reference.ref, f.to.port);
    assert.deepEqual(ref.lostReplicated.filter((l) => l.at < failoverAt).map((l) => l.key), []);
    // Links now go to the new master only.
    const lines = await admin.call('KEYWARDEN', 'UPSTREAM');
    const ready = lines.filter((l) => l.startsWith('worker=') && l.includes('state=ready'));
    assert.ok(ready.length > 0 && ready.every((l) => l.includes(` node=${h.HOST}:${f.to.port} `)), lines.join('\n'));
    assert.equal(await infoField(admin, 'topology', 'failovers_seen'), '1');
    admin.close();
    await g.stop();
  });

  h.proxyTest('features follow the new master: the near cache\'s feed and the blacklist replica re-armed there', { timeout: 90000 }, async (t) => {
    const g = await h.startSentinelGroup();
    const kw = await startSentinelKeywarden(g.sentinelAddresses, {}, CACHE_TOML);
    const c = await RawClient.connect(kw.port);
    await waitFeeds(c);
    assert.equal(await c.call('SET', 'profile:1', 'v1'), 'OK');
    assert.equal(await c.call('GET', 'profile:1'), 'v1');
    assert.equal(await c.call('GET', 'profile:1'), 'v1');
    const f = await g.failover();
    await waitKeywardenSwitch(c, 1);
    const since = Date.now();
    await waitFeeds(c);
    t.diagnostic(`feeds covering again ${Date.now() - since} ms after keywarden switched`);
    // Written straight to the new master: the cached value goes (its feed is there now).
    assert.equal(await g.nodeCall(f.to.node, 'SET', 'profile:1', 'v2'), 'OK');
    let got = null;
    for (let i = 0; i < 100 && got !== 'v2'; i++) {
      got = await c.call('GET', 'profile:1');
      if (got !== 'v2') await h.sleep(20);
    }
    assert.equal(got, 'v2', 'the near cache heard of a write on the new master');
    // A token revoked on the new master is seen by the blacklist replica.
    assert.equal(await g.nodeCall(f.to.node, 'SET', 'blacklist:access:t1', '1', 'EX', '600'), 'OK');
    let revoked = 0;
    for (let i = 0; i < 100 && revoked !== 1; i++) {
      revoked = await c.call('EXISTS', 'blacklist:access:t1');
      if (revoked !== 1) await h.sleep(20);
    }
    assert.equal(revoked, 1);
    c.close();
    await g.stop();
  });

  h.proxyTest('killed master under load: requests wait for the new master; the error window is measured', { timeout: 120000 }, async (t) => {
    const g = await h.startSentinelGroup();
    const kw = await startSentinelKeywarden(g.sentinelAddresses, { request_timeout_ms: 10000 });
    const admin = await RawClient.connect(kw.port);
    // CL.THROTTLE's function is installed on the master keywarden knows.
    const throttle = () => admin.call('CL.THROTTLE', 'rl:sentinel', '10', '5', '60');
    const before = await throttle();
    assert.ok(Array.isArray(before) && before.length === 5, `CL.THROTTLE: ${before}`);
    const load = startWriters(kw.port, 8);
    const reference = startReferenceWriter(g);
    await h.sleep(1000);
    const killedAt = Date.now();
    const k = await g.killMaster();
    const sw = await waitKeywardenSwitch(admin, 1);
    t.diagnostic(`killed master: sentinels named ${k.to.port} after ${k.msFirst} ms; keywarden switched after ${sw.at - killedAt} ms (told by ${sw.topology.master_told_by})`);
    await h.sleep(1500);
    await load.stop();
    await reference.stop();
    assert.equal(sw.topology.master, `${h.HOST}:${k.to.port}`);
    // Features follow the new master: CL.THROTTLE answers there.
    const after = await throttle();
    assert.ok(Array.isArray(after) && after.length === 5, `CL.THROTTLE after the failover: ${after}`);

    const r = await report(t, 'killed master', load, k.to.port, sw.at);
    // Only what the dead master acknowledged before it died can be missing.
    assert.deepEqual(r.lost.filter((l) => l.at > killedAt).map((l) => l.key), []);
    // The requests in flight when it died got the lost error; the rest waited for the new master
    // (request_timeout_ms 10000 is longer than the failover), so few errors, all of one kind.
    for (const e of r.errors) assert.match(e.message, /^UPSTREAMDOWN /, e.message);
    assert.ok(r.errors.length <= 8 * 2, `errors: ${r.errors.length}`);
    assert.ok(r.acked.some((a) => a.at > sw.at), 'writes went on after the switch');
    // Writes acknowledged well before the kill (replication on loopback takes microseconds) are
    // all there, through keywarden and with WAIT 1 straight to Redis.
    assert.deepEqual(r.lost.filter((l) => l.at < killedAt - 500).map((l) => l.key), []);
    const ref = await referenceReport(t, reference.ref, k.to.port);
    assert.deepEqual(ref.lostReplicated.filter((l) => l.at < killedAt - 500).map((l) => l.key), []);
    admin.close();
    await g.stop();
  });
});

// ---- a scripted sentinel: GET-MASTER-ADDR-BY-NAME answers what the test says, SUBSCRIBE is
// confirmed, and publish() sends +switch-master to every subscriber ----

function parseCommand(buf) {
  if (buf.length === 0 || buf[0] !== 0x2a) return null;
  let pos = buf.indexOf('\r\n');
  if (pos < 0) return null;
  const n = Number(buf.subarray(1, pos).toString());
  pos += 2;
  const args = [];
  for (let i = 0; i < n; i++) {
    const eol = buf.indexOf('\r\n', pos);
    if (eol < 0 || buf[pos] !== 0x24) return null;
    const len = Number(buf.subarray(pos + 1, eol).toString());
    if (buf.length < eol + 2 + len + 2) return null;
    args.push(buf.subarray(eol + 2, eol + 2 + len).toString());
    pos = eol + 2 + len + 2;
  }
  return { args, used: pos };
}

const bulk = (s) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;

async function startScriptedSentinel(answer) {
  const state = { answer, lookups: 0, subscribers: new Set(), sockets: new Set() };
  const server = net.createServer((sock) => {
    state.sockets.add(sock);
    let buf = Buffer.alloc(0);
    sock.on('error', () => {});
    sock.on('close', () => { state.subscribers.delete(sock); state.sockets.delete(sock); });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const r = parseCommand(buf);
        if (!r) break;
        buf = buf.subarray(r.used);
        const cmd = r.args[0].toUpperCase();
        if (cmd === 'SENTINEL' && r.args[2] === MASTER_NAME) {
          state.lookups++;
          sock.write(`*2\r\n${bulk(state.answer.host)}${bulk(String(state.answer.port))}`);
        } else if (cmd === 'SUBSCRIBE') {
          state.subscribers.add(sock);
          sock.write(`*3\r\n${bulk('subscribe')}${bulk(r.args[1])}:1\r\n`);
        } else if (cmd === 'AUTH') {
          sock.write('+OK\r\n');
        } else {
          sock.write('-ERR unknown command\r\n');
        }
      }
    });
  });
  await new Promise((resolve) => server.listen(0, h.HOST, resolve));
  return {
    address: `${h.HOST}:${server.address().port}`,
    state,
    // The sentinel's answer becomes `to`, and every subscriber hears of the switch.
    publish(from, to) {
      state.answer = to;
      const payload = `${MASTER_NAME} ${from.host} ${from.port} ${to.host} ${to.port}`;
      for (const s of state.subscribers) s.write(`*3\r\n${bulk('message')}${bulk('+switch-master')}${bulk(payload)}`);
    },
    close() {
      for (const s of state.sockets) s.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('Sentinel mode: ROLE and -READONLY', () => {
  h.proxyTest('a link that reaches a replica is refused by ROLE; requests wait, then follow +switch-master', { timeout: 60000 }, async (t) => {
    const master = await h.startRedis();
    const replica = await h.startRedis({ args: ['--replicaof', h.HOST, String(master.port)] });
    // A stale address: the sentinel names the replica.
    const s = await startScriptedSentinel({ host: h.HOST, port: replica.port });
    try {
      const kw = await startSentinelKeywarden([s.address], { request_timeout_ms: 1500 });
      const c = await RawClient.connect(kw.port);
      const admin = await RawClient.connect(kw.port);
      const since = Date.now();
      const r1 = await c.call('SET', 'role:k', 'v');
      assert.ok(r1 instanceof RespError && /^UPSTREAMDOWN /.test(r1.message), `SET on a replica's link: ${r1}`);
      t.diagnostic(`first SET: ${r1.message} after ${Date.now() - since} ms`);
      // Later requests wait out the request timeout and say why.
      const t0 = Date.now();
      const r2 = await c.call('GET', 'role:k');
      const waited = Date.now() - t0;
      assert.ok(r2 instanceof RespError && /ROLE says replica of /.test(r2.message), `GET: ${r2}`);
      assert.ok(waited >= 1200, `waited ${waited} ms for a master`);
      assert.ok(Number(await infoField(admin, 'keywarden', 'upstream_not_master')) > 0);
      assert.ok(Number(await infoField(admin, 'keywarden', 'upstream_topology_wait_timeouts')) >= 1);
      assert.equal(await h.callOnce(replica.port, ['EXISTS', 'role:k']), 0);

      // The sentinel announces the real master: requests that wait now go there.
      const pending = c.call('SET', 'role:k', 'v2');
      await h.sleep(300);
      s.publish({ host: h.HOST, port: replica.port }, { host: h.HOST, port: master.port });
      const t1 = Date.now();
      assert.equal(await pending, 'OK');
      t.diagnostic(`a request that waited was answered ${Date.now() - t1} ms after +switch-master`);
      assert.equal(await h.callOnce(master.port, ['GET', 'role:k']), 'v2');
      const top = await topology(admin);
      assert.equal(top.master, `${h.HOST}:${master.port}`);
      assert.equal(top.failovers_seen, '1');
      assert.ok(Number(top.switch_messages) >= 1);
      c.close();
      admin.close();
    } finally {
      await s.close();
    }
  });

  h.proxyTest('a demoted master\'s -READONLY closes its link; no further write goes there; requests wait for the new master', { timeout: 60000 }, async (t) => {
    const a = await h.startRedis();
    const b = await h.startRedis({ args: ['--replicaof', h.HOST, String(a.port)] });
    const s = await startScriptedSentinel({ host: h.HOST, port: a.port });
    try {
      const kw = await startSentinelKeywarden([s.address], { request_timeout_ms: 5000 });
      const c = await RawClient.connect(kw.port);
      const admin = await RawClient.connect(kw.port);
      assert.equal(await c.call('SET', 'ro:1', 'a'), 'OK');
      // A failover keywarden has not heard of: b promoted, a demoted (its clients stay connected).
      assert.equal(await h.callOnce(b.port, ['REPLICAOF', 'NO', 'ONE']), 'OK');
      assert.equal(await h.callOnce(a.port, ['REPLICAOF', h.HOST, String(b.port)]), 'OK');
      const ro = await c.call('SET', 'ro:2', 'a');
      assert.ok(ro instanceof RespError && /^READONLY /.test(ro.message), `SET on the demoted master: ${ro}`);
      assert.equal(await infoField(admin, 'keywarden', 'upstream_readonly_closed'), '1');
      // The next write waits (the link to a is closed, a new one is refused by ROLE) until the
      // sentinel names b.
      const pending = c.call('SET', 'ro:3', 'b');
      await h.sleep(500);
      s.publish({ host: h.HOST, port: a.port }, { host: h.HOST, port: b.port });
      const t1 = Date.now();
      assert.equal(await pending, 'OK');
      t.diagnostic(`the write that waited was answered ${Date.now() - t1} ms after +switch-master`);
      assert.equal(await h.callOnce(b.port, ['GET', 'ro:3']), 'b');
      // Every link to the demoted master is closed once the switch is known: only this check's
      // own connection is left there.
      let clients = null;
      for (let i = 0; i < 60; i++) {
        clients = String(await h.callOnce(a.port, ['CLIENT', 'LIST', 'TYPE', 'normal'])).trim().split('\n').length;
        if (clients === 1) break;
        await h.sleep(50);
      }
      assert.equal(clients, 1, 'keywarden keeps no link to the demoted master');
      assert.equal((await topology(admin)).master, `${h.HOST}:${b.port}`);
      c.close();
      admin.close();
    } finally {
      await s.close();
    }
  });
});
