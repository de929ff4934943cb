'use strict';
// Transaction commands used wrongly: EXEC and DISCARD without MULTI (with or without a WATCH
// pending), MULTI inside MULTI, WATCH inside MULTI, and a command refused while queued (which
// makes EXEC answer EXECABORT).

const { C } = require('../ctx');

module.exports = {
  name: 'txerrors',
  weight: 1.5,
  plain: false,
  when: (st) => !st.restricted && st.reply === 'on',
  gen(x) {
    const r = x.rng;
    if (!x.st.inMulti) {
      return r.weighted([
        [1, () => C(['EXEC'])],
        [1, () => C(['DISCARD'])],
      ])();
    }
    return r.weighted([
      [1, () => C(['MULTI'])], // "MULTI calls can not be nested": the transaction goes on
      [1, () => C(['WATCH', x.key('s')])], // "WATCH inside MULTI is not allowed"
      [1, () => C(['GET'], { rejected: true })], // refused: EXEC will answer EXECABORT
    ])();
  },
};
