'use strict';
// Differential test: many concurrent clients send random command sequences to keywarden and,
// in lockstep on their own connections, to a plain reference redis-server; every reply that
// differs, and every reply carrying another client's tag, fails the run. See README.md.

const nodeTest = require('node:test');
const h = require('../integration/harness');
const { Generator, selectFamilies } = require('./lib/generator');
const { ClientRunner } = require('./lib/runner');
const { FrameConn } = require('./lib/frame_conn');
const { formatFailure } = require('./lib/report');
const { randomSeed } = require('./lib/prng');
const { encodeMultibulk } = require('./lib/resp_frames');

const env = process.env;
const list = (v) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : null);
const SEED = env.DIFF_SEED || randomSeed();
const SECONDS = Number(env.DIFF_SECONDS || 10);
const CLIENTS = Number(env.DIFF_CLIENTS || 12);
const ONLY_CLIENT = env.DIFF_CLIENT === undefined || env.DIFF_CLIENT === '' ? null : Number(env.DIFF_CLIENT);
const MAX_STEPS = Number(env.DIFF_MAX_STEPS || Infinity);
const TARGET_REDIS = env.DIFF_TARGET === 'redis';
// DIFF_UPSTREAM=cluster: keywarden in cluster mode over a 3-master, 3-replica Redis Cluster;
// every client's keys and channels carry one hash tag (one slot), and what a cluster answers per
// node is left out (see README.md).
const CLUSTER = env.DIFF_UPSTREAM === 'cluster';
const STRICT = env.DIFF_STRICT === '1';
const KEEP_GOING = env.DIFF_KEEP_GOING === '1';
const PIPELINE = env.DIFF_PIPELINE === undefined ? 0.3 : Number(env.DIFF_PIPELINE);
// SELECT of another db is refused by Redis Cluster (and by keywarden in front of one).
const FAMILIES = selectFamilies(list(env.DIFF_FAMILIES), [...(list(env.DIFF_SKIP) || []), ...(CLUSTER && !list(env.DIFF_FAMILIES) ? ['select'] : [])]);
const TRACE_FILE = env.DIFF_TRACE || null;

const RUNS = [
  { name: 'workers-2', args: ['--workers', '2'] },
  { name: 'workers-1', args: ['--workers', '1'] },
].filter((r) => !list(env.DIFF_RUNS) || list(env.DIFF_RUNS).includes(r.name));

function log(msg) {
  process.stdout.write(`${msg}\n`);
}

function reproduceLine(run, client) {
  const parts = [`DIFF_SEED=${SEED}`, `DIFF_RUNS=${run.name}`, `DIFF_SECONDS=${SECONDS}`, `DIFF_CLIENTS=${CLIENTS}`];
  if (env.DIFF_FAMILIES) parts.push(`DIFF_FAMILIES=${env.DIFF_FAMILIES}`);
  if (env.DIFF_SKIP) parts.push(`DIFF_SKIP=${env.DIFF_SKIP}`);
  if (STRICT) parts.push('DIFF_STRICT=1');
  if (env.DIFF_PIPELINE !== undefined) parts.push(`DIFF_PIPELINE=${env.DIFF_PIPELINE}`);
  if (TARGET_REDIS) parts.push('DIFF_TARGET=redis');
  if (CLUSTER) parts.push('DIFF_UPSTREAM=cluster');
  const alone = [...parts, `DIFF_CLIENT=${client}`];
  return `${parts.join(' ')} bash tests/differential/run.sh   (client alone: ${alone.join(' ')} ...)`;
}

// Lua loop iterations per millisecond on the reference server, for ~30-90 ms busy scripts.
async function calibrateBusy(port) {
  const c = await FrameConn.connect(port);
  try {
    const loops = 2000000;
    const t0 = process.hrtime.bigint();
    c.write(encodeMultibulk(['EVAL', 'local n = 0 for i = 1, tonumber(ARGV[1]) do n = n + 1 end return n', '0', String(loops)]));
    const r = await c.read(1, 20000);
    if (r.error) throw new Error(`busy-loop calibration: ${r.error}`);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    return loops / Math.max(1, ms);
  } finally {
    c.destroy();
  }
}

