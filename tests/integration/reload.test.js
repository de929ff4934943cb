'use strict';
// Configuration reload (KEYWARDEN RELOAD and SIGHUP) under traffic: a new
// namespace TTL applies to the next write, a broken file changes nothing and
// says where it is broken, settings that need a restart are reported and
// keep their old values.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const { describe, before, after } = require('node:test');
const h = require('./harness');
const { RawClient, RespError } = require('./resp');

const SESSION_TTL_LINE = /default_ttl_s = 2592000[^\n]*\n/; // the first one is session's

describe('reload', () => {
  let redis;
  let kw;
  let direct;
  let original;
  const open = [];
  const u = crypto.randomUUID();

  async function as(user, pass) {
    const c = await RawClient.connect(kw.port, h.HOST);
    open.push(c);
    assert.equal(await c.call('AUTH', user, pass), 'OK');
    return c;
  }
  const ops = () => as('ops', 'ops-secret');
  const svc = () => as('auth-service', 'auth-service-secret');

  function writeConfig(fn) {
    fs.writeFileSync(kw.configPath, fn(original));
  }
  function withSessionTtl(text, ttl) {
    assert.match(text, SESSION_TTL_LINE);
    return text.replace(SESSION_TTL_LINE, `default_ttl_s = ${ttl}\n`);
  }

  // SET without EX through the proxy; the TTL Redis gave the key.
  async function ttlOfNewSet(c, tag) {
    const key = `session:${u}:${tag}`;
    assert.equal(await c.call('SET', key, 'v'), 'OK');
    return direct.call('TTL', key);
  }

  // Waits until SETs through `c` get `ttl` (workers pick a new snapshot up on
  // their next loop turn; the test after this one checks that the reply waits for that).
  async function settled(c, ttl) {
    const deadline = Date.now() + 3000;
    let got;
    for (let i = 0; Date.now() < deadline; i++) {
      got = await ttlOfNewSet(c, `settle-${ttl}-${i}`);
      if (got > ttl - 60 && got <= ttl) return;
      await h.sleep(50);
    }
    assert.fail(`SET never got the TTL ${ttl} (last ${got})`);
  }

  before(async () => {
    redis = await h.startRedis();
    kw = await h.startKeywarden({
      upstreamPort: redis.port,
      toml: { policy: { outside_namespaces: 'refuse', default_user: '' } },
      tomlText: h.confPolicyBlocks(),
    });
    if (!h.TARGET_REDIS) {
      original = fs.readFileSync(kw.configPath, 'utf8');
      direct = await RawClient.connect(redis.port, h.HOST);
    }
  }, { timeout: 30000 });

  after(async () => {
    for (const c of open) c.close();
    if (direct) direct.close();
    if (kw) await kw.stop();
    if (redis) await redis.stop();
  }, { timeout: 30000 });

  h.proxyTest('KEYWARDEN RELOAD under traffic applies a new TTL, no request fails', { timeout: 30000 }, async () => {
    const o = await ops();
    const a = await svc();
    assert.equal(await ttlOfNewSet(a, 'before'), 2592000);

    let stop = false;
    const failures = [];
    let done = 0;
    const loops = [];
    for (let n = 0; n < 4; n++) {
      const c = await svc();
      loops.push((async () => {
        let i = 0;
        while (!stop) {
          const key = `session:${u}:load-${n}-${i % 50}`;
          const val = `v${i++}`;
          c.send('SET', key, val);
          c.send('GET', key);
          const [s, g] = await c.readMany(2, 5000);
          if (s !== 'OK' || g !== val) failures.push({ n, key, s, g });
          done++;
        }
      })());
    }
    await h.sleep(300);
    writeConfig((t) => withSessionTtl(t, 1234));
    const before = done;
    assert.equal(await o.call('KEYWARDEN', 'RELOAD'), 'OK');
    await h.sleep(300);
    stop = true;
    await Promise.all(loops);
    assert.ok(done - before > 10, `traffic kept flowing across the reload (${done - before} round trips)`);
    assert.deepEqual(failures, [], 'no request failed during the reload');

    const ttl = await ttlOfNewSet(a, 'after');
    assert.ok(ttl > 1200 && ttl <= 1234, `new default TTL applies at once: ${ttl}`);
    const ns = await o.call('KEYWARDEN', 'CONFIG', 'GET', 'server.listen');
    assert.deepEqual(ns, ['server.listen', `${h.HOST}:${kw.port}`]);
  });

  h.proxyTest('once RELOAD has replied, the next SET on any connection gets the new TTL', { timeout: 15000 }, async () => {
    const o = await ops();
    const clients = [];
    for (let i = 0; i < 8; i++) clients.push(await svc()); // both workers, most likely
    for (const [round, ttl] of [[0, 2001], [1, 2002], [2, 2003]]) {
      writeConfig((t) => withSessionTtl(t, ttl));
      assert.equal(await o.call('KEYWARDEN', 'RELOAD'), 'OK');
      const got = [];
      for (const [i, c] of clients.entries()) got.push(await ttlOfNewSet(c, `next-${round}-${i}`));
      assert.ok(got.every((t) => t > ttl - 60 && t <= ttl), `TTLs of the first SET of each client after RELOAD (want ${ttl}): ${got.join(' ')}`);
      await h.sleep(200); // let the workers go idle again
    }
  });

  h.proxyTest('SIGHUP reloads', { timeout: 15000 }, async () => {
    const a = await svc();
    writeConfig((t) => withSessionTtl(t, 4321));
    kw.proc.kill('SIGHUP');
    const deadline = Date.now() + 3000;
    let ttl;
    for (let i = 0; Date.now() < deadline; i++) {
      ttl = await ttlOfNewSet(a, `hup-${i}`);
      if (ttl > 4000) break;
      await h.sleep(50);
    }
    assert.ok(ttl > 4300 && ttl <= 4321, `TTL after SIGHUP: ${ttl}`);
    assert.ok(kw.alive, 'SIGHUP does not stop the proxy');
    const o = await ops();
    const info = String(await o.call('INFO', 'server'));
    const m = /config_reloads:(\d+)/.exec(info);
    assert.ok(m && Number(m[1]) >= 2, `config_reloads in INFO server: ${m && m[1]}`);
  });

  h.proxyTest('a broken file changes nothing and says where it is broken', { timeout: 15000 }, async () => {
    const o = await ops();
    const a = await svc();
    writeConfig((t) => withSessionTtl(t, 777));
    assert.equal(await o.call('KEYWARDEN', 'RELOAD'), 'OK');
    await settled(a, 777);

    // Syntax error on a known line.
    const good = withSessionTtl(original, 55);
    const lines = good.split('\n');
    const syntaxLine = lines.length + 1;
    fs.writeFileSync(kw.configPath, `${good}\nbroken = [\n`);
    let r = await o.call('KEYWARDEN', 'RELOAD');
    assert.ok(r instanceof RespError, `syntax error reload: ${JSON.stringify(r)}`);
    assert.ok(r.message.startsWith('ERR reload failed, configuration unchanged:'), r.message);
    assert.ok(r.message.includes(kw.configPath), `mentions the file: ${r.message}`);
    const lineNo = /:(\d+):/.exec(r.message);
    assert.ok(lineNo, `mentions a line: ${r.message}`);
    assert.ok(Math.abs(Number(lineNo[1]) - syntaxLine) <= 1, `line ${lineNo[1]} vs the broken line ${syntaxLine}: ${r.message}`);
    let ttl = await ttlOfNewSet(a, 'b1');
    assert.ok(ttl > 700 && ttl <= 777, `old TTL still applies: ${ttl}`);

    // An unknown key in [policy].
    // The harness renders [policy] before the namespaces.
    const policyAt = original.indexOf('[policy]\n');
    assert.ok(policyAt >= 0);
    const unknownText = `${good.slice(0, policyAt)}[policy]\nfrobnicate = 1\n${good.slice(policyAt + '[policy]\n'.length)}`;
    const unknownLine = unknownText.slice(0, unknownText.indexOf('frobnicate')).split('\n').length;
    fs.writeFileSync(kw.configPath, unknownText);
    r = await o.call('KEYWARDEN', 'RELOAD');
    assert.ok(r instanceof RespError, `unknown key reload: ${JSON.stringify(r)}`);
    assert.ok(r.message.startsWith('ERR reload failed, configuration unchanged:'), r.message);
    assert.ok(r.message.includes(`${kw.configPath}:${unknownLine}:`), `file:line ${unknownLine}: ${r.message}`);
    assert.ok(r.message.includes('frobnicate'), r.message);
    ttl = await ttlOfNewSet(a, 'b2');
    assert.ok(ttl > 700 && ttl <= 777, `old TTL still applies: ${ttl}`);

    // A broken file on SIGHUP: logged, proxy keeps running with the old config.
    kw.proc.kill('SIGHUP');
    await h.sleep(300);
    assert.ok(kw.alive);
    ttl = await ttlOfNewSet(a, 'b3');
    assert.ok(ttl > 700 && ttl <= 777, `old TTL after a failed SIGHUP reload: ${ttl}`);
    assert.match(fs.readFileSync(kw.logFile, 'utf8'), /reload failed, configuration unchanged: .*frobnicate/);

    // Non-admins may not reload.
    const na = await a.call('KEYWARDEN', 'RELOAD');
    assert.ok(na instanceof RespError && na.message.startsWith('NOPERM'), `non-admin RELOAD: ${JSON.stringify(na)}`);
  });

  h.proxyTest('server.listen needs a restart; the proxy keeps its port', { timeout: 15000 }, async () => {
    const o = await ops();
    const a = await svc();
    const newPort = await h.freePort();
    writeConfig((t) => withSessionTtl(t, 999).replace(`listen = "${h.HOST}:${kw.port}"`, `listen = "${h.HOST}:${newPort}"`));
    assert.ok(fs.readFileSync(kw.configPath, 'utf8').includes(`${h.HOST}:${newPort}`));
    const r = await o.call('KEYWARDEN', 'RELOAD');
    assert.equal(typeof r, 'string', `reload with a listen change: ${JSON.stringify(r)}`);
    assert.ok(r.includes('needs a restart to apply: server.listen'), r);
    // The rest of the file applied; the old port serves, the new one is not opened.
    await settled(a, 999); // the rest of the file applied
    const c = await svc();
    assert.equal(await c.call('PING'), 'PONG');
    await assert.rejects(new Promise((resolve, reject) => {
      const s = net.connect({ port: newPort, host: h.HOST });
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', reject);
    }), /ECONNREFUSED/);
    const listen = await o.call('KEYWARDEN', 'CONFIG', 'GET', 'server.listen');
    assert.deepEqual(listen, ['server.listen', `${h.HOST}:${kw.port}`], 'the running value is reported');
    // Restore the file, so a final stop/reload sees the real one.
    fs.writeFileSync(kw.configPath, original);
    assert.equal(await o.call('KEYWARDEN', 'RELOAD'), 'OK');
  });
});
