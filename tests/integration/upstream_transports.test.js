'use strict';
// keywarden's connections to Redis over TLS (upstream.tls, Redis's --tls-port with --port 0) and
// over a Unix socket (upstream.address = "unix:/PATH"): the core cases through each, pinned
// links (MULTI, BLPOP, SUBSCRIBE), a feature's own connection (the near cache's invalidation
// feed: a direct write invalidates), the startup probe (INFO shows the real Redis version, learned
// over the same transport), and the failures an operator must be told about: an untrusted
// certificate, a client certificate Redis requires and keywarden lacks, tls_verify = false; and a
// Redis Cluster with TLS only (tls-cluster yes), whose nodes are reached at their TLS ports.
// Every server these tests need is started here; one that cannot start fails the test.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { describe, before, after } = require('node:test');
const h = require('./harness');
const { RawClient, RespError } = require('./resp');
const { coreCases } = require('./core_cases');

const CACHE_TOML = `
[near_cache]
heartbeat_ms = 100
feed_timeout_ms = 600

[[namespaces]]
name = "profile"
pattern = "profile:{id}"
near_cache = true

[[namespaces]]
name = "plain"
pattern = "plain:{id}"
`;

function infoField(text, field) {
  const m = new RegExp(`^${field}:(.*)$`, 'm').exec(String(text));
  return m ? m[1].trim() : null;
}

// Until every worker's invalidation feed covers.
async function waitFeeds(port, timeoutMs = 10000) {
  const c = await RawClient.connect(port);
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = String(await c.call('INFO', 'keywarden'));
      if (Number(infoField(info, 'invalidation_feeds_covered')) === 2) return;
      if (Date.now() > deadline) assert.fail(`feeds not covering after ${timeoutMs} ms:\n${info}`);
      await h.sleep(20);
    }
  } finally {
    c.close();
  }
}

// Until INFO server shows the version the startup probe learned from Redis itself.
async function waitProbe(port, want, timeoutMs = 10000) {
  const c = await RawClient.connect(port);
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = infoField(await c.call('INFO', 'server'), 'redis_version');
      if (v === want) return;
      if (Date.now() > deadline) assert.fail(`INFO redis_version is ${v}, Redis is ${want}`);
      await h.sleep(50);
    }
  } finally {
    c.close();
  }
}

// The cases every transport must carry: pinned links of each kind, a direct write seen through
// the near cache, the upstream's name and transport in INFO and KEYWARDEN UPSTREAM.
function transportCases(name, { kwPort, direct, transport, upstreamName, linkField }) {
  h.proxyTest(`${name}: pinned links (MULTI, BLPOP, SUBSCRIBE)`, { timeout: 20000 }, async () => {
    const c = await RawClient.connect(kwPort());
    const other = await RawClient.connect(kwPort());
    const sub = await RawClient.connect(kwPort());
    try {
      assert.equal(await c.call('MULTI'), 'OK');
      assert.equal(await c.call('SET', 'plain:tx', '1'), 'QUEUED');
      assert.equal(await c.call('INCR', 'plain:tx'), 'QUEUED');
      assert.deepEqual(await c.call('EXEC'), ['OK', 2]);

      c.send('BLPOP', 'plain:queue', '5');
      await h.sleep(100);
      assert.equal(await other.call('RPUSH', 'plain:queue', 'job'), 1);
      assert.deepEqual(await c.read(5000), ['plain:queue', 'job']);

      assert.deepEqual(await sub.call('SUBSCRIBE', 'news'), ['subscribe', 'news', 1]);
      await h.sleep(50);
      assert.equal(await other.call('PUBLISH', 'news', 'hello'), 1);
      assert.deepEqual(await sub.read(5000), ['message', 'news', 'hello']);
    } finally {
      c.close();
      other.close();
      sub.close();
    }
  });

  h.proxyTest(`${name}: a direct write invalidates the near cache (the feed's own connection)`, { timeout: 20000 }, async () => {
    await waitFeeds(kwPort());
    const c = await RawClient.connect(kwPort());
    try {
      assert.equal(await c.call('SET', 'profile:1', 'v1'), 'OK');
      assert.equal(await c.call('GET', 'profile:1'), 'v1');
      await h.sleep(30);
      assert.equal(await c.call('GET', 'profile:1'), 'v1');
      assert.equal(await direct().call('SET', 'profile:1', 'v2'), 'OK');
      const deadline = Date.now() + 2000;
      let last;
      while ((last = await c.call('GET', 'profile:1')) !== 'v2') {
        if (Date.now() > deadline) assert.fail(`still ${JSON.stringify(last)} 2 s after a direct write`);
        await h.sleep(5);
      }
    } finally {
      c.close();
    }
  });

  h.proxyTest(`${name}: INFO and KEYWARDEN UPSTREAM show the upstream and its transport`, { timeout: 20000 }, async () => {
    const c = await RawClient.connect(kwPort());
    try {
      const info = String(await c.call('INFO', 'server'));
      assert.equal(infoField(info, 'upstream'), upstreamName());
      assert.equal(infoField(info, 'upstream_transport'), transport);
      const reply = await c.call('KEYWARDEN', 'UPSTREAM');
      assert.ok(Array.isArray(reply), String(reply));
      const lines = reply.filter((l) => l.includes('state=ready'));
      assert.ok(lines.length >= 2, `no ready links:\n${lines.join('\n')}`);
      for (const l of lines) {
        assert.ok(l.includes(` addr=${upstreamName()}`), l);
        if (linkField) assert.match(l, linkField);
      }
    } finally {
      c.close();
    }
  });
}

