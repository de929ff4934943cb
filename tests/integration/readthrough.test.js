'use strict';
// PostgreSQL read-through (issue 10): GET profile:<uuid> filled from a real PostgreSQL 15
// started by the harness, single-flight, negative cache, NOTIFY invalidation, degraded modes.
// Queries are counted with pg_stat_statements.

const assert = require('node:assert/strict');
const path = require('node:path');
const { describe, before, after } = require('node:test');
const h = require('./harness');
const { RawClient, RespError } = require('./resp');

const SQL_FILE = path.join(h.REPO_ROOT, 'conf', 'sql', 'profiles.sql');
const ADA = '11111111-2222-3333-4444-555555555555';
const NEGATIVE_TTL_S = 30;

function uuid(n) {
  const hex = n.toString(16).padStart(12, '0');
  return `aaaaaaaa-bbbb-cccc-dddd-${hex}`;
}

function toml(pgPort) {
  const conninfo = `host=127.0.0.1 port=${pgPort} dbname=apidb user=postgres`;
  return `
[[postgres]]
name = "apidb"
conninfo = "${conninfo}"
connections = 2
query_timeout_ms = 2000
connect_timeout_ms = 1000
circuit_failures = 3
circuit_probe_ms = 200

[[postgres]]
name = "slowdb"
conninfo = "${conninfo}"
connections = 2
query_timeout_ms = 300

[[namespaces]]
name = "profile"
pattern = "profile:{user_id:uuid}"
default_ttl_s = 300
max_ttl_s = 300
ttl_required = true
read_through = { source = "apidb", query = "SELECT row_to_json(p)::text FROM profiles p WHERE user_id = $1", params = ["user_id"], negative_ttl_s = ${NEGATIVE_TTL_S}, notify_channel = "profile_changed" }

[[namespaces]]
name = "note"
pattern = "note:{name}"
default_ttl_s = 60
read_through = { source = "apidb", query = "SELECT body FROM notes WHERE name = $1", params = ["name"], negative_ttl_s = 0 }

[[namespaces]]
name = "bad"
pattern = "bad:{id}"
default_ttl_s = 60
read_through = { source = "apidb", query = "SELECT v FROM bad WHERE id = $1", params = ["id"], negative_ttl_s = 0 }

[[namespaces]]
name = "badint"
pattern = "badint:{id}"
default_ttl_s = 60
read_through = { source = "apidb", query = "SELECT 42 WHERE $1::text <> ''", params = ["id"] }

[[namespaces]]
name = "slow"
pattern = "slow:{id}"
default_ttl_s = 60
read_through = { source = "slowdb", query = "SELECT 'v:' || $1::text FROM pg_sleep(1.5)", params = ["id"], negative_ttl_s = 0 }

[[namespaces]]
name = "plain"
pattern = "plain:{id}"
`;
}

async function calls(pg, like) {
  const v = await pg.psql(`SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query LIKE '${like}'`);
  return Number(v);
}

// Runs an INSERT whose trigger notifies, and returns once keywarden has handled the
// notification: a notification still on its way when a fill starts would mark that fill dirty
// (rightly: keywarden cannot tell it predates the query) and cost the test a second query.
async function insertNotified(pg, c, sql) {
  const count = async () => Number((await c.call('INFO', 'readthrough')).match(/ns_profile_notifications:(\d+)/)[1]);
  const before = await count();
  await pg.psql(sql);
  await waitFor('the INSERT\'s notification', async () => (await count()) > before, 10000, 10);
}

async function waitFor(what, fn, timeoutMs = 10000, stepMs = 20) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await h.sleep(stepMs);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
}

