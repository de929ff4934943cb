'use strict';
// Bytes that are no command at all (an empty multibulk, an empty inline line: no reply), and
// protocol errors (Redis answers the commands before them, then the error, and closes).

const { C } = require('../ctx');

module.exports = {
  name: 'protocol',
  weight: 1,
  plain: false,
  when: (st) => st.reply === 'on' && !st.inMulti && !st.restricted,
  gen(x) {
    const r = x.rng;
    return r.weighted([
      [1, () => C([], { raw: Buffer.from('*0\r\n'), noCommand: true })],
      [1, () => C([], { raw: Buffer.from('\r\n'), noCommand: true })],
      [1, () => C(['<protocol error>'], {
        raw: r.pick([Buffer.from('*1\r\n$abc\r\n'), Buffer.from('*abc\r\n'), Buffer.from('SET "unbalanced\r\n'), Buffer.from('*2\r\n$3\r\nGET\r\n:1\r\n')]),
        effect: (s) => { s.closed = true; },
      })],
    ])();
  },
};
