'use strict';
// Every feature across a real Redis Cluster (3 masters, 3 replicas): the near cache invalidated by
// writes on any master, the blacklist loaded from and fed by every master, a memory budget kept
// over the namespace's keys on all masters, CL.THROTTLE routed by key and working again after a
// failover, the doctor asking every master, KEYWARDEN CLUSTER. One cluster for the file; the
// failover comes last.

const assert = require('node:assert/strict');
const { describe, before, after } = require('node:test');
const h = require('./harness');
const { RawClient, RespError } = require('./resp');

const MiB = 1024 * 1024;
const BUDGET = MiB;

const TOML = `
[near_cache]
heartbeat_ms = 100
feed_timeout_ms = 600

[budgets]
lease_ms = 1000

[[namespaces]]
name = "profile"
pattern = "profile:{id}"
near_cache = true

[[namespaces]]
name = "blacklist:access"
pattern = "blacklist:access:{jti}"
kind = "blacklist"
max_ttl_s = 2592000

[[namespaces]]
name = "docs"
pattern = "doc:proc:{id}"
memory_budget_bytes = ${BUDGET}
`;

function infoField(text, field) {
  const m = new RegExp(`^${field}:(.*)$`, 'm').exec(String(text));
  return m ? m[1].trim() : null;
}

// Until both workers' feeds cover every master and the blacklist replicas are loaded.
async function waitFeeds(kw, timeoutMs = 15000) {
  const c = await RawClient.connect(kw.port);
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = String(await c.call('INFO', 'keywarden'));
      const covered = Number(infoField(info, 'invalidation_feeds_covered'));
      const replicas = Number(infoField(info, 'blacklist_replicas'));
      const complete = Number(infoField(info, 'blacklist_replicas_complete'));
      if (covered === 2 && complete === replicas) return;
      if (Date.now() > deadline) assert.fail(`feeds not covering after ${timeoutMs} ms:\n${info}`);
      await h.sleep(20);
    }
  } finally {
    c.close();
  }
}

// Keys of the form `${prefix}${i}`, one owned by each master.
async function keysOnEveryMaster(cluster, prefix) {
  const byMaster = new Map();
  for (let i = 0; byMaster.size < cluster.masters.length && i < 1000; i++) {
    const key = `${prefix}${i}`;
    const slot = await cluster.call(cluster.masters[0].port, 'CLUSTER', 'KEYSLOT', key);
    const owner = await cluster.masterOf(slot);
    if (!byMaster.has(owner)) byMaster.set(owner, key);
  }
  assert.equal(byMaster.size, cluster.masters.length, 'a key for every master');
  return byMaster; // owner port -> key
}

async function commandCalls(cluster, port, name) {
  const info = String(await cluster.call(port, 'INFO', 'commandstats'));
  const m = new RegExp(`^cmdstat_${name}:calls=(\\d+)`, 'm').exec(info);
  return m ? Number(m[1]) : 0;
}

