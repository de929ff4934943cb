'use strict';
// Process harness for the integration suite: starts redis-server and
// keywarden on free loopback ports, waits until they answer, and guarantees
// that every child is killed when the test process exits, whatever happened.
//
// KW_TARGET=redis runs the suite straight against redis-server (keywarden is
// not started), to validate the tests themselves on plain Redis behaviour.

const assert = require('node:assert/strict');
const { AsyncLocalStorage } = require('node:async_hooks');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const nodeTest = require('node:test');

const { makeCerts } = require('./certs');
const { RawClient, RespError, connectSocket } = require('./resp');

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const TARGET_REDIS = process.env.KW_TARGET === 'redis';
const KEYWARDEN_BIN = process.env.KEYWARDEN_BIN || path.join(REPO_ROOT, 'build-asan', 'keywarden');
const REDIS_BIN = process.env.REDIS_SERVER_BIN || 'redis-server';
const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 10000;
const STOP_TIMEOUT_MS = 10000;

const children = new Set(); // live ChildProcess objects
const tempDirs = [];
const servers = []; // every server ever started in this process, for log dumps
// Servers started inside a test body belong to that test: the wrapper stops
// them when it ends, so a failing shutdown never hides the test's own error.
const testScope = new AsyncLocalStorage();

function killAllChildren() {
  for (const c of children) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  children.clear();
}

process.on('exit', () => {
  killAllChildren();
  if (!process.env.KW_KEEP_TMP) {
    for (const d of tempDirs) {
      try {
        fs.rmSync(d, { recursive: true, force: true });
      } catch {
        // best effort
      }
    }
  }
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    killAllChildren();
    process.exit(128 + os.constants.signals[sig]);
  });
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function makeTempDir(prefix = 'kw-it-') {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function tailFile(file, maxLines = 80) {
  try {
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    return lines.slice(-maxLines).join('\n');
  } catch (e) {
    return `<cannot read ${file}: ${e.message}>`;
  }
}

// One PING over a fresh connection to `target` (see resp.js connectSocket). Resolves with the
// first reply line ('+PONG', '-NOAUTH ...'), or throws on connect/timeout/close.
function pingOnce(target, timeoutMs = 1000) {
  return new Promise((resolve, reject) => {
    let s = null;
    let data = '';
    let done = false;
    const finish = (err, val) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        s.destroy();
        reject(err);
        return;
      }
      // Close our side and wait for the server to close too, so that the
      // probe is no longer counted as a client when we return.
      s.end();
      const t2 = setTimeout(() => s.destroy(), 1000);
      s.once('close', () => {
        clearTimeout(t2);
        resolve(val);
      });
    };
    s = connectSocket(target, () => s.write('*1\r\n$4\r\nPING\r\n'));
    const timer = setTimeout(() => finish(new Error('PING timed out')), timeoutMs);
    s.on('error', (e) => finish(e));
    s.on('data', (d) => {
      data += d.toString('latin1');
      const i = data.indexOf('\r\n');
      if (i >= 0) finish(null, data.slice(0, i));
    });
    s.on('close', () => finish(new Error(`connection closed before a reply (got ${JSON.stringify(data)})`)));
  });
}

class Server {
  constructor(kind, dir, port) {
    this.kind = kind;
    this.dir = dir;
    this.host = HOST;
    this.port = port;
    this.proc = null;
    this.logFile = path.join(dir, `${kind}.log`);
    this.exitInfo = null;
    this.exited = null;
    this.expectExit = false; // set when the harness or a test ends it on purpose
    this.pids = []; // every process this server has run, restarts included
    servers.push(this);
    const scope = testScope.getStore();
    if (scope) scope.push(this);
  }

