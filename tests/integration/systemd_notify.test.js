'use strict';
// The systemd notification protocol (Type=notify) as the unit conf/systemd/keywarden.service.in
// relies on it: keywarden started with NOTIFY_SOCKET and WATCHDOG_USEC sends READY=1 once it
// serves, WATCHDOG=1 while its workers run, RELOADING=1/READY=1 around a SIGHUP reload and
// STOPPING=1 on SIGTERM. A python3 datagram socket stands in for systemd (node has no AF_UNIX
// datagrams).

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { describe, before, after } = require('node:test');
const h = require('./harness');
const { RawClient } = require('./resp');

// Prints every datagram received on the socket path argv[1] as one JSON line.
const LISTENER = `
import json, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps("LISTENING"), flush=True)
while True:
    print(json.dumps(s.recv(4096).decode()), flush=True)
`;

class NotifyListener {
  constructor(socketPath) {
    this.path = socketPath;
    this.messages = [];
    this.waiters = [];
    this.proc = spawn('python3', ['-c', LISTENER, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    this.proc.stdout.on('data', (d) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        this.messages.push(JSON.parse(buf.slice(0, i)));
        buf = buf.slice(i + 1);
        for (const w of this.waiters.splice(0)) w();
      }
    });
  }

  // Resolves with the index of the first message at or after `from` that satisfies `pred`.
  async waitFor(pred, from = 0, timeoutMs = 5000, what = 'message') {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = from; i < this.messages.length; i++) if (pred(this.messages[i])) return i;
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`no ${what} within ${timeoutMs} ms; got ${JSON.stringify(this.messages.slice(from))}`);
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  stop() {
    this.proc.kill('SIGKILL');
  }
}

describe('systemd notifications (Type=notify)', { skip: h.TARGET_REDIS && 'proxy-only behaviour' }, () => {
  let redis;
  let listener;

  before(async () => {
    redis = await h.startRedis();
    listener = new NotifyListener(path.join(h.makeTempDir('kw-notify-'), 'notify.sock'));
    await listener.waitFor((m) => m === 'LISTENING', 0, 10000, 'listener start');
  }, { timeout: 30000 });

  after(async () => {
    if (listener) listener.stop();
    if (redis) await redis.stop();
  }, { timeout: 30000 });

  // keywarden started with the service manager's variables set (spawn copies process.env).
  async function startNotified(env) {
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      return await h.startKeywarden({ upstreamPort: redis.port });
    } finally {
      for (const k of Object.keys(env)) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  }

  h.proxyTest('READY, then WATCHDOG=1; RELOADING/READY around SIGHUP; STOPPING on SIGTERM, exit 0', { timeout: 40000 }, async () => {
    const from = listener.messages.length;
    const kw = await startNotified({ NOTIFY_SOCKET: listener.path, WATCHDOG_USEC: '1000000' });

    const ready = await listener.waitFor((m) => m.startsWith('READY=1'), from, 5000, 'READY=1');
    assert.equal(
      listener.messages[ready],
      `READY=1\nSTATUS=serving on ${h.HOST}:${kw.port} with 2 workers, upstream ${h.HOST}:${redis.port}`,
    );
    assert.deepEqual(listener.messages.slice(from, ready), [], 'nothing before READY=1');
    const c = await RawClient.connect(kw.port, h.HOST);
    try {
      assert.equal(await c.call('PING'), 'PONG');
    } finally {
      c.close();
    }

    // WATCHDOG_USEC=1 s: a ping every third of it.
    const w1 = await listener.waitFor((m) => m === 'WATCHDOG=1', ready + 1, 3000, 'WATCHDOG=1');
    const w2 = await listener.waitFor((m) => m === 'WATCHDOG=1', w1 + 1, 3000, 'a second WATCHDOG=1');
    assert.ok(w2 > w1);

    let mark = listener.messages.length;
    kw.proc.kill('SIGHUP');
    const reloading = await listener.waitFor((m) => m.startsWith('RELOADING=1'), mark, 5000, 'RELOADING=1');
    assert.match(listener.messages[reloading], /^RELOADING=1\nMONOTONIC_USEC=\d+$/);
    const reloaded = await listener.waitFor((m) => m.startsWith('READY=1'), reloading + 1, 5000, 'READY=1 after the reload');
    assert.match(listener.messages[reloaded], /; configuration reloaded$/);

    // A broken file: the reload fails, keywarden keeps serving and says why.
    fs.appendFileSync(kw.configPath, '\n[server]\nworkers = "many"\n');
    mark = listener.messages.length;
    kw.proc.kill('SIGHUP');
    const failed = await listener.waitFor((m) => m.startsWith('READY=1'), mark, 5000, 'READY=1 after a failed reload');
    assert.match(listener.messages[failed], /; reload failed, configuration unchanged: .*keywarden\.toml:\d+/);

    mark = listener.messages.length;
    kw.signal('SIGTERM');
    const stopping = await listener.waitFor((m) => m.startsWith('STOPPING=1'), mark, 5000, 'STOPPING=1');
    assert.equal(listener.messages[stopping], 'STOPPING=1\nSTATUS=draining');
    const exit = await kw.waitExit(10000);
    assert.deepEqual(exit && { code: exit.code, signal: exit.signal }, { code: 0, signal: null });
    await h.sleep(200);
    assert.deepEqual(listener.messages.slice(stopping + 1), [], 'nothing after STOPPING=1');
  });

  h.proxyTest('without NOTIFY_SOCKET nothing is sent; WATCHDOG_PID of another process: no pings', { timeout: 30000 }, async () => {
    const from = listener.messages.length;
    const kw = await h.startKeywarden({ upstreamPort: redis.port });
    const other = await startNotified({ NOTIFY_SOCKET: listener.path, WATCHDOG_USEC: '1000000', WATCHDOG_PID: '1' });
    await listener.waitFor((m) => m.startsWith('READY=1'), from, 5000, 'READY=1');
    await h.sleep(1500);
    const got = listener.messages.slice(from);
    assert.equal(got.length, 1, `only the second keywarden's READY=1: ${JSON.stringify(got)}`);
    assert.ok(got[0].includes(`:${other.port} `), got[0]);
    await kw.stop();
    await other.stop();
  });
});
