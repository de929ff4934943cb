'use strict';
// Rate limiting: CL.THROTTLE answered as redis-cell answers it, from a Redis function shared by
// every keywarden (checked against the C++ model, tests/tools/gcra_model, on the same clock),
// reloaded when Redis loses it, answered locally while Redis is down; the protective limits
// (per user, namespace, client address) and what a refusal does to pipelines and MULTI.

const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { describe, before, after } = require('node:test');
const h = require('./harness');
const { RawClient, RespError } = require('./resp');

const MODEL_BIN = path.join(path.dirname(h.KEYWARDEN_BIN), 'gcra_model');
// Every protective-limit user's password is "pw".
const HASH = `sha256$00112233445566778899aabbccddeeff$${crypto.createHash('sha256')
  .update(Buffer.concat([Buffer.from('00112233445566778899aabbccddeeff', 'hex'), Buffer.from('pw')]))
  .digest('hex')}`;
const NS = 1000000000n;
const USAGE =
  'Cell error: Store error: Usage: cl.throttle <key> <max_burst> <count per period> <period> [<quantity>]';

function isErr(v) {
  return v instanceof RespError;
}

function assertErr(v, text) {
  assert.ok(isErr(v), `expected error ${JSON.stringify(text)}, got ${JSON.stringify(v)}`);
  assert.equal(v.message, text);
}

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

// The C++ model's answers, one per case line (see tests/tools/gcra_model.cc).
function runModel(lines) {
  assert.ok(fs.existsSync(MODEL_BIN), `gcra_model not found at ${MODEL_BIN} (built with keywarden)`);
  const r = spawnSync(MODEL_BIN, [], { input: `${lines.join('\n')}\n`, encoding: 'utf8' });
  assert.equal(r.status, 0, `gcra_model failed: ${r.stderr}`);
  return r.stdout.trimEnd().split('\n');
}

// The deployed library with its clock replaced by one the test passes as the first two
// arguments (seconds, nanoseconds): the same code, run at chosen instants. kwtest_throttle_at
// is what FCALL runs (the fast path when the numbers allow it); kwtest_exact_at always takes
// the exact path, so both are compared with the model.
async function loadTestLibrary(direct) {
  const list = await direct.call('FUNCTION', 'LIST', 'WITHCODE', 'LIBRARYNAME', 'keywarden_v1');
  const lib = list.find((l) => l[1] === 'keywarden_v1');
  assert.ok(lib, `keywarden_v1 not loaded: ${JSON.stringify(list)}`);
  const code = lib[lib.indexOf('library_code') + 1];
  const cut = code.indexOf('-- keywarden:register');
  assert.ok(cut > 0, 'no registration marker in the library');
  const test = `${code.slice(0, cut).replace('#!lua name=keywarden_v1', '#!lua name=kwtest')}
local function at(fn)
  return function(keys, args)
    local s, ns = tonumber(args[1]), tonumber(args[2])
    local rest = {}
    for i = 3, #args do rest[#rest + 1] = args[i] end
    return fn(keys, rest, function() return s, ns end)
  end
end
redis.register_function('kwtest_throttle_at', at(throttle))
redis.register_function('kwtest_exact_at', at(throttle_exact))
`;
  assert.equal(await direct.call('FUNCTION', 'LOAD', 'REPLACE', test), 'kwtest');
}

async function throttleAt(direct, key, nowNs, args, fn = 'kwtest_throttle_at') {
  return direct.call('FCALL', fn, 1, key, String(nowNs / NS), String(nowNs % NS), ...args);
}