// ---- TLS ----

describe('TLS upstream (Redis with --port 0 --tls-port)', () => {
  let certs;
  let redis;
  let kw;
  let direct;
  before(async () => {
    certs = h.makeCerts(path.join(h.makeTempDir('kw-uptls-'), 'certs'));
    redis = await h.startRedisTls({ certs, requireClientCert: false });
    kw = await h.startKeywarden({
      upstreamPort: redis.port,
      toml: { upstream: { tls: true, tls_ca_file: certs.ca.cert } },
      tomlText: CACHE_TOML,
      metrics: true,
    });
    direct = await RawClient.open({ port: redis.port, tls: h.tlsClientOptions(certs, null) });
  }, { timeout: 60000 });
  after(async () => {
    if (direct) direct.close();
    if (kw) await kw.stop();
    if (redis) await redis.stop();
  }, { timeout: 30000 });

  coreCases('tls upstream', {
    target: () => kw.port,
    ioredisOptions: () => ({ port: kw.port, host: h.HOST }),
  });

  transportCases('tls upstream', {
    kwPort: () => kw.port,
    direct: () => direct,
    transport: 'tls',
    upstreamName: () => `${h.HOST}:${redis.port}`,
    linkField: / tls=TLSv1\.[23]/,
  });

  h.proxyTest('tls upstream: the startup probe, the handshake counters and the metric', { timeout: 20000 }, async () => {
    const version = infoField(await direct.call('INFO', 'server'), 'redis_version');
    await waitProbe(kw.port, version);
    const c = await RawClient.connect(kw.port);
    try {
      const info = String(await c.call('INFO', 'keywarden'));
      assert.ok(Number(infoField(info, 'upstream_tls_handshakes')) >= 2, info);
      assert.equal(Number(infoField(info, 'upstream_tls_handshake_failures')), 0, info);
    } finally {
      c.close();
    }
    const res = await fetch(`http://${h.HOST}:${kw.metricsPort}/metrics`);
    const text = await res.text();
    assert.match(text, /^keywarden_upstream_tls_handshake_failures_total 0(\.0+)?$/m);
    assert.match(text, /^keywarden_upstream_tls_handshakes_total [1-9]/m);
  });

  h.proxyTest('tls upstream: a reconnect resumes the TLS session', { timeout: 20000 }, async () => {
    const c = await RawClient.connect(kw.port);
    try {
      const before = Number(infoField(await c.call('INFO', 'keywarden'), 'upstream_tls_resumed'));
      // Redis closes every keywarden link; they reconnect with the sessions they had.
      assert.ok(Number(await direct.call('CLIENT', 'KILL', 'SKIPME', 'yes')) >= 1);
      const deadline = Date.now() + 5000;
      for (;;) {
        const r = await c.call('PING');
        const resumed = Number(infoField(await c.call('INFO', 'keywarden'), 'upstream_tls_resumed'));
        if (r === 'PONG' && resumed > before) break;
        if (Date.now() > deadline) assert.fail(`no resumed handshake (PING: ${r}, resumed ${resumed})`);
        await h.sleep(50);
      }
    } finally {
      c.close();
    }
  });

  h.proxyTest('tls upstream: --check-config reads the upstream certificate files', { timeout: 30000 }, async () => {
    const dir = h.makeTempDir('kw-uptls-check-');
    const check = (extra) => {
      const config = path.join(dir, `c${Math.random().toString(36).slice(2, 8)}.toml`);
      fs.writeFileSync(config, `[server]\nlisten = "127.0.0.1:0"\n[upstream]\naddress = "127.0.0.1:${redis.port}"\ntls = true\n${extra}`);
      return h.runKeywardenSync(['-c', config, '--check-config']);
    };
    let r = check(`tls_ca_file = "${certs.ca.cert}"\ntls_cert_file = "${certs.client.cert}"\ntls_key_file = "${certs.client.key}"\n`);
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /configuration OK/);
    r = check(`tls_ca_file = "${dir}/missing.pem"\n`);
    assert.equal(r.status, 1, r.output);
    assert.match(r.output, /upstream\.tls_ca_file: cannot read ".*missing\.pem": No such file or directory/);
    r = check(`tls_ca_file = "${certs.ca.cert}"\ntls_cert_file = "${certs.client.cert}"\ntls_key_file = "${certs.server.key}"\n`);
    assert.equal(r.status, 1, r.output);
    assert.match(r.output, /upstream\.tls_key_file: the key in ".*server\.key" does not match the certificate in ".*client\.crt" \(upstream\.tls_cert_file\)/);
    r = check(`tls_ca_file = "${certs.ca.cert}"\ntls_cert_file = "${dir}/nope.crt"\ntls_key_file = "${certs.client.key}"\n`);
    assert.equal(r.status, 1, r.output);
    assert.match(r.output, /upstream\.tls_cert_file: cannot read/);
  });
});

