'use strict';
// SELECT: keywarden pins a connection for a non-default db. Keys stay the client's own, in
// whichever db is selected.

const { C } = require('../ctx');

module.exports = {
  name: 'select',
  weight: 3,
  plain: false,
  when: (st) => !st.restricted && st.reply === 'on',
  gen(x) {
    const r = x.rng;
    const db = r.weighted([[3, 0], [4, r.int(1, 3)], [1, r.int(4, 15)]]);
    return r.weighted([
      [8, () => C(['SELECT', String(db)], { effect: (s) => { s.db = db; }, onQueued: (s) => { s.multiSelect = true; } })],
      [1, () => C(['SELECT', r.pick(['16', '-1', '99999999999', 'abc'])])],
      [0.3, () => C(['SELECT'], { rejected: true })],
      [0.3, () => C(['SELECT', '1', '2'], { rejected: true })],
    ])();
  },
};
