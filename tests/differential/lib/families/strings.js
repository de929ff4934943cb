'use strict';
// Strings, counters, bitmaps, HyperLogLog.

const { C } = require('../ctx');

module.exports = {
  name: 'strings',
  weight: 10,
  plain: true,
  gen(x) {
    const r = x.rng;
    const s = () => x.key('s');
    const n = () => x.key('n');
    const b = () => x.key('b');
    return r.weighted([
      [6, () => C(['SET', s(), x.val()])],
      [2, () => C(['SET', s(), x.val(), r.pick(['NX', 'XX', 'GET', 'KEEPTTL'])])],
      [1, () => C(['SET', s(), x.val(), 'EX', x.ttl()])],
      [1, () => C(['SET', s(), x.val(), 'PX', `${x.ttl()}000`, 'GET'])],
      [6, () => C(['GET', s()])],
      [1, () => C(['GET', x.anyKey()])],
      [1, () => C(['GETSET', s(), x.val()])],
      [1, () => C(['GETDEL', s()])],
      [1, () => C(['GETEX', s(), ...r.pick([['PERSIST'], ['EX', x.ttl()], []])])],
      [2, () => C(['APPEND', s(), x.val()])],
      [1, () => C(['STRLEN', s()])],
      [1, () => C(['SETRANGE', s(), x.int(0, 20), x.val()])],
      [1, () => C(['GETRANGE', s(), x.int(-10, 10), x.int(-10, 30)])],
      [1, () => C(['SUBSTR', s(), x.int(0, 5), x.int(0, 30)])],
      [3, () => C([r.pick(['INCR', 'DECR']), n()])],
      [2, () => C([r.pick(['INCRBY', 'DECRBY']), n(), x.int(-100, 100)])],
      [1, () => C(['INCRBYFLOAT', n(), r.pick(['1.5', '-0.25', '3', '1e2', '0.1'])])],
      [1, () => C(['INCR', s()])],
      [2, () => C(['MSET', s(), x.val(), s(), x.val()])],
      [2, () => C(['MGET', s(), s(), n(), x.anyKey()])],
      [1, () => C(['MSETNX', s(), x.val(), x.key('s', 9), x.val()])],
      [1, () => C(['SETNX', s(), x.val()])],
      [1, () => C(['SETEX', s(), x.ttl(), x.val()])],
      [1, () => C(['PSETEX', s(), `${x.ttl()}000`, x.val()])],
      [1, () => C(['LCS', s(), s()].concat(r.pick([[], ['LEN'], ['IDX', 'MINMATCHLEN', '1', 'WITHMATCHLEN']])))],
      [1, () => C(['SETBIT', b(), x.int(0, 200), r.pick(['0', '1'])])],
      [1, () => C(['GETBIT', b(), x.int(0, 200)])],
      [1, () => C(['BITCOUNT', r.pick([b(), s()])].concat(r.chance(0.5) ? [x.int(0, 3), x.int(-3, 10)] : []))],
      [1, () => C(['BITPOS', b(), r.pick(['0', '1'])])],
      [1, () => C(['BITOP', r.pick(['AND', 'OR', 'XOR']), b(), b(), b()])], // see Ctx.keyPair
      [1, () => C(['BITFIELD', b(), 'INCRBY', r.pick(['u8', 'i16', 'u4']), x.int(0, 64), x.int(-300, 300), 'GET', 'u8', '0'])],
      [1, () => C(['PFADD', x.key('b', 7), x.member(), x.member()])],
      [1, () => C(['PFCOUNT', x.key('b', 7)])],
      [0.3, () => C(['SET', s(), x.val(true)])],
    ])();
  },
};
