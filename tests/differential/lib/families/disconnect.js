'use strict';
// Abrupt disconnects: in the middle of a MULTI, in the middle of a pipeline (the last command
// possibly cut in half), while blocked, while subscribed, while replies are off. The runner
// writes the bytes, reads the replies it is told to, and destroys the socket. Afterwards the
// client carries on from a new connection; where what was in flight may or may not have run,
// on a new key generation.

const { C } = require('../ctx');
const model = require('../model');

module.exports = {
  name: 'disconnect',
  weight: 1,
  plain: false,
  // gen returns a special step; `plainGen` makes ordinary commands for it (set by the generator).
  gen(x, plainGen) {
    const r = x.rng;
    const st = x.st;
    const cmds = [];
    const push = (c) => {
      model.apply(x.st, c);
      cmds.push(c);
    };
    let variant;
    if (st.inMulti || (!st.restricted && st.reply === 'on' && r.chance(0.3))) {
      // Nothing queued in MULTI ever runs without EXEC: no need for new keys.
      variant = 'mid-multi';
      if (!st.inMulti) {
        if (r.chance(0.4)) push(C(['WATCH', x.key('s')], { effect: (s) => { s.watching = true; } }));
        push(C(['MULTI'], { effect: (s) => { s.inMulti = true; s.queued = []; } }));
      }
      for (let i = r.int(0, 4); i > 0; i--) push(plainGen());
      if (!x.opts.cluster && r.chance(0.2)) push(C(['SELECT', '2'], { onQueued: (s) => { s.multiSelect = true; } }));
    } else if (!st.restricted && st.reply === 'on' && r.chance(0.3)) {
      variant = 'blocked';
      push(C(['BLPOP', x.key('l', 9), '0.5'], { blockMs: 500 }));
    } else {
      variant = st.subscribed ? 'subscribed' : st.reply !== 'on' ? 'replies-off' : 'mid-pipeline';
      if (!st.restricted) for (let i = r.int(1, 8); i > 0; i--) push(plainGen());
    }
    const bytesTotal = cmds.length;
    let readFrames = 0;
    const frames = cmds.reduce((a, c) => a + c.frames, 0);
    if (variant === 'mid-multi' || variant === 'mid-pipeline') readFrames = r.int(0, frames);
    // Cut inside the last command now and then (a half-written request).
    const cut = variant === 'mid-pipeline' && bytesTotal > 0 && r.chance(0.6);
    return {
      kind: 'disconnect',
      variant,
      cmds,
      readFrames: cut ? Math.min(readFrames, frames - (cmds[cmds.length - 1].frames || 0)) : readFrames,
      cutLast: cut,
      delayMs: r.pick([0, 0, 1, 3, 10]),
      bump: variant !== 'mid-multi',
    };
  },
};
