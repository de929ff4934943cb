'use strict';
// Operator commands (issue 4) as the admin user of the production config:
// INFO with the proxy's and the upstream's sections, CLIENT LIST/KILL/INFO
// across workers, SLOWLOG, KEYWARDEN HELP/NAMESPACES/CONFIG/UPSTREAM.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { describe, before, after } = require('node:test');
const h = require('./harness');
const { RawClient, RespError } = require('./resp');

const UPSTREAM_PASSWORD = 'upstream-pw-42';
const USERS = {
  auth: ['auth-service', 'auth-service-secret'],
  user: ['user-service', 'user-service-secret'],
  ops: ['ops', 'ops-secret'],
};

function assertErr(v, text, what = '') {
  assert.ok(v instanceof RespError, `${what} expected error ${JSON.stringify(text)}, got ${JSON.stringify(v)}`);
  assert.equal(v.message, text, what);
}

// "# Section" -> {field: value} of an INFO text.
function parseInfo(text) {
  const sections = new Map();
  let cur = null;
  for (const line of String(text).split('\r\n')) {
    if (line.startsWith('# ')) {
      cur = new Map();
      sections.set(line.slice(2), cur);
    } else if (line && cur) {
      // ns_<name with '_' for ':'>:name=<namespace>,commands=...: the field splits at the first
      // ':' like any INFO line; the lookup key is the real namespace name.
      const i = line.indexOf(':');
      const ns = /^ns_[A-Za-z0-9_]*:name=([^,]*),(commands=.*)$/.exec(line);
      if (ns) {
        cur.set(`ns_${ns[1]}`, ns[2]);
        continue;
      }
      cur.set(line.slice(0, i), line.slice(i + 1));
    }
  }
  return sections;
}

function parseClientLine(line) {
  const m = new Map();
  for (const part of line.trim().split(' ')) {
    const i = part.indexOf('=');
    m.set(part.slice(0, i), part.slice(i + 1));
  }
  return m;
}

function clientLines(text) {
  return String(text).split('\n').filter((l) => l.trim()).map(parseClientLine);
}

function pairs(arr) {
  assert.ok(Array.isArray(arr) && arr.length % 2 === 0, `expected a flat pair list, got ${JSON.stringify(arr)}`);
  const m = new Map();
  for (let i = 0; i < arr.length; i += 2) m.set(arr[i], arr[i + 1]);
  return m;
}

