'use strict';
// The cluster harness itself: startCluster() makes a real 3-master/3-replica Redis Cluster and
// a master's crash is followed by its replica's promotion within a few node timeouts. The
// failover time is printed (a diagnostic line): cluster tests that wait for one size their
// deadlines from it.

const assert = require('node:assert/strict');
const { sleep, startCluster, test } = require('./harness');
const { RespError } = require('./resp');

test('startCluster: 3 masters, 3 replicas, every slot served; a killed master is replaced', { timeout: 60000 }, async (t) => {
  const t0 = Date.now();
  const cluster = await startCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1000 });
  const startMs = Date.now() - t0;

  assert.equal(cluster.nodes.length, 6);
  assert.equal(cluster.masters.length, 3);
  assert.equal(cluster.replicas.length, 3);
  const covered = new Set();
  for (const m of cluster.masters) {
    for (const [a, b] of m.slots) for (let s = a; s <= b; s++) covered.add(s);
    assert.equal(cluster.replicas.filter((r) => r.masterPort === m.port).length, 1,
      `master ${m.port} has one replica`);
  }
  assert.equal(covered.size, 16384);
  for (const n of cluster.nodes) assert.ok(n.pid > 0 && n.port > 0);

  // It is a real cluster: the owner of "foo" (slot 12182) takes it, another master redirects.
  assert.equal(await cluster.call(cluster.masters[0].port, 'CLUSTER', 'KEYSLOT', 'foo'), 12182);
  const owner = await cluster.masterOf(12182);
  assert.equal(await cluster.call(owner, 'SET', 'foo', 'bar'), 'OK');
  const other = cluster.masters.find((m) => m.port !== owner);
  const moved = await cluster.call(other.port, 'GET', 'foo');
  assert.ok(moved instanceof RespError);
  assert.equal(moved.message, `MOVED 12182 127.0.0.1:${owner}`);

  // Crash the master of slot 0; its replica must take over its slots.
  const victim = cluster.masters.find((m) => m.slots.some(([a]) => a === 0));
  const heir = cluster.replicas.find((r) => r.masterPort === victim.port);
  const survivor = cluster.masters.find((m) => m.port !== victim.port);
  const killedAt = Date.now();
  await cluster.kill(victim.port);
  let promotedMs = null;
  while (Date.now() - killedAt < 20000) {
    const view = await cluster.view(survivor.port);
    const h = view.find((n) => n.port === heir.port);
    if (h && h.flags.includes('master') && h.slots.some(([a]) => a === 0)) {
      promotedMs = Date.now() - killedAt;
      break;
    }
    await sleep(50);
  }
  assert.ok(promotedMs !== null, `replica ${heir.port} was not promoted within 20 s`);
  await cluster.waitHealthy({ replicas: false });
  const healthyMs = Date.now() - killedAt;
  assert.equal(await cluster.masterOf(0), heir.port);
  assert.equal(cluster.masters.length, 3);
  assert.ok(cluster.masters.some((m) => m.port === heir.port));

  const report = `cluster start ${startMs} ms; after SIGKILL of master ${victim.port} (node timeout 1000 ms): ` +
    `replica ${heir.port} promoted in ${promotedMs} ms, every live node agreeing with cluster_state:ok in ${healthyMs} ms`;
  t.diagnostic(report);
  console.log(`# ${report}`);
  await cluster.stop();
});