describe('PostgreSQL read-through', () => {
  let pg;
  let redis;
  let kw;
  let direct; // a client of Redis itself
  const open = [];

  async function client() {
    const c = await RawClient.connect(kw.port, h.HOST);
    open.push(c);
    return c;
  }

  before(async () => {
    if (h.TARGET_REDIS) return;
    pg = await h.startPostgres();
    pg.loadFile(SQL_FILE);
    pg.psqlSync(`CREATE TABLE notes (name text PRIMARY KEY, body text);
                 INSERT INTO notes VALUES ('hello', 'world');
                 CREATE TABLE bad (id text, v text);
                 INSERT INTO bad VALUES ('null', NULL), ('two', 'a'), ('two', 'b'), ('ok', 'fine');`);
    redis = await h.startRedis();
    kw = await h.startKeywarden({ upstreamPort: redis.port, tomlText: toml(pg.port), toml: { server: { workers: 2 } } });
    direct = await RawClient.connect(redis.port, h.HOST);
    open.push(direct);
    // Both workers' pools and the LISTEN connection are up before the tests count anything.
    await waitFor('LISTEN connection', async () => {
      const c = await client();
      const info = await c.call('INFO', 'readthrough');
      return info.includes('source_apidb_listening:1') ? info : null;
    });
  }, { timeout: 60000 });

  after(async () => {
    for (const c of open) c.close();
    if (kw) await kw.stop();
    if (redis) await redis.stop();
    if (pg) await pg.stop();
  }, { timeout: 60000 });

  h.proxyTest('a miss is filled from PostgreSQL, then served from Redis with the namespace TTL', { timeout: 20000 }, async () => {
    const c = await client();
    await direct.call('DEL', `profile:${ADA}`);
    const v = await c.call('GET', `profile:${ADA}`);
    const row = JSON.parse(v);
    assert.equal(row.first_name, 'Ada');
    assert.equal(row.user_id, ADA);
    const ttl = await c.call('TTL', `profile:${ADA}`);
    assert.ok(ttl > 290 && ttl <= 300, `TTL ${ttl}`);
    assert.equal(await direct.call('GET', `profile:${ADA}`), v, 'the value is in Redis itself');
    const before = await calls(pg, '%FROM profiles p WHERE user_id%');
    assert.equal(await c.call('GET', `profile:${ADA}`), v);
    assert.equal(await calls(pg, '%FROM profiles p WHERE user_id%'), before, 'a hit makes no query');
  });

  h.proxyTest('1,000 concurrent GETs of one uncached key from 50 connections make exactly one query', { timeout: 60000 }, async () => {
    const id = uuid(1000);
    await insertNotified(pg, await client(), `INSERT INTO profiles (user_id, first_name, last_name, email) VALUES ('${id}', 'Stam', 'Pede', 's@example.com')`);
    await pg.psql('SELECT pg_stat_statements_reset()');
    const clients = [];
    for (let i = 0; i < 50; i++) clients.push(await RawClient.connect(kw.port, h.HOST));
    try {
      const t0 = Date.now();
      const replies = await Promise.all(clients.map(async (c) => {
        for (let i = 0; i < 20; i++) c.send('GET', `profile:${id}`);
        return c.readMany(20, 30000);
      }));
      const elapsed = Date.now() - t0;
      const all = replies.flat();
      assert.equal(all.length, 1000);
      const first = all[0];
      assert.ok(typeof first === 'string' && JSON.parse(first).first_name === 'Stam', String(first));
      for (const r of all) assert.equal(r, first);
      assert.equal(await calls(pg, '%FROM profiles p WHERE user_id%'), 1, 'queries made');
      const info = await (await client()).call('INFO', 'readthrough');
      process.stdout.write(`# stampede: 1000 GETs in ${elapsed} ms; ${info.match(/ns_profile_coalesced:\d+/)[0]}\n`);
    } finally {
      for (const c of clients) c.close();
    }
  });

  h.proxyTest('UPDATE: the notification deletes the key, the next GET returns the new row (bound measured)', { timeout: 20000 }, async () => {
    const c = await client();
    const id = uuid(2000);
    await insertNotified(pg, await client(), `INSERT INTO profiles (user_id, first_name, last_name, email) VALUES ('${id}', 'Old', 'Name', 'o@example.com')`);
    assert.equal(JSON.parse(await c.call('GET', `profile:${id}`)).first_name, 'Old');
    const t0 = Date.now();
    await pg.psql(`UPDATE profiles SET first_name = 'New', updated_at = now() WHERE user_id = '${id}'`);
    const committed = Date.now();
    await waitFor('the new row through keywarden', async () => JSON.parse(await c.call('GET', `profile:${id}`)).first_name === 'New', 5000, 5);
    const bound = Date.now() - committed;
    process.stdout.write(`# UPDATE -> new value served ${bound} ms after psql returned (${committed - t0} ms in psql)\n`);
    assert.ok(bound < 1000, `stale for ${bound} ms`);
  });

  h.proxyTest('DELETE: the key goes, GET answers nil', { timeout: 20000 }, async () => {
    const c = await client();
    const id = uuid(3000);
    await insertNotified(pg, await client(), `INSERT INTO profiles (user_id, first_name, last_name, email) VALUES ('${id}', 'Gone', 'Soon', 'g@example.com')`);
    assert.ok(await c.call('GET', `profile:${id}`));
    await pg.psql(`DELETE FROM profiles WHERE user_id = '${id}'`);
    await waitFor('nil after DELETE', async () => (await c.call('GET', `profile:${id}`)) === null, 5000, 5);
    assert.equal(await direct.call('EXISTS', `profile:${id}`), 0);
  });

  h.proxyTest('a missing row answers nil; a repeat within negative_ttl_s makes no query and Redis holds no marker', { timeout: 20000 }, async () => {
    const c = await client();
    const id = uuid(4000);
    const before = await calls(pg, '%FROM profiles p WHERE user_id%');
    assert.equal(await c.call('GET', `profile:${id}`), null);
    assert.equal(await calls(pg, '%FROM profiles p WHERE user_id%'), before + 1);
    for (let i = 0; i < 5; i++) assert.equal(await c.call('GET', `profile:${id}`), null);
    assert.equal(await calls(pg, '%FROM profiles p WHERE user_id%'), before + 1, 'answered from the negative cache');
    assert.equal(await direct.call('EXISTS', `profile:${id}`), 0, 'nothing visible in Redis');
    // The row appears: INSERT notifies, the negative entry is forgotten.
    await pg.psql(`INSERT INTO profiles (user_id, first_name, last_name, email) VALUES ('${id}', 'Late', 'Comer', 'l@example.com')`);
    await waitFor('the inserted row', async () => (await c.call('GET', `profile:${id}`)) !== null, 5000);
  });

  h.proxyTest('a key that fails the uuid shape is refused before any query', { timeout: 10000 }, async () => {
    const c = await client();
    const before = await calls(pg, '%FROM profiles p WHERE user_id%');
    const r = await c.call('GET', 'profile:not-a-uuid');
    assert.ok(r instanceof RespError, String(r));
    assert.equal(await calls(pg, '%FROM profiles p WHERE user_id%'), before);
  });

  h.proxyTest('SQL injection text in a segment is bound as a parameter: inert', { timeout: 10000 }, async () => {
    const c = await client();
    const evil = "x' OR '1'='1'; DROP TABLE profiles; --";
    assert.equal(await c.call('GET', `note:${evil}`), null);
    assert.equal(await c.call('GET', 'note:hello'), 'world');
    assert.equal(await pg.psql('SELECT count(*) > 0 FROM profiles'), 't', 'profiles is still there');
  });

  h.proxyTest('bad data (NULL, two rows, not text) is an error naming the namespace, counted', { timeout: 10000 }, async () => {
    const c = await client();
    for (const [key, want] of [['bad:null', /NULL/], ['bad:two', /2 rows/], ['badint:x', /not text/]]) {
      const r = await c.call('GET', key);
      assert.ok(r instanceof RespError, `${key}: ${r}`);
      assert.match(r.message, /^ERR read-through namespace 'bad(int)?'/);
      assert.match(r.message, want);
    }
    assert.equal(await c.call('GET', 'bad:ok'), 'fine');
    const info = await c.call('INFO', 'readthrough');
    assert.match(info, /ns_bad_errors_bad_data:2/);
    assert.match(info, /ns_badint_errors_bad_data:1/);
  });

  h.proxyTest('a query slower than the timeout: an error in its slot, other clients proceed', { timeout: 20000 }, async () => {
    const slow = await client();
    const other = await client();
    await other.call('SET', 'plain:1', 'v1');
    const t0 = Date.now();
    slow.send('GET', 'slow:1');
    slow.send('GET', 'plain:1'); // pipelined behind it: answered in order
    // Meanwhile another client is served at once.
    const t1 = Date.now();
    assert.equal(await other.call('GET', 'plain:1'), 'v1');
    assert.ok(Date.now() - t1 < 200, `other client waited ${Date.now() - t1} ms`);
    const [r1, r2] = await slow.readMany(2, 5000);
    const took = Date.now() - t0;
    assert.ok(r1 instanceof RespError, String(r1));
    assert.match(r1.message, /^ERR source 'slowdb' unavailable \(query timed out after 300 ms\)/);
    assert.equal(r2, 'v1');
    assert.ok(took < 1200, `the timeout took ${took} ms`);
  });

  h.proxyTest('KEYWARDEN SOURCES and WARM', { timeout: 20000 }, async () => {
    const c = await client();
    const sources = await c.call('KEYWARDEN', 'SOURCES');
    assert.equal(sources.length, 2);
    const apidb = Object.fromEntries(sources[0].reduce((acc, v, i, a) => (i % 2 ? acc : acc.concat([[v, a[i + 1]]])), []));
    assert.equal(apidb.name, 'apidb');
    assert.equal(apidb.circuit, 'closed');
    assert.equal(apidb.listening, 'yes');
    assert.ok(Number(apidb.queries) > 0);
    const ids = ['22222222-3333-4444-5555-666666666666', uuid(999999)];
    await direct.call('DEL', `profile:${ids[0]}`);
    const r = await c.call('KEYWARDEN', 'WARM', 'profile', ...ids);
    assert.deepEqual(r, [ids[0], 'filled', ids[1], 'missing']);
    assert.equal(JSON.parse(await direct.call('GET', `profile:${ids[0]}`)).first_name, 'Alan');
    const r2 = await c.call('KEYWARDEN', 'WARM', 'profile', ids[0]);
    assert.deepEqual(r2, [ids[0], 'exists']);
    const bad = await c.call('KEYWARDEN', 'WARM', 'nope', 'x');
    assert.ok(bad instanceof RespError);
  });

  h.proxyTest('MGET: misses among hits are filled, replies in place', { timeout: 20000 }, async () => {
    const c = await client();
    await c.call('SET', 'plain:m', 'pm');
    await direct.call('DEL', `profile:${ADA}`);
    const r = await c.call('MGET', 'plain:m', `profile:${ADA}`, 'note:hello', `profile:${uuid(777777)}`);
    assert.equal(r[0], 'pm');
    assert.equal(JSON.parse(r[1]).first_name, 'Ada');
    assert.equal(r[2], 'world');
    assert.equal(r[3], null);
  });

  h.proxyTest('LISTEN connection killed: re-LISTEN, keys filled before the loss are deleted', { timeout: 30000 }, async () => {
    const c = await client();
    const id = uuid(5000);
    await insertNotified(pg, await client(), `INSERT INTO profiles (user_id, first_name, last_name, email) VALUES ('${id}', 'Before', 'Loss', 'b@example.com')`);
    assert.equal(JSON.parse(await c.call('GET', `profile:${id}`)).first_name, 'Before');
    // Kill the LISTEN backend and change the row at once: that notification is lost.
    await pg.psql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'keywarden-listen';
                   UPDATE profiles SET first_name = 'After' WHERE user_id = '${id}';`);
    const t0 = Date.now();
    await waitFor('the new row after re-LISTEN', async () => JSON.parse(await c.call('GET', `profile:${id}`)).first_name === 'After', 10000, 10);
    process.stdout.write(`# lost LISTEN -> stale for ${Date.now() - t0} ms after the kill\n`);
    const info = await c.call('INFO', 'readthrough');
    assert.match(info, /source_apidb_listen_losses:[1-9]/);
    assert.match(info, /source_apidb_listening:1/);
  });

  h.proxyTest('PostgreSQL stopped: misses fail fast, hits still served; recovery after restart', { timeout: 60000 }, async () => {
    const c = await client();
    assert.ok(await c.call('GET', `profile:${ADA}`)); // cached
    await pg.stop();
    // The first misses find the source down; after circuit_failures the circuit opens.
    let fast = null;
    for (let i = 0; i < 20 && !fast; i++) {
      const t0 = Date.now();
      const r = await c.call('GET', `profile:${uuid(6000 + i)}`);
      assert.ok(r instanceof RespError, String(r));
      assert.match(r.message, /^ERR source 'apidb' unavailable \(/);
      if (Date.now() - t0 < 50) fast = r.message;
    }
    assert.ok(fast, 'misses never became fast');
    const t0 = Date.now();
    for (let i = 0; i < 20; i++) {
      const r = await c.call('GET', `profile:${uuid(7000 + i)}`);
      assert.ok(r instanceof RespError);
    }
    assert.ok(Date.now() - t0 < 500, `20 misses took ${Date.now() - t0} ms with the circuit open`);
    assert.equal(JSON.parse(await c.call('GET', `profile:${ADA}`)).first_name, 'Ada', 'hits are served');
    const sources = await c.call('KEYWARDEN', 'SOURCES');
    assert.ok(sources[0].includes('open') || sources[0].includes('half-open'), String(sources[0]));
    await pg.start();
    await waitFor('recovery', async () => {
      const r = await c.call('GET', 'profile:22222222-3333-4444-5555-666666666666');
      return typeof r === 'string';
    }, 20000, 100);
  });

  h.proxyTest('Redis stopped: read-through namespaces are answered straight from PostgreSQL', { timeout: 60000 }, async () => {
    const c = await client();
    await redis.stop();
    try {
      const r = await waitFor('a value from PostgreSQL', async () => {
        const v = await c.call('GET', `profile:${ADA}`);
        return typeof v === 'string' ? v : null;
      }, 10000, 100);
      assert.equal(JSON.parse(r).first_name, 'Ada');
      assert.equal(await c.call('GET', `profile:${uuid(8000)}`), null);
      const plain = await c.call('GET', 'plain:1');
      assert.ok(plain instanceof RespError && plain.message.startsWith('UPSTREAMDOWN'), String(plain));
      const info = await c.call('INFO', 'readthrough');
      assert.match(info, /ns_profile_direct:[1-9]/);
    } finally {
      await redis.restart();
      direct.close();
      direct = await RawClient.connect(redis.port, h.HOST);
      open.push(direct);
    }
  });
});

describe('read-through startup', () => {
  h.proxyTest('a configured source that is down does not stop keywarden from starting', { timeout: 30000 }, async () => {
    const redis = await h.startRedis();
    const port = await h.freePort(); // nothing listens there
    const kw = await h.startKeywarden({
      upstreamPort: redis.port,
      tomlText: `
[[postgres]]
name = "apidb"
conninfo = "host=127.0.0.1 port=${port} dbname=apidb user=postgres"
[[namespaces]]
name = "profile"
pattern = "profile:{user_id:uuid}"
default_ttl_s = 300
read_through = { source = "apidb", query = "SELECT 'x' WHERE $1 IS NOT NULL", params = ["user_id"], notify_channel = "c" }
`,
    });
    const c = await RawClient.connect(kw.port, h.HOST);
    try {
      assert.equal(await c.call('SET', 'other', '1'), 'OK');
      const r = await c.call('GET', `profile:${ADA}`);
      assert.ok(r instanceof RespError && /^ERR source 'apidb' unavailable/.test(r.message), String(r));
    } finally {
      c.close();
    }
  });
});

// The shipped config caches profile:<uuid> in the near cache and reads it through from
// PostgreSQL: a miss the near cache forwards must still be filled, and nil must never be cached.
describe('read-through behind the near cache (one namespace, both)', () => {
  let pg;
  let redis;
  let kw;
  let direct;
  const open = [];

  async function client() {
    const c = await RawClient.connect(kw.port, h.HOST);
    open.push(c);
    return c;
  }
  async function redisGets() {
    const stats = await direct.call('INFO', 'commandstats');
    const m = stats.match(/cmdstat_get:calls=(\d+)/);
    return m ? Number(m[1]) : 0;
  }

  before(async () => {
    if (h.TARGET_REDIS) return;
    pg = await h.startPostgres();
    pg.loadFile(SQL_FILE);
    redis = await h.startRedis();
    kw = await h.startKeywarden({
      upstreamPort: redis.port,
      toml: { server: { workers: 2 } },
      tomlText: `
[[postgres]]
name = "apidb"
conninfo = "host=127.0.0.1 port=${pg.port} dbname=apidb user=postgres"
connections = 2

[[namespaces]]
name = "profile"
pattern = "profile:{user_id:uuid}"
default_ttl_s = 300
max_ttl_s = 300
ttl_required = true
near_cache = true
read_through = { source = "apidb", query = "SELECT row_to_json(p)::text FROM profiles p WHERE user_id = $1", params = ["user_id"], negative_ttl_s = 30, notify_channel = "profile_changed" }
`,
    });
    direct = await RawClient.connect(redis.port, h.HOST);
    open.push(direct);
    await waitFor('LISTEN connection and feed', async () => {
      const info = await (await client()).call('INFO');
      return info.includes('source_apidb_listening:1') && /invalidation_feeds_covered:2/.test(info) ? info : null;
    });
  }, { timeout: 60000 });

  after(async () => {
    for (const c of open) c.close();
    if (kw) await kw.stop();
    if (redis) await redis.stop();
    if (pg) await pg.stop();
  }, { timeout: 60000 });

  h.proxyTest('a miss is filled (not nil), then answered by the near cache without Redis', { timeout: 20000 }, async () => {
    const c = await client();
    const v = await c.call('GET', `profile:${ADA}`);
    assert.equal(typeof v, 'string', `first GET: ${String(v)}`);
    assert.equal(JSON.parse(v).first_name, 'Ada');
    // Filled in Redis; the next reads fill the near cache, then stop reaching Redis.
    await waitFor('near cache hits', async () => {
      const before = await redisGets();
      for (let i = 0; i < 5; i++) assert.equal(await c.call('GET', `profile:${ADA}`), v);
      return (await redisGets()) === before;
    }, 5000, 50);
  });

  h.proxyTest('UPDATE in PostgreSQL: the cached value goes, the new row is served', { timeout: 20000 }, async () => {
    const c = await client();
    const id = uuid(9100);
    await insertNotified(pg, await client(), `INSERT INTO profiles (user_id, first_name, last_name, email) VALUES ('${id}', 'Old', 'Name', 'o@example.com')`);
    for (let i = 0; i < 3; i++) assert.equal(JSON.parse(await c.call('GET', `profile:${id}`)).first_name, 'Old');
    await pg.psql(`UPDATE profiles SET first_name = 'New', updated_at = now() WHERE user_id = '${id}'`);
    const committed = Date.now();
    await waitFor('the new row', async () => JSON.parse(await c.call('GET', `profile:${id}`)).first_name === 'New', 5000, 5);
    assert.ok(Date.now() - committed < 1000, `stale for ${Date.now() - committed} ms`);
  });

  h.proxyTest('a missing row is not cached as nil: once inserted it is served', { timeout: 20000 }, async () => {
    const c = await client();
    const id = uuid(9200);
    for (let i = 0; i < 3; i++) assert.equal(await c.call('GET', `profile:${id}`), null);
    assert.equal(await c.call('EXISTS', `profile:${id}`), 0);
    await pg.psql(`INSERT INTO profiles (user_id, first_name, last_name, email) VALUES ('${id}', 'Late', 'Comer', 'l@example.com')`);
    await waitFor('the inserted row', async () => (await c.call('GET', `profile:${id}`)) !== null, 5000);
    assert.equal(JSON.parse(await c.call('GET', `profile:${id}`)).first_name, 'Late');
  });
});