// The budgeted namespace's bytes on every master (MEMORY USAGE of each key, SCAN per node).
async function namespaceBytes(cluster, pattern) {
  let bytes = 0;
  let keys = 0;
  for (const m of cluster.masters) {
    let cursor = '0';
    do {
      const [next, batch] = await cluster.call(m.port, 'SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = String(next);
      for (const k of batch) {
        const used = await cluster.call(m.port, 'MEMORY', 'USAGE', k);
        if (used !== null) {
          bytes += Number(used);
          keys += 1;
        }
      }
    } while (cursor !== '0');
  }
  return { bytes, keys };
}

describe('features across a Redis Cluster', () => {
  let cluster;
  let kw;
  before(async () => {
    cluster = await h.startCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1000 });
    kw = await h.startKeywarden({ cluster, tomlText: TOML });
    await waitFeeds(kw);
  }, { timeout: 90000 });
  after(async () => {
    if (kw) await kw.stop();
    if (cluster) await cluster.stop();
  }, { timeout: 30000 });

  h.proxyTest('near cache: reads of keys on every master stay in keywarden until a write on that master', { timeout: 30000 }, async () => {
    const c = await RawClient.connect(kw.port);
    try {
      const keys = await keysOnEveryMaster(cluster, 'profile:');
      for (const [, key] of keys) {
        assert.equal(await c.call('SET', key, 'v1'), 'OK');
        assert.equal(await c.call('GET', key), 'v1');
        await h.sleep(30);  // the fill's PTTL
        assert.equal(await c.call('GET', key), 'v1');
      }
      const before = new Map();
      for (const [port] of keys) before.set(port, await commandCalls(cluster, port, 'get'));
      for (let i = 0; i < 50; i++) for (const [, key] of keys) c.send('GET', key);
      const replies = await c.readMany(50 * keys.size);
      assert.ok(replies.every((r) => r === 'v1'), 'every cached read is right');
      for (const [port] of keys) {
        const served = (await commandCalls(cluster, port, 'get')) - before.get(port);
        assert.ok(served < 10, `master ${port} served ${served} of 50 GETs: the near cache is not holding its keys`);
      }
      // A write straight to each owner reaches the cache through that master's feed.
      for (const [port, key] of keys) {
        assert.equal(await cluster.call(port, 'SET', key, 'v2'), 'OK');
        const deadline = Date.now() + 2000;
        let v;
        while ((v = await c.call('GET', key)) !== 'v2') {
          if (Date.now() > deadline) assert.fail(`${key} (master ${port}) still ${v} 2 s after a direct write`);
          await h.sleep(5);
        }
      }
      // FLUSHALL through keywarden goes to every master, and the cache forgets everything.
      assert.equal(await c.call('FLUSHALL'), 'OK');
      for (const [, key] of keys) assert.equal(await c.call('GET', key), null);
    } finally {
      c.close();
    }
  });

  h.proxyTest('blacklist: revocations on every master are loaded by a new keywarden and followed after', { timeout: 40000 }, async () => {
    const early = await keysOnEveryMaster(cluster, 'blacklist:access:early');
    for (const [port, key] of early) assert.equal(await cluster.call(port, 'SET', key, '1', 'EX', 600), 'OK');
    const second = await h.startKeywarden({ cluster, tomlText: TOML });
    try {
      await waitFeeds(second);
      const c = await RawClient.connect(second.port);
      try {
        for (const [, key] of early) assert.equal(await c.call('EXISTS', key), 1, `${key} revoked before start`);
        const info = String(await c.call('INFO', 'keywarden'));
        assert.ok(Number(infoField(info, 'blacklist_replica_keys') ?? 3) >= 3, info);
        const late = await keysOnEveryMaster(cluster, 'blacklist:access:late');
        for (const [port, key] of late) assert.equal(await cluster.call(port, 'SET', key, '1', 'EX', 600), 'OK');
        for (const [port, key] of late) {
          const deadline = Date.now() + 2000;
          while ((await c.call('EXISTS', key)) !== 1) {
            if (Date.now() > deadline) assert.fail(`${key} (master ${port}) not seen 2 s after its revocation`);
            await h.sleep(5);
          }
        }
      } finally {
        c.close();
      }
    } finally {
      await second.stop();
    }
  });

  h.proxyTest('a memory budget holds over the namespace\'s keys on all masters', { timeout: 60000 }, async () => {
    const c = await RawClient.connect(kw.port);
    try {
      const value = 'v'.repeat(1024);
      const n = 3000;
      for (let i = 0; i < n; i += 200) {
        for (let k = i; k < Math.min(n, i + 200); k++) c.send('SET', `doc:proc:${k}`, value);
        const replies = await c.readMany(Math.min(n, i + 200) - i);
        for (const r of replies) assert.equal(r, 'OK');
      }
      const deadline = Date.now() + 20000;
      let m;
      for (;;) {
        m = await namespaceBytes(cluster, 'doc:proc:*');
        if (m.bytes <= 1.05 * BUDGET && m.bytes >= 0.5 * BUDGET) break;
        if (Date.now() > deadline) assert.fail(`namespace at ${m.bytes} bytes (${m.keys} keys), budget ${BUDGET}`);
        await h.sleep(200);
      }
      const info = String(await c.call('INFO', 'keywarden'));
      assert.match(info, /budget_ns_docs:name=docs,budget=1048576,bytes=\d+,keys=\d+,evictions=[1-9]/);
    } finally {
      c.close();
    }
  });

  h.proxyTest('KEYWARDEN CLUSTER and DOCTOR name every master', { timeout: 20000 }, async () => {
    const c = await RawClient.connect(kw.port);
    try {
      const lines = (await c.call('KEYWARDEN', 'CLUSTER')).map(String);
      assert.ok(lines.includes('mode:cluster'), lines.join('\n'));
      assert.ok(lines.includes('masters:3'), lines.join('\n'));
      assert.ok(lines.includes('slots_served:16384'), lines.join('\n'));
      for (const m of cluster.masters) {
        assert.ok(lines.some((l) => l.startsWith(`node=127.0.0.1:${m.port} role=master slots=`)), `master ${m.port}:\n${lines.join('\n')}`);
        assert.ok(lines.some((l) => l.startsWith(`worker=0 node=127.0.0.1:${m.port} links_ready=`)), lines.join('\n'));
      }
      const doctor = (await c.call('KEYWARDEN', 'DOCTOR')).map(String);
      for (const m of cluster.masters) {
        assert.ok(doctor.some((l) => l.startsWith(`node 127.0.0.1:${m.port}: maxmemory is not set`)), doctor.join('\n'));
      }
      const info = String(await c.call('INFO', 'keywarden'));
      assert.match(info, /^upstream_node_\d+:node=127\.0\.0\.1:\d+,role=master,slots=\d+/m);
    } finally {
      c.close();
    }
  });

  h.proxyTest('after a master fails over: CL.THROTTLE is kept in Redis on the new master, the feeds cover it', { timeout: 60000 }, async () => {
    const c = await RawClient.connect(kw.port);
    try {
      const keys = await keysOnEveryMaster(cluster, 'rl:user');
      for (const [, key] of keys) {
        const r = await c.call('CL.THROTTLE', key, 5, 10, 60, 1);
        assert.equal(r[0], 0, `${key}: ${JSON.stringify(r)}`);
      }
      const [victim, victimKey] = [...keys][0];
      const killedAt = Date.now();
      await cluster.kill(victim);
      // While the master is down, CL.THROTTLE answers from keywarden's own memory
      // (rate_limit_fallback = "local"); once its replica is promoted, the state is in Redis again,
      // on the new master: a fresh key of the same slot appears there.
      const fresh = `{${victimKey}}:after`;
      let backMs = null;
      while (Date.now() - killedAt < 30000) {
        const r = await c.call('CL.THROTTLE', fresh, 5, 10, 60, 1);
        assert.ok(Array.isArray(r), `CL.THROTTLE answered ${JSON.stringify(r)}`);
        const slot = await cluster.call(cluster.alive()[0].port, 'CLUSTER', 'KEYSLOT', fresh);
        const owner = await cluster.masterOf(slot);
        if (owner && owner !== victim && (await cluster.call(owner, 'EXISTS', fresh)) === 1) {
          backMs = Date.now() - killedAt;
          break;
        }
        await h.sleep(100);
      }
      assert.ok(backMs !== null, `CL.THROTTLE state for ${fresh} not in Redis 30 s after its master died`);
      console.log(`# CL.THROTTLE kept in Redis again ${backMs} ms after the master's SIGKILL (node timeout 1000 ms)`);
      await cluster.waitHealthy({ replicas: false });
      await waitFeeds(kw, 20000);
      // The near cache still follows writes on the promoted master.
      const promoted = await cluster.masterOf(await cluster.call(cluster.alive()[0].port, 'CLUSTER', 'KEYSLOT', victimKey));
      let key = null;
      for (let i = 0; key === null && i < 1000; i++) {
        const slot = await cluster.call(promoted, 'CLUSTER', 'KEYSLOT', `profile:f${i}`);
        if ((await cluster.masterOf(slot)) === promoted) key = `profile:f${i}`;
      }
      assert.ok(key, `a profile key on the promoted master ${promoted}`);
      assert.equal(await c.call('SET', key, 'a'), 'OK');
      assert.equal(await c.call('GET', key), 'a');
      await h.sleep(30);
      assert.equal(await cluster.call(promoted, 'SET', key, 'b'), 'OK');
      const deadline = Date.now() + 2000;
      while ((await c.call('GET', key)) !== 'b') {
        if (Date.now() > deadline) assert.fail(`${key} not invalidated on the promoted master ${promoted}`);
        await h.sleep(5);
      }
    } finally {
      c.close();
    }
  });
});
