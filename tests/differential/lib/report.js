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
    const note = (h.note ? ` (${h.note})` : '') + (h.cmp ? ` [compared: ${h.cmp.length > 80 ? `${h.cmp.slice(0, 80)}...` : h.cmp}]` : '');
    lines.push(`    #${h.step} ${h.conn || ''} > ${h.req}${fam}${note}`);
    if (h.ref === undefined) continue;
    const n = Math.max(h.ref.length, h.dut.length);
    if (n === 0) {
      lines.push(`        (no reply expected${h.want ? `; expected ${h.want}` : ''})`);
      continue;
    }
    if (h.verdict && h.verdict !== 'differs') lines.push(`        (${h.verdict}:)`);
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
  if (f.stepCmds && f.stepCmds.length > 1) {
    lines.push(`  the whole failing step (${f.stepCmds.length} commands, sent as one pipeline):`);
    for (const c of f.stepCmds) lines.push(`    ${c}`);
  }
  return lines.join('\n');
}

module.exports = { formatFailure };
