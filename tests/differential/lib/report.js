'use strict';
// Failure reports: what was sent, what Redis answered, what the server under test answered,
// for the failing step and the steps before it, and the command line that replays the run.

function formatFailure(f, run) {
  const lines = [];
  lines.push(`FAILURE [${f.kind}] run=${run.name} seed=${run.seed} client=${f.client} step=${f.step}: ${f.message}`);
  lines.push(`  reproduce: ${run.reproduce(f.client)}`);
  lines.push(`  last steps of client ${f.client} (oldest first):`);
  for (const h of f.history) {
    const fam = h.family ? ` {${h.family}}` : '';
    const note = h.note ? ` (${h.note})` : '';
    lines.push(`    #${h.step} ${h.conn || ''} > ${h.req}${fam}${note}`);
    if (h.ref === undefined) continue;
    const n = Math.max(h.ref.length, h.dut.length);
    if (n === 0) {
      lines.push(`        (no reply expected${h.want ? `; expected ${h.want}` : ''})`);
      continue;
    }
    for (let i = 0; i < n; i++) {
      const a = h.ref[i] === undefined ? '(nothing)' : h.ref[i];
      const b = h.dut[i] === undefined ? '(nothing)' : h.dut[i];
      if (a === b) lines.push(`        = ${a}`);
      else {
        lines.push(`        redis:     ${a}`);
        lines.push(`        ${run.dutName}: ${b}`);
      }
    }
  }
  return lines.join('\n');
}

module.exports = { formatFailure };
