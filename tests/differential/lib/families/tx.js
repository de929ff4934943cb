'use strict';
// MULTI / EXEC / DISCARD / WATCH / UNWATCH (their misuse is in txerrors.js). Inside MULTI the
// other families' commands are queued (the model answers +QUEUED for them and remembers how
// EXEC's elements compare); this family also queues a few of its own so that it works alone.

const { C } = require('../ctx');

module.exports = {
  name: 'tx',
  weight: 6,
  plain: false,
  when: (st) => !st.restricted && st.reply === 'on',
  gen(x) {
    const r = x.rng;
    const st = x.st;
    const k = () => x.key(r.pick(['s', 'n', 'l']));
    if (!st.inMulti) {
      return r.weighted([
        [6, () => C(['MULTI'], { effect: (s) => {
          s.inMulti = true;
          s.queued = [];
          s.multiAborted = false;
          s.multiSelect = false;
        } })],
        [3, () => C(['WATCH', k(), ...(r.chance(0.4) ? [k(), k()] : [])], { effect: (s) => { s.watching = true; } })],
        [1, () => C(['UNWATCH'], { effect: (s) => { s.watching = false; } })],
        // Touch a key from another connection of the same client: a WATCH on it must fail EXEC.
        [st.watching ? 2 : 0.2, () => ({ kind: 'aux', cmds: [C(['SET', k(), x.val()])], mainFrames: 0 })],
      ])();
    }
    const end = (s) => {
      s.inMulti = false;
      s.watching = false;
      if (s.multiSelect) s.db = null;
      s.queued = [];
    };
    return r.weighted([
      [5, () => C(['EXEC'], { cmp: st.multiAborted ? undefined : { elems: st.queued.slice() }, effect: end })],
      [1, () => C(['DISCARD'], { effect: (s) => { s.multiSelect = false; end(s); } })],
      [4, () => C(r.pick([['SET', x.key('s'), x.val()], ['INCR', x.key('n')], ['GET', x.key('s')], ['LPUSH', x.key('l'), x.val()], ['LRANGE', x.key('l'), '0', '-1'], ['PING']]))],
      [0.5, () => C(['HELLO', String(st.proto)], { cmp: 'hello' })],
      [0.5, () => C(['HELLO'], { cmp: 'hello' })],
      [0.5, () => C(['UNWATCH'])],
      [0.5, () => C(['SET', x.key('s'), x.val(), 'NX', 'XX'])], // fails inside EXEC, does not abort
    ])();
  },
};
