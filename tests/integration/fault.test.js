'use strict';
// Fault injection. Writers with unique values (raw sockets and ioredis, pipelined, with MULTI/EXEC
// transactions) record the outcome of every write while
//   (a) Redis is SIGKILLed under load and restarted (appendonly yes, appendfsync always),
//   (b) keywarden gets SIGTERM under load and is restarted on the same port,
//   (c) PostgreSQL is killed (immediate shutdown) during read-through misses,
//   (d) clients vanish in the middle of pipelines and transactions (in every test, and alone).
// Every reply is checked against the request it answers as it arrives (a reply that belongs to
// another request shows up as a wrong type, value or count). Afterwards the checker
// (fault_ledger.js) reads Redis directly: every acknowledged write is there with its exact value,
// nothing a "did not run" error refused is there, transactions are all or nothing, a transaction
// whose EXEC never arrived left nothing. Every error must say whether the command may have run;
// keywarden must not crash, must exit 0 on SIGTERM, and must leave no sanitizer report.

const assert = require('node:assert/strict');
const path = require('node:path');
const { describe, before, after } = require('node:test');
const h = require('./harness');
const { RawClient } = require('./resp');
const { Ledger, checkLedger, show } = require('./fault_ledger');
const { Load } = require('./fault_load');

const SQL_FILE = path.join(h.REPO_ROOT, 'conf', 'sql', 'profiles.sql');
const ROWS = 100000;
const WRITERS = /^[ri]\d+$/; // names of the writers' clients (not the vandals', not the readers') // profiles that exist; every read asks for an id never asked before
const LOAD_MS = 1500; // load before and after each fault

// profile ids: aaaaaaaa-bbbb-cccc-dddd-<n> exist for n in 1..ROWS (first_name F<n>);
// aaaaaaaa-bbbb-cccc-eeee-<n> never do.
class ProfileIds {
  constructor() {
    this.n = 0;
  }

  next() {
    const n = ++this.n;
    assert.ok(n <= ROWS, 'the fault test ran out of fresh profile ids');
    const hex = n.toString(16).padStart(12, '0');
    if (n % 4 === 0) return { id: `aaaaaaaa-bbbb-cccc-eeee-${hex}`, exists: false };
    return { id: `aaaaaaaa-bbbb-cccc-dddd-${hex}`, exists: true, firstName: `F${n}` };
  }
}

function kwToml(pgPort) {
  return `
[[postgres]]
name = "apidb"
conninfo = "host=127.0.0.1 port=${pgPort} dbname=apidb user=postgres"
connections = 2
query_timeout_ms = 2000
connect_timeout_ms = 500
circuit_failures = 3
circuit_probe_ms = 200

[[namespaces]]
name = "profile"
pattern = "profile:{user_id:uuid}"
default_ttl_s = 300
read_through = { source = "apidb", query = "SELECT row_to_json(p)::text FROM profiles p WHERE user_id = $1", params = ["user_id"], negative_ttl_s = 30, notify_channel = "profile_changed" }
`;
}

async function waitFor(what, fn, timeoutMs, stepMs = 20) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await h.sleep(stepMs);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