log(`differential: seed ${SEED}, ${CLIENTS} clients, ${SECONDS} s per run, runs ${RUNS.map((r) => r.name).join(',')}, ` +
  `target ${TARGET_REDIS ? 'redis-server (generator self-check)' : CLUSTER ? 'keywarden over a Redis Cluster' : 'keywarden'}, families ${FAMILIES.map((f) => f.name).join(',')}` +
  `${STRICT ? ', strict' : ''}`);

for (const run of RUNS) {
  h.test(`differential ${run.name} (seed ${SEED})`, { timeout: (SECONDS + 60) * 1000 }, async () => {
    const ref = await h.startRedis();
    let dutPort;
    let dutName;
    let dutServer = null;
    if (TARGET_REDIS) {
      dutServer = await h.startRedis();
      dutPort = dutServer.port;
      dutName = 'redis-2';
    } else if (CLUSTER) {
      const cluster = await h.startCluster({ masters: 3, replicasPerMaster: 1 });
      dutServer = await h.startKeywarden({ cluster, args: run.args });
      dutPort = dutServer.port;
      dutName = 'keywarden';
    } else {
      const upstream = await h.startRedis();
      dutServer = await h.startKeywarden({ upstreamPort: upstream.port, args: run.args });
      dutPort = dutServer.port;
      dutName = 'keywarden';
    }
    const busyLoopsPerMs = await calibrateBusy(ref.port);
    const failures = [];
    const shared = {
      stop: false,
      onFailure(f) {
        failures.push(f);
        if (!KEEP_GOING) shared.stop = true;
      },
    };
    const ctx = { name: run.name, seed: SEED, dutName, reproduce: (client) => reproduceLine(run, client) };
    const opts = { families: FAMILIES, pipelineProb: PIPELINE, strict: STRICT, busyLoopsPerMs, bigValues: true, cluster: CLUSTER };
    let trace;
    if (TRACE_FILE) {
      const fs = require('node:fs');
      const fd = fs.openSync(`${TRACE_FILE}.${run.name}`, 'w');
      trace = (client, e) => {
        const frames = e.ref === undefined ? '' : ` => redis ${e.ref.join(' ')}${e.ref.join() === e.dut.join() ? '' : ` | ${dutName} ${e.dut.join(' ')}`}`;
        fs.writeSync(fd, `c${client} #${e.step} ${e.conn || ''} ${e.req}${frames}\n`);
      };
    }
    const deadline = Date.now() + SECONDS * 1000;
    const runners = [];
    for (let n = 0; n < CLIENTS; n++) {
      if (ONLY_CLIENT !== null && n !== ONLY_CLIENT) continue;
      const generator = new Generator(n, `${SEED}/${run.name}/${n}`, opts);
      runners.push(new ClientRunner({ n, generator, refPort: ref.port, dutPort, dutName, shared, trace }));
    }
    await Promise.all(runners.map((r) => r.run(deadline, MAX_STEPS)));
    const steps = runners.reduce((a, r) => a + r.steps, 0);
    log(`differential ${run.name}: ${steps} steps by ${runners.length} clients, ${failures.length} failure(s)`);
    if (env.DIFF_VERBOSE === '1') {
      const total = new Map();
      for (const r of runners) {
        for (const [k, v] of r.stats) {
          const t = total.get(k) || { n: 0, ms: 0 };
          t.n += v.n;
          t.ms += v.ms;
          total.set(k, t);
        }
      }
      const rows = [...total].sort((a, b) => b[1].ms - a[1].ms).map(([k, v]) => `${k}=${v.n}/${v.ms}ms`);
      log(`  steps by kind (count/time): ${rows.join(' ')}`);
    }
    if (dutServer && !dutServer.alive && dutServer.exitInfo) {
      failures.push({ client: -1, step: -1, kind: 'crash', message: `${dutName} exited: ${JSON.stringify(dutServer.exitInfo)}`, history: [] });
    }
    if (failures.length) {
      const text = failures.map((f) => formatFailure(f, ctx)).join('\n\n');
      log(text);
      throw new Error(`${failures.length} differential failure(s) in run ${run.name}, seed ${SEED} (details above)`);
    }
  });
}

nodeTest.after(() => {
  log(`differential: seed ${SEED}`);
});
