'use strict';
// Replays a hand-written scenario against a fresh redis-server and keywarden in front of another
// one, and prints both servers' frames side by side: the tool to minimise a differential failure
// and to check its fix.
//
//   node tests/differential/probe.js 'SET a 1' 'GET a'
//   node tests/differential/probe.js 'SET q 1\nQUIT'          one argument = one write (pipeline)
//   node tests/differential/probe.js 'A> SUBSCRIBE x' 'B> PUBLISH x hi' 'A> @read'
//
// Each argument is one step, written at once on a connection (A> by default; B>, C>... are
// other clients, connected on first use). Commands in a step are separated by newlines and
// split into words like redis-cli does ("quoted words", \xNN escapes). Special steps:
//   @raw <JSON string>   write these exact bytes      @sleep <ms>     wait
//   @close               destroy the connection      @read           only collect frames
// After each step, frames are collected until the connections have been quiet for 200 ms;
// a step ending in " &" is written without waiting (its replies show with the next step).
// Environment: KEYWARDEN_BIN, PROBE_ARGS (extra keywarden arguments, e.g. "--workers 1").

const h = require('../integration/harness');
const { FrameConn } = require('./lib/frame_conn');
const { encodeMultibulk, show } = require('./lib/resp_frames');

function splitWords(line) {
  const out = [];
  let i = 0;
  while (i < line.length) {
    while (line[i] === ' ') i++;
    if (i >= line.length) break;
    if (line[i] === '"') {
      let w = '';
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && line[i + 1] === 'x') {
          w += String.fromCharCode(parseInt(line.slice(i + 2, i + 4), 16));
          i += 4;
        } else if (line[i] === '\\') {
          const c = line[i + 1];
          w += c === 'n' ? '\n' : c === 'r' ? '\r' : c;
          i += 2;
        } else w += line[i++];
      }
      i++;
      out.push(Buffer.from(w, 'latin1'));
    } else {
      let j = i;
      while (j < line.length && line[j] !== ' ') j++;
      out.push(line.slice(i, j));
      i = j;
    }
  }
  return out;
}

async function quiet(conns, ms = 200, max = 5000) {
  const t0 = Date.now();
  let last = conns.reduce((a, c) => a + c.frames.length, 0);
  let since = Date.now();
  while (Date.now() - t0 < max) {
    await h.sleep(20);
    const n = conns.reduce((a, c) => a + c.frames.length, 0);
    if (n !== last) {
      last = n;
      since = Date.now();
    } else if (Date.now() - since >= ms) break;
  }
}

async function main() {
  const steps = process.argv.slice(2).map((s) => (s.includes('@raw') ? s : s.replace(/\\n/g, '\n')));
  if (!steps.length) {
    process.stderr.write('usage: node probe.js STEP...   (see the comment at the top)\n');
    process.exit(2);
  }
  const ref = await h.startRedis();
  const upstream = await h.startRedis();
  const kw = await h.startKeywarden({ upstreamPort: upstream.port, args: (process.env.PROBE_ARGS || '').split(' ').filter(Boolean) });
  const conns = new Map(); // name -> { ref, kw }
  const get = async (name) => {
    let c = conns.get(name);
    if (!c || c.ref.isClosed || c.kw.isClosed) {
      c = { ref: await FrameConn.connect(ref.port), kw: await FrameConn.connect(kw.port) };
      conns.set(name, c);
    }
    return c;
  };
  let differs = false;
  for (const raw of steps) {
    const m = /^([A-Z])>\s*/.exec(raw);
    const name = m ? m[1] : 'A';
    let body = m ? raw.slice(m[0].length) : raw;
    const noWait = body.endsWith(' &');
    if (noWait) body = body.slice(0, -2);
    const c = await get(name);
    let label = body.replace(/\n/g, ' ; ');
    if (body.startsWith('@sleep')) {
      await h.sleep(Number(body.split(/\s+/)[1]));
      continue;
    } else if (body.startsWith('@close')) {
      c.ref.destroy();
      c.kw.destroy();
      conns.delete(name);
      process.stdout.write(`${name}> (closed)\n`);
      continue;
    } else if (body.startsWith('@raw')) {
      const bytes = Buffer.from(JSON.parse(body.slice(4).trim()), 'latin1');
      c.ref.write(bytes);
      c.kw.write(bytes);
      label = `raw ${JSON.stringify(bytes.toString('latin1'))}`;
    } else if (!body.startsWith('@read')) {
      const bytes = Buffer.concat(body.split('\n').filter((l) => l.trim()).map((l) => encodeMultibulk(splitWords(l))));
      c.ref.write(bytes);
      c.kw.write(bytes);
    }
    if (noWait) {
      process.stdout.write(`${name}> ${label} (not waiting)\n`);
      continue;
    }
    await quiet([...conns.values()].flatMap((x) => [x.ref, x.kw]));
    process.stdout.write(`${name}> ${label}\n`);
    for (const [n, x] of conns) {
      const a = x.ref.surplus().map((f) => show(f, 2000));
      const b = x.kw.surplus().map((f) => show(f, 2000));
      const same = a.length === b.length && a.every((v, i) => v === b[i]);
      if (!a.length && !b.length && x.ref.isClosed === x.kw.isClosed) continue;
      const who = n === name ? '' : ` (on ${n})`;
      if (same) for (const v of a) process.stdout.write(`    =${who} ${v}\n`);
      else {
        differs = true;
        process.stdout.write(`    redis${who}:     ${a.join('  ') || '(nothing)'}\n`);
        process.stdout.write(`    keywarden${who}: ${b.join('  ') || '(nothing)'}\n`);
      }
      if (x.ref.isClosed !== x.kw.isClosed) {
        differs = true;
        process.stdout.write(`    connection ${n}: redis ${x.ref.isClosed ? 'closed' : 'open'}, keywarden ${x.kw.isClosed ? 'closed' : 'open'}\n`);
      }
    }
  }
  for (const x of conns.values()) {
    x.ref.destroy();
    x.kw.destroy();
  }
  await kw.stop();
  await upstream.stop();
  await ref.stop();
  process.stdout.write(differs ? 'DIFFERENT\n' : 'same\n');
  process.exit(differs ? 1 : 0);
}

main().catch((e) => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(2);
});
