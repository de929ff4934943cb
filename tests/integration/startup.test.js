'use strict';
// Starting keywarden: --check-config and startup agree on addresses (host names resolve, as
// "localhost"), no config file means the built-in defaults (as redis-server without one), and a
// metrics port that is taken says how to choose another or turn the endpoint off.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { describe, before, after } = require('node:test');
const h = require('./harness');
const { RawClient } = require('./resp');

function writeConfig(dir, text) {
  const file = path.join(dir, 'keywarden.toml');
  fs.writeFileSync(file, text);
  return file;
}

describe('startup', () => {
  let redis;

  before(async () => {
    redis = await h.startRedis();
  }, { timeout: 30000 });

  after(async () => {
    if (redis) await redis.stop();
  }, { timeout: 30000 });

  h.proxyTest('listen = "localhost:PORT": --check-config and startup both accept it', { timeout: 30000 }, async () => {
    const dir = h.makeTempDir('kw-startup-');
    const port = await h.freePort();
    const config = writeConfig(dir, [
      '[server]',
      `listen = "localhost:${port}"`,
      'workers = 2',
      '[upstream]',
      `address = "localhost:${redis.port}"`,
      '[metrics]',
      'listen = "localhost:0"',
      '',
    ].join('\n'));
    const check = h.runKeywardenSync(['-c', config, '--check-config']);
    assert.equal(check.status, 0, check.output);
    assert.match(check.output, /configuration OK/);

    const kw = await h.startKeywardenWith({ args: ['-c', config], port, dir });
    const c = await RawClient.connect(port, '127.0.0.1');
    try {
      assert.equal(await c.call('SET', 'startup:localhost', 'v'), 'OK');
      assert.equal(await c.call('GET', 'startup:localhost'), 'v');
    } finally {
      c.close();
    }
    await kw.stop();
  });

  h.proxyTest('a listen host that does not resolve: both refuse it, with file:line', { timeout: 30000 }, async () => {
    const dir = h.makeTempDir('kw-startup-');
    const port = await h.freePort();
    const config = writeConfig(dir, `[server]\nworkers = 1\nlisten = "no-such-host.invalid:${port}"\n`);
    const check = h.runKeywardenSync(['-c', config, '--check-config']);
    assert.equal(check.status, 1, check.output);
    assert.ok(check.output.includes(`${config}:3: server.listen: cannot resolve host "no-such-host.invalid"`), check.output);
    const start = h.runKeywardenSync(['-c', config]);
    assert.equal(start.status, 1, start.output);
    assert.ok(start.output.includes(`${config}:3: server.listen: cannot resolve host "no-such-host.invalid"`), start.output);
    // On the command line too.
    const cli = h.runKeywardenSync(['-c', config, '--listen', `no-such-host.invalid:${port}`, '--check-config']);
    assert.equal(cli.status, 1, cli.output);
  });

  h.proxyTest('no conf/keywarden.toml and no -c: the built-in defaults, and the log says so', { timeout: 30000 }, async () => {
    const dir = h.makeTempDir('kw-nofile-');
    assert.ok(!fs.existsSync(path.join(dir, 'conf', 'keywarden.toml')));
    const port = await h.freePort();
    // Ports given on the command line: the default ones may be in use on this machine.
    const args = ['--listen', `127.0.0.1:${port}`, '--upstream', `127.0.0.1:${redis.port}`,
      '--metrics-listen', '127.0.0.1:0', '--workers', '1'];
    const check = h.runKeywardenSync([...args, '--check-config'], { cwd: dir });
    assert.equal(check.status, 0, check.output);
    assert.match(check.output, /conf\/keywarden\.toml not found and no -c given: the built-in defaults are OK/);

    const kw = await h.startKeywardenWith({ args, port, dir });
    const c = await RawClient.connect(port, h.HOST);
    try {
      assert.equal(await c.call('SET', 'startup:defaults', 'v'), 'OK');
      assert.equal(await c.call('GET', 'startup:defaults'), 'v');
      const info = String(await c.call('INFO', 'server'));
      assert.match(info, /\r\nconfig_file:\r\n/, 'no config file, as Redis shows it');
      const r = await c.call('KEYWARDEN', 'RELOAD');
      assert.match(r.message, /^ERR reload failed, configuration unchanged: keywarden is running without a config file/);
    } finally {
      c.close();
    }
    assert.match(kw.logs(), /no configuration file \(conf\/keywarden\.toml not found, no -c given\): running on the built-in defaults/);
    await kw.stop();

    // Named with -c, a missing file is an error.
    const missing = h.runKeywardenSync(['-c', 'missing.toml', ...args], { cwd: dir });
    assert.equal(missing.status, 1, missing.output);
    assert.equal(missing.output, 'keywarden: missing.toml: cannot open: No such file or directory\n');
  });

  h.proxyTest('metrics port taken by another keywarden: the error names the port and the ways out', { timeout: 30000 }, async () => {
    const first = await h.startKeywarden({ upstreamPort: redis.port, metrics: true });
    const dir = h.makeTempDir('kw-second-');
    const port = await h.freePort();
    const config = writeConfig(dir, [
      '[server]',
      `listen = "127.0.0.1:${port}"`,
      'workers = 1',
      '[upstream]',
      `address = "127.0.0.1:${redis.port}"`,
      '[metrics]',
      `listen = "127.0.0.1:${first.metricsPort}"`,
      '',
    ].join('\n'));
    const second = h.runKeywardenSync(['-c', config], { cwd: dir });
    assert.equal(second.status, 1, second.output);
    const m = first.metricsPort;
    assert.ok(second.output.includes(`metrics listen 127.0.0.1:${m}: address already in use (port ${m} is taken`), second.output);
    assert.ok(second.output.includes('--metrics-listen HOST:PORT'), second.output);
    assert.ok(second.output.includes('[metrics] enabled = false'), second.output);
    assert.ok(first.alive, 'the first keywarden is unaffected');
    await first.stop();
  });
});
