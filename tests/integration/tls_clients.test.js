'use strict';
// TLS towards clients ([tls]): the core cases over TLS with mutual TLS; handshakes that fail
// (plaintext on the TLS port, no client certificate when one is required, an untrusted CA, an
// expired certificate, a client that never completes it) close that connection only, with a
// metric and a log line at most once per host per 10 s; redis-cli --tls and ioredis with tls
// options; certificates reloaded under load (no connection dropped, new connections get the new
// certificate, a bad file changes nothing); certificate-mapped users; back-pressure and the
// slow-reader rules over TLS; --check-config on the certificate files.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const tls = require('node:tls');
const { describe, before, after } = require('node:test');
const Redis = require('ioredis');
const h = require('./harness');
const { RawClient, RespError } = require('./resp');
const { coreCases } = require('./core_cases');

// ---- helpers

function httpGet(port, p) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: h.HOST, port, path: p, timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${p} timed out`)));
    req.on('error', reject);
  });
}

// Sum of a metric family's series whose labels contain every `want` label.
async function metric(kw, name, want = {}) {
  const text = await httpGet(kw.metricsPort, '/metrics');
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(want).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return sum;
}

const failures = (kw, kind) => metric(kw, 'keywarden_tls_handshake_failures_total', { kind });

// "id=3 addr=... flags=N ..." -> {id: '3', addr: '...', ...}, keys in order.
function clientFields(line) {
  return Object.fromEntries(String(line).trim().split(' ').map((kv) => {
    const i = kv.indexOf('=');
    return [kv.slice(0, i), kv.slice(i + 1)];
  }));
}

function fingerprint(certFile) {
  return new crypto.X509Certificate(fs.readFileSync(certFile)).fingerprint256;
}

// A TLS connection that keywarden must refuse: either the handshake fails on the client's side,
// or (TLS 1.3: the client's view of the handshake ends before the server has checked its
// certificate) the first request is answered by a closed connection. Resolves with what the
// client saw.
async function expectRefused(target) {
  let c;
  try {
    c = await RawClient.open(target, { connectTimeoutMs: 5000 });
  } catch (e) {
    return `handshake failed: ${e.message}`;
  }
  try {
    c.send('PING');
    const r = await c.read(5000).catch((e) => e);
    assert.ok(r instanceof Error, `expected the connection to be refused, got a reply ${JSON.stringify(r)}`);
    return `closed: ${r.message}`;
  } finally {
    c.close();
  }
}

// A raw TCP connection to `port` that sends `bytes` and resolves once the server closes it,
// with what it received.
function plainExchange(port, bytes, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: h.HOST }, () => {
      if (bytes) s.write(bytes);
    });
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('the server did not close the connection'));
    }, timeoutMs);
    s.on('data', (d) => {
      got = Buffer.concat([got, d]);
    });
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

async function waitUntil(what, fn, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await h.sleep(50);
  }
}

function tlsSection(certFiles, extra = {}) {
  return { cert_file: certFiles.cert, key_file: certFiles.key, ...extra };
}

// ---- the main listener: mutual TLS required

describe('TLS listener with client_certs = "require"', () => {
  let redis;
  let kw;
  let certs;
  let renewed; // a second PKI: its server certificate is the "renewed" one of the reload test
  let tlsPort;
  let kwCert; // keywarden's own copies, overwritten by the reload test
  const u = crypto.randomUUID().slice(0, 8);

  const clientTls = (as = 'client') => ({
    ...h.tlsClientOptions(certs, as),
    ca: [fs.readFileSync(certs.ca.cert), fs.readFileSync(renewed.ca.cert)],
  });
  const target = (as = 'client') => ({ port: tlsPort, tls: clientTls(as) });

  before(async () => {
    const dir = h.makeTempDir('kw-tls-certs-');
    certs = h.makeCerts(path.join(dir, 'a'));
    renewed = h.makeCerts(path.join(dir, 'b'));
    kwCert = { cert: path.join(dir, 'kw-server.crt'), key: path.join(dir, 'kw-server.key') };
    fs.copyFileSync(certs.server.cert, kwCert.cert);
    fs.copyFileSync(certs.server.key, kwCert.key);
    redis = await h.startRedis();
    tlsPort = await h.freePort();
    kw = await h.startKeywarden({
      upstreamPort: redis.port,
      metrics: true,
      toml: {
        tls: tlsSection(kwCert, { listen: `${h.HOST}:${tlsPort}`, ca_file: certs.ca.cert, client_certs: 'require' }),
      },
    });
  }, { timeout: 60000 });
  after(async () => {
    if (kw) await kw.stop();
    if (redis) await redis.stop();
  }, { timeout: 30000 });

  coreCases('TLS', {
    target: () => target(),
    ioredisOptions: () => ({ port: tlsPort, host: h.HOST, tls: clientTls() }),
  });

  h.proxyTest('plaintext on the TLS port: closed, counted as not_tls, logged', { timeout: 20000 }, async () => {
    const before = await failures(kw, 'not_tls');
    const bystander = await RawClient.open(target());
    const got = await plainExchange(tlsPort, '*1\r\n$4\r\nPING\r\n');
    assert.equal(got.length, 0, `no reply to plaintext: ${JSON.stringify(got.toString('latin1'))}`);
    assert.equal(await failures(kw, 'not_tls'), before + 1);
    await waitUntil('the log line', () => /TLS handshake with client 127\.0\.0\.1:\d+ failed \(not_tls\)/.test(kw.logs()));
    // Nothing else is affected: an open TLS client goes on, and so does the plaintext listener.
    assert.equal(await bystander.call('PING'), 'PONG');
    bystander.close();
    assert.equal(await h.callOnce(kw.port, ['PING']), 'PONG');
  });

  h.proxyTest('a flood of bad handshakes from one host: every one counted, one log line per 10 s', { timeout: 30000 }, async () => {
    // After the previous test's line: this host's next line is due 10 s after it at the earliest.
    const logBefore = kw.logs().split('\n').length;
    const before = await failures(kw, 'not_tls');
    for (let i = 0; i < 20; i++) await plainExchange(tlsPort, 'PING\r\n');
    assert.equal(await failures(kw, 'not_tls'), before + 20);
    const fresh = kw.logs().split('\n').slice(logBefore - 1).filter((l) => /TLS handshake with client/.test(l));
    assert.ok(fresh.length <= 1, `at most one line for the burst:\n${fresh.join('\n')}`);
  });

  h.proxyTest('mTLS required: no client certificate, an untrusted CA, an expired one', { timeout: 30000 }, async () => {
    const before = await failures(kw, 'certificate');
    const cases = [
      { name: 'no certificate', tls: { ...clientTls(), cert: undefined, key: undefined } },
      { name: 'untrusted CA', tls: clientTls('untrusted') },
      { name: 'expired', tls: clientTls('expiredClient') },
    ];
    for (const c of cases) {
      const seen = await expectRefused({ port: tlsPort, tls: c.tls });
      assert.ok(seen, c.name);
    }
    await waitUntil('three certificate failures', async () => (await failures(kw, 'certificate')) === before + 3);
    // A client that does not trust keywarden's certificate refuses it, with an alert (OpenSSL's
    // unknown_ca: redis-cli; node checks after the handshake and just closes): counted too.
    const rogue = await h.redisCli(['-h', h.HOST, '-p', String(tlsPort), '--tls', '--cacert', certs.untrustedCa.cert,
      '--cert', certs.client.cert, '--key', certs.client.key, 'PING']);
    assert.ok(!/PONG/.test(rogue.stdout), `${rogue.stdout}${rogue.stderr}`);
    await waitUntil('the alert counted', async () => (await failures(kw, 'certificate')) >= before + 4); // redis-cli tries twice
    // And the listener still serves good clients.
    assert.equal(await h.callOnce(target(), ['PING']), 'PONG');
  });

  h.proxyTest('a client that never completes its handshake is closed after 10 s (timeout)', { timeout: 30000 }, async () => {
    const before = await failures(kw, 'timeout');
    const started = Date.now();
    const got = await plainExchange(tlsPort, null, 15000);
    const waited = Date.now() - started;
    assert.equal(got.length, 0);
    assert.ok(waited >= 9000 && waited < 13000, `closed after ${waited} ms`);
    assert.equal(await failures(kw, 'timeout'), before + 1);
  });

  h.proxyTest('redis-cli --tls', { timeout: 20000 }, async () => {
    const base = ['-h', h.HOST, '-p', String(tlsPort), ...h.redisCliTlsArgs(certs, 'client')];
    const set = await h.redisCli([...base, 'SET', `cli:${u}`, 'over tls']);
    assert.equal(set.stdout.trim(), 'OK', set.stderr);
    const get = await h.redisCli([...base, 'GET', `cli:${u}`]);
    assert.equal(get.stdout.trim(), 'over tls');
    const noCert = await h.redisCli(['-h', h.HOST, '-p', String(tlsPort), ...h.redisCliTlsArgs(certs, null), 'PING']);
    assert.ok(!/PONG/.test(noCert.stdout), `refused without a client certificate: ${noCert.stdout}${noCert.stderr}`);
  });

  h.proxyTest('CLIENT LIST of a TLS client has exactly Redis\'s fields', { timeout: 15000 }, async () => {
    const viaTls = await RawClient.open(target());
    const plain = await RawClient.connect(kw.port);
    const a = clientFields(await viaTls.call('CLIENT', 'INFO'));
    const b = clientFields(await plain.call('CLIENT', 'INFO'));
    assert.deepEqual(Object.keys(a), Object.keys(b));
    assert.equal(a.laddr, `${h.HOST}:${tlsPort}`);
    const info = String(await plain.call('INFO', 'tls'));
    assert.match(info, /# TLS\r\n/);
    assert.match(info, /tls_clients_connected:1\r\n/);
    assert.match(info, new RegExp(`tls_listen:${h.HOST}:${tlsPort}\\r\\n`));
    viaTls.close();
    plain.close();
  });

  h.proxyTest('metrics: the certificate expiry the alert rule reads', { timeout: 15000 }, async () => {
    const text = await httpGet(kw.metricsPort, '/metrics');
    const m = new RegExp(`keywarden_tls_cert_expiry_timestamp_seconds\\{file="${kwCert.cert.replace(/[.\\/]/g, '\\$&')}"\\} (\\d+)`).exec(text);
    assert.ok(m, text.split('\n').filter((l) => l.includes('tls')).join('\n'));
    const notAfter = Date.parse(new crypto.X509Certificate(fs.readFileSync(kwCert.cert)).validTo) / 1000;
    assert.equal(Number(m[1]), notAfter);
    assert.ok(await metric(kw, 'keywarden_tls_handshakes_total') > 0);
  });

  h.proxyTest('certificates reloaded under load: nothing dropped, new connections get the new one', { timeout: 60000 }, async () => {
    const oldPrint = fingerprint(certs.server.cert);
    const newPrint = fingerprint(renewed.server.cert);
    const admin = await RawClient.connect(kw.port);
    const reloadsBefore = Number(/tls_certificate_reloads:(\d+)/.exec(String(await admin.call('INFO', 'tls')))[1]);

    // Load: 8 TLS clients, each writing and reading its own key in a loop.
    const clients = [];
    for (let i = 0; i < 8; i++) clients.push(await RawClient.open(target()));
    for (const c of clients) assert.equal(c.socket.getPeerCertificate().fingerprint256, oldPrint);
    let stop = false;
    const problems = [];
    const counts = clients.map(() => 0);
    const loops = clients.map(async (c, i) => {
      for (let n = 0; !stop; n++) {
        try {
          const k = `reload:${u}:${i}`;
          const set = await c.call('SET', k, String(n));
          const got = await c.call('GET', k);
          if (set !== 'OK' || got !== String(n)) problems.push(`client ${i}: ${JSON.stringify([set, got])}`);
          counts[i]++;
        } catch (e) {
          problems.push(`client ${i}: ${e.message}`);
          return;
        }
      }
    });
    await h.sleep(300);
    const atReload = counts.slice();

    // The renewed certificate, written over the files, and SIGHUP.
    fs.copyFileSync(renewed.server.cert, kwCert.cert);
    fs.copyFileSync(renewed.server.key, kwCert.key);
    kw.proc.kill('SIGHUP');
    await waitUntil('the reload', async () => {
      const info = String(await admin.call('INFO', 'tls'));
      return Number(/tls_certificate_reloads:(\d+)/.exec(info)[1]) === reloadsBefore + 1;
    });
    const fresh = await RawClient.open(target());
    assert.equal(fresh.socket.getPeerCertificate().fingerprint256, newPrint, 'a new connection gets the new certificate');
    assert.equal(await fresh.call('PING'), 'PONG');
    fresh.close();
    await h.sleep(300);
    stop = true;
    await Promise.all(loops);
    assert.deepEqual(problems, [], 'no request failed and no connection dropped');
    for (let i = 0; i < clients.length; i++) {
      assert.ok(counts[i] > atReload[i], `client ${i} kept going across the reload`);
      assert.ok(!clients[i].isClosed, `client ${i} is still connected`);
      assert.equal(clients[i].socket.getPeerCertificate().fingerprint256, oldPrint, 'an open connection keeps its certificate');
      clients[i].close();
    }

    // A bad file changes nothing and says why: a key that is not the certificate's, an expired
    // certificate. New connections still get the certificate of the last good reload.
    fs.copyFileSync(certs.server.key, kwCert.key); // set a's key beside set b's certificate
    let r = await admin.call('KEYWARDEN', 'RELOAD');
    assert.ok(r instanceof RespError, JSON.stringify(r));
    assert.match(r.message, /^ERR reload failed, configuration unchanged: .*tls\.key_file: the key in ".*kw-server\.key" does not match the certificate in ".*kw-server\.crt"/);
    fs.copyFileSync(certs.expiredServer.cert, kwCert.cert);
    fs.copyFileSync(certs.expiredServer.key, kwCert.key);
    r = await admin.call('KEYWARDEN', 'RELOAD');
    assert.ok(r instanceof RespError);
    assert.match(r.message, /tls\.cert_file: the certificate in ".*kw-server\.crt" expired on 2020-01-02 00:00:00 UTC/);
    const after = await RawClient.open(target());
    assert.equal(after.socket.getPeerCertificate().fingerprint256, newPrint);
    assert.equal(await after.call('PING'), 'PONG');
    after.close();
    // Back to a good pair for the tests after this one.
    fs.copyFileSync(certs.server.cert, kwCert.cert);
    fs.copyFileSync(certs.server.key, kwCert.key);
    assert.equal(await admin.call('KEYWARDEN', 'RELOAD'), 'OK');
    admin.close();
  });
});

// ---- certificate-mapped users, on a TLS-only keywarden

describe('certificate-mapped users (TLS only, client_certs = "optional")', () => {
  let redis;
  let kw;
  let certs;
  let tlsPort;
  const tomlUsers = (billingMapped) => `
