'use strict';
// Blocking commands with short timeouts on the client's own keys: nobody else pushes to them,
// so they either answer at once or time out, the same on every server. Inside MULTI they do not
// block.

const { C } = require('../ctx');

module.exports = {
  name: 'blocking',
  weight: 4,
  plain: false,
  when: (st) => !st.restricted && st.reply === 'on',
  gen(x) {
    const r = x.rng;
    const t = x.blockSeconds();
    const ms = String(Math.round(Number(t) * 1000));
    const l = () => x.key('l');
    const z = () => x.key('z');
    const k = () => x.key('x');
    const side = () => r.pick(['LEFT', 'RIGHT']);
    const o = { blockMs: Number(ms) };
    return r.weighted([
      [4, () => C([r.pick(['BLPOP', 'BRPOP']), l(), ...(r.chance(0.3) ? [l()] : []), t], o)],
      [1, () => C(['BLPOP', x.key('l', 9), t], o)], // always empty: always times out
      [2, () => C(['BLMOVE', l(), l(), side(), side(), t], o)],
      [1, () => C(['BRPOPLPUSH', l(), l(), t], o)],
      [1, () => C(['BLMPOP', t, '2', l(), l(), side(), 'COUNT', x.int(1, 3)], o)],
      [2, () => C([r.pick(['BZPOPMIN', 'BZPOPMAX']), z(), t], o)],
      [1, () => C(['BZMPOP', t, '1', z(), r.pick(['MIN', 'MAX'])], o)],
      [2, () => C(['XREAD', 'COUNT', '3', 'BLOCK', ms, 'STREAMS', k(), r.pick(['$', '0', `${x.streamSeq}-0`])], o)],
      [1, () => C(['XREADGROUP', 'GROUP', 'g1', `${x.tag()}k1`, 'COUNT', '2', 'BLOCK', ms, 'STREAMS', k(), '>'], o)],
      [x.opts.cluster ? 0 : 1, () => C(['WAIT', '0', ms], o)], // a cluster master has replicas
      [0.5, () => C(['BLPOP', l(), r.pick(['-1', 'abc'])])],
      [1, () => C(['RPUSH', l(), x.val()])],
    ])();
  },
};
