'use strict';
// The Prometheus endpoint: exact counter movements for a known workload while
// other clients run unrelated traffic, the text format checked by promtool,
// and /healthz following the upstream's health.

const assert = require('node:assert/strict');
const { execFileSync, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const { describe, before, after } = require('node:test');
const h = require('./harness');
const { RawClient, RespError } = require('./resp');

const USERS = {
  auth: ['auth-service', 'auth-service-secret'],
  ops: ['ops', 'ops-secret'],
};

function httpGet(port, path, timeoutMs = 3000) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: h.HOST, port, path, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
  });
}

// {"name{a=\"b\",...}": value} with labels sorted, so lookups do not depend on label order.
function parseMetrics(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    assert.ok(m, `unparsable metrics line: ${line}`);
    const labels = [];
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    let l;
    while ((l = re.exec(m[2] || '')) !== null) labels.push(`${l[1]}="${l[2]}"`);
    out.set(seriesKey(m[1], labels), Number(m[3]));
  }
  return out;
}

function seriesKey(name, labels) {
  const list = Array.isArray(labels) ? labels : Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return `${name}{${list.sort().join(',')}}`;
}

function value(metrics, name, labels = {}) {
  return metrics.get(seriesKey(name, labels)) || 0;
}

describe('metrics endpoint', () => {
  let redis;
  let kw;
  let direct;
  const open = [];

  async function as(who) {
    const c = await RawClient.connect(kw.port, h.HOST);
    open.push(c);
    assert.equal(await c.call('AUTH', ...USERS[who]), 'OK', `AUTH ${who}`);
    return c;
  }

  async function scrape() {
    const r = await httpGet(kw.metricsPort, '/metrics');
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'] || '', /^text\/plain/);
    return r.body;
  }

  before(async () => {
    redis = await h.startRedis();
    kw = await h.startKeywarden({
      upstreamPort: redis.port,
      metrics: true,
      toml: { policy: { outside_namespaces: 'allow', default_user: '' } },
      tomlText: h.confPolicyBlocks(),
    });
    if (!h.TARGET_REDIS) direct = await RawClient.connect(redis.port, h.HOST);
  }, { timeout: 30000 });

  after(async () => {
    for (const c of open) c.close();
    if (direct) direct.close();
    if (kw) await kw.stop();
    if (redis) await redis.stop();
  }, { timeout: 30000 });

  h.proxyTest('command, read, TTL, refusal and auth counters move by exactly the workload', { timeout: 30000 }, async () => {
    const o = await as('ops');
    const a = await as('auth');
    const u = crypto.randomUUID();
    for (let i = 0; i < 7; i++) await direct.call('SET', `rl:hit:${i}`, 'x');
    const m0 = parseMetrics(await scrape());

    // Unrelated traffic on other connections, in other series, all along.
    let stop = false;
    const noise = [];
    for (let n = 0; n < 2; n++) {
      const c = await as('ops');
      noise.push((async () => {
        let i = 0;
        while (!stop) {
          c.send('INCR', `noise:${n}`);
          c.send('HSET', `noise:h:${n}`, 'f', String(i++));
          await c.readMany(2, 5000);
        }
      })());
    }

    // 1000 GETs of keys in no namespace, pipelined in batches.
    for (let b = 0; b < 10; b++) {
      for (let i = 0; i < 100; i++) o.send('GET', `plain:${b}:${i}`);
      const r = await o.readMany(100, 10000);
      assert.ok(r.every((v) => v === null));
    }
    // Reads in a namespace: 7 hits, 5 misses.
    for (let i = 0; i < 7; i++) assert.equal(await a.call('GET', `rl:hit:${i}`), 'x');
    for (let i = 0; i < 5; i++) assert.equal(await a.call('GET', `rl:miss:${i}`), null);
    // TTL actions in session.
    assert.equal(await a.call('SET', `session:${u}:a`, 'v'), 'OK'); // default_applied
    assert.equal(await a.call('SET', `session:${u}:b`, 'v', 'EX', '99999999'), 'OK'); // clamped
    assert.ok((await a.call('PERSIST', `session:${u}:a`)) instanceof RespError); // refused_persist
    // Refusals.
    assert.ok((await a.call('GET', `profile:${u}`)) instanceof RespError); // refused_acl
    assert.ok((await a.call('GET', `profile:${u}`)) instanceof RespError);
    assert.ok((await a.call('SET', 'session:abc', 'v')) instanceof RespError); // refused_shape
    assert.ok((await a.call('GET', 'plain:x')) instanceof RespError); // auth-service has no @outside
    // Auth failures.
    const bad = await RawClient.connect(kw.port, h.HOST);
    open.push(bad);
    for (let i = 0; i < 3; i++) assert.ok((await bad.call('AUTH', 'ops', `wrong${i}`)) instanceof RespError);
    assert.ok((await bad.call('GET', 'plain:y')) instanceof RespError); // refused_auth

    stop = true;
    await Promise.all(noise);
    const text = await scrape();
    const m1 = parseMetrics(text);
    const d = (name, labels) => value(m1, name, labels) - value(m0, name, labels);

    assert.equal(d('keywarden_commands_total', { command: 'get', namespace: 'none', outcome: 'ok' }), 1000);
    assert.equal(d('keywarden_command_duration_seconds_count', { command: 'get' }), 1000 + 7 + 5 + 2 + 1 + 1);
    assert.equal(d('keywarden_command_duration_seconds_bucket', { command: 'get', le: '+Inf' }), 1000 + 7 + 5 + 2 + 1 + 1);
    assert.equal(d('keywarden_commands_total', { command: 'get', namespace: 'rl', outcome: 'ok' }), 12);
    assert.equal(d('keywarden_reads_total', { namespace: 'rl', result: 'hit' }), 7);
    assert.equal(d('keywarden_reads_total', { namespace: 'rl', result: 'miss' }), 5);
    assert.equal(d('keywarden_reads_total', { namespace: 'none', result: 'miss' }), 1000);
    assert.equal(d('keywarden_ttl_actions_total', { namespace: 'session', action: 'default_applied' }), 1);
    assert.equal(d('keywarden_ttl_actions_total', { namespace: 'session', action: 'clamped' }), 1);
    assert.equal(d('keywarden_ttl_actions_total', { namespace: 'session', action: 'refused_persist' }), 1);
    assert.equal(d('keywarden_commands_total', { command: 'get', namespace: 'profile', outcome: 'refused_acl' }), 2);
    assert.equal(d('keywarden_commands_total', { command: 'get', namespace: 'none', outcome: 'refused_acl' }), 1);
    assert.equal(d('keywarden_commands_total', { command: 'set', namespace: 'session', outcome: 'refused_shape' }), 1);
    assert.equal(d('keywarden_commands_total', { command: 'persist', namespace: 'session', outcome: 'refused_ttl' }), 1);
    assert.equal(d('keywarden_commands_total', { command: 'get', namespace: 'none', outcome: 'refused_auth' }), 1);
    assert.equal(d('keywarden_auth_failures_total', {}), 3);
    assert.ok(d('keywarden_commands_total', { command: 'incr', namespace: 'none', outcome: 'ok' }) > 0, 'noise counted in its own series');
    assert.equal(value(m1, 'keywarden_upstream_up', {}), 1);
    assert.ok(value(m1, 'keywarden_clients_connected', {}) >= 3);

    // The text passes Prometheus's own checker.
    const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
    assert.ok(!promtool.error, 'promtool is missing (Debian package "prometheus")');
    let out = '';
    try {
      out = execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (e) {
      assert.fail(`promtool check metrics failed (${e.status}):\n${e.stdout}\n${e.stderr}`);
    }
    assert.equal(out.trim(), '', `promtool reported: ${out}`);
  });

  h.proxyTest('a reload that reorders namespaces keeps every count with its name', { timeout: 30000 }, async () => {
    const o = await as('ops');
    const a = await as('auth');
    const u = crypto.randomUUID();
    // Per-namespace counts as the three views show them.
    const counts = async () => {
      const m = parseMetrics(await scrape());
      const info = String(await o.call('INFO', 'keywarden'));
      const infoField = (ns, f) => {
        const line = info.split('\r\n').find((l) => l.includes(`:name=${ns},`));
        assert.ok(line, `INFO keywarden has ${ns}: ${info}`);
        return Number(new Map(line.split(':name=')[1].split(',').map((kv) => kv.split('='))).get(f));
      };
      const nsReply = await o.call('KEYWARDEN', 'NAMESPACES');
      const nsField = (ns, f) => {
        const e = nsReply.find((x) => x[1] === ns);
        assert.ok(e, `KEYWARDEN NAMESPACES has ${ns}`);
        return Number(e[e.indexOf(f) + 1]);
      };
      return {
        sessionSets: value(m, 'keywarden_commands_total', { command: 'set', namespace: 'session', outcome: 'ok' }),
        sessionTtl: value(m, 'keywarden_ttl_actions_total', { namespace: 'session', action: 'default_applied' }),
        accessGets: value(m, 'keywarden_commands_total', { command: 'get', namespace: 'blacklist:access', outcome: 'ok' }),
        accessMisses: value(m, 'keywarden_reads_total', { namespace: 'blacklist:access', result: 'miss' }),
        info: [infoField('session', 'commands'), infoField('blacklist:access', 'commands'), infoField('blacklist:access', 'misses')],
        ns: [nsField('session', 'commands'), nsField('blacklist:access', 'commands'), nsField('session', 'ttl_default_applied')],
        order: nsReply.map((x) => x[1]).slice(0, 2),
      };
    };
    for (let i = 0; i < 3; i++) assert.equal(await a.call('SET', `session:${u}:${i}`, 'v'), 'OK');
    for (let i = 0; i < 5; i++) assert.equal(await a.call('GET', `blacklist:access:${u}-${i}`), null);
    const before = await counts();
    assert.deepEqual(before.order, ['session', 'blacklist:access']);
    assert.ok(before.sessionSets >= 3 && before.accessGets >= 5, JSON.stringify(before));

    // The same file with the first two [[namespaces]] swapped.
    const original = fs.readFileSync(kw.configPath, 'utf8');
    const parts = original.split('[[namespaces]]\n');
    assert.match(parts[1], /^name = "session"/);
    assert.match(parts[2], /^name = "blacklist:access"/);
    [parts[1], parts[2]] = [parts[2], parts[1]];
    fs.writeFileSync(kw.configPath, parts.join('[[namespaces]]\n'));
    try {
      assert.equal(await o.call('KEYWARDEN', 'RELOAD'), 'OK');
      const after = await counts();
      assert.deepEqual(after.order, ['blacklist:access', 'session'], 'the reload took effect');
      const { order: o1, ...countsBefore } = before;
      const { order: o2, ...countsAfter } = after;
      assert.deepEqual(countsAfter, countsBefore, 'every count is still under its own name');
      // New traffic lands under the right names too.
      assert.equal(await a.call('SET', `session:${u}:after`, 'v'), 'OK');
      const later = await counts();
      assert.equal(later.sessionSets, before.sessionSets + 1);
      assert.equal(later.accessGets, before.accessGets);
      assert.equal(later.ns[0], before.ns[0] + 1);
    } finally {
      fs.writeFileSync(kw.configPath, original);
      assert.equal(await o.call('KEYWARDEN', 'RELOAD'), 'OK');
    }
  });

  h.proxyTest('500 idle connections do not lock out the next scrape', { timeout: 60000 }, async () => {
    const sockets = [];
    const closedByServer = new Set();
    try {
      for (let i = 0; i < 500; i++) {
        const s = net.connect({ port: kw.metricsPort, host: h.HOST });
        s.on('error', () => {});
        s.on('close', () => closedByServer.add(i));
        sockets.push(s);
      }
      await Promise.all(sockets.map((s) => new Promise((resolve) => {
        if (s.readyState === 'open') resolve();
        s.once('connect', resolve);
        s.once('close', resolve);
      })));
      await h.sleep(200); // the server has accepted them (and closed the surplus idlest)
      const r = await httpGet(kw.metricsPort, '/metrics', 5000);
      assert.equal(r.status, 200);
      assert.match(r.body, /keywarden_commands_total/);
      assert.equal((await httpGet(kw.metricsPort, '/healthz', 5000)).status, 200);
      // The ones still open are closed at the request head deadline, without a response.
      const deadline = Date.now() + 8000;
      while (closedByServer.size < sockets.length && Date.now() < deadline) await h.sleep(100);
      assert.equal(closedByServer.size, sockets.length, 'idle connections are closed by the server');
    } finally {
      for (const s of sockets) s.destroy();
    }
  });

  h.proxyTest('unknown paths get 404', { timeout: 10000 }, async () => {
    const r = await httpGet(kw.metricsPort, '/nope');
    assert.equal(r.status, 404);
  });

  // Last: it kills the upstream.
  h.proxyTest('/healthz follows the upstream', { timeout: 20000 }, async () => {
    const r0 = await httpGet(kw.metricsPort, '/healthz');
    assert.equal(r0.status, 200, `healthz with Redis up: ${r0.status} ${r0.body}`);
    await redis.kill();
    const pollFor = async (status, ms) => {
      const deadline = Date.now() + ms;
      let last;
      while (Date.now() < deadline) {
        last = await httpGet(kw.metricsPort, '/healthz');
        if (last.status === status) return last;
        await h.sleep(100);
      }
      assert.fail(`/healthz did not answer ${status} within ${ms} ms (last: ${last && last.status} ${last && last.body})`);
    };
    await pollFor(503, 3000);
    const m = parseMetrics(await scrape());
    assert.equal(value(m, 'keywarden_upstream_up', {}), 0);
    await redis.restart();
    await pollFor(200, 5000);
    const c = await as('ops');
    assert.equal(await c.call('SET', 'after:restart', '1'), 'OK');
  });
});
