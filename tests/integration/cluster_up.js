'use strict';
// Starts a Redis Cluster with the test harness (startCluster) for work by hand or a benchmark,
// prints its seed addresses on one line, and keeps it up until SIGINT/SIGTERM or `seconds`.
//
//   node tests/integration/cluster_up.js [masters] [replicasPerMaster] [seconds]
//   # 127.0.0.1:41234 127.0.0.1:39871 ...
const { startCluster } = require('./harness');

async function main() {
  const [masters = 3, replicasPerMaster = 1, seconds = 3600] = process.argv.slice(2).map(Number);
  const cluster = await startCluster({ masters, replicasPerMaster, nodeTimeoutMs: 1000 });
  console.log(cluster.seeds.join(' '));
  const roles = cluster.nodes.map((n) => `${n.port}:${n.role}`).join(' ');
  console.error(`cluster up (${roles}); stops in ${seconds} s or on Ctrl-C`);
  const stop = async () => {
    await cluster.stop();
    process.exit(0);
  };
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  setTimeout(stop, seconds * 1000);
}

main().catch((e) => {
  console.error(e.stack || e.message);
  process.exit(1);
});