describe('fault injection', () => {
  let pg;
  let redis;
  let kw;
  const ids = new ProfileIds();

  before(async () => {
    if (h.TARGET_REDIS) return;
    pg = await h.startPostgres();
    pg.loadFile(SQL_FILE);
    // Without the trigger: nobody listens yet, and 100,000 notifications would only cost time.
    pg.psqlSync(`ALTER TABLE profiles DISABLE TRIGGER profiles_changed;
      INSERT INTO profiles (user_id, first_name, last_name, email)
        SELECT ('aaaaaaaa-bbbb-cccc-dddd-' || lpad(to_hex(g), 12, '0'))::uuid, 'F' || g, 'L' || g, g || '@example.com'
        FROM generate_series(1, ${ROWS}) g;
      ALTER TABLE profiles ENABLE TRIGGER profiles_changed;`);
    redis = await h.startRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    kw = await h.startKeywarden({
      upstreamPort: redis.port,
      toml: {
        server: { workers: 2, shutdown_deadline_ms: 5000 },
        upstream: { connect_timeout_ms: 500, reconnect_backoff_min_ms: 20, reconnect_backoff_max_ms: 200 },
      },
      tomlText: kwToml(pg.port),
    });
  }, { timeout: 90000 });

  after(async () => {
    if (kw) await kw.stop();
    if (redis) await redis.stop();
    if (pg) await pg.stop();
  }, { timeout: 60000 });

  // Runs `body` under `load`, then the checker and the state of keywarden; prints what the load
  // saw either way.
  async function underLoad(ledger, load, body) {
    load.start();
    try {
      await body();
    } catch (e) {
      await load.stop().catch(() => {});
      process.stdout.write(`# ${ledger.tag} (failed): ${ledger.summary()}\n#   ${ledger.violations.join('\n#   ')}\n`);
      throw e;
    }
    await verify(ledger, load);
  }

  async function verify(ledger, load) {
    await load.stop();
    const direct = await RawClient.connect(redis.port, h.HOST);
    let problems;
    try {
      problems = await checkLedger(ledger, direct);
    } finally {
      direct.close();
    }
    const filled = load.readers.reduce((n, r) => n + r.filled, 0);
    const readErrors = load.readers.reduce((n, r) => n + r.errors, 0);
    process.stdout.write(`# ${ledger.tag}: ${ledger.summary()}\n#   read-through: ${filled} rows, ${readErrors} errors; ` +
      `vandals: ${JSON.stringify(load.kindsDone())}\n`);
    assert.deepEqual(ledger.violations, [], 'replies that do not answer their request');
    assert.deepEqual(problems, [], 'Redis disagrees with the acknowledged writes');
    assert.deepEqual(ledger.unclearErrors(), [], 'error replies that do not say whether the command may have run');
    assert.equal(kw.alive, true, 'keywarden is running');
    assert.deepEqual(kw.sanitizerReports(), [], 'sanitizer reports');
  }

  h.proxyTest('(a) Redis SIGKILLed under load, restarted with appendfsync always: every acknowledged write survives',
    { timeout: 90000 }, async () => {
      const ledger = new Ledger('fa');
      const load = new Load(ledger, kw.port, { ids });
      await underLoad(ledger, load, async () => {
        await load.waitWriters(0, 15000, 'before the kill');
        // Twice: down for a while, then killed again as soon as the writers are back.
        for (const downMs of [500, 0]) {
          await h.sleep(LOAD_MS);
          await redis.kill();
          const killedAt = Date.now();
          await h.sleep(downMs);
          await redis.restart(); // same port, same dir: the append-only file is loaded
          await load.waitWriters(Date.now(), 15000, 'after Redis came back');
          process.stdout.write(`# (a) Redis killed; ${Date.now() - killedAt} ms until every writer had a write acknowledged again\n`);
        }
        assert.ok(ledger.failed() > 0, 'some writes failed while Redis was down');
        await h.sleep(LOAD_MS);
      });
    });

  h.proxyTest('(b) keywarden SIGTERMed under load drains and exits 0; restarted, nothing acknowledged is lost',
    { timeout: 90000 }, async () => {
      const ledger = new Ledger('fb');
      const load = new Load(ledger, kw.port, { ids });
      await underLoad(ledger, load, async () => {
        await load.waitWriters(0, 15000, 'before SIGTERM');
        await h.sleep(LOAD_MS);
        const pid = kw.proc.pid;
        kw.signal('SIGTERM');
        const exit = await kw.waitExit(10000);
        assert.ok(exit !== null, 'keywarden did not exit within 10 s of SIGTERM');
        assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, `exit of keywarden ${pid} after SIGTERM`);
        assert.deepEqual(kw.sanitizerReports(), [], 'sanitizer reports of the drained keywarden');
        await kw.start(); // same port, same config
        await load.waitWriters(Date.now(), 20000, 'after keywarden restarted');
        await h.sleep(LOAD_MS);
      });
      assert.ok(ledger.failed() > 0, 'some requests were cut off by the shutdown');
      // A drain delivers every reply owed: a write that ran but whose reply never came was dropped.
      assert.deepEqual(ledger.writesOf(WRITERS, (r) => r.outcome === 'noreply' && r.present), [],
        'writes keywarden ran, then closed the connection without their reply');
    });

  h.proxyTest('(c) PostgreSQL killed during read-through misses: errors, never a wrong value; answered again after restart',
    { timeout: 90000 }, async () => {
      const ledger = new Ledger('fc');
      const load = new Load(ledger, kw.port, { raw: 2, io: 1, readers: 4, ids });
      const sinceFill = () => Math.max(...load.readers.map((r) => r.lastFillSentAt));
      await underLoad(ledger, load, async () => {
        await waitFor('rows read through before the kill', () => load.readers.every((r) => r.filled > 0), 15000);
        await h.sleep(LOAD_MS);
        await pg.crash();
        const downAt = Date.now();
        await waitFor('misses answered with errors while PostgreSQL is down',
          () => load.readers.every((r) => r.lastErrorSentAt > downAt), 10000);
        await h.sleep(LOAD_MS);
        assert.ok(sinceFill() < downAt, `a row was read through for a request sent ${sinceFill() - downAt} ms after PostgreSQL was gone`);
        await pg.start();
        const upAt = Date.now();
        await waitFor('misses answered with rows again', () => load.readers.every((r) => r.lastFillSentAt > upAt), 20000);
        process.stdout.write(`# (c) read-through back ${Date.now() - upAt} ms after PostgreSQL accepted connections again\n`);
        // LISTEN comes back too (and deletes the keys filled while it was away); the rows filled
        // after that stay in Redis for the check below.
        const c = await RawClient.connect(kw.port, h.HOST);
        try {
          await waitFor('LISTEN back', async () => /source_apidb_listening:1/.test(await c.call('INFO', 'readthrough')), 20000, 100);
        } finally {
          c.close();
        }
        await load.waitWriters(upAt, 10000, 'writers while PostgreSQL came back');
        await h.sleep(LOAD_MS);
      });
      assert.deepEqual(ledger.writesOf(WRITERS, (r) => r.outcome !== 'ack'), [], 'writes that failed while only PostgreSQL was down');
      // Every row filled into Redis is the row of its own key.
      const direct = await RawClient.connect(redis.port, h.HOST);
      try {
        let cursor = '0';
        let checked = 0;
        do {
          const [next, keys] = await direct.call('SCAN', cursor, 'MATCH', 'profile:*', 'COUNT', '1000');
          cursor = next;
          if (keys.length === 0) continue;
          const values = await direct.call('MGET', ...keys);
          keys.forEach((k, i) => {
            if (values[i] === null) return; // deleted since SCAN saw it
            const row = JSON.parse(values[i]);
            assert.equal(`profile:${row.user_id}`, k, `${k} holds ${show(values[i])}`);
            checked++;
          });
        } while (cursor !== '0');
        assert.ok(checked > 0, 'rows filled into Redis after LISTEN came back are there');
      } finally {
        direct.close();
      }
    });

  h.proxyTest('(d) clients vanishing mid-pipeline and mid-transaction: others unaffected, no EXEC no effect, no leaked clients',
    { timeout: 90000 }, async () => {
      const ledger = new Ledger('fd');
      const load = new Load(ledger, kw.port, { raw: 3, io: 1, readers: 1, vandals: 4, ids });
      await underLoad(ledger, load, async () => {
        await load.waitWriters(0, 15000, 'writers');
        await h.sleep(4 * LOAD_MS);
      });
      assert.deepEqual(ledger.writesOf(WRITERS, (r) => r.outcome !== 'ack'), [], 'writes of the other clients that failed');
      const kinds = load.kindsDone();
      for (const k of ['pipeline', 'multi-no-exec', 'multi-then-gone', 'exec-then-gone', 'half-request', 'blocked', 'half-read', 'watch-multi']) {
        assert.ok(kinds[k] > 0, `vandals did ${k}`);
      }
      // Every vanished client is gone from keywarden too: only this one is left.
      const c = await RawClient.connect(kw.port, h.HOST);
      try {
        let clients = null;
        const deadline = Date.now() + 5000;
        while (clients !== '1' && Date.now() < deadline) {
          clients = /connected_clients:(\d+)/.exec(await c.call('INFO', 'clients'))?.[1];
          await h.sleep(50);
        }
        assert.equal(clients, '1', 'connected_clients 5 s after every other client left');
      } finally {
        c.close();
      }
    });
});
