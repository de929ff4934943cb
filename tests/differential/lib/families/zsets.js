'use strict';
// Sorted sets: order is defined by score and member, so everything but random picks compares
// exactly (including RESP3 doubles).

const { C } = require('../ctx');

module.exports = {
  name: 'zsets',
  weight: 6,
  plain: true,
  gen(x) {
    const r = x.rng;
    const z = () => x.key('z');
    const score = () => r.pick(['1', '2', '2.5', '-1', '0', '10', '1e3', '+inf', '-inf', '0.1', x.int(-20, 20)]);
    const range = () => r.pick([['0', '-1'], [x.int(0, 3), x.int(-2, 5)], ['-3', '-1']]);
    return r.weighted([
      [5, () => C(['ZADD', z(), ...(r.chance(0.3) ? [r.pick(['NX', 'XX', 'GT', 'LT', 'CH'])] : []), score(), x.member(), ...(r.chance(0.4) ? [score(), x.member()] : [])])],
      [1, () => C(['ZADD', z(), 'INCR', score(), x.member()])],
      [4, () => C(['ZRANGE', z(), ...range(), ...(r.chance(0.5) ? ['WITHSCORES'] : [])])],
      [1, () => C(['ZRANGE', z(), '-inf', '+inf', 'BYSCORE', ...(r.chance(0.5) ? ['LIMIT', x.int(0, 2), x.int(1, 4)] : []), 'WITHSCORES'])],
      [1, () => C(['ZRANGE', z(), '+', '-', 'BYLEX', 'REV'])],
      [1, () => C(['ZRANGESTORE', z(), z(), ...range()])],
      [1, () => C(['ZREVRANGE', z(), ...range(), 'WITHSCORES'])],
      [1, () => C(['ZRANGEBYSCORE', z(), r.pick(['-inf', '(1', '0']), r.pick(['+inf', '5', '(10']), 'WITHSCORES'])],
      [2, () => C(['ZSCORE', z(), x.member()])],
      [1, () => C(['ZMSCORE', z(), x.member(), x.member()])],
      [2, () => C(['ZINCRBY', z(), score(), x.member()])],
      [2, () => C(['ZCARD', z()])],
      [1, () => C(['ZCOUNT', z(), '-inf', r.pick(['+inf', '2', '(2'])])],
      [1, () => C(['ZLEXCOUNT', z(), '-', '+'])],
      [1, () => C([r.pick(['ZRANK', 'ZREVRANK']), z(), x.member()])],
      [2, () => C(['ZREM', z(), x.member(), x.member()])],
      [1, () => C([r.pick(['ZPOPMIN', 'ZPOPMAX']), z(), ...(r.chance(0.5) ? [x.int(1, 3)] : [])])],
      [1, () => C(['ZREMRANGEBYSCORE', z(), '-inf', r.pick(['0', '1', '(2'])])],
      [1, () => C(['ZREMRANGEBYRANK', z(), '0', x.int(0, 1)])],
      [1, () => C([r.pick(['ZUNIONSTORE', 'ZINTERSTORE', 'ZDIFFSTORE']), z(), '2', z(), z()])],
      [1, () => C([r.pick(['ZUNION', 'ZINTER', 'ZDIFF']), '2', z(), z(), 'WITHSCORES'])],
      [1, () => C(['ZMPOP', '2', z(), z(), r.pick(['MIN', 'MAX']), 'COUNT', x.int(1, 2)])],
      [1, () => C(['ZRANDMEMBER', z(), ...(r.chance(0.6) ? [x.int(-4, 4)] : [])], { cmp: 'shape' })],
      [1, () => C(['ZSCAN', z(), '0', 'COUNT', '1000'], { cmp: 'scan' })],
      [1, () => C(['ZADD', x.anyKey(), '1', x.member()])],
      [1, () => C(['GEOADD', x.key('z', 8), r.pick(['13.361389', '15.087269']), r.pick(['38.115556', '37.502669']), x.member()])],
      [1, () => C(['GEODIST', x.key('z', 8), x.member(), x.member(), 'km'])],
      [1, () => C(['GEOPOS', x.key('z', 8), x.member()])],
    ])();
  },
};
