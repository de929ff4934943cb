'use strict';
// keywarden in front of a real Redis Cluster (issue 16), seen from outside: one 3-master,
// 3-replica cluster for the whole file (startup is slow), one keywarden in cluster mode in front
// of it, and a plain standalone redis-server as the reference for "what a single Redis answers".
// Values are checked on the nodes themselves (a direct connection to the owner of the key's
// slot), never only through keywarden.
//
// The tests that change the cluster run last, in this order: a slot migrated by hand under load
// (ASK, then MOVED), `redis-cli --cluster reshard` under load, seeds down at startup, and a
// master killed under load (its replica promoted; the client-visible error window printed).
//
// A server that cannot start fails the test that needed it; nothing here skips, except that
// the whole file is proxy-only (KW_TARGET=redis has no cluster target).

const assert = require('node:assert/strict');
const nodeTest = require('node:test');
const keySlot = require('cluster-key-slot');
const {
  HOST, TARGET_REDIS, freePort, proxyTest, redisCli, sleep, startCluster,
  startKeywarden, startRedis,
} = require('./harness');
const { RawClient, RespError } = require('./resp');

const NODE_TIMEOUT_MS = 1000;
const REFRESH_MS = 1000;
const CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot";
const EXECABORT = 'EXECABORT Transaction discarded because of previous errors.';

let cluster = null;
let kw = null;
let ref = null; // plain standalone redis-server: what a single Redis answers

if (!TARGET_REDIS) {
  nodeTest.before(async () => {
    // cluster-require-full-coverage no: while a master is down, the other masters go on serving
    // (with the default, every node answers CLUSTERDOWN until the failover, whatever a proxy does).
    cluster = await startCluster({
      masters: 3, replicasPerMaster: 1, nodeTimeoutMs: NODE_TIMEOUT_MS,
      args: ['--cluster-require-full-coverage', 'no'],
    });
    kw = await startKeywarden({ cluster, toml: { upstream: { topology_refresh_ms: REFRESH_MS } } });
    ref = await startRedis();
  }, { timeout: 60000 });
  nodeTest.after(async () => {
    if (kw) await kw.stop();
    if (ref) await ref.stop();
    if (cluster) await cluster.stop();
  }, { timeout: 60000 });
}

// ---- helpers ----

function isErr(v) {
  return v instanceof RespError;
}

async function client(port = kw.port) {
  return RawClient.connect(port, HOST);
}

async function call(port, ...args) {
  const c = await client(port);
  try {
    return await c.call(...args);
  } finally {
    c.close();
  }
}

// slot -> port of its master, from a live node's view.
async function ownerTable() {
  const live = cluster.alive()[0].port;
  const view = await cluster.view(live);
  const owners = new Array(16384).fill(null);
  for (const n of view) {
    if (!n.flags.includes('master') || n.flags.includes('fail')) continue;
    for (const [a, b] of n.slots) for (let s = a; s <= b; s++) owners[s] = n.port;
  }
  return owners;
}

// `count` keys `${prefix}${i}` whose slots belong to `port`.
function keysOn(owners, port, prefix, count = 1) {
  const out = [];
  for (let i = 0; out.length < count; i++) {
    const k = `${prefix}${i}`;
    if (owners[keySlot(k)] === port) out.push(k);
    assert.ok(i < 100000, `no key with prefix ${prefix} on ${port}`);
  }
  return out;
}

// One key per master (in cluster.masters order), all in different slots.
function keyPerMaster(owners, prefix) {
  return cluster.masters.map((m) => keysOn(owners, m.port, `${prefix}${m.port}:`)[0]);
}

// The value of `key` read straight from the master of its slot.
async function direct(owners, key, ...cmd) {
  const port = owners[keySlot(key)];
  return call(port, ...(cmd.length ? cmd : ['GET']), key);
}

