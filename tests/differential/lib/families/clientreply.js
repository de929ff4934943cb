'use strict';
// CLIENT REPLY ON / OFF / SKIP. While replies are off or the next one is skipped, only plain
// data commands follow (the chooser sees to that), then replies come back on.

const { C } = require('../ctx');

module.exports = {
  name: 'clientreply',
  weight: 2,
  plain: false,
  when: (st) => !st.subscribed && !st.inMulti,
  weightIn: (st) => (st.reply === 'off' ? 6 : 1),
  gen(x) {
    const r = x.rng;
    const st = x.st;
    const on = () => C(['CLIENT', 'REPLY', 'ON'], { replyWhenOff: true, replyWhenSkip: true, effect: (s) => { s.reply = 'on'; } });
    const off = () => C(['CLIENT', 'REPLY', 'OFF'], { base: 0, effect: (s) => { s.reply = 'off'; } });
    const skip = () => C(['CLIENT', 'REPLY', 'SKIP'], { base: 0, effect: (s) => { if (s.reply !== 'off') s.reply = 'skip'; } });
    if (st.reply === 'off') return r.weighted([[5, on], [1, skip], [1, off]])();
    if (st.reply === 'skip') return r.weighted([[3, on], [1, skip]])();
    return r.weighted([
      [3, off],
      [3, skip],
      [1, on],
      [0.5, () => C(['CLIENT', 'REPLY', 'MAYBE'])],
    ])();
  },
};
