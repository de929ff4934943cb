'use strict';
// Streams with explicit ids (an id only grows, per client), so replies carry no clock. XPENDING's
// extended form (idle times) is left out.

const { C } = require('../ctx');

module.exports = {
  name: 'streams',
  weight: 5,
  plain: true,
  gen(x) {
    const r = x.rng;
    const k = () => x.key('x');
    const id = () => {
      x.streamSeq += r.int(1, 3);
      return r.chance(0.5) ? `${x.streamSeq}-0` : `${x.streamSeq}-*`;
    };
    const group = () => r.pick(['g1', 'g2']);
    const consumer = () => `${x.tag()}k${r.int(1, 2)}`;
    const someId = () => r.pick(['0', '0-0', `${Math.max(1, x.streamSeq - r.int(0, 5))}-0`, '-', '+']);
    return r.weighted([
      [5, () => C(['XADD', k(), ...(r.chance(0.2) ? ['MAXLEN', r.pick(['~', '=']), x.int(2, 20)] : []), id(), x.field(), x.val()])],
      [1, () => C(['XADD', k(), 'NOMKSTREAM', id(), 'f', x.val()])],
      [1, () => C(['XADD', k(), '1-1', 'f', x.val()])], // usually "equal or smaller than the top item"
      [3, () => C(['XRANGE', k(), '-', '+', ...(r.chance(0.5) ? ['COUNT', x.int(1, 5)] : [])])],
      [1, () => C(['XREVRANGE', k(), '+', '-', 'COUNT', x.int(1, 5)])],
      [2, () => C(['XLEN', k()])],
      [1, () => C(['XDEL', k(), `${Math.max(1, x.streamSeq - r.int(0, 6))}-0`])],
      [1, () => C(['XTRIM', k(), 'MAXLEN', x.int(0, 10)])],
      [2, () => C(['XREAD', 'COUNT', x.int(1, 5), 'STREAMS', k(), k(), someId().replace(/^[-+]$/, '0'), '0'])],
      [2, () => C(['XGROUP', 'CREATE', k(), group(), r.pick(['0', '$']), ...(r.chance(0.7) ? ['MKSTREAM'] : [])])],
      [2, () => C(['XREADGROUP', 'GROUP', group(), consumer(), 'COUNT', x.int(1, 4), 'STREAMS', k(), r.pick(['>', '0'])])],
      [1, () => C(['XACK', k(), group(), `${Math.max(1, x.streamSeq - r.int(0, 6))}-0`])],
      [1, () => C(['XPENDING', k(), group()])],
      [1, () => C(['XCLAIM', k(), group(), consumer(), '0', `${Math.max(1, x.streamSeq - r.int(0, 6))}-0`, 'JUSTID'])],
      [1, () => C(['XAUTOCLAIM', k(), group(), consumer(), '0', '0-0', 'COUNT', x.int(1, 5), 'JUSTID'])],
      [1, () => C(['XGROUP', 'DESTROY', k(), group()])],
      [1, () => C(['XADD', x.anyKey(), id(), 'f', 'v'])],
    ])();
  },
};