[policy]
default_user = ""

[[namespaces]]
name = "auth"
pattern = "auth:{rest...}"

[[namespaces]]
name = "billing"
pattern = "billing:{rest...}"

[[users]]
name = "auth"
cert_subject = "auth-service"
read = ["auth"]
write = ["auth"]
commands = ["read", "write", "keyspace"]

[[users]]
name = "billing"
${billingMapped ? 'cert_subject = "spiffe://keywarden.test/billing-service"' : 'password_hash = "sha256$4bcdc398ddbb63d7352620e29f985b11$5551bf7693aa20d922eba084a4dd66f5482d8fe3453d8eac838081f809d3e89d"'}
read = ["billing"]
write = ["billing"]
commands = ["read", "write", "keyspace"]

[[users]]
name = "ops"
# ops-secret
password_hash = "sha256$4bcdc398ddbb63d7352620e29f985b11$5551bf7693aa20d922eba084a4dd66f5482d8fe3453d8eac838081f809d3e89d"
admin = true
read = ["*"]
write = ["*"]
commands = ["all"]
`;
  const target = (as) => ({ port: tlsPort, tls: h.tlsClientOptions(certs, as) });
  const userOf = async (c) => clientFields(await c.call('CLIENT', 'INFO')).user;

  before(async () => {
    certs = h.makeCerts(path.join(h.makeTempDir('kw-tls-users-'), 'certs'));
    redis = await h.startRedis();
    tlsPort = await h.freePort();
    kw = await h.startKeywarden({
      upstreamPort: redis.port,
      metrics: true,
      toml: {
        server: { listen: '' }, // no plaintext listener
        tls: tlsSection(certs.server, { listen: `${h.HOST}:${tlsPort}`, ca_file: certs.ca.cert, client_certs: 'optional' }),
      },
      tomlText: tomlUsers(true),
      pingTarget: { port: tlsPort, tls: h.tlsClientOptions(certs, null) },
    });
  }, { timeout: 60000 });
  after(async () => {
    if (kw) await kw.stop();
    if (redis) await redis.stop();
  }, { timeout: 30000 });

  h.proxyTest('no plaintext listener', { timeout: 10000 }, async () => {
    await assert.rejects(h.callOnce(kw.port, ['PING']), /ECONNREFUSED/);
  });

  h.proxyTest('the certificate\'s CN logs the connection in as its user, with its grants', { timeout: 15000 }, async () => {
    const before = await metric(kw, 'keywarden_tls_cert_authenticated_total');
    const c = await RawClient.open(target('client')); // CN=auth-service
    assert.equal(await userOf(c), 'auth');
    assert.equal(await c.call('SET', 'auth:k', 'v'), 'OK');
    assert.equal(await c.call('GET', 'auth:k'), 'v');
    const denied = await c.call('GET', 'billing:k');
    assert.ok(denied instanceof RespError && denied.message.startsWith('NOPERM'), String(denied));
    assert.equal(await metric(kw, 'keywarden_tls_cert_authenticated_total'), before + 1);
    // AUTH still works, and RESET returns to the certificate's user (the connection's identity).
    assert.equal(await c.call('AUTH', 'ops', 'ops-secret'), 'OK');
    assert.equal(await userOf(c), 'ops');
    assert.equal(await c.call('RESET'), 'RESET');
    assert.equal(await userOf(c), 'auth');
    c.close();
  });

  h.proxyTest('a subjectAltName URI names a user too', { timeout: 15000 }, async () => {
    const c = await RawClient.open(target('client2')); // URI:spiffe://keywarden.test/billing-service
    assert.equal(await userOf(c), 'billing');
    assert.equal(await c.call('SET', 'billing:k', 'v'), 'OK');
    const denied = await c.call('SET', 'auth:k', 'x');
    assert.ok(denied instanceof RespError && denied.message.startsWith('NOPERM'), String(denied));
    c.close();
  });

  h.proxyTest('no certificate: NOAUTH, as any client when the default user is off', { timeout: 15000 }, async () => {
    const c = await RawClient.open(target(null));
    assert.equal(await c.call('PING'), 'PONG');
    const r = await c.call('GET', 'auth:k');
    assert.ok(r instanceof RespError && r.message.startsWith('NOAUTH'), String(r));
    assert.equal(await c.call('AUTH', 'ops', 'ops-secret'), 'OK');
    assert.equal(await c.call('GET', 'auth:k'), 'v');
    c.close();
  });

  h.proxyTest('redis-cli --tls and ioredis with a client certificate', { timeout: 20000 }, async () => {
    const cli = await h.redisCli(['-h', h.HOST, '-p', String(tlsPort), ...h.redisCliTlsArgs(certs, 'client'), 'SET', 'auth:cli', 'x']);
    assert.equal(cli.stdout.trim(), 'OK', cli.stderr);
    const io = new Redis({ port: tlsPort, host: h.HOST, tls: h.tlsClientOptions(certs, 'client2'), lazyConnect: true, maxRetriesPerRequest: 1 });
    io.on('error', () => {});
    try {
      await h.within(5000, io.connect(), 'ioredis connect');
      assert.equal(await io.set('billing:io', 'y'), 'OK');
      assert.equal(await io.get('billing:io'), 'y');
      await assert.rejects(io.get('auth:cli'), /NOPERM/);
    } finally {
      io.disconnect();
    }
  });

  h.proxyTest('a reload that unmaps a certificate: open connections keep their user, new ones do not get it', { timeout: 20000 }, async () => {
    const open = await RawClient.open(target('client2'));
    assert.equal(await userOf(open), 'billing');
    fs.writeFileSync(kw.configPath, fs.readFileSync(kw.configPath, 'utf8').replace(tomlUsers(true), tomlUsers(false)));
    const ops = await RawClient.open(target(null));
    assert.equal(await ops.call('AUTH', 'ops', 'ops-secret'), 'OK');
    assert.equal(await ops.call('KEYWARDEN', 'RELOAD'), 'OK');
    const fresh = await RawClient.open(target('client2'));
    const r = await fresh.call('GET', 'billing:k');
    assert.ok(r instanceof RespError && r.message.startsWith('NOAUTH'), `a certificate that names no user: ${r}`);
    assert.equal(await open.call('GET', 'billing:k'), 'v', 'the open connection is untouched');
    for (const c of [open, ops, fresh]) c.close();
  });
});

// ---- back-pressure and the slow-reader rules over TLS

describe('back-pressure over TLS', () => {
  let redis;
  let kw;
  let certs;
  let tlsPort;
  const VALUE = 2 << 20;
  const COUNT = 20;

  before(async () => {
    certs = h.makeCerts(path.join(h.makeTempDir('kw-tls-bp-'), 'certs'));
    redis = await h.startRedis();
    tlsPort = await h.freePort();
    kw = await h.startKeywarden({
      upstreamPort: redis.port,
      toml: {
        limits: { max_reply_buffer_bytes: 4 << 20, reply_stall_timeout_s: 2 },
        tls: tlsSection(certs.server, { listen: `${h.HOST}:${tlsPort}` }),
      },
    });
    const direct = await RawClient.connect(redis.port);
    assert.equal(await direct.call('SET', 'big', 'x'.repeat(VALUE)), 'OK');
    direct.close();
  }, { timeout: 60000 });
  after(async () => {
    if (kw) await kw.stop();
    if (redis) await redis.stop();
  }, { timeout: 30000 });

  const tlsTarget = () => ({ port: tlsPort, tls: h.tlsClientOptions(certs, null) });

  h.proxyTest('a paused reader: its backlog stays plaintext in keywarden, then arrives whole', { timeout: 60000 }, async () => {
    const c = await RawClient.open(tlsTarget(), { buffers: true });
    const admin = await RawClient.connect(kw.port);
    const id = String(await c.call('CLIENT', 'ID'));
    c.socket.pause();
    for (let i = 0; i < COUNT; i++) c.send('GET', 'big');
    // The replies pile up in keywarden, unencrypted: only what the socket takes is encrypted.
    const total = COUNT * (VALUE + 20);
    const omem = await waitUntil('the backlog', async () => {
      const line = String(await admin.call('CLIENT', 'LIST', 'ID', id));
      const v = Number(clientFields(line).omem);
      return v > total / 2 ? v : 0;
    }, 10000);
    assert.ok(omem > total / 2, `omem ${omem}`);
    c.socket.resume();
    const replies = await c.readMany(COUNT, 30000);
    for (const r of replies) assert.equal(r.length, VALUE);
    assert.equal(String(await c.call('PING')), 'PONG');
    c.close();
    admin.close();
  });

  h.proxyTest('a client that reads nothing is closed after reply_stall_timeout_s', { timeout: 30000 }, async () => {
    const admin = await RawClient.connect(kw.port);
    const stalled = () => admin.call('INFO', 'keywarden').then((i) => Number(/clients_output_stalled:(\d+)/.exec(String(i))[1]));
    const before = await stalled();
    const c = await RawClient.open(tlsTarget());
    const id = String(await c.call('CLIENT', 'ID'));
    c.socket.pause(); // and never reads again
    for (let i = 0; i < COUNT; i++) c.send('GET', 'big');
    await waitUntil('the stalled client closed', async () => (await stalled()) === before + 1, 10000);
    assert.equal(String(await admin.call('CLIENT', 'LIST', 'ID', id)), '', 'it is gone');
    c.close();
    // Others are fine.
    assert.equal(await h.callOnce(tlsTarget(), ['PING']), 'PONG');
    admin.close();
  });
});

// ---- --check-config

describe('--check-config and the certificate files', () => {
  let certs;
  let dir;
  before(() => {
    dir = h.makeTempDir('kw-tls-check-');
    certs = h.makeCerts(path.join(dir, 'certs'));
  }, { timeout: 60000 });

  function check(tlsToml) {
    const config = path.join(dir, `c${crypto.randomUUID().slice(0, 6)}.toml`);
    fs.writeFileSync(config, `[server]\nlisten = "127.0.0.1:0"\n[tls]\nlisten = "127.0.0.1:0"\n${tlsToml}`);
    return h.runKeywardenSync(['-c', config, '--check-config']);
  }

  h.proxyTest('missing, mismatched, expired: each said with its key and file', { timeout: 30000 }, async () => {
    let r = check(`cert_file = "${certs.server.cert}"\nkey_file = "${certs.server.key}"\nca_file = "${certs.ca.cert}"\n`);
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /configuration OK/);
    r = check(`cert_file = "${dir}/missing.crt"\nkey_file = "${certs.server.key}"\n`);
    assert.equal(r.status, 1);
    assert.match(r.output, /tls\.cert_file: cannot read ".*missing\.crt": No such file or directory/);
    r = check(`cert_file = "${certs.server.cert}"\nkey_file = "${certs.client.key}"\n`);
    assert.equal(r.status, 1);
    assert.match(r.output, /tls\.key_file: the key in ".*client\.key" does not match the certificate in ".*server\.crt" \(tls\.cert_file\)/);
    r = check(`cert_file = "${certs.expiredServer.cert}"\nkey_file = "${certs.expiredServer.key}"\n`);
    assert.equal(r.status, 1);
    assert.match(r.output, /tls\.cert_file: the certificate in ".*server-expired\.crt" expired on 2020-01-02 00:00:00 UTC/);
    r = check(`cert_file = "${certs.server.cert}"\nkey_file = "${certs.server.key}"\nca_file = "${dir}/nope.pem"\n`);
    assert.equal(r.status, 1);
    assert.match(r.output, /tls\.ca_file: cannot read/);
  });
});
