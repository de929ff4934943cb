'use strict';
// redis-benchmark is a demanding, well-known client: it pipelines, opens many
// connections at once and reports any error reply it sees.

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const { describe } = require('node:test');
const h = require('./harness');

function runBenchmark(port, extra, timeoutMs) {
  return new Promise((resolve, reject) => {
    const args = ['-h', h.HOST, '-p', String(port), '-t', 'get,set', '-n', '20000', '-c', '20', '-q', ...extra];
    const p = spawn('redis-benchmark', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.stderr.on('data', (d) => {
      out += d;
    });
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`redis-benchmark ${args.join(' ')} did not finish in ${timeoutMs} ms; output:\n${out}`));
    }, timeoutMs);
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, args });
    });
  });
}

// -q prints progress with \r and then one "NAME: N requests per second" line per test.
function parse(out) {
  const lines = out.split(/[\r\n]+/).map((l) => l.trim()).filter(Boolean);
  const rates = {};
  for (const l of lines) {
    const m = /^(SET|GET): ([0-9.]+) requests per second/.exec(l);
    if (m) rates[m[1]] = Number(m[2]);
  }
  const errors = lines.filter((l) => /error/i.test(l) && !/^WARNING: Could not fetch server CONFIG/.test(l));
  return { rates, errors };
}

describe('redis-benchmark', () => {
  let redis;
  let kw;

  h.withServers((r, k) => {
    redis = r;
    kw = k;
  });

  for (const [label, extra] of [['no pipelining', []], ['-P 16', ['-P', '16']]]) {
    h.test(`-t get,set -n 20000 -c 20 (${label}) completes without errors`, { timeout: 70000 }, async () => {
      const r = await runBenchmark(kw.port, extra, 60000);
      const { rates, errors } = parse(r.out);
      const ctx = `redis-benchmark ${r.args.join(' ')} output:\n${r.out}`;
      assert.equal(r.code, 0, `exit code ${r.code} signal ${r.signal}\n${ctx}`);
      assert.deepEqual(errors, [], ctx);
      assert.ok(rates.SET > 0, `no SET result\n${ctx}`);
      assert.ok(rates.GET > 0, `no GET result\n${ctx}`);
      assert.equal(kw.alive, true, 'server still alive');
    });
  }
});