describe('CL.THROTTLE', () => {
  let redis;
  let kw;
  let kw2;
  let direct;
  let c;
  let c2;

  before(async () => {
    redis = await h.startRedis();
    kw = await h.startKeywarden({ upstreamPort: redis.port, metrics: true });
    kw2 = await h.startKeywarden({ upstreamPort: redis.port });
    direct = await RawClient.connect(redis.port, h.HOST, { intStrings: true });
    c = await RawClient.connect(kw.port, h.HOST, { intStrings: true });
    c2 = await RawClient.connect(kw2.port, h.HOST, { intStrings: true });
  }, { timeout: 30000 });

  after(async () => {
    for (const x of [c, c2, direct]) if (x) x.close();
    if (kw2) await kw2.stop();
    if (kw) await kw.stop();
    if (redis) await redis.stop();
  }, { timeout: 30000 });

  h.proxyTest("redis-cell's README and end-to-end cases", { timeout: 20000 }, async () => {
    assert.deepEqual(await c.call('CL.THROTTLE', 'rl:readme:user123', '15', '30', '60'), ['0', '16', '15', '-1', '2']);
    const args = ['rl:e2e:user123', '0', '1', '2', '1'];
    assert.deepEqual(await c.call('CL.THROTTLE', ...args), ['0', '1', '0', '-1', '2']);
    assert.deepEqual(await c.call('cl.throttle', ...args), ['1', '1', '0', '2', '2']);
    await h.sleep(2000);
    assert.deepEqual(await c.call('CL.THROTTLE', ...args), ['0', '1', '0', '-1', '2']);
    // Stored as redis-cell stores it: the TAT in ns since the epoch, with a PEXPIRE.
    const tat = BigInt(await direct.call('GET', 'rl:e2e:user123'));
    const [sec] = await direct.call('TIME');
    assert.ok(tat > BigInt(sec) * NS && tat <= (BigInt(sec) + 3n) * NS, `stored TAT ${tat}`);
    const pttl = Number(await direct.call('PTTL', 'rl:e2e:user123'));
    assert.ok(pttl > 1000 && pttl <= 2000, `PTTL ${pttl}`);
  });

  h.proxyTest("the it_rate_limits table on the Redis side, on a chosen clock", { timeout: 20000 }, async () => {
    await c.call('CL.THROTTLE', 'rl:warmup', '1', '1', '1'); // makes sure the library is loaded
    await loadTestLibrary(direct);
    const start = 1800000000n * NS + 123456789n;
    const ms = 1000000n;
    // [offset ms, quantity, reply]: redis-cell's table, seconds rounded as it replies them.
    const table = [
      [0n, 6, ['1', '5', '5', '-1', '0']],
      [0n, 1, ['0', '5', '4', '-1', '1']],
      [0n, 1, ['0', '5', '3', '-1', '2']],
      [0n, 1, ['0', '5', '2', '-1', '3']],
      [0n, 1, ['0', '5', '1', '-1', '4']],
      [0n, 1, ['0', '5', '0', '-1', '5']],
      [0n, 1, ['1', '5', '0', '1', '5']],
      [3000n, 1, ['0', '5', '2', '-1', '3']],
      [3100n, 1, ['0', '5', '1', '-1', '4']],
      [4000n, 1, ['0', '5', '1', '-1', '4']],
      [8000n, 1, ['0', '5', '4', '-1', '1']],
      [9500n, 1, ['0', '5', '4', '-1', '1']],
      [9500n, 0, ['0', '5', '4', '-1', '1']],
      [9500n, 2, ['0', '5', '2', '-1', '3']],
      [9500n, 5, ['1', '5', '2', '3', '3']],
    ];
    await direct.call('DEL', 'rl:table');
    for (const [i, [off, q, want]] of table.entries()) {
      const got = await throttleAt(direct, 'rl:table', start + off * ms, ['4', '1', '1', String(q)]);
      assert.deepEqual(got, want, `case ${i}`);
    }
  });

  h.proxyTest('the Redis side answers exactly what the C++ model answers, on the same clock', { timeout: 60000 }, async () => {
    await c.call('CL.THROTTLE', 'rl:warmup', '1', '1', '1');
    await loadTestLibrary(direct);
    let seed = 12345; // mulberry32: reproducible cases
    const rnd = (n) => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    const pick = (a) => a[rnd(a.length)];
    // Ordinary values most of the time, the edges (signs, zero, overflow, saturation, bad text)
    // in one case out of four.
    const usual = {
      bursts: ['0', '1', '2', '4', '9', '15', '99', '1000'],
      counts: ['1', '2', '3', '7', '30', '60', '1000'],
      periods: ['1', '2', '10', '60', '3600', '86400'],
      quantities: [null, '0', '1', '1', '1', '2', '5'],
    };
    const edges = {
      bursts: ['-1', '-7', '+3', '007', '-0', '1000000', '9007199254740993', '900000000000000000',
        '9223372036854775807', 'x', '1.5'],
      counts: ['999999', '1000000', '1500000', '2000000', '1000000000', '-1', '-3', '0',
        '9223372036854775807', '-9223372036854775808'],
      periods: ['31536000', '-1', '-60', '0', '9007199254740991', '9007199254740992', '100000000000'],
      quantities: ['17', '-1', '-3', '1000000', '9223372036854775807'],
    };
    const choose = (field) => pick(rnd(4) === 0 ? edges[field] : usual[field]);
    const cases = [];
    for (let i = 0; i < 1500; i++) {
      const now = 1790000000n * NS + BigInt(rnd(1000000000)) * 1000n + BigInt(rnd(1000));
      let stored = '-';
      const s = rnd(10);
      if (s >= 3 && s <= 8) {
        const off = BigInt(rnd(200000)) * 1000000n - 50000000000n + BigInt(rnd(1000000));
        stored = String(now + off);
      } else if (s === 2) {
        // Days to months away: the fast path hands these to the exact one.
        stored = String(now + BigInt(rnd(40000000)) * NS - 20000000n * NS + BigInt(rnd(1000000000)));
      } else if (s === 9) {
        stored = pick(['E', 'abc', '+123', '18446744073709551615', '18446744073709551616', '99999999999999999999x', '12x', '-5']);
      }
      const args = [choose('bursts'), choose('counts'), choose('periods')];
      const q = choose('quantities');
      if (q !== null) args.push(q);
      cases.push({ now, stored, args });
    }
    const model = runModel(cases.map((k) => `${k.now} ${k.stored} ${k.args.join(' ')}`));
    const key = 'rl:diff';
    let compared = 0;
    let writes = 0;
    const outcomes = new Map(); // answers by kind, to show what the cases covered
    for (const fn of ['kwtest_throttle_at', 'kwtest_exact_at']) {
      for (const [i, k] of cases.entries()) {
        if (k.stored === '-') await direct.call('DEL', key);
        else await direct.call('SET', key, k.stored === 'E' ? '' : k.stored);
        const got = await throttleAt(direct, key, k.now, k.args, fn);
        const want = model[i].split(' ');
        const what = `${fn} case ${i}: now=${k.now} stored=${k.stored} args=${k.args.join(' ')} model="${model[i]}"`;
        const kind = want[0] === 'err' ? model[i].slice(4, 60) : 'ok';
        outcomes.set(kind, (outcomes.get(kind) || 0) + 1);
        if (want[0] === 'err') {
          assert.ok(isErr(got), `${what}: got ${JSON.stringify(got)}`);
          assert.equal(got.message, model[i].slice(4), what);
          continue;
        }
        assert.ok(Array.isArray(got), `${what}: got ${JSON.stringify(got)}`);
        assert.deepEqual(got.map(String), want.slice(1, 6), what);
        const value = await direct.call('GET', key);
        if (want[6] === 'set') {
          const ttl = Number(want[8]);
          if (value === null && ttl < 1000) continue; // expired since (TTLs of a few ms)
          assert.equal(value, want[7], `${what}: stored value`);
          const pttl = Number(await direct.call('PTTL', key));
          assert.ok(pttl <= ttl && (pttl >= ttl - 2000 || pttl === -2), `${what}: PTTL ${pttl}`);
          writes++;
        } else if (want[6] === 'del') {
          assert.equal(value, null, `${what}: deleted`);
        } else {
          assert.equal(value, k.stored === '-' ? null : k.stored === 'E' ? '' : k.stored, `${what}: untouched`);
        }
        compared++;
      }
    }
    assert.ok(compared > 1000 && writes > 400, `enough successful cases (${compared}, ${writes} writes): ${JSON.stringify([...outcomes])}`);
    // Every error redis-cell can answer here was met at least once.
    for (const e of ['Couldn\'t parse', 'Zero rates', 'Arguments out of range', 'Error while setting',
      'invalid digit', 'cannot parse integer from empty', 'number too large']) {
      assert.ok([...outcomes.keys()].some((k) => k.includes(e)), `no case met "${e}": ${JSON.stringify([...outcomes])}`);
    }
  });

  h.proxyTest("argument errors are redis-cell's, from keywarden and from the function", { timeout: 10000 }, async () => {
    assertErr(await c.call('CL.THROTTLE'), USAGE);
    assertErr(await c.call('CL.THROTTLE', 'rl:e', '1', '2'), USAGE);
    assertErr(await c.call('CL.THROTTLE', 'rl:e', '1', '2', '3', '4', '5'), USAGE);
    assertErr(await c.call('CL.THROTTLE', 'rl:e', 'x', '2', '3'), 'Cell error: Store error: Couldn\'t parse as integer: x');
    assertErr(await c.call('CL.THROTTLE', 'rl:e', '1', '2', '3', '1.5'), 'Cell error: Store error: Couldn\'t parse as integer: 1.5');
    assertErr(await c.call('CL.THROTTLE', 'rl:e', '1', '0', '3'), 'Cell error: Store error: Zero rates are not supported');
    assertErr(await c.call('CL.THROTTLE', 'rl:e', '1', '2', '0'), 'Cell error: Store error: Zero rates are not supported');
    // The function itself, called directly, says the same.
    assertErr(await direct.call('FCALL', 'keywarden_throttle_v1', 1, 'rl:e', '1', '2'), USAGE);
    assertErr(await direct.call('FCALL', 'keywarden_throttle_v1', 1, 'rl:e', 'x', '2', '3'), 'Cell error: Store error: Couldn\'t parse as integer: x');
    assertErr(await direct.call('FCALL', 'keywarden_throttle_v1', 1, 'rl:e', '1', '0', '3'), 'Cell error: Store error: Zero rates are not supported');
    // A key of another type.
    await direct.call('DEL', 'rl:list');
    await direct.call('RPUSH', 'rl:list', 'a');
    assertErr(await c.call('CL.THROTTLE', 'rl:list', '1', '1', '1'), 'WRONGTYPE Operation against a key holding the wrong kind of value');
  });

  h.proxyTest('integers beyond 2^53 reach the client as integers', { timeout: 10000 }, async () => {
    // An interval under 1 us: redis-cell's remaining saturates to 2^63-1.
    await direct.call('DEL', 'rl:big');
    assert.deepEqual(await c.call('CL.THROTTLE', 'rl:big', '10', '2000000', '1'), ['0', '11', '9223372036854775807', '-1', '0']);
    assert.equal(c.lastType, '*');
    await direct.call('DEL', 'rl:big');
    const viaFunction = await direct.call('FCALL', 'keywarden_throttle_v1', 1, 'rl:big', '10', '2000000', '1');
    assert.equal(viaFunction[2], '9223372036854775807', 'a bulk string when called directly');
  });

  h.proxyTest('two keywarden instances share one limit', { timeout: 20000 }, async () => {
    await direct.call('DEL', 'rl:shared');
    let allowed = 0;
    for (let i = 0; i < 40; i++) {
      const r = await (i % 2 === 0 ? c : c2).call('CL.THROTTLE', 'rl:shared', '9', '1', '3600');
      assert.ok(Array.isArray(r), `call ${i}: ${JSON.stringify(r)}`);
      if (r[0] === '0') allowed++;
    }
    assert.equal(allowed, 10, 'one limiter: max_burst + 1 calls allowed in all');
  });

  h.proxyTest('FUNCTION FLUSH in Redis: the next call loads the function again and succeeds', { timeout: 10000 }, async () => {
    const before = await metric(kw, 'keywarden_throttle_code_loads_total');
    assert.equal(await direct.call('FUNCTION', 'FLUSH'), 'OK');
    // Pipelined around it, replies stay in order.
    c.send('PING');
    c.send('CL.THROTTLE', 'rl:flushed', '3', '1', '1');
    c.send('ECHO', 'after');
    const [pong, r, echo] = await c.readMany(3);
    assert.equal(pong, 'PONG');
    assert.deepEqual(r, ['0', '4', '3', '-1', '1']);
    assert.equal(echo, 'after');
    assert.ok((await metric(kw, 'keywarden_throttle_code_loads_total')) > before);
    const list = await direct.call('FUNCTION', 'LIST', 'LIBRARYNAME', 'keywarden_v1');
    assert.equal(list.length, 1, 'the library is back');
  });

  h.proxyTest('inside MULTI, CL.THROTTLE runs at EXEC', { timeout: 10000 }, async () => {
    await direct.call('DEL', 'rl:multi');
    assert.equal(await c.call('MULTI'), 'OK');
    assert.equal(await c.call('CL.THROTTLE', 'rl:multi', '0', '1', '10'), 'QUEUED');
    assert.equal(await c.call('CL.THROTTLE', 'rl:multi', '0', '1', '10'), 'QUEUED');
    assert.equal(await c.call('CL.THROTTLE', 'rl:multi', 'x', '1', '10'), 'QUEUED');
    const r = await c.call('EXEC');
    assert.deepEqual(r[0], ['0', '1', '0', '-1', '10']);
    assert.deepEqual(r[1], ['1', '1', '0', '10', '10']);
    assertErr(r[2], 'Cell error: Store error: Couldn\'t parse as integer: x');
  });

  h.proxyTest('Redis down: answered from the local fallback, counted; shared again when it returns', { timeout: 40000 }, async () => {
    const before = await metric(kw, 'keywarden_throttle_fallback_total', { mode: 'local' });
    await redis.kill();
    let r;
    for (let i = 0; i < 50; i++) {
      r = await c.call('CL.THROTTLE', 'rl:down', '1', '1', '60');
      if (Array.isArray(r)) break;
      // The first call may still find the connection up and get it lost under it.
      await h.sleep(50);
    }
    assert.deepEqual(r, ['0', '2', '1', '-1', '60']);
    assert.deepEqual(await c.call('CL.THROTTLE', 'rl:down', '1', '1', '60'), ['0', '2', '0', '-1', '120']);
    const third = await c.call('CL.THROTTLE', 'rl:down', '1', '1', '60');
    assert.equal(third[0], '1', `limited locally: ${JSON.stringify(third)}`);
    assert.ok((await metric(kw, 'keywarden_throttle_fallback_total', { mode: 'local' })) >= before + 3);
    assert.equal(await metric(kw, 'keywarden_throttle_fallback_active'), 1);
    // Redis returns: the shared state is used again (this key was never written there).
    await redis.restart();
    direct.close();
    direct = await RawClient.connect(redis.port, h.HOST, { intStrings: true });
    let back;
    for (let i = 0; i < 100; i++) {
      back = await c.call('CL.THROTTLE', 'rl:down', '1', '1', '60');
      if (Array.isArray(back) && (await direct.call('EXISTS', 'rl:down')) === '1') break;
      await h.sleep(100);
    }
    assert.deepEqual(back, ['0', '2', '1', '-1', '60'], 'a fresh limiter in Redis');
    assert.equal(await metric(kw, 'keywarden_throttle_fallback_active'), 0);
    // The restarted Redis had no function: it was loaded again on the way.
    const list = await direct.call('FUNCTION', 'LIST', 'LIBRARYNAME', 'keywarden_v1');
    assert.equal(list.length, 1);
  });
});