  spawn(bin, args, env, ident) {
    const fd = fs.openSync(this.logFile, 'a');
    const opts = { stdio: ['ignore', fd, fd], cwd: this.dir, env: env || process.env };
    if (ident) Object.assign(opts, ident);
    const proc = spawn(bin, args, opts);
    fs.closeSync(fd);
    this.proc = proc;
    this.pids.push(proc.pid);
    this.exitInfo = null;
    this.expectExit = false;
    children.add(proc);
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        children.delete(proc);
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
      proc.once('error', (err) => {
        children.delete(proc);
        this.exitInfo = { code: null, signal: null, error: err };
        resolve(this.exitInfo);
      });
    });
  }

  get alive() {
    return this.proc !== null && this.exitInfo === null;
  }

  logs() {
    return tailFile(this.logFile, 100000);
  }

  // Sanitizer reports of this server's processes: lines of its log that start one, and the files
  // that ASAN_OPTIONS / UBSAN_OPTIONS log_path (set by tools/test.sh) sends them to.
  sanitizerReports() {
    const found = [];
    const start = /^.*(ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: UndefinedBehaviorSanitizer).*$/gm;
    for (const m of this.logs().matchAll(start)) found.push(`${this.logFile}: ${m[0]}`);
    for (const v of ['ASAN_OPTIONS', 'UBSAN_OPTIONS']) {
      const m = /(?:^|:)log_path=([^:]+)/.exec(process.env[v] || '');
      if (!m) continue;
      for (const pid of this.pids) {
        const f = `${m[1]}.${pid}`;
        if (fs.existsSync(f)) found.push(`${f}:\n${tailFile(f, 40)}`);
      }
    }
    return found;
  }

  // Where it listens, for messages.
  where() {
    return `port ${this.port}`;
  }

  // What waitReady's PING connects to (see resp.js connectSocket).
  pingTarget() {
    return this.port;
  }

  describeFailure(what) {
    const ex = this.exitInfo ? ` (process exited: ${JSON.stringify(this.exitInfo)})` : '';
    return `${this.kind} on ${this.where()}: ${what}${ex}\n--- ${this.logFile} (tail) ---\n${tailFile(this.logFile)}`;
  }

  async waitReady(acceptReply = (line) => line === '+PONG') {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let last = 'never connected';
    while (Date.now() < deadline) {
      if (!this.alive) throw new Error(this.describeFailure('exited during startup'));
      try {
        const line = await pingOnce(this.pingTarget());
        if (acceptReply(line)) return;
        last = `PING answered ${JSON.stringify(line)}`;
      } catch (e) {
        last = e.message;
      }
      await sleep(50);
    }
    throw new Error(this.describeFailure(`not ready after ${READY_TIMEOUT_MS} ms: ${last}`));
  }

  async waitExit(timeoutMs = STOP_TIMEOUT_MS) {
    if (!this.proc) return null;
    let timer;
    const r = await Promise.race([
      this.exited,
      new Promise((resolve) => {
        timer = setTimeout(() => resolve(null), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return r;
  }

  // Sends a signal the test means to send (the exit it causes is expected).
  signal(sig) {
    this.expectExit = true;
    this.proc.kill(sig);
  }

  // SIGKILL, no questions asked.
  async kill() {
    this.expectExit = true;
    if (this.alive) {
      try {
        this.proc.kill('SIGKILL');
      } catch {
        // raced with exit
      }
    }
    await this.exited;
  }
}

class RedisServer extends Server {
  constructor(dir, port, opts, kind = 'redis') {
    super(kind, dir, port);
    this.password = opts.password || null;
    this.extraArgs = opts.args || [];
  }

  listenArgs() {
    return ['--port', String(this.port), '--bind', HOST];
  }

  args() {
    const a = [...this.listenArgs(), '--dir', this.dir, '--save', '', '--appendonly', 'no'];
    if (this.password) a.push('--requirepass', this.password);
    return a.concat(this.extraArgs);
  }

  async start() {
    this.spawn(REDIS_BIN, this.args());
    await this.waitReady((line) => line === '+PONG' || (this.password !== null && line.startsWith('-NOAUTH')));
    return this;
  }

  async stop() {
    this.expectExit = true;
    if (!this.alive) return;
    this.proc.kill('SIGTERM');
    const r = await this.waitExit();
    if (r === null) {
      await this.kill();
      throw new Error(this.describeFailure('did not exit after SIGTERM'));
    }
  }

  // Same port, same arguments: clients of a proxy see "the same" Redis return.
  async restart() {
    if (this.alive) await this.stop();
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        return await this.start();
      } catch (e) {
        // The port can linger briefly after a SIGKILL; retry within bounds.
        if (Date.now() > deadline) throw e;
        await sleep(100);
      }
    }
  }
}

async function startRedis(opts = {}) {
  const dir = makeTempDir('kw-redis-');
  const port = opts.port || (await freePort());
  const r = new RedisServer(dir, port, opts);
  return r.start();
}

// One command over a fresh connection to `target` (a port, or {port, host} / {path} / with
// `tls`, see resp.js connectSocket), after AUTH when a password is given. Resolves with the reply
// (a RespError for an error reply); rejects when the server cannot be reached or does not answer.
async function callOnce(target, args, { username, password, timeoutMs = 2000 } = {}) {
  const c = await RawClient.open(target, { connectTimeoutMs: timeoutMs });
  try {
    if (password) {
      c.send(...(username ? ['AUTH', username, password] : ['AUTH', password]));
      const r = await c.read(timeoutMs);
      if (r instanceof RespError) throw new Error(`AUTH refused by ${JSON.stringify(target)}: ${r.message}`);
    }
    c.send(...args);
    return await c.read(timeoutMs);
  } finally {
    c.close();
  }
}

// Runs redis-cli (or REDIS_CLI_BIN) with `args`, asynchronously so the test's own clients keep
// running; resolves with {code, signal, stdout, stderr}. Killed after timeoutMs.
function redisCli(args, { timeoutMs = 10000, bin = process.env.REDIS_CLI_BIN || 'redis-cli' } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(p);
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('error', (e) => {
      clearTimeout(timer);
      children.delete(p);
      reject(new Error(`cannot run ${bin}: ${e.message}`));
    });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(p);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

// ---- TLS and Unix-socket Redis ----

// A certificate of a makeCerts() set: its name there ('client', 'expiredServer', ...) or
// {cert, key} itself.
function pickCert(certs, which) {
  const c = typeof which === 'string' ? certs[which] : which;
  assert.ok(c && c.cert && c.key, `no certificate ${JSON.stringify(which)} in the set`);
  return c;
}

// node tls.connect options (also ioredis's `tls`) to reach a server of `certs`: trusts its CA and
// presents the client certificate `as` (a name in the set, {cert, key}, or null for none).
function tlsClientOptions(certs, as = 'client') {
  const o = { ca: fs.readFileSync(certs.ca.cert) };
  if (as) {
    const c = pickCert(certs, as);
    o.cert = fs.readFileSync(c.cert);
    o.key = fs.readFileSync(c.key);
  }
  return o;
}

// redis-cli / redis-benchmark arguments for the same: --tls --cacert [--cert --key].
function redisCliTlsArgs(certs, as = 'client') {
  const a = ['--tls', '--cacert', certs.ca.cert];
  if (as) {
    const c = pickCert(certs, as);
    a.push('--cert', c.cert, '--key', c.key);
  }
  return a;
}

// TLS only (no plaintext port). requireClientCert: true ("tls-auth-clients yes"), false ("no")
// or 'optional'.
class RedisTlsServer extends RedisServer {
  constructor(dir, port, opts) {
    super(dir, port, opts, 'redis-tls');
    this.certs = opts.certs;
    this.serverCert = pickCert(opts.certs, opts.serverCert || 'server');
    this.requireClientCert = opts.requireClientCert;
  }

  listenArgs() {
    const auth = this.requireClientCert === 'optional' ? 'optional' : this.requireClientCert ? 'yes' : 'no';
    return ['--port', '0', '--tls-port', String(this.port), '--bind', HOST,
      '--tls-cert-file', this.serverCert.cert, '--tls-key-file', this.serverCert.key,
      '--tls-ca-cert-file', this.certs.ca.cert, '--tls-auth-clients', auth];
  }

  where() {
    return `TLS port ${this.port}`;
  }

  // Trusts the set's CA whatever certificate the server presents: a server started on purpose
  // with an expired or untrusted certificate must still be seen to be up.
  pingTarget() {
    return { port: this.port, tls: { ...tlsClientOptions(this.certs, 'client'), rejectUnauthorized: false } };
  }

  cliArgs(as = 'client') {
    return ['-h', HOST, '-p', String(this.port), ...redisCliTlsArgs(this.certs, as)];
  }
}

// redis-server with TLS on a free port and no plaintext port. `certs` from makeCerts() (made in
// a new temp dir when omitted); serverCert: which certificate it presents (default 'server');
// requireClientCert: true | false (default) | 'optional'; password, args: as startRedis.
// Returns the server: {port, certs, cliArgs(as), stop(), kill(), restart(), ...}.
async function startRedisTls(opts = {}) {
  const dir = makeTempDir('kw-redis-tls-');
  const certs = opts.certs || makeCerts(path.join(dir, 'certs'));
  const port = opts.port || (await freePort());
  const r = new RedisTlsServer(dir, port, { ...opts, certs });
  return r.start();
}

class RedisUnixServer extends RedisServer {
  constructor(dir, opts) {
    super(dir, 0, opts, 'redis-unix');
    this.path = path.join(dir, 'redis.sock');
    this.perm = opts.perm || '700';
  }

  listenArgs() {
    return ['--port', '0', '--unixsocket', this.path, '--unixsocketperm', this.perm];
  }

  where() {
    return this.path;
  }

  pingTarget() {
    return { path: this.path };
  }
}

// redis-server listening only on a Unix socket in a temp dir ({path}; perm default '700');
// password, args: as startRedis.
async function startRedisUnix(opts = {}) {
  const dir = makeTempDir('kw-redis-unix-');
  return new RedisUnixServer(dir, opts).start();
}

// ---- Sentinel ----
// A group on loopback: one master, replicas (--replicaof), and sentinels (`redis-server <conf>
// --sentinel`, each with its own config file in its own temp dir; Sentinel rewrites it).

class SentinelServer extends RedisServer {
  constructor(dir, port, conf, opts) {
    super(dir, port, opts, 'sentinel');
    this.conf = conf;
  }

  args() {
    return [this.conf, '--sentinel'];
  }
}

// Sentinel answers flat [field, value, ...] arrays; RESP3 maps come as Map.
function fields(reply) {
  if (reply instanceof Map) return Object.fromEntries(reply);
  const o = {};
  for (let i = 0; i + 1 < reply.length; i += 2) o[reply[i]] = reply[i + 1];
  return o;
}

function sentinelConfig({ port, dir, masterName, master, quorum, downAfterMs, failoverTimeoutMs, parallelSyncs, password, sentinelPassword, sentinelUsername }) {
  const lines = [
    `port ${port}`, `bind ${HOST}`, `dir ${dir}`, 'daemonize no', 'logfile ""',
    'sentinel resolve-hostnames no', 'sentinel announce-hostnames no',
    `sentinel monitor ${masterName} ${HOST} ${master.port} ${quorum}`,
    `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
    `sentinel failover-timeout ${masterName} ${failoverTimeoutMs}`,
    `sentinel parallel-syncs ${masterName} ${parallelSyncs}`,
  ];
  if (password) lines.push(`sentinel auth-pass ${masterName} ${password}`);
  if (sentinelUsername) {
    // The sentinels also use this user to talk to each other.
    lines.push('user default off', `user ${sentinelUsername} on >${sentinelPassword} allchannels +@all`,
      `sentinel sentinel-user ${sentinelUsername}`, `sentinel sentinel-pass ${sentinelPassword}`);
  } else if (sentinelPassword) {
    lines.push(`requirepass ${sentinelPassword}`);
  }
  return `${lines.join('\n')}\n`;
}

function sentinelAuthOf(opts) {
  return opts.sentinelPassword ? { username: opts.sentinelUsername, password: opts.sentinelPassword } : {};
}

class SentinelGroup {
  constructor(opts, nodes, sentinels) {
    this.opts = opts;
    this.masterName = opts.masterName;
    this.nodes = nodes; // every data node, the first master first
    this.master = nodes[0]; // the master at startup; currentMaster() asks who it is now
    this.replicas = nodes.slice(1);
    this.sentinels = sentinels;
    this.sentinelAuth = sentinelAuthOf(opts);
    this.dataAuth = opts.password ? { password: opts.password } : {};
  }

  // "127.0.0.1:port" of every sentinel, for keywarden's `sentinels`.
  get sentinelAddresses() {
    return this.sentinels.map((s) => `${HOST}:${s.port}`);
  }

  nodeAt(port) {
    return this.nodes.find((n) => n.port === Number(port)) || null;
  }

  sentinelCall(sentinel, ...args) {
    return callOnce(sentinel.port, args, this.sentinelAuth);
  }

  nodeCall(node, ...args) {
    return callOnce(node.port, args, this.dataAuth);
  }

  // One sentinel's answer to GET-MASTER-ADDR-BY-NAME: {host, port} or null.
  async askMaster(sentinel) {
    const r = await this.sentinelCall(sentinel, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.masterName);
    if (r instanceof RespError) throw new Error(`sentinel ${sentinel.port}: ${r.message}`);
    return Array.isArray(r) ? { host: r[0], port: Number(r[1]) } : null;
  }

  // The master as the first sentinel that answers sees it: {host, port, node} (node: the data
  // server on that port).
  async currentMaster() {
    const errors = [];
    for (const s of this.sentinels.filter((x) => x.alive)) {
      try {
        const a = await this.askMaster(s);
        if (a) return { ...a, node: this.nodeAt(a.port) };
        errors.push(`sentinel ${s.port}: master unknown`);
      } catch (e) {
        errors.push(e.message);
      }
    }
    throw new Error(`no sentinel knows master ${this.masterName}: ${errors.join('; ')}`);
  }

  // What is still missing for a settled group, or '' when: every live sentinel names the same
  // live master, whose ROLE is master; sees every other live data node as a replica of it with
  // its link up; and knows every other live sentinel.
  async unsettled() {
    const live = this.sentinels.filter((s) => s.alive);
    const addr = await this.askMaster(live[0]);
    if (!addr) return `sentinel ${live[0].port} does not know the master`;
    const master = this.nodeAt(addr.port);
    if (!master || !master.alive) return `master ${addr.port} is not a live node of the group`;
    const role = await this.nodeCall(master, 'ROLE');
    if (!Array.isArray(role) || role[0] !== 'master') return `node ${addr.port} is not a master yet`;
    const wantReplicas = this.nodes.filter((n) => n.alive && n !== master).map((n) => n.port).sort();
    for (const s of live) {
      const m = fields(await this.sentinelCall(s, 'SENTINEL', 'MASTER', this.masterName));
      if (Number(m.port) !== master.port) return `sentinel ${s.port} names master ${m.port}`;
      if (m.flags !== 'master') return `sentinel ${s.port}: master flags ${m.flags}`;
      const reps = (await this.sentinelCall(s, 'SENTINEL', 'REPLICAS', this.masterName)).map(fields);
      const ok = reps.filter((r) => r.flags === 'slave' && r['master-link-status'] === 'ok' &&
        Number(r['master-port']) === master.port).map((r) => Number(r.port)).sort();
      if (!wantReplicas.every((p) => ok.includes(p))) {
        return `sentinel ${s.port} sees replicas ${JSON.stringify(reps.map((r) => [r.port, r.flags, r['master-link-status']]))}, wants ${wantReplicas} linked`;
      }
      const others = (await this.sentinelCall(s, 'SENTINEL', 'SENTINELS', this.masterName)).map(fields);
      const seen = others.filter((o) => o.flags === 'sentinel').map((o) => Number(o.port));
      const want = live.filter((x) => x !== s).map((x) => x.port);
      if (!want.every((p) => seen.includes(p))) return `sentinel ${s.port} knows sentinels ${seen}, wants ${want}`;
    }
    return '';
  }

  async waitSettled(timeoutMs = 20000) {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      try {
        last = await this.unsettled();
        if (last === '') return;
      } catch (e) {
        last = e.message;
      }
      await sleep(100);
    }
    throw new Error(`sentinel group not settled after ${timeoutMs} ms: ${last}\n${this.tails()}`);
  }

  // Waits until every live sentinel names the same master other than `from` ({port}) and that
  // node answers ROLE master. {from, to: {host, port, node}, msFirst (the first sentinel
  // to name a new master), ms (all agree and the new master says so)}, times since `since`.
  async waitForSwitch(from, { since = Date.now(), timeoutMs } = {}) {
    const o = this.opts;
    const limit = timeoutMs || o.downAfterMs + 3 * o.failoverTimeoutMs + 10000;
    const deadline = since + limit;
    let msFirst = null;
    let last = '';
    while (Date.now() < deadline) {
      const live = this.sentinels.filter((s) => s.alive);
      const seen = await Promise.all(live.map((s) => this.askMaster(s).catch((e) => ({ error: e.message }))));
      const moved = seen.filter((a) => a && !a.error && a.port !== from.port);
      if (moved.length > 0 && msFirst === null) msFirst = Date.now() - since;
      if (moved.length === live.length && moved.every((a) => a.port === moved[0].port)) {
        const node = this.nodeAt(moved[0].port);
        const role = node ? await this.nodeCall(node, 'ROLE').catch(() => null) : null;
        if (Array.isArray(role) && role[0] === 'master') {
          return { from, to: { ...moved[0], node }, msFirst, ms: Date.now() - since };
        }
        last = `sentinels name ${moved[0].port}, its ROLE is ${JSON.stringify(role)}`;
      } else {
        last = `sentinels name ${JSON.stringify(seen)}`;
      }
      await sleep(50);
    }
    throw new Error(`no switch away from master ${from.port} within ${limit} ms: ${last}\n${this.tails()}`);
  }

  // SENTINEL FAILOVER (retried while the sentinel answers -INPROG or -NOGOODSLAVE, e.g. right
  // after an earlier failover), then waitForSwitch. Resolves as waitForSwitch.
  async failover({ timeoutMs = 15000 } = {}) {
    const from = await this.currentMaster();
    const since = Date.now();
    const deadline = since + timeoutMs;
    for (;;) {
      const s = this.sentinels.find((x) => x.alive);
      const r = await this.sentinelCall(s, 'SENTINEL', 'FAILOVER', this.masterName);
      if (r === 'OK') break;
      const retry = r instanceof RespError && /^(INPROG|NOGOODSLAVE)/.test(r.message);
      if (!retry || Date.now() > deadline) {
        throw new Error(`SENTINEL FAILOVER on ${s.port}: ${r instanceof RespError ? r.message : JSON.stringify(r)}`);
      }
      await sleep(200);
    }
    return this.waitForSwitch(from, { since, timeoutMs });
  }

  // SIGKILLs the current master, then waitForSwitch. Resolves as waitForSwitch, plus `killed`
  // (the server, which restart() brings back on its port; Sentinel then makes it a replica).
  async killMaster(opts = {}) {
    const from = await this.currentMaster();
    assert.ok(from.node, `master ${from.port} is not a node of this group`);
    const since = Date.now();
    await from.node.kill();
    const r = await this.waitForSwitch(from, { since, ...opts });
    return { ...r, killed: from.node };
  }

  // How many times the sentinel of index i has switched the master so far (its log's
  // +switch-master lines): a test can tell a failover it caused from one the sentinels decided on
  // their own (with downAfterMs 1000, a machine loaded enough to delay PING replies by a second
  // makes them fail over).
  switchCount(i = 0) {
    return (this.sentinels[i].logs().match(/\+switch-master /g) || []).length;
  }

  tails() {
    return this.sentinels.map((s) => `--- sentinel ${s.port} (tail) ---\n${tailFile(s.logFile, 25)}`).join('\n');
  }

  async stop() {
    const errors = [];
    for (const s of [...this.sentinels, ...this.nodes.slice().reverse()]) {
      try {
        await s.stop();
      } catch (e) {
        errors.push(e.message);
      }
    }
    if (errors.length) throw new Error(errors.join('\n'));
  }
}

// A Sentinel group on loopback, settled before it is returned (waitSettled). Options:
//   masterName 'kwmaster', replicas 2, sentinels 3, quorum 2, downAfterMs 1000,
//   failoverTimeoutMs 4000 (also Sentinel's pause before it fails the same master over again,
//   2x this), parallelSyncs 1,
//   infoPeriodMs 1000: how often a sentinel sends INFO to the data nodes (SENTINEL DEBUG
//   INFO-PERIOD; Sentinel's own is 10000), so a node that comes back as a stale master is turned
//   into a replica within a second instead of ten,
//   publishPeriodMs (default: Sentinel's own, 2000): the hello period (SENTINEL DEBUG
//   PUBLISH-PERIOD); a sentinel demotes a node that still says it is master only after 4x this,
//   so after failover() the old master keeps answering as a master for ~8 s by default,
//   password: requirepass + masterauth on every data node, `sentinel auth-pass` on sentinels,
//   sentinelPassword: the sentinels' own password (requirepass), sentinelUsername: with it, an
//   ACL user instead (the default user is off).
// Returns a SentinelGroup: {masterName, master, replicas, nodes, sentinels, sentinelAddresses,
// currentMaster(), failover(), killMaster(), waitForSwitch(), waitSettled(), stop()}.
async function startSentinelGroup(options = {}) {
  const opts = {
    masterName: 'kwmaster', replicas: 2, sentinels: 3, quorum: 2, downAfterMs: 1000,
    failoverTimeoutMs: 4000, parallelSyncs: 1, infoPeriodMs: 1000, ...options,
  };
  assert.ok(!opts.sentinelUsername || opts.sentinelPassword, 'sentinelUsername needs sentinelPassword');
  // A replica that must resync fully starts at once instead of after Redis's 5 s wait for others.
  const dataArgs = ['--repl-diskless-sync-delay', '0'];
  if (opts.password) dataArgs.push('--masterauth', opts.password);
  const master = await startRedis({ password: opts.password, args: dataArgs });
  const nodes = [master];
  for (let i = 0; i < opts.replicas; i++) {
    nodes.push(await startRedis({ password: opts.password, args: [...dataArgs, '--replicaof', HOST, String(master.port)] }));
  }
  const sentinels = [];
  for (let i = 0; i < opts.sentinels; i++) {
    const dir = makeTempDir('kw-sentinel-');
    const port = await freePort();
    const conf = path.join(dir, 'sentinel.conf');
    fs.writeFileSync(conf, sentinelConfig({ ...opts, port, dir, master }));
    const s = new SentinelServer(dir, port, conf, { password: opts.sentinelPassword });
    sentinels.push(s);
    await s.start();
    const debug = ['INFO-PERIOD', String(opts.infoPeriodMs)];
    if (opts.publishPeriodMs) debug.push('PUBLISH-PERIOD', String(opts.publishPeriodMs));
    const r = await callOnce(port, ['SENTINEL', 'DEBUG', ...debug], sentinelAuthOf(opts));
    assert.equal(r, 'OK', `SENTINEL DEBUG ${debug.join(' ')} on ${port}: ${r && r.message}`);
  }
  const group = new SentinelGroup(opts, nodes, sentinels);
  await group.waitSettled();
  return group;
}

// ---- PostgreSQL (read-through tests) ----
// A throwaway cluster: initdb in a temp dir, `postgres` on a free loopback port, trust auth,
// pg_stat_statements preloaded (queries are counted with it). PostgreSQL refuses to run as
// root, so as root (CI) the cluster belongs to the `postgres` system user (created by the
// Debian package) and the server runs with that uid. Fails loudly when anything is missing.
const PG_BIN = process.env.PG_BIN_DIR || '/usr/lib/postgresql/15/bin';

function pgIdentity() {
  if (process.getuid() !== 0) return null;
  const user = process.env.KW_PG_USER || 'postgres';
  const r = spawnSync('id', ['-u', user], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', user], { encoding: 'utf8' });
  if (r.status !== 0 || g.status !== 0) {
    throw new Error(`running as root, PostgreSQL needs a non-root user, and user "${user}" does not exist (install Debian's postgresql: tools/setup-deps.sh)`);
  }
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

function chownTree(dir, ident) {
  if (!ident) return;
  const r = spawnSync('chown', ['-R', `${ident.uid}:${ident.gid}`, dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`chown ${dir}: ${r.stderr}`);
}

class PostgresServer extends Server {
  constructor(dir, port) {
    super('postgres', dir, port);
    this.ident = pgIdentity();
    this.dataDir = path.join(dir, 'data');
    this.sockDir = path.join(dir, 'sock');
  }

  init() {
    for (const bin of ['initdb', 'postgres']) {
      if (!fs.existsSync(path.join(PG_BIN, bin))) {
        throw new Error(`PostgreSQL 15 server binaries not found in ${PG_BIN} (install Debian's postgresql: tools/setup-deps.sh)`);
      }
    }
    fs.mkdirSync(this.sockDir, { recursive: true });
    chownTree(this.dir, this.ident);
    const opts = { encoding: 'utf8', cwd: this.dir };
    if (this.ident) Object.assign(opts, this.ident);
    const r = spawnSync(path.join(PG_BIN, 'initdb'),
      ['-D', this.dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C'], opts);
    if (r.status !== 0) throw new Error(`initdb failed (${r.status}): ${r.stderr}\n${r.stdout}`);
  }

  async start() {
    this.spawn(path.join(PG_BIN, 'postgres'), [
      '-D', this.dataDir, '-p', String(this.port), '-k', this.sockDir,
      '-c', `listen_addresses=${HOST}`, '-c', 'fsync=off', '-c', 'synchronous_commit=off',
      '-c', 'full_page_writes=off', '-c', 'shared_preload_libraries=pg_stat_statements',
      '-c', 'max_connections=200', '-c', 'log_min_messages=warning',
    ], undefined, this.ident);
    const deadline = Date.now() + 30000;
    let last = '';
    while (Date.now() < deadline) {
      if (!this.alive) throw new Error(this.describeFailure('exited during startup'));
      const r = this.psqlSync('SELECT 1', 'postgres', true);
      if (r.status === 0) return this;
      last = r.stderr;
      await sleep(100);
    }
    throw new Error(this.describeFailure(`not ready after 30 s: ${last}`));
  }

  psqlSync(sql, db = 'apidb', raw = false) {
    const r = spawnSync(path.join(PG_BIN, 'psql'),
      ['-h', HOST, '-p', String(this.port), '-U', 'postgres', '-d', db, '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql],
      { encoding: 'utf8', timeout: 30000 });
    if (raw) return r;
    if (r.status !== 0) throw new Error(`psql failed (${r.status}): ${r.stderr}\nSQL: ${sql}`);
    return r.stdout.trim();
  }

  // Asynchronous, so the test's own clients keep running meanwhile.
  psql(sql, db = 'apidb') {
    return new Promise((resolve, reject) => {
      const p = spawn(path.join(PG_BIN, 'psql'),
        ['-h', HOST, '-p', String(this.port), '-U', 'postgres', '-d', db, '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql]);
      let out = '';
      let err = '';
      p.stdout.on('data', (d) => { out += d; });
      p.stderr.on('data', (d) => { err += d; });
      p.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`psql failed (${code}): ${err}\nSQL: ${sql}`))));
    });
  }

  loadFile(file, db = 'apidb') {
    const r = spawnSync(path.join(PG_BIN, 'psql'),
      ['-h', HOST, '-p', String(this.port), '-U', 'postgres', '-d', db, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', file],
      { encoding: 'utf8', timeout: 30000 });
    if (r.status !== 0) throw new Error(`psql -f ${file} failed: ${r.stderr}`);
  }

  async stop() {
    this.expectExit = true;
    if (!this.alive) return;
    this.proc.kill('SIGINT'); // fast shutdown
    const r = await this.waitExit(15000);
    if (r === null) {
      await this.kill();
      throw new Error(this.describeFailure('did not exit after SIGINT'));
    }
  }

  async restart() {
    if (this.alive) await this.stop();
    return this.start();
  }

  // Immediate shutdown, as `pg_ctl stop -m immediate` does it: every backend is killed at once,
  // without a checkpoint; the next start() runs crash recovery.
  async crash() {
    this.signal('SIGQUIT');
    const r = await this.waitExit(15000);
    if (r === null) {
      await this.kill();
      throw new Error(this.describeFailure('did not exit after SIGQUIT'));
    }
  }
}

// Starts PostgreSQL 15 on a free port with database `apidb` (and pg_stat_statements in it).
async function startPostgres() {
  const dir = makeTempDir('kw-pg-');
  fs.chmodSync(dir, 0o755);
  const port = await freePort();
  const pg = new PostgresServer(dir, port);
  pg.init();
  await pg.start();
  pg.psqlSync('CREATE DATABASE apidb', 'postgres');
  pg.psqlSync('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  return pg;
}

// ---- Redis Cluster ----
// A real cluster on loopback: `masters * (1 + replicasPerMaster)` redis-servers with
// --cluster-enabled (each in its own temp dir, on a free client port and a free bus port given
// with --cluster-port, so no port+10000 arithmetic), joined by `redis-cli --cluster create`, and
// returned only once every node says cluster_state:ok, every node sees the same slot owners for
// all 16384 slots, and every replica's link to its master is up. Any failure throws (a test that
// cannot make its cluster fails; it never skips). The nodes are ordinary RedisServers: stopped
// with the test that started them and killed when the process exits.
const REDIS_CLI_BIN = process.env.REDIS_CLI_BIN || 'redis-cli';
const CLUSTER_READY_TIMEOUT_MS = 20000;

async function redisCall(port, ...args) {
  const { RawClient } = require('./resp');
  const c = await RawClient.connect(port, HOST, { connectTimeoutMs: 1000 });
  try {
    return await c.call(...args);
  } finally {
    c.close();
  }
}

// CLUSTER NODES text -> [{id, host, port, flags, masterId, slots: [[first, last]...]}].
// Slots being migrated ("[1234->-id]") are not ownership and are left out.
function parseClusterNodes(text) {
  const nodes = [];
  for (const line of String(text).split('\n')) {
    const f = line.trim().split(' ');
    if (f.length < 8) continue;
    const addr = f[1].split('@')[0];
    const colon = addr.lastIndexOf(':');
    const slots = [];
    for (const s of f.slice(8)) {
      if (s.startsWith('[')) continue;
      const [a, b] = s.split('-').map(Number);
      slots.push([a, b === undefined ? a : b]);
    }
    nodes.push({
      id: f[0],
      host: addr.slice(0, colon),
      port: Number(addr.slice(colon + 1)),
      flags: f[2].split(','),
      masterId: f[3] === '-' ? null : f[3],
      linkState: f[7],
      slots,
    });
  }
  return nodes;
}

// "first-last=masterId ..." for every master claiming slots in one node's view, and how many
// slots that view covers.
function slotOwners(view) {
  const ranges = [];
  let covered = 0;
  for (const n of view) {
    if (!n.flags.includes('master')) continue;
    for (const [a, b] of n.slots) {
      ranges.push([a, b, n.id]);
      covered += b - a + 1;
    }
  }
  ranges.sort((x, y) => x[0] - y[0]);
  return { signature: ranges.map(([a, b, id]) => `${a}-${b}=${id}`).join(' '), covered };
}

class RedisCluster {
  constructor(servers, opts) {
    this.servers = servers; // RedisServer per node, in creation order
    this.opts = opts;
    this.nodes = [];
    this.masters = [];
    this.replicas = [];
  }

  get seeds() {
    return this.servers.map((s) => `${HOST}:${s.port}`);
  }

  server(port) {
    const s = this.servers.find((x) => x.port === port);
    assert.ok(s, `no cluster node on port ${port}`);
    return s;
  }

  alive() {
    return this.servers.filter((s) => s.alive);
  }

  call(port, ...args) {
    return redisCall(port, ...args);
  }

  // One node's view of the cluster (CLUSTER NODES, parsed).
  async view(port) {
    return parseClusterNodes(await redisCall(port, 'CLUSTER', 'NODES'));
  }

  // Why the cluster is not yet what waitHealthy() wants, or null when it is.
  async notHealthy({ replicas }) {
    let first = null;
    for (const s of this.alive()) {
      let info;
      let view;
      try {
        info = String(await redisCall(s.port, 'CLUSTER', 'INFO'));
        view = await this.view(s.port);
      } catch (e) {
        return `node ${s.port}: ${e.message}`;
      }
      if (!/cluster_state:ok/.test(info)) return `node ${s.port}: ${/cluster_state:\w+/.exec(info)}`;
      const owners = slotOwners(view);
      if (owners.covered !== 16384) return `node ${s.port} sees ${owners.covered} slots covered`;
      if (first === null) first = { port: s.port, owners, view };
      else if (owners.signature !== first.owners.signature) {
        return `nodes ${first.port} and ${s.port} disagree on slot owners`;
      }
    }
    if (first === null) return 'no node is alive';
    if (replicas) {
      const owning = new Set(first.view.filter((n) => n.flags.includes('master') && n.slots.length).map((n) => n.id));
      const linked = first.view.filter((n) => n.flags.includes('slave') && !n.flags.includes('fail') && owning.has(n.masterId));
      if (linked.length < owning.size * this.opts.replicasPerMaster) {
        return `${linked.length} replicas attached, want ${owning.size * this.opts.replicasPerMaster}`;
      }
      for (const r of linked) {
        const info = String(await redisCall(r.port, 'INFO', 'replication'));
        if (!/master_link_status:up/.test(info)) return `replica ${r.port}: link to its master not up yet`;
      }
    }
    return null;
  }

  // Waits until every live node agrees (see the section comment); `replicas: false` skips the
  // replica checks (after a master was killed its promoted replica has none).
  async waitHealthy({ timeoutMs = CLUSTER_READY_TIMEOUT_MS, replicas = true } = {}) {
    const deadline = Date.now() + timeoutMs;
    let why = '';
    while (Date.now() < deadline) {
      why = await this.notHealthy({ replicas });
      if (why === null) {
        await this.refreshRoles();
        return this;
      }
      await sleep(100);
    }
    const logs = this.servers.map((s) => s.describeFailure('cluster node')).join('\n');
    throw new Error(`cluster not healthy after ${timeoutMs} ms: ${why}\n${logs}`);
  }

  // nodes / masters / replicas from a live node's view.
  async refreshRoles() {
    const live = this.alive();
    assert.ok(live.length > 0, 'no cluster node is alive');
    const view = await this.view(live[0].port);
    const byId = new Map(view.map((n) => [n.id, n]));
    this.nodes = this.servers.map((s) => {
      const v = view.find((n) => n.port === s.port);
      const role = !s.alive ? 'dead' : v && v.flags.includes('master') ? 'master' : 'replica';
      const master = v && v.masterId ? byId.get(v.masterId) : null;
      return {
        port: s.port,
        pid: s.proc ? s.proc.pid : null,
        role,
        id: v ? v.id : null,
        slots: v ? v.slots : [],
        masterPort: master ? master.port : null,
        server: s,
      };
    });
    this.masters = this.nodes.filter((n) => n.role === 'master' && n.slots.length > 0);
    this.replicas = this.nodes.filter((n) => n.role === 'replica');
    return this;
  }

  // The master serving `slot` in a live node's view.
  async masterOf(slot) {
    const view = await this.view(this.alive()[0].port);
    const m = view.find((n) => n.flags.includes('master') && !n.flags.includes('fail') &&
      n.slots.some(([a, b]) => slot >= a && slot <= b));
    return m ? m.port : null;
  }

  // SIGKILL one node (a crash: no failover handshake).
  async kill(port) {
    await this.server(port).kill();
  }

  async stop() {
    const errors = [];
    for (const s of this.servers) {
      try {
        await s.stop();
      } catch (e) {
        errors.push(e.message);
      }
    }
    if (errors.length) throw new Error(errors.join('\n'));
  }
}

// Runs redis-cli to completion; rejects with its output when it fails.
function runRedisCli(args, timeoutMs = 30000) {
  return new Promise((resolve, reject) => {
    const p = spawn(REDIS_CLI_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(p);
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', (e) => {
      clearTimeout(timer);
      children.delete(p);
      reject(new Error(`${REDIS_CLI_BIN} ${args.join(' ')}: ${e.message}`));
    });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(p);
      if (code === 0) resolve(out);
      else reject(new Error(`${REDIS_CLI_BIN} ${args.join(' ')} exited ${code ?? signal}:\n${out}`));
    });
  });
}

async function startCluster({ masters = 3, replicasPerMaster = 1, nodeTimeoutMs = 1000, args = [] } = {}) {
  assert.ok(masters >= 3, 'redis-cli --cluster create needs at least 3 masters');
  const count = masters * (1 + replicasPerMaster);
  const servers = [];
  for (let i = 0; i < count; i++) {
    const busPort = await freePort();
    servers.push(await startRedis({
      args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
        '--cluster-node-timeout', String(nodeTimeoutMs), '--cluster-port', String(busPort),
        // A replica's first sync starts at once (Redis waits 5 s for more replicas by default).
        '--repl-diskless-sync-delay', '0', ...args],
    }));
  }
  const cluster = new RedisCluster(servers, { masters, replicasPerMaster, nodeTimeoutMs });
  await runRedisCli(['--cluster', 'create', ...cluster.seeds,
    '--cluster-replicas', String(replicasPerMaster), '--cluster-yes']);
  return cluster.waitHealthy();
}

function tomlValue(v) {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return `[${v.map(tomlValue).join(', ')}]`;
  throw new Error(`unsupported TOML value ${JSON.stringify(v)}`);
}

function renderToml(sections) {
  let out = '';
  for (const [name, kv] of Object.entries(sections)) {
    out += `[${name}]\n`;
    for (const [k, v] of Object.entries(kv)) out += `${k} = ${tomlValue(v)}\n`;
    out += '\n';
  }
  return out;
}

class KeywardenServer extends Server {
  constructor(dir, port, configPath, extraArgs, ping = null, acceptReady = undefined) {
    super('keywarden', dir, port);
    this.configPath = configPath;
    this.extraArgs = extraArgs;
    this.ping = ping;
    this.acceptReady = acceptReady;
  }

  // A keywarden listening on a Unix socket or over TLS only is waited for there.
  pingTarget() {
    return this.ping || this.port;
  }

  async start() {
    if (!fs.existsSync(KEYWARDEN_BIN)) {
      throw new Error(`keywarden binary not found at ${KEYWARDEN_BIN} (set KEYWARDEN_BIN, or KW_TARGET=redis to test redis-server alone)`);
    }
    const config = this.configPath === null ? [] : ['-c', this.configPath];
    this.spawn(KEYWARDEN_BIN, [...config, ...this.extraArgs]);
    await this.waitReady(this.acceptReady);
    return this;
  }

  // Graceful stop: SIGTERM, wait, and require exit code 0.
  async stop() {
    if (this.proc === null) return;
    const diedEarlier = !this.alive && !this.expectExit;
    this.expectExit = true;
    if (this.alive) this.proc.kill('SIGTERM');
    const r = await this.waitExit();
    if (r === null) {
      await this.kill();
      throw new Error(this.describeFailure(`did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM`));
    }
    assert.ok(
      r.code === 0 && r.signal === null,
      this.describeFailure(diedEarlier
        ? `had already exited before it was asked to stop: ${JSON.stringify(r)}`
        : `expected exit code 0 after SIGTERM, got ${JSON.stringify(r)}`),
    );
  }
}

// Target handed to tests in KW_TARGET=redis mode: the Redis itself.
class RedisAsTarget {
  constructor(redis, owned) {
    this.kind = 'redis-target';
    this.redis = redis;
    this.owned = owned;
    this.host = redis.host;
    this.port = redis.port;
    this.proc = redis.proc;
  }
  get alive() {
    return this.redis.alive;
  }
  get exitInfo() {
    return this.redis.exitInfo;
  }
  waitExit(ms) {
    return this.redis.waitExit(ms);
  }
  signal(sig) {
    this.redis.signal(sig);
  }
  logs() {
    return this.redis.logs();
  }
  async stop() {
    if (this.owned) await this.redis.stop();
  }
  async kill() {
    if (this.owned) await this.redis.kill();
  }
}

// Starts keywarden in front of Redis on upstreamPort, or, with `cluster` (a RedisCluster from
// startCluster, or an array of "host:port" seeds), in cluster mode with every node of the cluster
// as a seed (`[upstream] mode = "cluster"`; `toml.upstream` may override seeds and the cluster
// keys). `toml` overrides the
// config sections ({limits: {max_clients: 3}}); `tomlText` is raw TOML
// appended after them (arrays, [[namespaces]], [[users]]); `metrics: true`
// enables the metrics endpoint on a free port (kw.metricsPort). In KW_TARGET=redis mode the
// upstream itself is returned, or, when `redisArgs` is given, a dedicated
// redis-server started with those arguments (Redis's own equivalent of the
// limit under test), so the test body runs unchanged. `pingTarget` (a resp.js connectSocket
// target: {path}, {port, tls}) is where it is waited for when server.listen is not its TCP port
// (a Unix socket, or "" with only a TLS listener). `acceptReady(line)`: which answer to that PING
// means it is up (default: +PONG; a keywarden whose upstream is down on purpose answers
// -UPSTREAMDOWN).
async function startKeywarden({ upstreamPort, upstreamPassword, cluster, toml = {}, tomlText = '', metrics = false, args = [], redisArgs, pingTarget = null, acceptReady = undefined } = {}) {
  assert.ok(upstreamPort || cluster, 'startKeywarden needs upstreamPort or cluster');
  assert.ok(!(upstreamPort && cluster), 'startKeywarden takes upstreamPort or cluster, not both');
  if (TARGET_REDIS) {
    assert.ok(!cluster, 'KW_TARGET=redis has no cluster target: cluster tests are proxy tests');
    if (redisArgs) {
      const r = await startRedis({ args: redisArgs, password: upstreamPassword });
      return new RedisAsTarget(r, true);
    }
    const existing = servers.find((s) => s instanceof RedisServer && s.port === upstreamPort);
    assert.ok(existing, `no redis-server on port ${upstreamPort} started by this harness`);
    return new RedisAsTarget(existing, false);
  }
  const dir = makeTempDir('kw-proxy-');
  const port = await freePort();
  const sections = {
    server: { listen: `${HOST}:${port}`, workers: 2, shutdown_deadline_ms: 5000, log_level: 'info' },
    upstream: cluster
      ? { mode: 'cluster', seeds: Array.isArray(cluster) ? cluster : cluster.seeds }
      : { address: `${HOST}:${upstreamPort}` },
    limits: {},
    metrics: { enabled: false },
  };
  if (upstreamPassword) sections.upstream.password = upstreamPassword;
  let metricsPort = null;
  if (metrics) {
    metricsPort = await freePort();
    sections.metrics = { enabled: true, listen: `${HOST}:${metricsPort}` };
  }
  for (const [sec, kv] of Object.entries(toml)) sections[sec] = { ...(sections[sec] || {}), ...kv };
  const configPath = path.join(dir, 'keywarden.toml');
  fs.writeFileSync(configPath, renderToml(sections) + tomlText);
  const kw = new KeywardenServer(dir, port, configPath, args, pingTarget, acceptReady);
  kw.metricsPort = metricsPort;
  return kw.start();
}

// keywarden started with exactly `args` (no config file is written and no -c added), in `dir`
// (a new temp dir by default, its working directory), answering PING on `port`. Tracked and
// stopped like every other server the harness starts.
async function startKeywardenWith({ args, port, dir = makeTempDir('kw-proxy-') }) {
  assert.ok(!TARGET_REDIS, 'startKeywardenWith is for proxy-only tests');
  const kw = new KeywardenServer(dir, port, null, args);
  return kw.start();
}

// Runs keywarden to completion (e.g. --check-config, or a start that must fail) in `cwd`;
// {status, output} with stdout and stderr together. Killed after timeoutMs.
function runKeywardenSync(args, { cwd = makeTempDir('kw-run-'), timeoutMs = 15000 } = {}) {
  const r = spawnSync(KEYWARDEN_BIN, args, { cwd, encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status, signal: r.signal, output: `${r.stdout || ''}${r.stderr || ''}` };
}

// The [[namespaces]] and [[users]] blocks of a config under conf/ (everything
// from the first [[namespaces]] on), to append as `tomlText`.
function confPolicyBlocks(name = 'keywarden.production.toml') {
  const text = fs.readFileSync(path.join(REPO_ROOT, 'conf', name), 'utf8');
  const i = text.indexOf('[[namespaces]]');
  assert.ok(i >= 0, `no [[namespaces]] in conf/${name}`);
  return `${text.slice(i)}\n`;
}

function dumpLogs(list, why) {
  for (const s of list) {
    if (s.kind !== 'keywarden' && !(s.kind === 'redis' && TARGET_REDIS)) continue;
    process.stderr.write(`\n===== ${s.kind} port ${s.port} log (tail) ${why} =====\n`);
    process.stderr.write(`${tailFile(s.logFile, 60)}\n`);
    if (s.exitInfo) process.stderr.write(`===== exit: ${JSON.stringify(s.exitInfo)} =====\n`);
  }
}

// Runs a test body with its own server scope. Afterwards: servers the test
// started are stopped (keywarden must exit 0), any keywarden that died
// without being asked fails the test, and on failure the logs are printed.
function wrap(fn) {
  return async (t) => {
    const liveAtStart = servers.filter((s) => s.alive);
    const own = [];
    const problems = [];
    let failure = null;
    try {
      await testScope.run(own, () => fn(t));
    } catch (err) {
      failure = err;
    }
    for (const s of [...liveAtStart, ...own]) {
      if (s.kind === 'keywarden' && s.exitInfo && !s.expectExit) {
        problems.push(s.describeFailure('exited unexpectedly during the test'));
        s.expectExit = true; // report once
      }
    }
    for (const s of own.slice().reverse()) {
      try {
        await s.stop();
      } catch (e) {
        problems.push(e.message);
      }
    }
    const involved = [...new Set([...liveAtStart, ...own])];
    if (failure) {
      dumpLogs(involved, `for failed test "${t.name}"`);
      if (problems.length) {
        process.stderr.write(`\n===== also in "${t.name}" =====\n${problems.join('\n')}\n`);
      }
      throw failure;
    }
    if (problems.length) {
      throw new Error(problems.join('\n\n'));
    }
  };
}

function test(name, opts, fn) {
  assert.ok(opts && opts.timeout, `test "${name}" must set a timeout`);
  return nodeTest.test(name, opts, wrap(fn));
}

// A test of behaviour only the proxy has (keywarden's own config, upstream
// loss, its shutdown): skipped, with the reason shown, only in KW_TARGET=redis.
function proxyTest(name, opts, fn) {
  assert.ok(opts && opts.timeout, `test "${name}" must set a timeout`);
  if (TARGET_REDIS) {
    return nodeTest.test(name, { ...opts, skip: 'proxy-only behaviour; KW_TARGET=redis runs against redis-server alone' }, () => {});
  }
  return nodeTest.test(name, opts, wrap(fn));
}

// Rejects if `promise` does not settle within ms.
async function within(ms, promise, what = 'operation') {
  let timer;
  try {
    return await Promise.race([
      promise,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// Server version ("7.0.15") read from INFO through any RawClient-like caller.
async function serverVersion(rawClient) {
  const info = await rawClient.call('INFO', 'server');
  const m = /redis_version:([0-9.]+)/.exec(String(info));
  return m ? m[1] : null;
}

function versionAtLeast(v, want) {
  const a = String(v).split('.').map(Number);
  const b = want.split('.').map(Number);
  for (let i = 0; i < b.length; i++) {
    if ((a[i] || 0) !== b[i]) return (a[i] || 0) > b[i];
  }
  return true;
}

// The usual pair for a suite: a redis-server and keywarden with default settings in front of
// it, started before the suite's tests and stopped after them. `onStarted(redis, kw)` receives
// them (hooks run in the enclosing describe, or at file level outside one).
function withServers(onStarted) {
  let redis;
  let kw;
  nodeTest.before(async () => {
    redis = await startRedis();
    kw = await startKeywarden({ upstreamPort: redis.port });
    onStarted(redis, kw);
  }, { timeout: 30000 });
  nodeTest.after(async () => {
    if (kw) await kw.stop();
    if (redis) await redis.stop();
  }, { timeout: 30000 });
}

module.exports = {
  HOST,
  callOnce,
  confPolicyBlocks,
  KEYWARDEN_BIN,
  REPO_ROOT,
  TARGET_REDIS,
  freePort,
  makeCerts,
  makeTempDir,
  proxyTest,
  redisCli,
  redisCliTlsArgs,
  runKeywardenSync,
  parseClusterNodes,
  serverVersion,
  sleep,
  startCluster,
  startKeywarden,
  startKeywardenWith,
  startPostgres,
  startRedis,
  startRedisTls,
  startRedisUnix,
  startSentinelGroup,
  test,
  tlsClientOptions,
  versionAtLeast,
  withServers,
  within,
};
