'use strict';
// Hashes. A hash that ever held a big value is hashtable-encoded and lists its fields in
// hash-seed order, so listings compare unordered.

const { C } = require('../ctx');

module.exports = {
  name: 'hashes',
  weight: 6,
  plain: true,
  gen(x) {
    const r = x.rng;
    const h = () => x.key('h');
    return r.weighted([
      [5, () => C(['HSET', h(), x.field(), x.val(), ...(r.chance(0.3) ? [x.field(), x.val()] : [])])],
      [1, () => C(['HSETNX', h(), x.field(), x.val()])],
      [4, () => C(['HGET', h(), x.field()])],
      [2, () => C(['HMGET', h(), x.field(), x.field()])],
      [3, () => C(['HGETALL', h()], { cmp: 'pairs' })],
      [1, () => C([r.pick(['HKEYS', 'HVALS']), h()], { cmp: 'unordered' })],
      [1, () => C(['HLEN', h()])],
      [2, () => C(['HDEL', h(), x.field(), ...(r.chance(0.3) ? [x.field()] : [])])],
      [1, () => C(['HEXISTS', h(), x.field()])],
      [2, () => C(['HINCRBY', h(), `n${r.int(0, 2)}`, x.int(-10, 10)])],
      [1, () => C(['HINCRBYFLOAT', h(), `n${r.int(0, 2)}`, r.pick(['0.5', '-1.25', '2'])])],
      [1, () => C(['HSTRLEN', h(), x.field()])],
      [1, () => C(['HRANDFIELD', h(), ...(r.chance(0.5) ? [x.int(-3, 5)] : [])], { cmp: 'shape' })],
      [1, () => C(['HSCAN', h(), '0', 'COUNT', '1000'], { cmp: 'scanPairs' })],
      [1, () => C(['HGET', x.anyKey(), 'f1'])],
    ])();
  },
};
