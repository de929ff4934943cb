'use strict';
// A reconnect storm over TLS, for bench/tls.sh: CLIENTS connections opened at once (each a full
// handshake, no session resumed: clients that restarted), each sending PING once its handshake
// is done. Measures, from the first connect call: when each client got its PONG; prints one JSON
// line {clients, served, failed, total_ms, p50_ms, p99_ms, max_ms}. total_ms is the time until
// every client was served (the figure the issue asks for).
//
//   node bench/tls_storm.js --port P --ca FILE [--host 127.0.0.1] [--clients 1000]
//                           [--timeout-ms 30000]

const fs = require('node:fs');
const tls = require('node:tls');

function args() {
  const a = { host: '127.0.0.1', clients: 1000, timeoutMs: 30000 };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (k === '--port') a.port = Number(v);
    else if (k === '--host') a.host = v;
    else if (k === '--ca') a.ca = fs.readFileSync(v);
    else if (k === '--clients') a.clients = Number(v);
    else if (k === '--timeout-ms') a.timeoutMs = Number(v);
    else throw new Error(`unknown option ${k}`);
  }
  if (!a.port || !a.ca) throw new Error('usage: tls_storm.js --port P --ca FILE [--clients N]');
  return a;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function main() {
  const o = args();
  const served = [];
  let failed = 0;
  let pending = o.clients;
  const sockets = [];
  const start = process.hrtime.bigint();
  const ms = () => Number(process.hrtime.bigint() - start) / 1e6;
  const finish = () => {
    const sorted = served.slice().sort((x, y) => x - y);
    const out = {
      clients: o.clients,
      served: served.length,
      failed,
      total_ms: Number((sorted.length ? sorted[sorted.length - 1] : NaN).toFixed(1)),
      p50_ms: Number(percentile(sorted, 50).toFixed(1)),
      p99_ms: Number(percentile(sorted, 99).toFixed(1)),
      max_ms: Number((sorted.length ? sorted[sorted.length - 1] : NaN).toFixed(1)),
    };
    console.log(JSON.stringify(out));
    for (const s of sockets) s.destroy();
    process.exit(failed === 0 ? 0 : 1);
  };
  const done = (ok) => {
    if (!ok) failed++;
    if (--pending === 0) finish();
  };
  const timer = setTimeout(() => {
    failed += pending;
    pending = 0;
    finish();
  }, o.timeoutMs);
  timer.unref();
  for (let i = 0; i < o.clients; i++) {
    let settled = false;
    const s = tls.connect({ host: o.host, port: o.port, ca: o.ca, servername: 'localhost', session: undefined }, () => {
      s.write('*1\r\n$4\r\nPING\r\n');
    });
    sockets.push(s);
    let got = '';
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (!settled && got.includes('\r\n')) {
        settled = true;
        if (got.startsWith('+PONG')) served.push(ms());
        done(got.startsWith('+PONG'));
      }
    });
    const fail = () => {
      if (settled) return;
      settled = true;
      done(false);
    };
    s.on('error', fail);
    s.on('close', fail);
  }
}

main();