describe('TLS upstream failures and options', () => {
  let certs;
  before(() => {
    certs = h.makeCerts(path.join(h.makeTempDir('kw-uptls-f-'), 'certs'));
  }, { timeout: 60000 });

  const downReady = (line) => line === '+PONG' || line.startsWith('-UPSTREAMDOWN');

  h.proxyTest('a certificate of an untrusted CA: upstream down, with the reason, counted', { timeout: 30000 }, async () => {
    const redis = await h.startRedisTls({ certs, serverCert: 'untrusted' });
    const kw = await h.startKeywarden({
      upstreamPort: redis.port,
      toml: { upstream: { tls: true, tls_ca_file: certs.ca.cert, reconnect_backoff_max_ms: 200 } },
      acceptReady: downReady,
    });
    const c = await RawClient.connect(kw.port);
    try {
      const r = await c.call('GET', 'plain:x');
      assert.ok(r instanceof RespError && r.message.startsWith('UPSTREAMDOWN'), String(r));
      assert.match(r.message, /TLS handshake failed: certificate verify failed/);
      const info = String(await c.call('INFO', 'keywarden'));
      assert.ok(Number(infoField(info, 'upstream_tls_handshake_failures')) >= 1, info);
      assert.equal(Number(infoField(info, 'upstream_tls_handshakes')), 0, info);
    } finally {
      c.close();
    }
    assert.match(kw.logs(), /upstream 127\.0\.0\.1:\d+ unavailable: TLS handshake failed: certificate verify failed/);
  });

  h.proxyTest('tls_server_name: the name the certificate must carry', { timeout: 30000 }, async () => {
    const redis = await h.startRedisTls({ certs });
    // The certificate names localhost and 127.0.0.1: another name is refused, localhost works.
    const wrong = await h.startKeywarden({
      upstreamPort: redis.port,
      toml: { upstream: { tls: true, tls_ca_file: certs.ca.cert, tls_server_name: 'redis.example' } },
      acceptReady: downReady,
    });
    const r = await h.callOnce(wrong.port, ['GET', 'plain:x']);
    assert.ok(r instanceof RespError && /TLS handshake failed: certificate verify failed/.test(r.message), String(r));
    await wrong.stop();
    const right = await h.startKeywarden({
      upstreamPort: redis.port,
      toml: { upstream: { tls: true, tls_ca_file: certs.ca.cert, tls_server_name: 'localhost' } },
    });
    assert.equal(await h.callOnce(right.port, ['SET', 'plain:x', 'y']), 'OK');
  });

  h.proxyTest('tls_verify = false: any certificate, and a warning at every start', { timeout: 30000 }, async () => {
    const redis = await h.startRedisTls({ certs, serverCert: 'untrusted' });
    const kw = await h.startKeywarden({
      upstreamPort: redis.port,
      toml: { upstream: { tls: true, tls_verify: false } },
    });
    assert.equal(await h.callOnce(kw.port, ['SET', 'plain:v', '1']), 'OK');
    assert.equal(await h.callOnce(kw.port, ['GET', 'plain:v']), '1');
    assert.match(kw.logs(), /upstream\.tls_verify = false: Redis's certificate is not checked/);
  });

  h.proxyTest('Redis requires a client certificate: refused without tls_cert_file, served with it', { timeout: 30000 }, async () => {
    const redis = await h.startRedisTls({ certs, requireClientCert: true });
    const without = await h.startKeywarden({
      upstreamPort: redis.port,
      toml: { upstream: { tls: true, tls_ca_file: certs.ca.cert, reconnect_backoff_max_ms: 200 } },
      acceptReady: downReady,
    });
    const r = await h.callOnce(without.port, ['GET', 'plain:x']);
    assert.ok(r instanceof RespError && r.message.startsWith('UPSTREAMDOWN'), String(r));
    // Under TLS 1.3 Redis refuses the certificate after the client's side of the handshake: still
    // reported (and counted) as a failed handshake.
    assert.match(r.message, /TLS handshake failed/, r.message);
    assert.match(without.logs(), /upstream 127\.0\.0\.1:\d+ (unavailable|connection lost): TLS handshake failed: tlsv13 alert certificate required/);
    const info = String(await h.callOnce(without.port, ['INFO', 'keywarden']));
    assert.ok(Number(infoField(info, 'upstream_tls_handshake_failures')) >= 1, info);
    await without.stop();

    const withCert = await h.startKeywarden({
      upstreamPort: redis.port,
      toml: { upstream: { tls: true, tls_ca_file: certs.ca.cert, tls_cert_file: certs.client.cert, tls_key_file: certs.client.key } },
      tomlText: CACHE_TOML,
    });
    assert.equal(await h.callOnce(withCert.port, ['SET', 'plain:x', 'y']), 'OK');
    assert.equal(await h.callOnce(withCert.port, ['GET', 'plain:x']), 'y');
    await waitFeeds(withCert.port);
    // Redis sees keywarden by its certificate: every link of it presented one.
    const direct = await RawClient.open({ port: redis.port, tls: h.tlsClientOptions(certs, 'client') });
    try {
      const list = String(await direct.call('CLIENT', 'LIST'));
      assert.match(list, /name=keywarden-w\d+-shared/);
      assert.match(list, /name=keywarden-w\d+-feed/);
    } finally {
      direct.close();
    }
  });
});

// ---- Redis Cluster over TLS ----

describe('Redis Cluster over TLS (tls-cluster yes, no plaintext ports)', () => {
  h.proxyTest('the nodes are reached at their TLS ports; split commands and the probe work', { timeout: 60000 }, async () => {
    const certs = h.makeCerts(path.join(h.makeTempDir('kw-uptls-cl-'), 'certs'));
    const nodes = [];
    for (let i = 0; i < 3; i++) {
      nodes.push(await h.startRedisTls({
        certs,
        args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
          '--cluster-port', String(await h.freePort()), '--tls-cluster', 'yes', '--tls-replication', 'yes'],
      }));
    }
    const create = await h.redisCli(['--tls', '--cacert', certs.ca.cert, '--cluster', 'create',
      ...nodes.map((n) => `${h.HOST}:${n.port}`), '--cluster-yes'], { timeoutMs: 30000 });
    assert.equal(create.code, 0, `${create.stdout}${create.stderr}`);
    const target = { port: nodes[0].port, tls: h.tlsClientOptions(certs, null) };
    const deadline = Date.now() + 20000;
    while (!/cluster_state:ok/.test(String(await h.callOnce(target, ['CLUSTER', 'INFO'])))) {
      if (Date.now() > deadline) assert.fail('the TLS cluster never reached cluster_state:ok');
      await h.sleep(100);
    }
    // CLUSTER SHARDS over TLS names only tls-port: there is no plaintext port to fall back to.
    assert.doesNotMatch(JSON.stringify(await h.callOnce(target, ['CLUSTER', 'SHARDS'])), /"port"/);

    const dir = h.makeTempDir('kw-uptls-cl-kw-');
    const port = await h.freePort();
    const config = path.join(dir, 'keywarden.toml');
    fs.writeFileSync(config, `[server]\nlisten = "${h.HOST}:${port}"\nworkers = 2\n` +
      `[upstream]\nmode = "cluster"\nseeds = ["${h.HOST}:${nodes[0].port}"]\ntls = true\n` +
      `tls_ca_file = "${certs.ca.cert}"\n[metrics]\nenabled = false\n`);
    const kw = await h.startKeywardenWith({ args: ['-c', config], port, dir });
    const c = await RawClient.connect(port);
    try {
      for (let i = 0; i < 30; i++) assert.equal(await c.call('SET', `cl:${i}`, `v${i}`), 'OK');
      assert.equal(await c.call('GET', 'cl:17'), 'v17');
      assert.equal(await c.call('MSET', 'a', '1', 'b', '2', 'c', '3'), 'OK');
      assert.deepEqual(await c.call('MGET', 'a', 'b', 'c'), ['1', '2', '3']);
      assert.equal(await c.call('DBSIZE'), 33);
      const info = String(await c.call('INFO', 'server'));
      assert.equal(infoField(info, 'upstream_transport'), 'tls');
      const links = (await c.call('KEYWARDEN', 'UPSTREAM')).filter((l) => l.includes('role=shared') && l.includes('state=ready'));
      const addrs = new Set(links.map((l) => / addr=(\S+)/.exec(l)[1]));
      assert.deepEqual([...addrs].sort(), nodes.map((n) => `${h.HOST}:${n.port}`).sort());
      for (const l of links) assert.match(l, / tls=TLSv1\.[23]/);
      const version = infoField(await h.callOnce(target, ['INFO', 'server']), 'redis_version');
      await waitProbe(port, version);
    } finally {
      c.close();
    }
    await kw.stop();
  });
});

