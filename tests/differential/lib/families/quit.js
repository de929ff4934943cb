'use strict';
// QUIT: +OK, then the server closes; commands pipelined after it never run.

const { C } = require('../ctx');

module.exports = {
  name: 'quit',
  weight: 1,
  plain: false,
  // With replies off Redis sends nothing, so the connection only closes later: not generated.
  when: (st) => st.reply === 'on',
  gen(x) {
    return C(x.rng.chance(0.9) ? ['QUIT'] : ['QUIT', 'now'], { effect: (s) => { s.closed = true; } });
  },
};
