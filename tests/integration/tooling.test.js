'use strict';
// The entry points around the binary: `meson test` runs every suite (unit, fuzz replay,
// integration), and the demo builds only what it runs.

const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness');

h.proxyTest('meson test -C <build> has the unit, fuzz and integration suites', { timeout: 60000 }, async () => {
  // The build directory of the binary under test (build-asan for tools/test.sh).
  const buildDir = path.dirname(h.KEYWARDEN_BIN);
  assert.ok(fs.existsSync(path.join(buildDir, 'build.ninja')), `${buildDir} is not a meson build directory`);
  const r = spawnSync('meson', ['test', '-C', buildDir, '--list', '--no-rebuild'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `meson test --list: ${r.stdout}${r.stderr}`);
  const tests = r.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
  const suites = new Map();
  for (const t of tests) {
    const m = /^keywarden:(\w+) \/ (\S+)$/.exec(t);
    assert.ok(m, `unexpected line in meson test --list: ${t}`);
    suites.set(m[1], [...(suites.get(m[1]) || []), m[2]]);
  }
  assert.deepEqual([...suites.keys()].sort(), ['fuzz', 'integration', 'unit']);
  assert.deepEqual(suites.get('unit'), ['unit']);
  assert.deepEqual(suites.get('integration'), ['integration']);
  // One replay per corpus directory.
  const corpora = fs.readdirSync(path.join(h.REPO_ROOT, 'tests', 'fuzz', 'corpus')).sort();
  assert.deepEqual(suites.get('fuzz').map((n) => n.replace(/^fuzz_/, '')).sort(), corpora);
});

h.test('tools/demo.sh compiles only the keywarden target', { timeout: 10000 }, async () => {
  const demo = fs.readFileSync(path.join(h.REPO_ROOT, 'tools', 'demo.sh'), 'utf8');
  const compiles = demo.split('\n').filter((l) => /^\s*meson compile\b/.test(l));
  assert.ok(compiles.length >= 1, 'demo.sh compiles something');
  for (const line of compiles) {
    assert.match(line, /^\s*meson compile -C "\$build" keywarden\s*$/, `a whole build is minutes more: ${line}`);
  }
  // And keywarden is the only binary of the build it runs (build.ninja tells a set-up build).
  const used = [...demo.matchAll(/"\$build\/([\w.-]+)"/g)].map((m) => m[1]).filter((f) => f !== 'build.ninja');
  assert.deepEqual([...new Set(used)], ['keywarden']);
});
