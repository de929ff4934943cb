'use strict';
// Commands about the connection itself, which keywarden answers per client: PING, ECHO, CLIENT
// ID/INFO/GETREDIR/NO-EVICT (names are in clientname.js, RESET in reset.js).

const { C } = require('../ctx');

module.exports = {
  name: 'connection',
  weight: 3,
  plain: true,
  gen(x) {
    const r = x.rng;
    const st = x.st;
    if (st.restricted || st.reply !== 'on') {
      return C(['PING', ...(r.chance(0.5) ? [x.val()] : [])]);
    }
    return r.weighted([
      [3, () => C(['PING', ...(r.chance(0.5) ? [x.val()] : [])])],
      [2, () => C(['ECHO', x.val()])],
      [1, () => C(['CLIENT', 'ID'], { cmp: 'type' })],
      [1, () => C(['CLIENT', 'INFO'], { cmp: 'ignore' })],
      [0.5, () => C(['CLIENT', 'GETREDIR'])],
      [0.5, () => C(['CLIENT', 'NO-EVICT', r.pick(['on', 'off'])])],
      [0.3, () => C(['CLIENT', 'NOSUCHSUB'], { rejected: true })],
      [0.3, () => C(['ECHO'], { rejected: true })],
      [0.3, () => C(['PING', 'a', 'b'])], // arity -1: refused by PING itself, so queued in MULTI
    ])();
  },
};
