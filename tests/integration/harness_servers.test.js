'use strict';
// The harness's own servers against the real things, before keywarden is put in front of them:
// redis-server over TLS with the certificates makeCerts() makes, redis-server on a Unix socket,
// and a Sentinel group that fails over (on request and when its master is killed). No keywarden
// here; a server that cannot start fails the test.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const { describe, before } = require('node:test');
const h = require('./harness');
const { RespError } = require('./resp');

async function cliPing(args) {
  return h.redisCli([...args, 'PING']);
}

// The server closes the connection before answering: a refused TLS handshake or a plaintext
// client on a TLS port.
async function assertRefused(target, what) {
  await assert.rejects(h.callOnce(target, ['PING']), /connection closed|ECONNRESET|socket hang up/, what);
}

describe('TLS redis-server', () => {
  let certs;
  before(() => {
    certs = h.makeCerts(h.makeTempDir('kw-certs-'));
  });

  h.test('with client certificates required, only clients with a valid certificate of the CA get in', { timeout: 30000 }, async () => {
    const r = await h.startRedisTls({ certs, requireClientCert: true });
    for (const as of ['client', 'client2']) {
      const ok = await cliPing(r.cliArgs(as));
      assert.equal(ok.stdout.trim(), 'PONG', `redis-cli --tls as ${as}: ${ok.stderr}`);
      assert.equal(await h.callOnce({ port: r.port, tls: h.tlsClientOptions(certs, as) }, ['PING']), 'PONG');
    }
    for (const as of [null, 'expiredClient', 'untrusted']) {
      const no = await cliPing(r.cliArgs(as));
      assert.notEqual(no.code, 0, `redis-cli --tls as ${as} must be refused: ${no.stdout}`);
      assert.doesNotMatch(no.stdout, /PONG/);
      await assertRefused({ port: r.port, tls: h.tlsClientOptions(certs, as) }, `node tls as ${as}`);
    }
    // Refused for their certificates (Redis does not log which check failed).
    assert.match(r.logs(), /peer did not return a certificate/);
    assert.match(r.logs(), /certificate verify failed/);

    // Plaintext on the TLS port: refused, and there is no plaintext port.
    const plain = await cliPing(['-h', h.HOST, '-p', String(r.port)]);
    assert.notEqual(plain.code, 0);
    await assertRefused(r.port, 'plaintext PING on the TLS port');

    const bench = await h.redisCli(['-h', h.HOST, '-p', String(r.port), ...h.redisCliTlsArgs(certs),
      '-n', '300', '-c', '2', '-t', 'set,get', '-q'], { bin: 'redis-benchmark' });
    assert.equal(bench.code, 0, bench.stderr);
    assert.match(bench.stdout, /GET: [0-9.]+ requests per second/);
  });

  h.test('without client certificates required, clients still verify the server', { timeout: 30000 }, async () => {
    const r = await h.startRedisTls({ certs, requireClientCert: false });
    const ok = await cliPing(r.cliArgs(null));
    assert.equal(ok.stdout.trim(), 'PONG', ok.stderr);
    const Redis = require('ioredis');
    const io = new Redis({ port: r.port, host: h.HOST, tls: h.tlsClientOptions(certs, null), lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await io.connect();
      assert.equal(await io.set('k', 'v'), 'OK');
      assert.equal(await io.get('k'), 'v');
    } finally {
      io.disconnect();
    }

    // Servers presenting an expired certificate, or one of a CA the client does not trust.
    const expired = await h.startRedisTls({ certs, serverCert: 'expiredServer' });
    const untrusted = await h.startRedisTls({ certs, serverCert: 'untrusted' });
    for (const [srv, code] of [[expired, 'CERT_HAS_EXPIRED'], [untrusted, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE']]) {
      const no = await cliPing(srv.cliArgs(null));
      assert.notEqual(no.code, 0);
      assert.match(no.stderr, /certificate verify failed/);
      await assert.rejects(h.callOnce({ port: srv.port, tls: h.tlsClientOptions(certs, null) }, ['PING']), { code });
    }
    // Trusting the other CA makes the untrusted server fine: the failure above was the trust.
    const other = { ca: fs.readFileSync(certs.untrustedCa.cert) };
    assert.equal(await h.callOnce({ port: untrusted.port, tls: other }, ['PING']), 'PONG');
  });
});

h.test('Unix-socket redis-server answers on its socket, mode 700', { timeout: 20000 }, async () => {
  const u = await h.startRedisUnix();
  const st = fs.statSync(u.path);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o700);
  assert.equal(await h.callOnce({ path: u.path }, ['PING']), 'PONG');
  const cli = await h.redisCli(['-s', u.path, 'SET', 'k', 'v']);
  assert.equal(cli.stdout.trim(), 'OK', cli.stderr);
  assert.equal(await h.callOnce({ path: u.path }, ['GET', 'k']), 'v');

  const p = await h.startRedisUnix({ password: 'unixpw' });
  assert.match((await h.callOnce({ path: p.path }, ['GET', 'k'])).message, /^NOAUTH/);
  assert.equal(await h.callOnce({ path: p.path }, ['PING'], { password: 'unixpw' }), 'PONG');
});

describe('Sentinel group', () => {
  h.test('SENTINEL FAILOVER and a killed master move the master; every sentinel follows', { timeout: 60000 }, async (t) => {
    let since = Date.now();
    const g = await h.startSentinelGroup({ downAfterMs: 1000 });
    t.diagnostic(`group of 3 data nodes and 3 sentinels settled in ${Date.now() - since} ms`);
    assert.equal(g.replicas.length, 2);
    assert.equal(g.sentinels.length, 3);
    const m0 = await g.currentMaster();
    assert.equal(m0.port, g.master.port);
    assert.equal(m0.host, h.HOST);
    assert.equal(await g.nodeCall(g.master, 'SET', 'before', '1'), 'OK');

    const f = await g.failover();
    t.diagnostic(`SENTINEL FAILOVER: first sentinel names the new master after ${f.msFirst} ms, all three and ROLE after ${f.ms} ms`);
    assert.notEqual(f.to.port, m0.port);
    assert.ok(g.replicas.includes(f.to.node));
    assert.equal((await g.currentMaster()).port, f.to.port);
    assert.equal(await g.nodeCall(f.to.node, 'GET', 'before'), '1');
    since = Date.now();
    await g.waitSettled(30000);
    t.diagnostic(`settled again (old master demoted, replicas linked) ${Date.now() - since} ms after the switch`);
    // Relative to the master of the moment: on a loaded machine the sentinels may fail over on
    // their own (counted below), and the test then still holds.
    const m1 = await g.currentMaster();
    for (const n of g.nodes.filter((x) => x !== m1.node)) assert.equal((await g.nodeCall(n, 'ROLE'))[0], 'slave');

    const k = await g.killMaster();
    t.diagnostic(`killed master, down-after 1000 ms: first sentinel names the new master after ${k.msFirst} ms, all three and ROLE after ${k.ms} ms`);
    assert.equal(k.killed, m1.node);
    assert.ok(!k.killed.alive);
    assert.notEqual(k.to.port, m1.port);
    assert.equal((await g.currentMaster()).port, k.to.port);
    const ro = await g.nodeCall(g.nodes.find((n) => n.alive && n !== k.to.node), 'SET', 'x', '1');
    assert.ok(ro instanceof RespError && /^READONLY/.test(ro.message), `a replica refuses writes: ${ro}`);

    // The killed node comes back and Sentinel makes it a replica of the master.
    await k.killed.restart();
    await g.waitSettled(30000);
    const m2 = await g.currentMaster();
    for (const n of g.nodes.filter((x) => x !== m2.node)) assert.equal((await g.nodeCall(n, 'ROLE'))[0], 'slave');
    const switches = g.switchCount(0);
    t.diagnostic(`master switches seen by sentinel 0: ${switches} (2 caused by the test)`);
    assert.ok(switches >= 2);
  });

  h.test('passwords on the data nodes and on the sentinels (password or ACL user)', { timeout: 40000 }, async () => {
    for (const auth of [{ sentinelPassword: 'sentpw' }, { sentinelUsername: 'kwsentinel', sentinelPassword: 'sentpw' }]) {
      const g = await h.startSentinelGroup({ password: 'datapw', ...auth });
      const port = g.sentinels[0].port;
      const noauth = await h.callOnce(port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', g.masterName]);
      assert.ok(noauth instanceof RespError && /^NOAUTH/.test(noauth.message), `${JSON.stringify(auth)}: ${noauth}`);
      await assert.rejects(h.callOnce(port, ['PING'], { password: 'wrong' }), /AUTH refused/);
      assert.equal((await g.currentMaster()).port, g.master.port);
      assert.match((await h.callOnce(g.master.port, ['GET', 'k'])).message, /^NOAUTH/);
      const f = await g.failover();
      assert.notEqual(f.to.port, g.master.port);
      await g.stop();
    }
  });
});