describe('operator commands', () => {
  let redis;
  let kw;
  const open = [];

  async function as(who) {
    const c = await RawClient.connect(kw.port, h.HOST);
    open.push(c);
    assert.equal(await c.call('AUTH', ...USERS[who]), 'OK', `AUTH ${who}`);
    return c;
  }

  before(async () => {
    redis = await h.startRedis({ password: UPSTREAM_PASSWORD });
    kw = await h.startKeywarden({
      upstreamPort: redis.port,
      upstreamPassword: UPSTREAM_PASSWORD,
      toml: {
        server: { workers: 2 },
        slowlog: { threshold_us: 0, max_len: 128 },
        policy: { outside_namespaces: 'refuse', default_user: '' },
      },
      tomlText: h.confPolicyBlocks(),
    });
  }, { timeout: 30000 });

  after(async () => {
    for (const c of open) c.close();
    if (kw) await kw.stop();
    if (redis) await redis.stop();
  }, { timeout: 30000 });

  h.proxyTest('INFO: proxy sections, per-namespace lines, upstream sections renamed', { timeout: 15000 }, async () => {
    const o = await as('ops');
    const u = crypto.randomUUID();
    const before = parseInfo(await o.call('INFO'));
    for (const s of ['Server', 'Clients', 'Stats', 'Keywarden', 'Upstream Server', 'Upstream Persistence', 'Upstream Keyspace']) {
      assert.ok(before.has(s), `INFO has # ${s}; sections: ${[...before.keys()].join(', ')}`);
    }
    assert.ok(!before.has('Persistence'), 'upstream sections are renamed, not copied');
    assert.match(before.get('Server').get('keywarden_version') || '', /^\d+\.\d+\.\d+/);
    assert.equal(before.get('Upstream Persistence').get('loading'), '0');
    assert.equal(before.get('Upstream Server').get('tcp_port'), String(redis.port));
    const stats = before.get('Stats');
    for (const f of ['total_commands_processed', 'keyspace_hits', 'keyspace_misses']) {
      assert.match(stats.get(f) || '', /^\d+$/, `# Stats ${f}`);
    }
    const kwSec = before.get('Keywarden');
    for (const ns of ['session', 'profile', 'rl', 'doc:processing', 'user:id']) {
      assert.match(kwSec.get(`ns_${ns}`) || '', /^commands=\d+,/, `ns_${ns} line`);
    }

    // A known workload moves the counters by known amounts.
    const a = await as('auth');
    const sk = `session:${u}:s`;
    assert.equal(await a.call('SET', sk, 'v'), 'OK');
    assert.equal(await a.call('GET', sk), 'v');
    assert.equal(await a.call('GET', sk), 'v');
    assert.equal(await a.call('GET', `session:${u}:missing`), null);
    assert.ok((await a.call('GET', `profile:${u}`)) instanceof RespError);
    const afterInfo = parseInfo(await o.call('INFO'));
    const d = (sec, f) => Number(afterInfo.get(sec).get(f)) - Number(before.get(sec).get(f));
    assert.equal(d('Stats', 'keyspace_hits'), 2);
    assert.equal(d('Stats', 'keyspace_misses'), 1);
    // AUTH + 5 commands by `a`, AUTH-less INFO by `o`: at least those.
    assert.ok(d('Stats', 'total_commands_processed') >= 6, `total_commands_processed +${d('Stats', 'total_commands_processed')}`);
    const nsField = (info, ns, f) => Number(new Map(info.get('Keywarden').get(`ns_${ns}`).split(',').map((kv) => kv.split('='))).get(f));
    assert.equal(nsField(afterInfo, 'session', 'commands') - nsField(before, 'session', 'commands'), 4);
    assert.equal(nsField(afterInfo, 'session', 'hits') - nsField(before, 'session', 'hits'), 2);
    assert.equal(nsField(afterInfo, 'session', 'misses') - nsField(before, 'session', 'misses'), 1);
    assert.equal(nsField(afterInfo, 'session', 'ttl_default_applied') - nsField(before, 'session', 'ttl_default_applied'), 1);
    assert.equal(nsField(afterInfo, 'profile', 'refused') - nsField(before, 'profile', 'refused'), 1);

    // INFO upstream: the upstream's own text; INFO keywarden: only the proxy's section.
    const up = String(await o.call('INFO', 'upstream'));
    const upSecs = parseInfo(up);
    assert.ok(upSecs.has('Server') && upSecs.has('Persistence'), `INFO upstream sections: ${[...upSecs.keys()].join(', ')}`);
    assert.equal(upSecs.get('Server').get('tcp_port'), String(redis.port));
    assert.ok(!up.includes('keywarden'), 'INFO upstream is the upstream text');
    const kwOnly = parseInfo(await o.call('INFO', 'keywarden'));
    assert.deepEqual([...kwOnly.keys()], ['Keywarden']);
    assert.ok(kwOnly.get('Keywarden').has('ns_session'));
  });

  h.proxyTest('INFO counts refusals in errors_refused', { timeout: 10000 }, async () => {
    const o = await as('ops');
    const a = await as('auth');
    const get = async () => Number(parseInfo(await o.call('INFO', 'keywarden')).get('Keywarden').get('errors_refused'));
    const before = await get();
    assert.ok((await a.call('GET', 'profile:2f1b4a8e-7c4d-4e2a-9a0b-123456789abc')) instanceof RespError);
    assert.ok((await a.call('KEYS', '*')) instanceof RespError);
    assert.ok((await a.call('SET', 'session:bad', 'v')) instanceof RespError);
    assert.equal(await get() - before, 3, 'errors_refused ("commands refused by the proxy") counts policy refusals');
  });

  h.proxyTest('CLIENT LIST across workers, CLIENT KILL ID, CLIENT INFO', { timeout: 15000 }, async () => {
    const o = await as('ops');
    const clients = [];
    for (let i = 0; i < 5; i++) {
      const c = await as(i % 2 ? 'auth' : 'user');
      assert.equal(await c.call('CLIENT', 'SETNAME', `ops-test-${i}`), 'OK');
      clients.push({ c, id: await c.call('CLIENT', 'ID'), user: i % 2 ? 'auth-service' : 'user-service' });
    }
    // One of them holds a pinned upstream connection.
    assert.equal(await clients[0].c.call('MULTI'), 'OK');
    const list = clientLines(await o.call('CLIENT', 'LIST'));
    const byId = new Map(list.map((m) => [Number(m.get('id')), m]));
    for (const [i, { id, user }] of clients.entries()) {
      const line = byId.get(id);
      assert.ok(line, `client ${id} in CLIENT LIST:\n${[...byId.keys()].join(' ')}`);
      assert.equal(line.get('user'), user);
      assert.equal(line.get('name'), `ops-test-${i}`);
      assert.equal(line.get('upstream'), i === 0 ? 'pinned' : 'shared', `upstream= of client ${i}`);
    }
    const ownId = await o.call('CLIENT', 'ID');
    assert.equal(byId.get(ownId).get('user'), 'ops');
    assert.equal(new Set(list.map((m) => m.get('id'))).size, list.length, 'ids are unique');
    assert.equal(await clients[0].c.call('DISCARD'), 'OK');
    const connected = Number(parseInfo(await o.call('INFO', 'clients')).get('Clients').get('connected_clients'));
    assert.equal(connected, list.length, 'INFO connected_clients counts the clients of every worker');

    // CLIENT INFO: the caller's own line.
    const info = clientLines(await clients[1].c.call('CLIENT', 'INFO'));
    assert.equal(info.length, 1);
    assert.equal(Number(info[0].get('id')), clients[1].id);
    assert.equal(info[0].get('user'), 'auth-service');

    // CLIENT KILL ID: :1, the victim is closed, others are unaffected.
    const victim = clients[2];
    assert.equal(await o.call('CLIENT', 'KILL', 'ID', String(victim.id)), 1);
    assert.ok(await victim.c.waitClosed(3000), 'killed client is closed');
    await assert.rejects(victim.c.call('PING'), /connection closed/);
    assert.equal(await clients[3].c.call('PING'), 'PONG');
    const after = clientLines(await o.call('CLIENT', 'LIST'));
    assert.ok(!after.some((m) => Number(m.get('id')) === victim.id), 'killed client gone from CLIENT LIST');
    assert.equal(await o.call('CLIENT', 'KILL', 'ID', '999999'), 0, 'filter form: number killed');
    assertErr(await o.call('CLIENT', 'KILL', '10.1.2.3:4567'), 'ERR No such client', 'old form');

    // The filter forms reach every worker: USER kills every auth-service client.
    const authClients = clientLines(await o.call('CLIENT', 'LIST')).filter((m) => m.get('user') === 'auth-service').length;
    assert.ok(authClients >= 2);
    assert.equal(await o.call('CLIENT', 'KILL', 'USER', 'auth-service'), authClients);
    for (const { c, user } of clients) if (user === 'auth-service') assert.ok(await c.waitClosed(3000));
    // The rest by id (the caller itself is skipped by default, as in Redis).
    for (const { c, id } of clients.filter((x) => x !== victim && x.user === 'user-service')) {
      assert.equal(await o.call('CLIENT', 'KILL', 'ID', String(id)), 1);
      assert.ok(await c.waitClosed(3000));
    }
    assert.equal(await o.call('CLIENT', 'KILL', 'ID', String(ownId)), 0, 'SKIPME yes by default');

    const a = await as('auth');
    assertErr(await a.call('CLIENT', 'LIST'),
      "NOPERM User auth-service has no permissions to run the 'client|list' command (admin only)");
    const k = await a.call('CLIENT', 'KILL', 'ID', String(ownId));
    assert.ok(k instanceof RespError && k.message.startsWith('NOPERM'), `non-admin CLIENT KILL: ${JSON.stringify(k)}`);
    assert.equal(await o.call('PING'), 'PONG', 'admin still connected');
  });

  h.proxyTest('CLIENT KILL filters as Redis has them: TYPE, ID, ADDR, LADDR, USER, MAXAGE, SKIPME, old form', { timeout: 20000 }, async () => {
    const o = await as('ops');
    const sub = await as('ops');
    const subId = await sub.call('CLIENT', 'ID');
    assert.deepEqual(await sub.call('SUBSCRIBE', 'kill-test'), ['subscribe', 'kill-test', 1]);
    const mon = await as('ops');
    const monId = await mon.call('CLIENT', 'ID');
    assert.equal(await mon.call('MONITOR'), 'OK');
    const n1 = await as('auth');
    const n2 = await as('auth');
    const n1Id = await n1.call('CLIENT', 'ID');
    const n2Line = clientLines(await n2.call('CLIENT', 'INFO'))[0];
    // CLIENT LIST TYPE uses the same classes.
    const pubsubIds = clientLines(await o.call('CLIENT', 'LIST', 'TYPE', 'pubsub')).map((m) => Number(m.get('id')));
    assert.deepEqual(pubsubIds, [subId]);
    const normalIds = clientLines(await o.call('CLIENT', 'LIST', 'TYPE', 'normal')).map((m) => Number(m.get('id')));
    assert.ok(normalIds.includes(monId) && normalIds.includes(n1Id) && !normalIds.includes(subId));
    assert.equal(String(await o.call('CLIENT', 'LIST', 'TYPE', 'replica')), '');

    // No keywarden client is a master or a replica.
    for (const t of ['master', 'replica', 'slave', 'MASTER']) {
      assert.equal(await o.call('CLIENT', 'KILL', 'TYPE', t), 0, `TYPE ${t}`);
    }
    assertErr(await o.call('CLIENT', 'KILL', 'TYPE', 'bogus'), "ERR Unknown client type 'bogus'");
    assertErr(await o.call('CLIENT', 'KILL', 'TYPE', 'pubsub', 'ID'), 'ERR syntax error');
    assertErr(await o.call('CLIENT', 'KILL', 'ID', 'abc'), 'ERR client-id should be greater than 0');
    assertErr(await o.call('CLIENT', 'KILL', 'USER', 'nosuch'), "ERR No such user 'nosuch'");
    assertErr(await o.call('CLIENT', 'KILL', 'MAXAGE', '0'), 'ERR maxage should be greater than 0');
    assertErr(await o.call('CLIENT', 'KILL', 'SKIPME', 'maybe'), 'ERR syntax error');

    // TYPE and ID together: a normal client is not a pub/sub one, nor the reverse.
    assert.equal(await o.call('CLIENT', 'KILL', 'TYPE', 'pubsub', 'ID', String(n1Id)), 0);
    assert.equal(await o.call('CLIENT', 'KILL', 'TYPE', 'normal', 'ID', String(subId)), 0);
    assert.equal(await n1.call('PING'), 'PONG');
    // MONITOR clients are normal, as in Redis: TYPE pubsub kills the subscriber alone.
    assert.equal(await o.call('CLIENT', 'KILL', 'TYPE', 'pubsub'), 1);
    assert.ok(await sub.waitClosed(3000), 'the subscriber is closed');
    assert.ok(!mon.isClosed && !n1.isClosed, 'MONITOR and normal clients stay');
    assert.equal(await n1.call('PING'), 'PONG');

    // MAXAGE: clients at least that many seconds old.
    assert.equal(await o.call('CLIENT', 'KILL', 'ID', String(n1Id), 'MAXAGE', '100000'), 0);
    await h.sleep(1100);
    assert.equal(await o.call('CLIENT', 'KILL', 'TYPE', 'normal', 'ID', String(n1Id), 'MAXAGE', '1'), 1);
    assert.ok(await n1.waitClosed(3000));

    // ADDR and LADDR are CLIENT LIST's addr= and laddr=; USER needs both to match here.
    assert.equal(await o.call('CLIENT', 'KILL', 'ADDR', n2Line.get('addr'), 'LADDR', '127.0.0.1:1'), 0);
    assert.equal(await o.call('CLIENT', 'KILL', 'ADDR', n2Line.get('addr'), 'LADDR', n2Line.get('laddr'), 'USER', 'auth-service'), 1);
    assert.ok(await n2.waitClosed(3000));

    // SKIPME no, and the old form (which may kill the caller: +OK first, then the close).
    const self = await as('ops');
    const selfLine = clientLines(await self.call('CLIENT', 'INFO'))[0];
    assert.equal(await self.call('CLIENT', 'KILL', 'ID', selfLine.get('id')), 0, 'SKIPME yes by default');
    assert.equal(await self.call('CLIENT', 'KILL', selfLine.get('addr')), 'OK');
    assert.ok(await self.waitClosed(3000));
    assertErr(await o.call('CLIENT', 'KILL', selfLine.get('addr')), 'ERR No such client');
    const self2 = await as('ops');
    const id2 = String(await self2.call('CLIENT', 'ID'));
    assert.equal(await self2.call('CLIENT', 'KILL', 'ID', id2, 'SKIPME', 'no'), 1);
    assert.ok(await self2.waitClosed(3000));
    assert.equal(await o.call('CLIENT', 'KILL', 'TYPE', 'pubsub', 'ID', String(monId)), 0);
    assert.equal(await o.call('CLIENT', 'KILL', 'TYPE', 'normal', 'ID', String(monId)), 1);
    assert.ok(await mon.waitClosed(3000), 'the MONITOR client is closed');
  });

  h.proxyTest('KEYWARDEN SLOWLOG GET/LEN/RESET: the proxy\'s log, with the namespace of each entry', { timeout: 15000 }, async () => {
    const o = await as('ops');
    assert.equal(await o.call('KEYWARDEN', 'SLOWLOG', 'RESET'), 'OK');
    const a = await as('auth');
    assert.equal(await a.call('CLIENT', 'SETNAME', 'slow-one'), 'OK');
    const u = crypto.randomUUID();
    assert.equal(await a.call('SET', `session:${u}:s`, 'v'), 'OK');
    assert.equal(await a.call('GET', `session:${u}:s`), 'v');
    const len = await o.call('KEYWARDEN', 'SLOWLOG', 'LEN');
    assert.ok(Number.isInteger(len) && len >= 3, `KEYWARDEN SLOWLOG LEN ${len}`);
    const entries = await o.call('KEYWARDEN', 'SLOWLOG', 'GET', '128');
    assert.ok(Array.isArray(entries) && entries.length >= 3);
    for (const e of entries) {
      assert.equal(e.length, 7, `entry has 7 fields: ${JSON.stringify(e)}`);
      assert.ok(Number.isInteger(e[0]) && Number.isInteger(e[1]) && Number.isInteger(e[2]), JSON.stringify(e));
      assert.ok(Array.isArray(e[3]));
      assert.match(e[4], /^127\.0\.0\.1:\d+$/);
    }
    const set = entries.find((e) => e[3][0].toUpperCase() === 'SET' && e[3][1] === `session:${u}:s`);
    assert.ok(set, `SET in KEYWARDEN SLOWLOG GET: ${JSON.stringify(entries)}`);
    assert.deepEqual(set[3], ['SET', `session:${u}:s`, 'v']);
    assert.equal(set[5], 'slow-one');
    assert.equal(set[6], 'session');
    assert.ok(Math.abs(set[1] - Date.now() / 1000) < 60, 'timestamp in seconds');
    // Newest first, ids decreasing.
    for (let i = 1; i < entries.length; i++) assert.ok(entries[i - 1][0] > entries[i][0], 'ids decrease');
    assert.equal((await o.call('KEYWARDEN', 'SLOWLOG', 'GET', '1')).length, 1);
    assertErr(await o.call('KEYWARDEN', 'SLOWLOG', 'GET', '-2'), 'ERR count should be greater than or equal to -1');
    assert.equal(await o.call('KEYWARDEN', 'SLOWLOG', 'RESET'), 'OK');
    assert.ok((await o.call('KEYWARDEN', 'SLOWLOG', 'LEN')) <= 1, 'RESET empties the log (the RESET itself may be logged)');
    const help = await o.call('KEYWARDEN', 'HELP');
    assert.ok(help.some((l) => l.startsWith('SLOWLOG GET')), `KEYWARDEN HELP: ${JSON.stringify(help)}`);
    const na = await a.call('KEYWARDEN', 'SLOWLOG', 'GET');
    assert.ok(na instanceof RespError && na.message.startsWith('NOPERM'), `non-admin KEYWARDEN SLOWLOG: ${JSON.stringify(na)}`);
  });

  h.proxyTest('SLOWLOG is Redis\'s: CONFIG SET slowlog-log-slower-than 0, then SLOWLOG GET shows it', { timeout: 15000 }, async () => {
    const o = await as('ops');
    const slower = await o.call('CONFIG', 'GET', 'slowlog-log-slower-than');
    try {
      assert.equal(await o.call('CONFIG', 'SET', 'slowlog-log-slower-than', '0'), 'OK');
      assert.equal(await o.call('SLOWLOG', 'RESET'), 'OK');
      const u = crypto.randomUUID();
      const a = await as('auth');
      assert.equal(await a.call('SET', `session:${u}:upstream`, 'v'), 'OK');
      const len = await o.call('SLOWLOG', 'LEN');
      assert.ok(Number.isInteger(len) && len >= 1, `SLOWLOG LEN ${len}`);
      const entries = await o.call('SLOWLOG', 'GET', '-1');
      assert.ok(Array.isArray(entries) && entries.length >= 1, JSON.stringify(entries));
      const set = entries.find((e) => e[3][0].toUpperCase() === 'SET' && e[3][1] === `session:${u}:upstream`);
      assert.ok(set, `the SET in Redis's SLOWLOG GET: ${JSON.stringify(entries)}`);
      assert.equal(set.length, 6, "Redis's six fields");
      assert.deepEqual(set[3], ['SET', `session:${u}:upstream`, 'v', 'EX', '2592000'], 'as Redis ran it, TTL added by the proxy');
      const help = await o.call('SLOWLOG', 'HELP');
      assert.ok(Array.isArray(help) && help.some((l) => /^SLOWLOG/.test(l)), JSON.stringify(help));
      assert.equal(await o.call('SLOWLOG', 'RESET'), 'OK');
      assert.ok((await o.call('SLOWLOG', 'LEN')) <= 1);
      // Still for admins only.
      const na = await a.call('SLOWLOG', 'GET');
      assert.ok(na instanceof RespError && na.message.startsWith('NOPERM'), `non-admin SLOWLOG: ${JSON.stringify(na)}`);
    } finally {
      await o.call('CONFIG', 'SET', 'slowlog-log-slower-than', slower[1]);
    }
  });

  h.proxyTest('KEYWARDEN SLOWLOG never shows AUTH passwords', { timeout: 10000 }, async () => {
    const o = await as('ops');
    assert.equal(await o.call('KEYWARDEN', 'SLOWLOG', 'RESET'), 'OK');
    await as('auth'); // AUTH auth-service auth-service-secret
    const c = await RawClient.connect(kw.port, h.HOST);
    open.push(c);
    assert.ok((await c.call('HELLO', '2', 'AUTH', 'user-service', 'user-service-secret')) instanceof Array);
    const text = JSON.stringify(await o.call('KEYWARDEN', 'SLOWLOG', 'GET', '128'));
    assert.ok(!text.includes('auth-service-secret') && !text.includes('user-service-secret'),
      `passwords in KEYWARDEN SLOWLOG GET (Redis writes "(redacted)"): ${text}`);
  });

  h.proxyTest('INFO for users who are not admins: server and persistence, or an error that says why', { timeout: 15000 }, async () => {
    const a = await as('auth');
    const all = parseInfo(await a.call('INFO'));
    assert.deepEqual([...all.keys()], ['Server', 'Persistence']);
    assert.equal(all.get('Persistence').get('loading'), '0', 'ioredis waits for loading:0');
    for (const arg of ['default', 'all', 'everything', 'ALL']) {
      assert.deepEqual([...parseInfo(await a.call('INFO', arg)).keys()], ['Server', 'Persistence'], `INFO ${arg}`);
    }
    assert.deepEqual([...parseInfo(await a.call('INFO', 'server')).keys()], ['Server']);
    assert.deepEqual([...parseInfo(await a.call('INFO', 'Persistence')).keys()], ['Persistence']);
    for (const section of ['keywarden', 'clients', 'stats', 'upstream', 'memory', 'keyspace']) {
      assertErr(await a.call('INFO', section),
        `NOPERM User auth-service has no permissions to read the INFO '${section}' section (users who are not admins get only 'server' and 'persistence')`,
        `INFO ${section}`);
    }
    assertErr(await a.call('INFO', 'server', 'Keywarden'),
      "NOPERM User auth-service has no permissions to read the INFO 'keywarden' section (users who are not admins get only 'server' and 'persistence')");
    // An admin still gets the section asked for.
    const o = await as('ops');
    assert.deepEqual([...parseInfo(await o.call('INFO', 'keywarden')).keys()], ['Keywarden']);
  });

  h.proxyTest('KEYWARDEN HELP, NAMESPACES, CONFIG GET, UPSTREAM', { timeout: 15000 }, async () => {
    const o = await as('ops');
    const help = await o.call('KEYWARDEN', 'HELP');
    assert.ok(Array.isArray(help) && help.every((l) => typeof l === 'string'), `HELP: ${JSON.stringify(help)}`);
    for (const sub of ['NAMESPACES', 'CONFIG GET', 'RELOAD', 'UPSTREAM', 'HELP']) {
      assert.ok(help.some((l) => l.startsWith(sub)), `HELP mentions ${sub}`);
    }

    const nsList = async () => {
      const r = await o.call('KEYWARDEN', 'NAMESPACES');
      assert.ok(Array.isArray(r));
      return new Map(r.map((e) => {
        const m = pairs(e);
        return [m.get('name'), m];
      }));
    };
    const ns0 = await nsList();
    assert.deepEqual([...ns0.keys()].sort(),
      ['blacklist:access', 'blacklist:refresh', 'doc:processing', 'profile', 'rl', 'session', 'user:email', 'user:id'].sort());
    const s0 = ns0.get('session');
    assert.equal(s0.get('pattern'), 'session:{user_id:uuid}:{session_id}');
    assert.equal(Number(s0.get('default_ttl_s')), 2592000);
    assert.equal(Number(s0.get('max_ttl_s')), 2592000);
    for (const f of ['commands', 'hits', 'misses', 'refused']) assert.ok(s0.has(f), `session has ${f}`);
    assert.equal(Number(ns0.get('doc:processing').get('default_ttl_s')), 3600);

    const a = await as('auth');
    const u = crypto.randomUUID();
    assert.equal(await a.call('SET', `session:${u}:k`, 'v'), 'OK');
    assert.equal(await a.call('GET', `session:${u}:k`), 'v');
    assert.equal(await a.call('GET', `session:${u}:none`), null);
    assert.ok((await a.call('GET', `profile:${u}`)) instanceof RespError);
    const ns1 = await nsList();
    const delta = (ns, f) => Number(ns1.get(ns).get(f)) - Number(ns0.get(ns).get(f));
    assert.equal(delta('session', 'commands'), 3);
    assert.equal(delta('session', 'hits'), 1);
    assert.equal(delta('session', 'misses'), 1);
    assert.equal(delta('profile', 'refused'), 1);

    const up = pairs(await o.call('KEYWARDEN', 'CONFIG', 'GET', 'upstream.*'));
    assert.equal(up.get('upstream.address'), `${h.HOST}:${redis.port}`);
    assert.equal(up.get('upstream.password'), '********', 'upstream password masked');
    assert.ok(![...up.values()].includes(UPSTREAM_PASSWORD));
    assert.ok([...up.keys()].every((k) => k.startsWith('upstream.')));
    const one = pairs(await o.call('KEYWARDEN', 'CONFIG', 'GET', 'server.workers'));
    assert.deepEqual([...one.entries()], [['server.workers', '2']]);
    // Anything that could carry a secret is masked, whatever the pattern.
    const all = JSON.stringify(await o.call('KEYWARDEN', 'CONFIG', 'GET', '*'));
    assert.ok(!all.includes(UPSTREAM_PASSWORD), 'no secret in CONFIG GET *');

    const upReply = await o.call('KEYWARDEN', 'UPSTREAM');
    const lines = (Array.isArray(upReply) ? upReply : String(upReply).split('\n')).filter((l) => l.trim());
    const shared = lines.filter((l) => /^worker=\d+ role=shared proto=2 state=ready\b/.test(l));
    assert.ok(shared.length >= 2, `KEYWARDEN UPSTREAM:\n${lines.join('\n')}`);
    assert.deepEqual([...new Set(shared.map((l) => l.split(' ')[0]))].sort(), ['worker=0', 'worker=1']);

    const na = await a.call('KEYWARDEN', 'NAMESPACES');
    assert.ok(na instanceof RespError && na.message.startsWith('NOPERM'), `non-admin KEYWARDEN: ${JSON.stringify(na)}`);
    const bad = await o.call('KEYWARDEN', 'NOSUCH');
    assert.ok(bad instanceof RespError && bad.message.startsWith('ERR unknown subcommand'), `KEYWARDEN NOSUCH: ${JSON.stringify(bad)}`);
  });
});