async function kwInfo() {
  const text = String(await call(kw.port, 'INFO', 'keywarden'));
  const out = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

async function counter(name) {
  const v = (await kwInfo())[name];
  assert.ok(v !== undefined, `INFO keywarden has no ${name}`);
  return Number(v);
}

// Sends the same commands to keywarden and to the standalone reference, one at a time, and
// requires the same replies.
async function sameAsStandalone(commands) {
  const a = await client();
  const b = await client(ref.port);
  try {
    for (const cmd of commands) {
      const got = await a.call(...cmd);
      const want = await b.call(...cmd);
      assert.deepEqual(got, want, `${cmd.join(' ')}: keywarden ${JSON.stringify(got)}, Redis ${JSON.stringify(want)}`);
    }
  } finally {
    a.close();
    b.close();
  }
}

// ---- load with a model: every reply checked against its own request ----
//
// Each client owns its keys (they carry its number, and every value it writes starts with
// c<N>.), so the replies it should get follow from its own commands alone. A key's model is the
// set of values it may hold: one after an acknowledged write, more after a write that failed
// (it may or may not have run). A reply outside the set is a mismatch; a value another client
// wrote is the wrong-client bug.
class Load {
  constructor({ clients, keysOf, pipeline = 8, multi = false, lossAllowed = () => false }) {
    this.nClients = clients;
    this.keysOf = keysOf;
    this.pipeline = pipeline;
    this.multi = multi;
    this.lossAllowed = lossAllowed;
    this.model = new Map(); // key -> Set of possible values (null: absent)
    this.written = new Map(); // key -> Set of every value ever sent for it
    this.lastAck = new Map(); // key -> time of its last acknowledged write
    this.errors = []; // {t, cmd, error}
    this.mismatches = [];
    this.lost = [];
    this.requests = 0;
    this.stopped = false;
    this.seq = 0;
  }

  possible(k) {
    if (!this.model.has(k)) this.model.set(k, new Set([null]));
    return this.model.get(k);
  }

  noteWrite(k, v) {
    if (!this.written.has(k)) this.written.set(k, new Set([null]));
    this.written.get(k).add(v);
  }

  // One random command (or a MULTI block) of client i: [{args, check(reply, t)}...].
  pick(i, keys) {
    const r = Math.random();
    const one = () => keys[Math.floor(Math.random() * keys.length)];
    const distinct = (n) => {
      const s = new Set();
      while (s.size < Math.min(n, keys.length)) s.add(one());
      return [...s];
    };
    const val = () => `c${i}.${++this.seq}`;
    if (r < 0.3) {
      const k = one();
      const v = val();
      this.noteWrite(k, v);
      return [{ args: ['SET', k, v], write: [[k, v]], expect: () => 'OK' }];
    }
    if (r < 0.5) {
      const k = one();
      return [{ args: ['GET', k], read: [k] }];
    }
    if (r < 0.65) {
      const ks = [one(), ...distinct(3)]; // a repeated key too, sometimes
      return [{ args: ['MGET', ...ks], read: ks, many: true }];
    }
    if (r < 0.75) {
      const ks = distinct(3);
      const w = ks.map((k) => [k, val()]);
      for (const [k, v] of w) this.noteWrite(k, v);
      return [{ args: ['MSET', ...w.flat()], write: w, expect: () => 'OK' }];
    }
    if (r < 0.8) {
      const ks = distinct(2);
      for (const k of ks) this.noteWrite(k, null);
      return [{ args: ['DEL', ...ks], write: ks.map((k) => [k, null]), count: ks }];
    }
    if (r < 0.87) {
      const ks = distinct(3);
      return [{ args: ['EXISTS', ...ks], count: ks }];
    }
    if (r < 0.93 || !this.multi) {
      const s = val();
      return [{ args: ['ECHO', s], expect: () => s }];
    }
    // MULTI with one key (one slot): SET then GET inside, both answered by EXEC.
    const k = one();
    const v = val();
    this.noteWrite(k, v);
    return [
      { args: ['MULTI'], expect: () => 'OK' },
      { args: ['SET', k, v], expect: () => 'QUEUED' },
      { args: ['GET', k], expect: () => 'QUEUED' },
      { args: ['EXEC'], write: [[k, v]], expect: () => ['OK', v] },
    ];
  }

  // Checks one reply against the model, then applies the command to it.
  check(op, reply, t, i) {
    this.requests++;
    if (isErr(reply)) {
      this.errors.push({ t, cmd: op.args.join(' ').slice(0, 120), error: reply.message, client: i });
      for (const [k, v] of op.write || []) this.possible(k).add(v);
      return;
    }
    const bad = (why) => this.mismatches.push({ t, cmd: op.args.join(' '), reply: JSON.stringify(reply), why });
    if (op.read) {
      const vals = op.many ? reply : [reply];
      if (!Array.isArray(vals) || vals.length !== op.read.length) return bad('wrong shape');
      op.read.forEach((k, j) => {
        const p = this.possible(k);
        const v = vals[j];
        if (v !== null && typeof v === 'string' && !v.startsWith(`c${i}.`)) {
          bad(`${k}: another client's value ${v}`);
        } else if (!p.has(v)) {
          const w = this.written.get(k);
          if (w && w.has(v) && this.lossAllowed(k, this.lastAck.get(k))) {
            this.lost.push({ k, got: v, want: [...p] });
          } else {
            return bad(`${k}: ${JSON.stringify(v)} not in ${JSON.stringify([...p])}`);
          }
        }
        this.model.set(k, new Set([v]));
      });
      return;
    }
    if (op.count) {
      let min = 0;
      let max = 0;
      for (const k of op.count) {
        const p = this.possible(k);
        if (![...p].some((v) => v === null)) min++;
        if ([...p].some((v) => v !== null)) max++;
      }
      if (typeof reply !== 'number' || reply < min || reply > max) {
        bad(`count ${reply} outside [${min}, ${max}]`);
      }
    } else {
      const want = op.expect();
      try {
        assert.deepEqual(reply, want);
      } catch {
        bad(`want ${JSON.stringify(want)}`);
      }
    }
    for (const [k, v] of op.write || []) {
      this.model.set(k, new Set([v]));
      this.lastAck.set(k, t);
    }
  }

  async runClient(i) {
    const c = await client();
    const keys = this.keysOf(i);
    try {
      while (!this.stopped) {
        const ops = [];
        while (ops.length < this.pipeline) ops.push(...this.pick(i, keys));
        for (const op of ops) c.send(...op.args);
        // The whole batch is read before it is checked, in order.
        const replies = await c.readMany(ops.length, 30000);
        const t = Date.now();
        ops.forEach((op, j) => this.check(op, replies[j], t, i));
      }
    } finally {
      c.close();
    }
  }

  start() {
    this.running = Promise.all(Array.from({ length: this.nClients }, (_, i) => this.runClient(i)));
    return this;
  }

  async stop() {
    this.stopped = true;
    await this.running;
  }

  // Every key's value on the node that owns its slot now must be one the model allows.
  async verifyOnNodes(owners) {
    const bad = [];
    for (const [k, p] of this.model) {
      const v = await direct(owners, k);
      if (isErr(v)) {
        bad.push(`${k}: ${v.message}`);
      } else if (!p.has(v)) {
        const w = this.written.get(k);
        if (w && w.has(v) && this.lossAllowed(k, this.lastAck.get(k))) this.lost.push({ k, got: v, want: [...p] });
        else bad.push(`${k} on ${owners[keySlot(k)]}: ${JSON.stringify(v)} not in ${JSON.stringify([...p])}`);
      }
    }
    return bad;
  }

  summary() {
    return `${this.requests} replies checked, ${this.errors.length} errors, ${this.mismatches.length} mismatches`;
  }
}

// ---- tests ----

proxyTest('cluster: basic commands reach the master of each key, values checked on the nodes', { timeout: 30000 }, async () => {
  const owners = await ownerTable();
  const keys = keyPerMaster(owners, 'basic:');
  const c = await client();
  try {
    for (const [j, k] of keys.entries()) {
      const port = owners[keySlot(k)];
      assert.equal(await c.call('SET', k, `v${j}`), 'OK');
      assert.equal(await c.call('GET', k), `v${j}`);
      assert.equal(await call(port, 'GET', k), `v${j}`, `${k} is on its master ${port}`);
      assert.equal(await c.call('APPEND', k, '!'), 3);
      assert.equal(await c.call('STRLEN', k), 3);
      assert.equal(await c.call('EXPIRE', k, 100), 1);
      const ttl = await c.call('TTL', k);
      assert.ok(ttl > 90 && ttl <= 100, `TTL ${ttl}`);
      assert.equal(await c.call('TYPE', k), 'string');
      const n = `${k}:n`;
      const h = `${k}:h`;
      const l = `${k}:l`;
      assert.equal(await c.call('INCRBY', n, 5), 5);
      assert.equal(await direct(owners, n), '5');
      assert.equal(await c.call('HSET', h, 'f', 'x', 'g', 'y'), 2);
      assert.deepEqual(await c.call('HGETALL', h), ['f', 'x', 'g', 'y']);
      assert.deepEqual(await direct(owners, h, 'HGETALL'), ['f', 'x', 'g', 'y']);
      assert.equal(await c.call('RPUSH', l, 'a', 'b', 'c'), 3);
      assert.deepEqual(await c.call('LRANGE', l, 0, -1), ['a', 'b', 'c']);
      assert.deepEqual(await call(owners[keySlot(l)], 'LRANGE', l, 0, -1), ['a', 'b', 'c']);
      // Another master does not have it (it redirects): the key really lives on its own master.
      const other = cluster.masters.find((m) => m.port !== port);
      const moved = await call(other.port, 'GET', k);
      assert.ok(isErr(moved) && moved.message.startsWith('MOVED '), `${k} on ${other.port}: ${JSON.stringify(moved)}`);
      assert.equal(await c.call('DEL', k, n, h, l), 4);
      assert.equal(await direct(owners, k), null);
    }
    // Commands keywarden has no key table row for go by the keyless rule; the MOVED of a master
    // that is not the key's is followed, never passed on (it was: "MOVED 15891 ..." to the client).
    for (const k of keys) {
      const g = `${k}:geo`;
      assert.equal(await c.call('GEOADD', g, '13.361389', '38.115556', 'Palermo'), 1);
      assert.deepEqual(await c.call('GEORADIUS', g, '15', '37', '200', 'km'), ['Palermo']);
      assert.deepEqual(await c.call('GEORADIUSBYMEMBER', g, 'Palermo', '1', 'km'), ['Palermo']);
      assert.deepEqual(await c.call('GEORADIUS_RO', g, '15', '37', '200', 'km'), ['Palermo']);
      assert.equal(await c.call('DEL', g), 1);
    }
    // Keyless commands and the cluster as a standalone Redis.
    assert.equal(await c.call('PING'), 'PONG');
    assert.equal(await c.call('ECHO', 'hi'), 'hi');
    assert.equal(await c.call('CLUSTER', 'KEYSLOT', 'foo'), 12182);
    assert.equal(await c.call('CLUSTER', 'KEYSLOT', '{user1}:x'), keySlot('user1'));
    assert.equal(await c.call('SET', 'foo', 'bar'), 'OK');
    assert.equal(await c.call('CLUSTER', 'COUNTKEYSINSLOT', 12182), 1);
    assert.equal(await c.call('DEL', 'foo'), 1);
    const nodes = await c.call('CLUSTER', 'NODES');
    assert.ok(isErr(nodes), 'CLUSTER NODES is refused (clients must not go around keywarden)');
    assert.match(String(await c.call('INFO', 'cluster')), /cluster_enabled:0/);
    // The nodes' version, learned from a seed (it was keywarden's placeholder "7.2.0").
    const version = /redis_version:([0-9.]+)/.exec(String(await call(cluster.masters[0].port, 'INFO', 'server')))[1];
    let seen = null;
    for (let i = 0; i < 40 && seen !== version; i++) {
      seen = /redis_version:([0-9.]+)/.exec(String(await c.call('INFO', 'server')))[1];
      if (seen !== version) await sleep(100);
    }
    assert.equal(seen, version, 'INFO server through keywarden names the cluster\'s Redis version');
    const sel = await c.call('SELECT', 1);
    assert.ok(isErr(sel) && /SELECT is not allowed in cluster mode/.test(sel.message), JSON.stringify(sel));
    assert.equal(await c.call('SELECT', 0), 'OK');
  } finally {
    c.close();
  }
});

proxyTest('cluster: DBSIZE, KEYS, RANDOMKEY and FLUSHALL over every master', { timeout: 30000 }, async () => {
  const owners = await ownerTable();
  const c = await client();
  try {
    assert.equal(await c.call('FLUSHALL'), 'OK');
    for (const m of cluster.masters) assert.equal(await call(m.port, 'DBSIZE'), 0);
    assert.equal(await c.call('DBSIZE'), 0);
    assert.equal(await c.call('RANDOMKEY'), null);
    assert.deepEqual(await c.call('KEYS', '*'), []);
    const keys = [];
    for (const m of cluster.masters) keys.push(...keysOn(owners, m.port, `ks:${m.port}:`, 7));
    for (const k of keys) assert.equal(await c.call('SET', k, 'v'), 'OK');
    assert.equal(await c.call('SET', 'other', 'v'), 'OK');
    let sum = 0;
    for (const m of cluster.masters) sum += await call(m.port, 'DBSIZE');
    assert.equal(sum, 22);
    assert.equal(await c.call('DBSIZE'), 22);
    assert.deepEqual((await c.call('KEYS', 'ks:*')).sort(), keys.slice().sort());
    assert.deepEqual(await c.call('KEYS', 'other'), ['other']);
    const seen = new Set();
    for (let i = 0; i < 60; i++) {
      const r = await c.call('RANDOMKEY');
      assert.ok(r === 'other' || keys.includes(r), `RANDOMKEY ${r}`);
      seen.add(owners[keySlot(r)]);
    }
    assert.equal(seen.size, 3, 'RANDOMKEY draws from every master');
    assert.equal(await c.call('FLUSHALL'), 'OK');
    for (const m of cluster.masters) assert.equal(await call(m.port, 'DBSIZE'), 0);
    assert.equal(await c.call('DBSIZE'), 0);
    assert.equal(await c.call('RANDOMKEY'), null);
    assert.equal(await c.call('SET', 'x', '1'), 'OK');
    assert.equal(await c.call('FLUSHDB'), 'OK');
    assert.equal(await c.call('DBSIZE'), 0);
  } finally {
    c.close();
  }
});

proxyTest('cluster: MGET MSET DEL UNLINK EXISTS TOUCH across slots answer as one standalone Redis', { timeout: 30000 }, async () => {
  const owners = await ownerTable();
  const splitBefore = await counter('cluster_split');
  const [a, b, c] = keyPerMaster(owners, 'mk:');
  const [a2] = keysOn(owners, owners[keySlot(a)], 'mk2:');
  assert.notEqual(keySlot(a2), keySlot(a), 'two slots of one master');
  const missing = 'mk:missing';
  await sameAsStandalone([
    ['MSET', a, '1', b, '2', c, '3', a2, '4'],
    ['MGET', a, b, c, a2],
    ['MGET', c, missing, a, a, b],
    ['MSET', a, 'x', b, 'y', a, 'z'], // a repeated key: the last value wins
    ['MGET', a, b, missing],
    ['EXISTS', a, b, c, missing, a],
    ['TOUCH', a, b, missing, c],
    ['HSET', `${missing}:h`, 'f', 'v'],
    ['MGET', a, `${missing}:h`, c], // a hash reads as nil in MGET
    ['DEL', a, missing, b, a],
    ['EXISTS', a, b, c, a2],
    ['UNLINK', c, a2, `${missing}:h`, missing],
    ['MGET', a, b, c, a2],
    ['MSET', a, '1', b],
    ['MGET'],
    ['DEL'],
    ['EXISTS', a, b, c],
  ]);
  assert.ok(await counter('cluster_split') > splitBefore, 'the multi-slot commands were split');
  // On the nodes: MSET wrote each key on its own master.
  const cl = await client();
  try {
    assert.equal(await cl.call('MSET', a, 'A', b, 'B', c, 'C'), 'OK');
    assert.equal(await direct(owners, a), 'A');
    assert.equal(await direct(owners, b), 'B');
    assert.equal(await direct(owners, c), 'C');
    assert.equal(await cl.call('DEL', a, b, c), 3);
  } finally {
    cl.close();
  }
});

proxyTest('cluster: hash-tagged multi-key commands go to one node as one command', { timeout: 30000 }, async () => {
  const owners = await ownerTable();
  const t = '{user1000}';
  const [x, y, z, dst] = ['x', 'y', 'z', 'dst'].map((s) => `${t}:${s}`);
  const splitBefore = await counter('cluster_split');
  await sameAsStandalone([
    ['MSET', x, '1', y, '2'],
    ['MGET', x, y, z],
    ['MSETNX', z, '3', x, '9'],
    ['MSETNX', z, '3', `${t}:w`, '4'],
    ['DEL', x, y, z, `${t}:w`],
    ['SADD', x, 'a', 'b'],
    ['SADD', y, 'b', 'c'],
    ['SUNIONSTORE', dst, x, y],
    ['SINTERSTORE', dst, x, y],
    ['SCARD', dst],
    ['SISMEMBER', dst, 'b'],
    ['RENAME', dst, z],
    ['SCARD', z],
    ['LPUSH', `${t}:l`, 'q'],
    ['LMOVE', `${t}:l`, `${t}:l2`, 'LEFT', 'RIGHT'],
    ['LRANGE', `${t}:l2`, 0, -1],
    ['DEL', x, y, z, dst, `${t}:l`, `${t}:l2`],
  ]);
  assert.equal(await counter('cluster_split'), splitBefore, 'one slot: nothing was split');
  const c = await client();
  try {
    assert.equal(await c.call('SADD', x, 'k'), 1);
    assert.equal(await c.call('SUNIONSTORE', dst, x), 1);
    assert.deepEqual(await direct(owners, dst, 'SMEMBERS'), ['k']);
    assert.equal(await c.call('DEL', x, dst), 2);
  } finally {
    c.close();
  }
});

proxyTest('cluster: CROSSSLOT where Redis Cluster gives it, EXECABORT for a transaction over two slots', { timeout: 30000 }, async () => {
  const owners = await ownerTable();
  const [a, b] = keyPerMaster(owners, 'xs:');
  const [a2] = keysOn(owners, owners[keySlot(a)], 'xs2:'); // same master, another slot
  const c = await client();
  const crossslot = async (...args) => {
    const r = await c.call(...args);
    assert.ok(isErr(r), `${args.join(' ')}: ${JSON.stringify(r)}`);
    assert.equal(r.message, CROSSSLOT, args.join(' '));
  };
  try {
    assert.equal(await c.call('SADD', a, 'm'), 1);
    assert.equal(await c.call('SADD', b, 'n'), 1);
    await crossslot('SUNIONSTORE', 'xs:dst', a, b);
    await crossslot('SUNIONSTORE', a2, a);
    await crossslot('SINTERSTORE', a, a, b);
    await crossslot('SDIFF', a, b);
    await crossslot('RENAME', a, b);
    await crossslot('MSETNX', a, '1', b, '2');
    await crossslot('EVAL', 'return 1', 2, a, b);
    await crossslot('BLPOP', a, b, 1);
    await crossslot('SSUBSCRIBE', a, b);
    await crossslot('WATCH', a, b);
    assert.deepEqual(await direct(owners, 'xs:dst', 'EXISTS'), 0);
    // MULTI over two slots (one on another master, one on the same master): the keyed command
    // outside the transaction's slot is refused with CROSSSLOT, EXEC aborts, nothing ran.
    const as = `{${a}}:s`; // a's slot
    for (const other of [b, a2]) {
      assert.equal(await c.call('MULTI'), 'OK');
      assert.equal(await c.call('SET', as, '1'), 'QUEUED');
      await crossslot('SET', other, '2');
      assert.equal(await c.call('INCR', as), 'QUEUED');
      const exec = await c.call('EXEC');
      assert.ok(isErr(exec), JSON.stringify(exec));
      assert.equal(exec.message, EXECABORT);
      assert.equal(await direct(owners, as), null);
      assert.equal(await c.call('PING'), 'PONG', 'the connection is usable after the abort');
    }
    // A keyless start, then keys of two slots.
    assert.equal(await c.call('MULTI'), 'OK');
    assert.equal(await c.call('PING'), 'QUEUED');
    assert.equal(await c.call('GET', a2), 'QUEUED');
    await crossslot('GET', b);
    assert.equal((await c.call('EXEC')).message, EXECABORT);
    // WATCH on one slot, MULTI with a key of another.
    assert.equal(await c.call('WATCH', a), 'OK');
    assert.equal(await c.call('MULTI'), 'OK');
    await crossslot('SET', b, 'w');
    assert.equal((await c.call('EXEC')).message, EXECABORT);
    assert.deepEqual(await direct(owners, b, 'SMEMBERS'), ['n']);
    assert.equal(await c.call('DEL', a), 1);
    assert.equal(await c.call('DEL', b), 1);
  } finally {
    c.close();
  }
});

proxyTest('cluster: SCAN walks every master, each key exactly once, with MATCH, COUNT and TYPE', { timeout: 60000 }, async () => {
  const owners = await ownerTable();
  const c = await client();
  try {
    const want = new Set();
    const pipe = [];
    for (let i = 0; i < 900; i++) {
      const k = `scan:${i}`;
      want.add(k);
      pipe.push(i % 9 === 0 ? ['HSET', k, 'f', 'v'] : ['SET', k, 'v']);
    }
    for (let i = 0; i < 50; i++) pipe.push(['SET', `noscan:${i}`, 'v']);
    for (const cmd of pipe) c.send(...cmd);
    await c.readMany(pipe.length);
    const perMaster = new Map();
    for (const k of want) perMaster.set(owners[keySlot(k)], (perMaster.get(owners[keySlot(k)]) || 0) + 1);
    assert.equal(perMaster.size, 3, 'the keys are on every master');
    for (const count of [null, 7, 100, 5000]) {
      const seen = new Map();
      let cursor = '0';
      let calls = 0;
      do {
        const args = ['SCAN', cursor, 'MATCH', 'scan:*'];
        if (count) args.push('COUNT', count);
        const r = await c.call(...args);
        assert.ok(Array.isArray(r) && r.length === 2, `SCAN reply ${JSON.stringify(r)}`);
        cursor = r[0];
        for (const k of r[1]) seen.set(k, (seen.get(k) || 0) + 1);
        assert.ok(++calls < 10000, 'SCAN terminates');
        if (cursor === '0') break;
      } while (true);
      const dup = [...seen].filter(([, n]) => n > 1).map(([k]) => k);
      assert.deepEqual(dup, [], `COUNT ${count}: returned more than once`);
      const missed = [...want].filter((k) => !seen.has(k));
      assert.deepEqual(missed, [], `COUNT ${count}: never returned`);
      assert.equal(seen.size, want.size, `COUNT ${count}: only the matching keys`);
    }
    // TYPE filter, over the whole walk.
    const hashes = new Set();
    let cursor = '0';
    do {
      const r = await c.call('SCAN', cursor, 'MATCH', 'scan:*', 'COUNT', 200, 'TYPE', 'hash');
      cursor = r[0];
      for (const k of r[1]) hashes.add(k);
    } while (cursor !== '0');
    assert.equal(hashes.size, 100);
    const bad = await c.call('SCAN', 'notacursor');
    assert.ok(isErr(bad), JSON.stringify(bad));
    // Clean up through the fan-out of DEL (split by slot).
    const all = [...want, ...Array.from({ length: 50 }, (_, i) => `noscan:${i}`)];
    assert.equal(await c.call('DEL', ...all), all.length);
    assert.equal(await c.call('DBSIZE'), 0);
  } finally {
    c.close();
  }
});

proxyTest('cluster: EVAL, EVALSHA and FCALL by their keys\' slot; SCRIPT and FUNCTION on every master', { timeout: 30000 }, async () => {
  const owners = await ownerTable();
  const keys = keyPerMaster(owners, 'lua:');
  const c = await client();
  try {
    const body = "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1])";
    for (const k of keys) {
      assert.equal(await c.call('EVAL', body, 1, k, `e-${k}`), `e-${k}`);
      assert.equal(await direct(owners, k), `e-${k}`);
    }
    assert.equal(await c.call('EVAL', 'return ARGV[1]', 0, 'keyless'), 'keyless');
    assert.equal(await c.call('EVAL', "return redis.call('MSET', KEYS[1], ARGV[1], KEYS[2], ARGV[1])", 2, `{${keys[0]}}a`, `{${keys[0]}}b`, 'two'), 'OK');
    assert.equal(await direct(owners, `{${keys[0]}}b`), 'two');
    assert.equal(await c.call('DEL', `{${keys[0]}}a`, `{${keys[0]}}b`), 2);
    const sha = await c.call('SCRIPT', 'LOAD', "return redis.call('INCRBY', KEYS[1], ARGV[1])");
    assert.match(sha, /^[0-9a-f]{40}$/);
    for (const m of cluster.masters) assert.deepEqual(await call(m.port, 'SCRIPT', 'EXISTS', sha), [1], `script on ${m.port}`);
    assert.deepEqual(await c.call('SCRIPT', 'EXISTS', sha), [1]);
    for (const k of keys) {
      assert.equal(await c.call('EVALSHA', sha, 1, `${k}:n`, 7), 7);
      assert.equal(await direct(owners, `${k}:n`), '7');
    }
    assert.equal(await c.call('SCRIPT', 'FLUSH'), 'OK');
    for (const m of cluster.masters) assert.deepEqual(await call(m.port, 'SCRIPT', 'EXISTS', sha), [0]);
    const nos = await c.call('EVALSHA', sha, 1, keys[0], 1);
    assert.ok(isErr(nos) && nos.message.startsWith('NOSCRIPT'), JSON.stringify(nos));

    const lib = "#!lua name=kwlib\nredis.register_function('kwset', function(keys, args) return redis.call('SET', keys[1], args[1]) end)";
    assert.equal(await c.call('FUNCTION', 'LOAD', lib), 'kwlib');
    for (const m of cluster.masters) assert.equal((await call(m.port, 'FUNCTION', 'LIST')).length, 1, `library on ${m.port}`);
    for (const k of keys) {
      assert.equal(await c.call('FCALL', 'kwset', 1, `${k}:f`, 'fv'), 'OK');
      assert.equal(await direct(owners, `${k}:f`), 'fv');
    }
    assert.equal(await c.call('FUNCTION', 'DELETE', 'kwlib'), 'OK');
    for (const m of cluster.masters) assert.deepEqual(await call(m.port, 'FUNCTION', 'LIST'), []);
    for (const k of keys) assert.equal(await c.call('DEL', k, `${k}:n`, `${k}:f`), 3);
  } finally {
    c.close();
  }
});

proxyTest('cluster: BLPOP on each master is woken by a push from another client', { timeout: 30000 }, async () => {
  const owners = await ownerTable();
  const keys = keyPerMaster(owners, 'bl:');
  for (const k of keys) {
    const waiter = await client();
    const pusher = await client();
    try {
      waiter.send('BLPOP', k, 5);
      await sleep(150);
      // INFO through keywarden counts the client blocked on its key's master, whichever it is
      // (Redis's own test suite waits on blocked_clients).
      assert.match(String(await pusher.call('INFO')), /\r\nblocked_clients:1\r\n/, `blocked on ${owners[keySlot(k)]}`);
      assert.equal(await pusher.call('RPUSH', k, 'woken'), 1);
      const t0 = Date.now();
      assert.deepEqual(await waiter.read(3000), [k, 'woken']);
      assert.ok(Date.now() - t0 < 1000);
      assert.equal(await direct(owners, k, 'EXISTS'), 0);
      // A timeout answers nil, and the connection goes on.
      assert.equal(await waiter.call('BLPOP', k, '0.2'), null);
      assert.equal(await waiter.call('PING'), 'PONG');
      // BLMOVE between keys of one slot.
      waiter.send('BLMOVE', `{${k}}src`, `{${k}}dst`, 'LEFT', 'LEFT', 5);
      await sleep(100);
      assert.equal(await pusher.call('LPUSH', `{${k}}src`, 'm'), 1);
      assert.equal(await waiter.read(3000), 'm');
      assert.deepEqual(await call(owners[keySlot(k)], 'LRANGE', `{${k}}dst`, 0, -1), ['m']);
      assert.equal(await pusher.call('DEL', `{${k}}dst`), 1);
    } finally {
      waiter.close();
      pusher.close();
    }
  }
});

proxyTest('cluster: SUBSCRIBE/PUBLISH across the cluster, SSUBSCRIBE/SPUBLISH by slot', { timeout: 30000 }, async () => {
  let sub = await client();
  const pub = await client();
  try {
    assert.deepEqual(await sub.call('SUBSCRIBE', 'news', 'sport'), ['subscribe', 'news', 1]);
    assert.deepEqual(await sub.read(), ['subscribe', 'sport', 2]);
    assert.deepEqual(await sub.call('PSUBSCRIBE', 'wea*'), ['psubscribe', 'wea*', 3]);
    // Classic Pub/Sub is cluster-wide: a message published on any node reaches every subscriber.
    for (let i = 0; i < 5; i++) {
      const n = await pub.call('PUBLISH', 'news', `m${i}`);
      assert.equal(typeof n, 'number');
      assert.deepEqual(await sub.read(3000), ['message', 'news', `m${i}`]);
    }
    await pub.call('PUBLISH', 'weather', 'rain');
    assert.deepEqual(await sub.read(3000), ['pmessage', 'wea*', 'weather', 'rain']);
    // Published straight to each master: still delivered (the cluster bus carries it).
    for (const m of cluster.masters) {
      await call(m.port, 'PUBLISH', 'sport', `from-${m.port}`);
      assert.deepEqual(await sub.read(3000), ['message', 'sport', `from-${m.port}`]);
    }
    assert.deepEqual(await sub.call('UNSUBSCRIBE', 'news'), ['unsubscribe', 'news', 2]);
    assert.deepEqual(await sub.call('PUNSUBSCRIBE'), ['punsubscribe', 'wea*', 1]);
    assert.deepEqual(await sub.call('UNSUBSCRIBE'), ['unsubscribe', 'sport', 0]);
    assert.equal(await sub.call('PING'), 'PONG');
    sub.close();
    sub = await client();
    const owners = await ownerTable();

    // Shard channels: by slot, the subscriber counted on the shard. The tag's slot is on another
    // master than slot 0's (where keyless requests, SUBSCRIBE among them, go).
    const tag = keysOn(owners, cluster.masters.find((m) => m.port !== owners[0]).port, 'sch')[0];
    const [sa, sb] = [`{${tag}}a`, `{${tag}}b`];
    assert.deepEqual(await sub.call('SSUBSCRIBE', sa, sb), ['ssubscribe', sa, 1]);
    assert.deepEqual(await sub.read(), ['ssubscribe', sb, 2]);
    assert.equal(await pub.call('SPUBLISH', sa, 'sm'), 1);
    assert.deepEqual(await sub.read(3000), ['smessage', sa, 'sm']);
    const unsub = [await sub.call('SUNSUBSCRIBE'), await sub.read()];
    assert.deepEqual(unsub.map((u) => u[0]), ['sunsubscribe', 'sunsubscribe']);
    assert.deepEqual(unsub.map((u) => u[1]).sort(), [sa, sb]);
    assert.deepEqual(unsub.map((u) => u[2]), [1, 0]);
    assert.equal(await sub.call('PING'), 'PONG');
  } finally {
    sub.close();
    pub.close();
  }
});

proxyTest('cluster: WATCH/MULTI/EXEC on each master; a WATCHed key written by another client aborts', { timeout: 30000 }, async () => {
  const owners = await ownerTable();
  const keys = keyPerMaster(owners, 'tx:');
  const c = await client();
  const other = await client();
  try {
    for (const k of keys) {
      const t = `{${k}}`;
      assert.equal(await c.call('WATCH', `${t}a`), 'OK');
      assert.equal(await c.call('MULTI'), 'OK');
      assert.equal(await c.call('SET', `${t}a`, '1'), 'QUEUED');
      assert.equal(await c.call('INCR', `${t}b`), 'QUEUED');
      assert.equal(await c.call('PING'), 'QUEUED');
      assert.equal(await c.call('MGET', `${t}a`, `${t}b`), 'QUEUED');
      assert.deepEqual(await c.call('EXEC'), ['OK', 1, 'PONG', ['1', '1']]);
      assert.equal(await direct(owners, `${t}b`), '1');
      // The WATCHed key changed by another client: EXEC answers nil, nothing ran. Reads of keys
      // on other masters between WATCH and MULTI are answered (they are not in the transaction).
      assert.equal(await c.call('WATCH', `${t}a`), 'OK');
      assert.deepEqual(await c.call('MGET', ...keys), [null, null, null]);
      for (const o of keys) assert.equal(await c.call('EXISTS', o), 0);
      assert.equal(await other.call('SET', `${t}a`, 'theirs'), 'OK');
      assert.equal(await c.call('MULTI'), 'OK');
      assert.equal(await c.call('SET', `${t}a`, 'mine'), 'QUEUED');
      assert.equal(await c.call('EXEC'), null);
      assert.equal(await direct(owners, `${t}a`), 'theirs');
      // DISCARD, then the connection is an ordinary one again (keys of other masters work).
      assert.equal(await c.call('MULTI'), 'OK');
      assert.equal(await c.call('SET', `${t}a`, 'no'), 'QUEUED');
      assert.equal(await c.call('DISCARD'), 'OK');
      assert.deepEqual(await c.call('MGET', ...keys), [null, null, null]);
      assert.equal(await c.call('DEL', `${t}a`, `${t}b`), 2);
    }
    // A transaction of keyless commands only.
    assert.equal(await c.call('MULTI'), 'OK');
    assert.equal(await c.call('PING'), 'QUEUED');
    assert.equal(await c.call('ECHO', 'e'), 'QUEUED');
    assert.deepEqual(await c.call('EXEC'), ['PONG', 'e']);
    // EXEC without MULTI, as Redis answers it.
    const e = await c.call('EXEC');
    assert.ok(isErr(e) && e.message === 'ERR EXEC without MULTI', JSON.stringify(e));
  } finally {
    c.close();
    other.close();
  }
});

proxyTest('cluster: 24 clients pipelining mixed and multi-key commands over every node, every reply its own', { timeout: 60000 }, async () => {
  const owners = await ownerTable();
  const keysOf = (i) => {
    const out = [];
    for (const m of cluster.masters) out.push(...keysOn(owners, m.port, `wc:c${i}:${m.port}:`, 4));
    return out;
  };
  const load = new Load({ clients: 24, keysOf, pipeline: 24 }).start();
  await sleep(4000);
  await load.stop();
  const report = `wrong-client check: ${load.summary()}`;
  console.log(`# ${report}`);
  assert.deepEqual({ mismatches: load.mismatches.slice(0, 10), errors: load.errors.slice(0, 10) },
    { mismatches: [], errors: [] }, report);
  assert.ok(load.requests > 5000, report);
  assert.deepEqual(await load.verifyOnNodes(owners), []);
});

// Known bugs (not fixed here, see the report): node:test `todo` runs them and reports them
// without failing the file.

// A connection that subscribed once keeps its streaming link (session.cc dispatchStreaming), on
// the node keyless requests go to; after UNSUBSCRIBE its keyed commands still go there, so a key
// of another master gets that node's MOVED, which must never reach a client.
proxyTest('cluster: after UNSUBSCRIBE, keys of every master are answered on the same connection', {
  timeout: 30000, todo: 'limit: a subscribed connection keeps one node until RESET (keys of other nodes get keywarden\'s error, tested below)',
}, async () => {
  const owners = await ownerTable();
  const keys = keyPerMaster(owners, 'ps:');
  const sub = await client();
  try {
    assert.deepEqual(await sub.call('SUBSCRIBE', 'x'), ['subscribe', 'x', 1]);
    assert.deepEqual(await sub.call('UNSUBSCRIBE'), ['unsubscribe', 'x', 0]);
    for (const k of keys) {
      assert.equal(await call(kw.port, 'SET', k, `v-${k}`), 'OK');
      const v = await sub.call('GET', k);
      assert.equal(v, `v-${k}`, `GET ${k} (master ${owners[keySlot(k)]}) after UNSUBSCRIBE: ${JSON.stringify(v)}`);
    }
    const tag = keysOn(owners, cluster.masters.find((m) => m.port !== owners[0]).port, 'sch')[0];
    const r = await sub.call('SSUBSCRIBE', `{${tag}}a`);
    assert.deepEqual(r, ['ssubscribe', `{${tag}}a`, 1]);
  } finally {
    sub.close();
    assert.equal(await call(kw.port, 'DEL', ...keys), 3);
  }
});

// Until that is fixed: a key of another node on a subscribed connection gets keywarden's error,
// never the node's MOVED (RESP3, where keyed commands are allowed while subscribed).
proxyTest('cluster: keys of another node on a subscribed connection get keywarden\'s error, never MOVED', { timeout: 30000 }, async () => {
  const owners = await ownerTable();
  const keys = keyPerMaster(owners, 'ps3:');
  const sub = await client();
  try {
    await sub.call('HELLO', '3');
    const r = await sub.call('SUBSCRIBE', 'x3');
    assert.ok(Array.isArray(r) || (r && typeof r === 'object'), JSON.stringify(r));
    let answered = 0;
    for (const k of keys) {
      const v = await sub.call('SET', k, 'v');
      if (v instanceof RespError) {
        assert.match(v.message, /^ERR keywarden: this connection is subscribed .* on cluster node/, `SET ${k}: ${v.message}`);
      } else {
        assert.equal(v, 'OK');
        answered += 1;
      }
    }
    assert.equal(answered, 1, 'the subscription node\'s key is answered, the others refused');
  } finally {
    sub.close();
    await call(kw.port, 'DEL', ...keys);
  }
});

// CLIENT UNBLOCK names the blocked client's link by Redis's id, which is per node: it must go to
// the node the client blocks on (it went to the keyless node, which unblocked nothing).
proxyTest('cluster: CLIENT UNBLOCK reaches a client blocked on any master', { timeout: 30000 }, async () => {
  const owners = await ownerTable();
  for (const k of keyPerMaster(owners, 'unb:')) {
    const blocked = await client();
    const other = await client();
    try {
      const id = await blocked.call('CLIENT', 'ID');
      blocked.send('BLPOP', k, '0');
      let unblocked = 0;
      for (let i = 0; i < 100 && unblocked !== 1; i++) {
        await sleep(20);
        unblocked = await other.call('CLIENT', 'UNBLOCK', String(id));
      }
      assert.equal(unblocked, 1, `CLIENT UNBLOCK of a client blocked on ${k} (master ${owners[keySlot(k)]})`);
      assert.equal(await blocked.read(), null);
    } finally {
      blocked.close();
      other.close();
    }
  }
});

// Two transactions (or two blocking commands) on different masters pipelined in one write: the
// first one's link is still pinned (its reply not in yet) when the second needs a pinned link of
// another node. It was refused ("this client's transaction runs on another node", EXECABORT);
// now the first link drains beside the second (router.h, Release).
proxyTest('cluster: pipelined transactions and blocking commands on different masters each run on their own node', { timeout: 30000 }, async () => {
  const owners = await ownerTable();
  const [a, b, c3] = keyPerMaster(owners, 'ptx:');
  const c = await client();
  const enc = (cmds) => Buffer.concat(cmds.map((cmd) =>
    Buffer.from(`*${cmd.length}\r\n${cmd.map((x) => `$${Buffer.byteLength(String(x))}\r\n${x}\r\n`).join('')}`)));
  try {
    c.write(enc([['MULTI'], ['SET', a, '1'], ['EXEC'], ['MULTI'], ['SET', b, '2'], ['INCR', `{${b}}n`], ['EXEC'],
      ['MULTI'], ['SET', c3, '3'], ['EXEC'], ['MULTI'], ['GET', a], ['EXEC']]));
    assert.deepEqual(await c.readMany(13),
      ['OK', 'QUEUED', ['OK'], 'OK', 'QUEUED', 'QUEUED', ['OK', 1], 'OK', 'QUEUED', ['OK'], 'OK', 'QUEUED', ['1']]);
    assert.equal(await direct(owners, b), '2');
    assert.equal(await direct(owners, c3), '3');
    c.write(enc([['BLPOP', `{${a}}l`, '0.05'], ['BLPOP', `{${b}}l`, '0.05'], ['RPUSH', `{${c3}}l`, 'x'],
      ['BLPOP', `{${c3}}l`, '0.05'], ['GET', a]]));
    assert.deepEqual(await c.readMany(5), [null, null, 1, [`{${c3}}l`, 'x'], '1']);
    assert.equal(await c.call('DEL', `{${b}}n`), 1);
  } finally {
    c.close();
    await call(kw.port, 'DEL', a, b, c3);
  }
});

// A slot moved by hand from master A to master B while clients use it: new keys written during
// MIGRATING are ASKed to B, migrated keys too; after SETSLOT NODE, A answers MOVED. Clients see
// none of it.
proxyTest('cluster: a slot migrated by hand (SETSLOT IMPORTING/MIGRATING + MIGRATE) under load: no client error, ASK and MOVED counted', { timeout: 60000 }, async () => {
  let owners = await ownerTable();
  const [src, dst] = cluster.masters;
  const tag = keysOn(owners, src.port, 'mig')[0];
  const slot = keySlot(tag);
  const view = await cluster.view(src.port);
  const idOf = (port) => view.find((n) => n.port === port).id;
  const keysOf = (i) => [
    ...Array.from({ length: 8 }, (_, j) => `{${tag}}c${i}:${j}`),
    ...keysOn(owners, dst.port, `mg:c${i}:`, 2),
    ...keysOn(owners, cluster.masters[2].port, `mg:c${i}:`, 2),
  ];
  const askBefore = await counter('cluster_ask');
  const movedBefore = await counter('cluster_moved');
  // One request at a time per client: a pipelined request that meets ASK or TRYAGAIN is sent
  // again after the requests behind it already ran on the source (Redis Cluster clients have the
  // same limit), so a read could see a later write of its own pipeline (see the report).
  const load = new Load({ clients: 12, keysOf, pipeline: 1 }).start();
  await sleep(500);
  assert.equal(await call(dst.port, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', idOf(src.port)), 'OK');
  assert.equal(await call(src.port, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', idOf(dst.port)), 'OK');
  // Slowly: a few keys at a time, so clients meet the slot half moved.
  let moved = 0;
  const t0 = Date.now();
  for (;;) {
    const keys = await call(src.port, 'CLUSTER', 'GETKEYSINSLOT', slot, 3);
    if (keys.length === 0 && Date.now() - t0 > 1500) break;
    if (keys.length) {
      const r = await call(src.port, 'MIGRATE', HOST, dst.port, '', 0, 5000, 'KEYS', ...keys);
      assert.equal(r, 'OK', `MIGRATE ${JSON.stringify(r)}`);
      moved += keys.length;
    }
    await sleep(50);
  }
  assert.equal(await call(dst.port, 'CLUSTER', 'SETSLOT', slot, 'NODE', idOf(dst.port)), 'OK');
  assert.equal(await call(src.port, 'CLUSTER', 'SETSLOT', slot, 'NODE', idOf(dst.port)), 'OK');
  assert.equal(await call(cluster.masters[2].port, 'CLUSTER', 'SETSLOT', slot, 'NODE', idOf(dst.port)), 'OK');
  await sleep(1000);
  await load.stop();
  await cluster.waitHealthy();
  owners = await ownerTable();
  assert.equal(owners[slot], dst.port, 'the slot moved');
  const ask = (await counter('cluster_ask')) - askBefore;
  const movedRedirects = (await counter('cluster_moved')) - movedBefore;
  const report = `hand migration of slot ${slot} (${moved} keys MIGRATEd): ${load.summary()}; ` +
    `ASK followed ${ask}, MOVED followed ${movedRedirects}`;
  console.log(`# ${report}`);
  assert.deepEqual({ mismatches: load.mismatches.slice(0, 10), errors: load.errors.slice(0, 10) },
    { mismatches: [], errors: [] }, report);
  assert.ok(moved > 0, report);
  assert.ok(ask > 0, `ASK counted in INFO keywarden: ${report}`);
  assert.ok(movedRedirects > 0, `MOVED counted in INFO keywarden: ${report}`);
  assert.deepEqual(await load.verifyOnNodes(owners), []);
});

proxyTest('cluster: redis-cli --cluster reshard under load: no client error, every value exact', { timeout: 90000 }, async () => {
  let owners = await ownerTable();
  const [from, to] = [cluster.masters[1], cluster.masters[2]];
  const keysOf = (i) => {
    const out = [];
    for (const m of cluster.masters) out.push(...keysOn(owners, m.port, `rs:c${i}:${m.port}:`, 6));
    return out;
  };
  // Filler, so the slots moved carry keys.
  const c = await client();
  for (let i = 0; i < 3000; i++) c.send('SET', `rsfill:${i}`, `f${i}`);
  await c.readMany(3000);
  c.close();
  const view = await cluster.view(from.port);
  const idOf = (port) => view.find((n) => n.port === port).id;
  const load = new Load({ clients: 16, keysOf, pipeline: 1 }).start(); // see the hand migration
  await sleep(500);
  const t0 = Date.now();
  const r = await redisCli(['--cluster', 'reshard', `${HOST}:${from.port}`, '--cluster-from', idOf(from.port),
    '--cluster-to', idOf(to.port), '--cluster-slots', '600', '--cluster-yes', '--cluster-pipeline', '20'],
  { timeoutMs: 60000 });
  const reshardMs = Date.now() - t0;
  assert.equal(r.code, 0, `redis-cli reshard failed:\n${r.stdout}\n${r.stderr}`);
  await sleep(1000);
  await load.stop();
  await cluster.waitHealthy();
  owners = await ownerTable();
  const report = `reshard of 600 slots ${from.port} -> ${to.port} in ${reshardMs} ms: ${load.summary()}`;
  console.log(`# ${report}`);
  assert.deepEqual({ mismatches: load.mismatches.slice(0, 10), errors: load.errors.slice(0, 10) },
    { mismatches: [], errors: [] }, report);
  assert.deepEqual(await load.verifyOnNodes(owners), []);
  const cl = await client();
  try {
    const vals = await cl.call('MGET', ...Array.from({ length: 3000 }, (_, i) => `rsfill:${i}`));
    assert.deepEqual(vals, Array.from({ length: 3000 }, (_, i) => `f${i}`));
    assert.equal(await cl.call('DEL', ...Array.from({ length: 3000 }, (_, i) => `rsfill:${i}`)), 3000);
  } finally {
    cl.close();
  }
});

proxyTest('cluster: a seed that is down at startup is skipped, the other seeds are used', { timeout: 30000 }, async () => {
  const dead = await freePort();
  const k2 = await startKeywarden({
    cluster: [`${HOST}:${dead}`, ...cluster.masters.map((m) => `${HOST}:${m.port}`)],
  });
  const owners = await ownerTable();
  const keys = keyPerMaster(owners, 'seed:');
  const c = await RawClient.connect(k2.port, HOST);
  try {
    assert.equal(await c.call('MSET', ...keys.flatMap((k) => [k, k])), 'OK');
    assert.deepEqual(await c.call('MGET', ...keys), keys);
    for (const k of keys) assert.equal(await direct(owners, k), k);
    assert.equal(await c.call('DEL', ...keys), 3);
  } finally {
    c.close();
  }
});

// The code's behaviour with no seed answering (cluster_source.cc): keywarden starts, logs that
// no seed answered, refuses keyed requests with an error saying so (PING is answered by the
// proxy), and serves once a seed answers (here: a new node on a seed's address joins the cluster).
proxyTest('cluster: every seed down at startup: a clear refusal until a seed answers, then served', { timeout: 60000 }, async () => {
  const seedPort = await freePort();
  const dead = await freePort();
  const k2 = await startKeywarden({
    cluster: [`${HOST}:${seedPort}`, `${HOST}:${dead}`],
    toml: { upstream: { topology_refresh_ms: 300 } },
  });
  const c = await RawClient.connect(k2.port, HOST);
  try {
    assert.match(k2.logs(), /no seed answered/);
    assert.equal(await c.call('PING'), 'PONG');
    const r = await c.call('GET', 'seedless');
    assert.ok(isErr(r), JSON.stringify(r));
    assert.match(r.message, /^UPSTREAMDOWN .*no seed has answered/, `a clear error: ${r.message}`);
    const m = await c.call('MGET', 'a', 'b', 'c');
    assert.ok(isErr(m) && /^UPSTREAMDOWN/.test(m.message), JSON.stringify(m));

    // A node comes up on the first seed's address and joins the cluster.
    const bus = await freePort();
    const node = await startRedis({
      port: seedPort,
      args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout',
        String(NODE_TIMEOUT_MS), '--cluster-port', String(bus)],
    });
    assert.equal(await call(cluster.masters[0].port, 'CLUSTER', 'MEET', HOST, seedPort, bus), 'OK');
    const deadline = Date.now() + 20000;
    let served = false;
    while (!served && Date.now() < deadline) {
      await sleep(200);
      const v = await c.call('SET', 'seedless', 'yes');
      served = v === 'OK';
    }
    assert.ok(served, 'keywarden served once a seed answered');
    const owners = await ownerTable();
    assert.equal(await direct(owners, 'seedless'), 'yes');
    assert.equal(await c.call('DEL', 'seedless'), 1);
    // The extra node leaves the cluster again.
    const id = (await cluster.view(seedPort)).find((n) => n.port === seedPort).id;
    await node.stop();
    for (const s of cluster.alive()) await call(s.port, 'CLUSTER', 'FORGET', id);
  } finally {
    c.close();
  }
});

// Last: it leaves the cluster with one master fewer replicated.
proxyTest('cluster: a master killed under load: errors only for its keys until the replica is promoted, acknowledged writes kept', { timeout: 90000 }, async () => {
  await cluster.waitHealthy();
  const owners = await ownerTable();
  // The master of slot 0: keyless commands go to it (topology.cc), so they meet the failover too.
  const victim = cluster.masters.find((m) => m.port === owners[0]);
  const heir = cluster.replicas.find((r) => r.masterPort === victim.port);
  assert.ok(heir, `master ${victim.port} has a replica`);
  const victimSlots = new Set();
  owners.forEach((p, s) => { if (p === victim.port) victimSlots.add(s); });
  let killedAt = Infinity;
  // Redis's own failover loses what the dead master acknowledged but had not replicated yet:
  // only keys of its slots, written just before the kill.
  const lossAllowed = (k, ackT) => victimSlots.has(keySlot(k)) && ackT !== undefined && ackT <= killedAt + 50;
  const keysOf = (i) => {
    const out = [];
    for (const m of cluster.masters) out.push(...keysOn(owners, m.port, `fo:c${i}:${m.port}:`, 4));
    return out;
  };
  const load = new Load({ clients: 12, keysOf, pipeline: 6, lossAllowed }).start();
  await sleep(1000);
  const before = load.requests;
  killedAt = Date.now();
  await cluster.kill(victim.port);
  let promotedMs = null;
  const survivor = cluster.masters.find((m) => m.port !== victim.port);
  while (Date.now() - killedAt < 30000) {
    const v = await cluster.view(survivor.port);
    const h = v.find((n) => n.port === heir.port);
    if (h && h.flags.includes('master') && h.slots.length > 0) {
      promotedMs = Date.now() - killedAt;
      break;
    }
    await sleep(50);
  }
  assert.ok(promotedMs !== null, 'the replica was promoted');
  await cluster.waitHealthy({ replicas: false });
  await sleep(3000 + REFRESH_MS);
  const quietFrom = Date.now();
  const errorsBeforeQuiet = load.errors.length;
  await sleep(1500);
  await load.stop();
  const after = await ownerTable();

  const errs = load.errors;
  const first = errs.length ? errs[0].t - killedAt : null;
  const last = errs.length ? errs[errs.length - 1].t - killedAt : null;
  const texts = [...new Set(errs.map((e) => e.error.replace(/\d+/g, 'N')))];
  const report = `failover: master ${victim.port} SIGKILLed (cluster-node-timeout ${NODE_TIMEOUT_MS} ms, ` +
    `topology_refresh_ms ${REFRESH_MS}); replica ${heir.port} promoted after ${promotedMs} ms; ` +
    `${errs.length} client errors of ${load.requests - before} replies after the kill, ` +
    `error window ${first === null ? 'none' : `+${first} .. +${last} ms (${last - first} ms)`}; ` +
    `${load.lost.length} acknowledged writes lost by Redis's failover; error kinds: ${JSON.stringify(texts)}`;
  console.log(`# ${report}`);
  assert.deepEqual(load.mismatches.slice(0, 10), [], report);
  // Every error is for a command touching the dead master's slots, and says what happened.
  for (const e of errs) {
    const keys = e.cmd.split(' ').slice(1).filter((x) => x.startsWith('fo:'));
    assert.ok(keys.some((k) => victimSlots.has(keySlot(k))), `error for keys of live masters: ${JSON.stringify(e)}`);
    assert.match(e.error, /^(UPSTREAMDOWN|TRYAGAIN|CLUSTERDOWN)/, JSON.stringify(e));
    assert.ok(e.t >= killedAt, JSON.stringify(e));
  }
  assert.equal(load.errors.length, errorsBeforeQuiet, `no error once the new master is known: ${report}`);
  assert.ok(quietFrom > killedAt);
  assert.ok(last === null || last < promotedMs + 3 * REFRESH_MS + 2000, `error window ends soon after the promotion: ${report}`);
  const bad = await load.verifyOnNodes(after);
  assert.deepEqual(bad, [], report);
  assert.ok(load.lost.every((l) => victimSlots.has(keySlot(l.k))), JSON.stringify(load.lost));
});