describe('CL.THROTTLE with scripts and fallback modes', () => {
  h.proxyTest('redis_script = "script": EVALSHA, reloaded after SCRIPT FLUSH', { timeout: 20000 }, async () => {
    const redis = await h.startRedis();
    const kw = await h.startKeywarden({ upstreamPort: redis.port, tomlText: '[rate_limit]\nredis_script = "script"\n' });
    const c = await RawClient.connect(kw.port);
    const direct = await RawClient.connect(redis.port);
    assert.deepEqual(await c.call('CL.THROTTLE', 'rl:s', '15', '30', '60'), [0, 16, 15, -1, 2]);
    assert.equal(await direct.call('SCRIPT', 'FLUSH'), 'OK');
    assert.deepEqual(await c.call('CL.THROTTLE', 'rl:s', '15', '30', '60'), [0, 16, 14, -1, 4]);
    assert.deepEqual(await direct.call('FUNCTION', 'LIST'), [], 'no function was needed');
    c.close();
    direct.close();
  });

  h.proxyTest('"auto" on a Redis without FCALL switches to EVALSHA for good', { timeout: 20000 }, async () => {
    // A Redis 7 with FCALL renamed away answers "unknown command", as Redis 6 does.
    const redis = await h.startRedis({ args: ['--rename-command', 'FCALL', ''] });
    const kw = await h.startKeywarden({ upstreamPort: redis.port });
    const c = await RawClient.connect(kw.port);
    const direct = await RawClient.connect(redis.port);
    assert.deepEqual(await c.call('CL.THROTTLE', 'rl:auto', '15', '30', '60'), [0, 16, 15, -1, 2]);
    assert.deepEqual(await c.call('CL.THROTTLE', 'rl:auto', '15', '30', '60'), [0, 16, 14, -1, 4]);
    const stats = await direct.call('INFO', 'commandstats');
    assert.match(stats, /cmdstat_evalsha:calls=[1-9]/);
    assert.ok(kw.logs().includes('using EVALSHA from now on'), 'the switch is logged');
    c.close();
    direct.close();
  });

  h.proxyTest('rate_limit_fallback = "deny" and "allow" per namespace', { timeout: 20000 }, async () => {
    const redis = await h.startRedis();
    const kw = await h.startKeywarden({
      upstreamPort: redis.port,
      tomlText: `
[[namespaces]]
name = "strict"
pattern = "strict:{id...}"
rate_limit_fallback = "deny"

[[namespaces]]
name = "lenient"
pattern = "lenient:{id...}"
rate_limit_fallback = "allow"
`,
    });
    const c = await RawClient.connect(kw.port);
    assert.deepEqual(await c.call('CL.THROTTLE', 'strict:a', '15', '30', '60'), [0, 16, 15, -1, 2]);
    await redis.kill();
    let r;
    for (let i = 0; i < 50 && !Array.isArray(r); i++) r = await c.call('CL.THROTTLE', 'strict:a', '15', '30', '60');
    assert.deepEqual(r, [1, 16, 0, 2, 32]);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await c.call('CL.THROTTLE', 'lenient:a', '0', '1', '60'), [0, 1, 0, -1, 60]);
    }
    c.close();
  });
});

