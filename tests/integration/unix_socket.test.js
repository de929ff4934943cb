'use strict';
// server.listen = "unix:/PATH": the core cases over the Unix socket, the socket file's mode, how
// clients are shown (as Redis shows its Unix socket clients), and the socket file at startup and
// exit: a stale one is replaced, a live one or a file that is no socket stops startup, a clean
// stop removes it.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { describe, before, after } = require('node:test');
const h = require('./harness');
const { RawClient } = require('./resp');
const { coreCases } = require('./core_cases');

async function startOnSocket(redisPort, socketPath, server = {}) {
  return h.startKeywarden({
    upstreamPort: redisPort,
    toml: { server: { listen: `unix:${socketPath}`, ...server } },
    pingTarget: { path: socketPath },
  });
}

// "id=3 addr=... flags=N ..." -> {id: '3', addr: '...', ...}
function clientFields(line) {
  return Object.fromEntries(line.trim().split(' ').map((kv) => {
    const i = kv.indexOf('=');
    return [kv.slice(0, i), kv.slice(i + 1)];
  }));
}

describe('Unix socket listener', () => {
  let redis;
  let kw;
  let socketPath;

  before(async () => {
    redis = await h.startRedis();
    socketPath = path.join(h.makeTempDir('kw-unix-'), 'keywarden.sock');
    kw = await startOnSocket(redis.port, socketPath, { unix_mode: '0660' });
  }, { timeout: 30000 });
  after(async () => {
    if (kw) await kw.stop();
    if (redis) await redis.stop();
  }, { timeout: 30000 });

  coreCases('unix socket', {
    target: () => ({ path: socketPath }),
    ioredisOptions: () => ({ path: socketPath }),
  });

  h.proxyTest('the socket file has unix_mode', { timeout: 10000 }, async () => {
    const st = fs.statSync(socketPath);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o660);
  });

  h.proxyTest('CLIENT LIST and CLIENT INFO show a Unix client as Redis does', { timeout: 20000 }, async () => {
    const c = await RawClient.open({ path: socketPath });
    const mine = clientFields(await c.call('CLIENT', 'INFO'));
    assert.equal(mine.addr, `${socketPath}:0`);
    assert.equal(mine.laddr, `${socketPath}:0`);
    assert.equal(mine.flags, 'U');
    const listed = String(await c.call('CLIENT', 'LIST', 'ID', mine.id));
    assert.equal(clientFields(listed).addr, `${socketPath}:0`);
    // CLIENT KILL ADDR takes that address, as Redis's does.
    const victim = await RawClient.open({ path: socketPath });
    const victimId = clientFields(await victim.call('CLIENT', 'INFO')).id;
    assert.equal(await c.call('CLIENT', 'KILL', 'ID', victimId), 1);
    assert.ok(await victim.waitClosed(3000));

    // The real thing: a redis-server on a Unix socket shows its client the same way.
    const real = await h.startRedisUnix();
    const direct = await RawClient.open({ path: real.path });
    const theirs = clientFields(await direct.call('CLIENT', 'INFO'));
    assert.equal(theirs.addr, `${real.path}:0`);
    assert.equal(theirs.laddr, `${real.path}:0`);
    assert.equal(theirs.flags, 'U');
    direct.close();
    c.close();
    // INFO says no TCP port, as Redis with port 0.
    const info = await h.callOnce({ path: socketPath }, ['INFO', 'server']);
    assert.match(String(info), /tcp_port:0\r\n/);
  });

  h.proxyTest('redis-cli -s', { timeout: 15000 }, async () => {
    const r = await h.redisCli(['-s', socketPath, 'SET', 'core:cli', 'x']);
    assert.equal(r.stdout.trim(), 'OK', r.stderr);
    const g = await h.redisCli(['-s', socketPath, 'GET', 'core:cli']);
    assert.equal(g.stdout.trim(), 'x');
  });
});

describe('the Unix socket file at startup and exit', () => {
  let redis;
  before(async () => {
    redis = await h.startRedis();
  }, { timeout: 30000 });
  after(async () => {
    if (redis) await redis.stop();
  }, { timeout: 30000 });

  h.proxyTest('a stale socket is replaced; a clean stop removes the file', { timeout: 30000 }, async () => {
    const socketPath = path.join(h.makeTempDir('kw-unix-'), 'kw.sock');
    const first = await startOnSocket(redis.port, socketPath);
    await first.kill(); // SIGKILL: the file stays, nothing listens on it
    first.proc = null; // killed on purpose: nothing for the harness to stop (or check) at the end
    assert.ok(fs.statSync(socketPath).isSocket(), 'a killed keywarden leaves its socket file');
    const second = await startOnSocket(redis.port, socketPath);
    assert.match(second.logs(), /removed the stale socket file .*kw\.sock \(nothing listened on it\)/);
    assert.equal(await h.callOnce({ path: socketPath }, ['PING']), 'PONG');
    await second.stop();
    assert.ok(!fs.existsSync(socketPath), 'SIGTERM: the socket file is removed');
  });

  h.proxyTest('a socket something listens on stops startup, and is left alone', { timeout: 30000 }, async () => {
    const socketPath = path.join(h.makeTempDir('kw-unix-'), 'kw.sock');
    const running = await startOnSocket(redis.port, socketPath);
    const dir = h.makeTempDir('kw-unix-cfg-');
    const config = path.join(dir, 'kw.toml');
    fs.writeFileSync(config, `[server]\nlisten = "unix:${socketPath}"\n[upstream]\naddress = "${h.HOST}:${redis.port}"\n[metrics]\nenabled = false\n`);
    const r = h.runKeywardenSync(['-c', config]);
    assert.equal(r.status, 1, r.output);
    assert.match(r.output, /another process listens on this socket/);
    assert.equal(await h.callOnce({ path: socketPath }, ['PING']), 'PONG', 'the running one still serves');
    await running.stop();
  });

  h.proxyTest('a file that is no socket stops startup and is kept', { timeout: 30000 }, async () => {
    const dir = h.makeTempDir('kw-unix-cfg-');
    const notSocket = path.join(dir, 'data.sock');
    fs.writeFileSync(notSocket, 'precious');
    const config = path.join(dir, 'kw.toml');
    fs.writeFileSync(config, `[server]\nlisten = "unix:${notSocket}"\n[upstream]\naddress = "${h.HOST}:${redis.port}"\n[metrics]\nenabled = false\n`);
    const r = h.runKeywardenSync(['-c', config]);
    assert.equal(r.status, 1, r.output);
    assert.match(r.output, /the file exists and is not a socket/);
    assert.equal(fs.readFileSync(notSocket, 'utf8'), 'precious');
    // --check-config: the address's form is checked; the file is startup's business.
    fs.writeFileSync(config, '[server]\nlisten = "unix:relative.sock"\n');
    const check = h.runKeywardenSync(['-c', config, '--check-config']);
    assert.equal(check.status, 1);
    assert.match(check.output, /server\.listen: expected HOST:PORT, \[IPV6\]:PORT or unix:\/PATH \(the socket path must be absolute\)/);
  });
});
