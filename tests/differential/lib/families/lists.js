'use strict';
// Lists (the blocking forms are in blocking.js).

const { C } = require('../ctx');

module.exports = {
  name: 'lists',
  weight: 8,
  plain: true,
  gen(x) {
    const r = x.rng;
    const l = () => x.key('l');
    const side = () => r.pick(['LEFT', 'RIGHT']);
    return r.weighted([
      [5, () => C([r.pick(['LPUSH', 'RPUSH']), l(), x.val(), ...(r.chance(0.4) ? [x.val(), x.val()] : [])])],
      [1, () => C([r.pick(['LPUSHX', 'RPUSHX']), l(), x.val()])],
      [3, () => C([r.pick(['LPOP', 'RPOP']), l(), ...(r.chance(0.3) ? [x.int(0, 4)] : [])])],
      [4, () => C(['LRANGE', l(), x.int(-5, 3), x.int(-3, 20)])],
      [2, () => C(['LLEN', l()])],
      [2, () => C(['LINDEX', l(), x.int(-4, 4)])],
      [1, () => C(['LSET', l(), x.int(-3, 3), x.val()])],
      [1, () => C(['LINSERT', l(), r.pick(['BEFORE', 'AFTER']), x.val(), x.val()])],
      [1, () => C(['LREM', l(), x.int(-2, 2), x.val()])],
      [1, () => C(['LTRIM', l(), x.int(0, 2), x.int(-1, 30)])],
      [1, () => C(['LPOS', l(), x.val(), ...(r.chance(0.5) ? ['RANK', x.int(1, 2)] : ['COUNT', '0'])])],
      [2, () => C(['LMOVE', l(), l(), side(), side()])],
      [1, () => C(['RPOPLPUSH', l(), l()])],
      [1, () => C(['LMPOP', '2', l(), l(), side(), 'COUNT', x.int(1, 3)])],
      [1, () => C(['LPUSH', x.anyKey(), x.val()])],
    ])();
  },
};