describe('protective limits', () => {
  let redis;
  let kw;
  let direct;

  before(async () => {
    redis = await h.startRedis();
    kw = await h.startKeywarden({
      upstreamPort: redis.port,
      metrics: true,
      tomlText: `
[[namespaces]]
name = "rl"
pattern = "rl:{identifier...}"

[[namespaces]]
name = "hot"
pattern = "hot:{id}"
rate_limit = { rate = 2, period_s = 1, burst = 2 }

[[users]]
name = "limited"
password_hash = "${HASH}"
read = ["*", "@outside"]
write = ["*", "@outside"]
commands = ["all"]
rate_limit = { rate = 4, period_s = 1, burst = 3 }

[[users]]
name = "free"
password_hash = "${HASH}"
read = ["*", "@outside"]
write = ["*", "@outside"]
commands = ["all"]

[[users]]
name = "reader"
password_hash = "${HASH}"
read = ["rl"]
commands = ["read", "write"]

[[users]]
name = "ops"
password_hash = "${HASH}"
admin = true
`,
    });
    direct = await RawClient.connect(redis.port);
  }, { timeout: 30000 });

  after(async () => {
    if (direct) direct.close();
    if (kw) await kw.stop();
    if (redis) await redis.stop();
  }, { timeout: 30000 });

  async function as(user) {
    const c = await RawClient.connect(kw.port);
    assert.equal(await c.call('AUTH', user, 'pw'), 'OK');
    return c;
  }

  h.proxyTest('a per-user limit refuses the (B+1)th immediate request, admits again after the interval', { timeout: 10000 }, async () => {
    const c = await as('limited');
    await h.sleep(1000); // a full bucket, whatever ran before
    // Pipelined: every request gets its own reply, in order.
    for (let i = 0; i < 5; i++) c.send('SET', `pl:${i}`, 'v');
    c.send('PING'); // connection commands are never refused
    const replies = await c.readMany(6);
    assert.deepEqual(replies.slice(0, 3), ['OK', 'OK', 'OK']);
    for (const r of replies.slice(3, 5)) {
      assert.ok(isErr(r) && /^RATELIMITED user 'limited' over 4 per 1s; retry after \d+ ms$/.test(r.message), JSON.stringify(r));
    }
    assert.equal(replies[5], 'PONG');
    assert.equal(await direct.call('EXISTS', 'pl:3', 'pl:4'), 0, 'refused commands never reach Redis');
    await h.sleep(260); // one emission interval: 250 ms
    assert.equal(await c.call('SET', 'pl:3', 'v'), 'OK');
    assert.ok(isErr(await c.call('SET', 'pl:4', 'v')));
    // Another user is not affected; the refusals are counted per user.
    const f = await as('free');
    for (let i = 0; i < 10; i++) assert.equal(await f.call('GET', 'pl:0'), 'v');
    assert.ok((await metric(kw, 'keywarden_ratelimit_refused_total', { kind: 'user', name: 'limited' })) >= 3);
    assert.ok((await metric(kw, 'keywarden_commands_total', { outcome: 'refused_ratelimit' })) >= 3);
    c.close();
    f.close();
  });

  h.proxyTest('a refused command inside MULTI makes EXEC abort', { timeout: 10000 }, async () => {
    const c = await as('limited');
    await h.sleep(1000);
    assert.equal(await c.call('MULTI'), 'OK');
    for (let i = 0; i < 3; i++) assert.equal(await c.call('INCR', 'tx:n'), 'QUEUED');
    const refused = await c.call('INCR', 'tx:n');
    assert.ok(isErr(refused) && refused.message.startsWith('RATELIMITED user'), JSON.stringify(refused));
    assertErr(await c.call('EXEC'), 'EXECABORT Transaction discarded because of previous errors.');
    assert.equal(await direct.call('EXISTS', 'tx:n'), 0);
    c.close();
  });

  h.proxyTest('a per-namespace limit counts each command once, whatever its keys', { timeout: 10000 }, async () => {
    const c = await as('free');
    await h.sleep(1000);
    assert.equal(await c.call('MSET', 'hot:a', '1', 'hot:b', '2'), 'OK'); // one request of "hot"
    assert.equal(await c.call('GET', 'hot:a'), '1');
    const r = await c.call('GET', 'hot:b');
    assert.ok(isErr(r) && /^RATELIMITED namespace 'hot' over 2 per 1s; retry after \d+ ms$/.test(r.message), JSON.stringify(r));
    assert.equal(await c.call('SET', 'other', 'x'), 'OK', 'other keys are not limited');
    // An admin is limited by namespaces too (only its first key is resolved by the ACL).
    const o = await as('ops');
    assert.ok(isErr(await o.call('MGET', 'other', 'hot:a')));
    o.close();
    c.close();
  });

  h.proxyTest('CL.THROTTLE is a write command: a read-only grant is refused', { timeout: 10000 }, async () => {
    const c = await as('reader');
    const r = await c.call('CL.THROTTLE', 'rl:x', '1', '1', '1');
    assert.ok(isErr(r) && r.message.startsWith('NOPERM'), JSON.stringify(r));
    const w = await as('free');
    assert.deepEqual(await w.call('CL.THROTTLE', 'rl:x', '1', '1', '1'), [0, 2, 1, -1, 1]);
    c.close();
    w.close();
  });

  h.proxyTest('KEYWARDEN RATELIMIT shows a limiter without consuming', { timeout: 10000 }, async () => {
    const o = await as('ops');
    await h.sleep(1000);
    const show = async (t) => {
      const r = await o.call('KEYWARDEN', 'RATELIMIT', t);
      assert.ok(Array.isArray(r), JSON.stringify(r));
      const m = {};
      for (let i = 0; i < r.length; i += 2) m[r[i]] = r[i + 1];
      return m;
    };
    const a = await show('user:limited');
    assert.equal(a.kind, 'user');
    assert.equal(a.rate, 4);
    assert.equal(a.burst, 3);
    assert.equal(a.available, 3);
    assert.equal((await show('user:limited')).available, 3, 'looking does not consume');
    const n = await show('namespace:hot');
    assert.equal(n.available, 2);
    assertErr(await o.call('KEYWARDEN', 'RATELIMIT', 'user:free'), "ERR no rate limit for user 'free'");
    const k = await show('rl:never');
    assert.equal(k.key, 'rl:never');
    assert.equal(k.local_tat_ns, null);
    o.close();
  });

  h.proxyTest('a reload changes a limit and keeps what it has counted', { timeout: 20000 }, async () => {
    const c = await as('limited');
    const o = await as('ops');
    await h.sleep(1000);
    for (let i = 0; i < 3; i++) assert.equal(await c.call('GET', 'rl:reload'), null);
    assert.ok(isErr(await c.call('GET', 'rl:reload')), 'burst 3 used up');
    const original = fs.readFileSync(kw.configPath, 'utf8');
    try {
      fs.writeFileSync(kw.configPath, original.replace('rate_limit = { rate = 4, period_s = 1, burst = 3 }',
        'rate_limit = { rate = 4, period_s = 1, burst = 6 }'));
      assert.equal(await o.call('KEYWARDEN', 'RELOAD'), 'OK');
      // The same limiter, now with room for 6: the 3 already taken still count.
      let ok = 0;
      for (let i = 0; i < 6; i++) if (!isErr(await c.call('GET', 'rl:reload'))) ok++;
      assert.ok(ok >= 3 && ok <= 4, `admitted after the reload: ${ok}`);
    } finally {
      fs.writeFileSync(kw.configPath, original);
      assert.equal(await o.call('KEYWARDEN', 'RELOAD'), 'OK');
    }
    c.close();
    o.close();
  });

  h.proxyTest('a per-client-address limit is shared by the connections of that address', { timeout: 20000 }, async () => {
    const r2 = await h.startRedis();
    const k2 = await h.startKeywarden({
      upstreamPort: r2.port,
      tomlText: '[limits.per_client_rate_limit]\nrate = 1\nperiod_s = 60\nburst = 3\n',
    });
    const a = await RawClient.connect(k2.port);
    const b = await RawClient.connect(k2.port);
    assert.equal(await a.call('SET', 'x', '1'), 'OK');
    assert.equal(await b.call('SET', 'y', '2'), 'OK');
    assert.equal(await a.call('GET', 'x'), '1');
    const r = await b.call('GET', 'y');
    assert.ok(isErr(r) && /^RATELIMITED client '127\.0\.0\.1' over 1 per 60s; retry after \d+ ms$/.test(r.message), JSON.stringify(r));
    assert.equal(await b.call('PING'), 'PONG');
    // A new connection from the same address does not start afresh.
    const c = await RawClient.connect(k2.port);
    assert.ok(isErr(await c.call('GET', 'x')));
    for (const x of [a, b, c]) x.close();
  });
});
