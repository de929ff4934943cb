'use strict';
// HELLO 2/3 in the middle of a session. keywarden documents that it refuses to switch protocol
// while it holds a pinned connection for the client (MULTI, WATCH, SELECT, after a subscription
// until RESET); such switches are only generated with DIFF_STRICT=1.

const { C } = require('../ctx');

module.exports = {
  name: 'hello',
  weight: 2,
  plain: false,
  when: (st) => !st.restricted && !st.inMulti && st.reply === 'on',
  gen(x) {
    const r = x.rng;
    const st = x.st;
    const other = st.proto === 2 ? 3 : 2;
    const canSwitch = x.opts.strict || !st.pinnedByProxy;
    const to = canSwitch && r.chance(0.7) ? other : st.proto;
    const setProto = (s) => { s.proto = to; };
    return r.weighted([
      [6, () => C(['HELLO', String(to)], { cmp: 'hello', effect: setProto })],
      [2, () => C(['HELLO', String(to), 'SETNAME', `${x.tag()}n${r.int(0, 9)}`], { cmp: 'hello', effect: setProto })],
      [1, () => C(['HELLO'], { cmp: 'hello' })],
      [1, () => C(['HELLO', r.pick(['1', '4', 'abc', '-3'])])],
      [0.5, () => C(['HELLO', String(to), 'SETNAME', 'has space'])],
      [0.5, () => C(['HELLO', String(to), 'NOSUCHOPTION'])],
    ])();
  },
};
