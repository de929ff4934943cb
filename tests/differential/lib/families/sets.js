'use strict';
// Sets. Member order depends on each server's hash seed, so listings compare unordered and
// random picks by shape only.

const { C } = require('../ctx');

module.exports = {
  name: 'sets',
  weight: 6,
  plain: true,
  gen(x) {
    const r = x.rng;
    const S = () => x.key('S');
    const m = () => (r.chance(0.2) ? x.int(0, 20) : x.member());
    return r.weighted([
      [5, () => C(['SADD', S(), m(), ...(r.chance(0.4) ? [m(), m()] : [])])],
      [2, () => C(['SREM', S(), m(), m()])],
      [3, () => C(['SMEMBERS', S()], { cmp: 'unordered' })],
      [2, () => C(['SISMEMBER', S(), m()])],
      [1, () => C(['SMISMEMBER', S(), m(), m()])],
      [2, () => C(['SCARD', S()])],
      [2, () => C([r.pick(['SINTER', 'SUNION', 'SDIFF']), S(), S()], { cmp: 'unordered' })],
      [1, () => C([r.pick(['SINTERSTORE', 'SUNIONSTORE', 'SDIFFSTORE']), S(), S(), S()])],
      [1, () => C(['SINTERCARD', '2', S(), S()])],
      [1, () => C(['SMOVE', S(), S(), m()])],
      [1, () => C(['SPOP', S(), '1000'], { cmp: 'unordered' })],
      [1, () => C(['SRANDMEMBER', S(), ...(r.chance(0.7) ? [x.int(-5, 5)] : [])], { cmp: 'shape' })],
      [1, () => C(['SSCAN', S(), '0', 'COUNT', '1000'], { cmp: 'scan' })],
      [1, () => C(['SADD', x.anyKey(), m()])],
    ])();
  },
};