// ---- Unix socket ----

describe('Unix socket upstream', () => {
  let redis;
  let kw;
  let direct;
  before(async () => {
    redis = await h.startRedisUnix();
    kw = await h.startKeywarden({
      upstreamPort: 1, // unused: the address below replaces it
      toml: { upstream: { address: `unix:${redis.path}` } },
      tomlText: CACHE_TOML,
    });
    direct = await RawClient.open({ path: redis.path });
  }, { timeout: 60000 });
  after(async () => {
    if (direct) direct.close();
    if (kw) await kw.stop();
    if (redis) await redis.stop();
  }, { timeout: 30000 });

  coreCases('unix upstream', {
    target: () => kw.port,
    ioredisOptions: () => ({ port: kw.port, host: h.HOST }),
  });

  transportCases('unix upstream', {
    kwPort: () => kw.port,
    direct: () => direct,
    transport: 'unix',
    upstreamName: () => `unix:${redis.path}`,
    linkField: null,
  });

  h.proxyTest('unix upstream: Redis sees keywarden on its socket; the probe learned its version', { timeout: 20000 }, async () => {
    const version = infoField(await direct.call('INFO', 'server'), 'redis_version');
    await waitProbe(kw.port, version);
    const list = String(await direct.call('CLIENT', 'LIST')).split('\n').filter((l) => / name=keywarden-w\d+-shared /.test(l));
    assert.ok(list.length >= 2, list.join('\n'));
    for (const l of list) {
      assert.match(l, / flags=U /);
      assert.ok(l.includes(` addr=${redis.path}:0 `), l);
    }
  });

  h.proxyTest('unix upstream: a Redis restart is survived (the socket comes back)', { timeout: 30000 }, async () => {
    const c = await RawClient.connect(kw.port);
    try {
      assert.equal(await c.call('SET', 'plain:r', '1'), 'OK');
      direct.close();
      direct = null;
      await redis.restart();
      direct = await RawClient.open({ path: redis.path });
      const deadline = Date.now() + 10000;
      let last;
      while ((last = await c.call('SET', 'plain:r', '2')) !== 'OK') {
        assert.ok(last instanceof RespError && last.message.startsWith('UPSTREAMDOWN'), String(last));
        if (Date.now() > deadline) assert.fail(`not back after the restart: ${last.message}`);
        await h.sleep(50);
      }
      assert.equal(await direct.call('GET', 'plain:r'), '2');
      assert.match(kw.logs(), new RegExp(`upstream unix:${redis.path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is back`));
    } finally {
      c.close();
    }
  });
});
