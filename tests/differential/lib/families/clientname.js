'use strict';
// CLIENT SETNAME / GETNAME (also inside MULTI, where Redis runs them at EXEC on the client's
// own connection).

const { C } = require('../ctx');

module.exports = {
  name: 'clientname',
  weight: 2,
  plain: false,
  when: (st) => !st.restricted && st.reply === 'on',
  gen(x) {
    const r = x.rng;
    return r.weighted([
      [4, () => C(['CLIENT', 'SETNAME', `${x.tag()}n${r.int(0, 9)}`])],
      [1, () => C(['CLIENT', 'SETNAME', ''])],
      [1, () => C(['CLIENT', 'SETNAME', 'has space'])],
      [4, () => C(['CLIENT', 'GETNAME'])],
    ])();
  },
};
