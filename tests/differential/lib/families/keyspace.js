'use strict';
// Generic key commands on the client's own keys: existence, type, rename, copy, expiry (long
// TTLs only, compared with a tolerance: an expiry firing between two servers' clocks would not
// be deterministic), DUMP/RESTORE, SORT, and listings restricted to the client's own prefix.

const { C } = require('../ctx');

module.exports = {
  name: 'keyspace',
  weight: 6,
  plain: true,
  gen(x) {
    const r = x.rng;
    const k = () => x.anyKey();
    // With a cluster upstream, what Redis Cluster refuses or answers per node is left out: other
    // dbs (MOVE, COPY DB), SORT's GET patterns, and SCAN (keywarden walks one master a call, so
    // its cursor differs from a single Redis's after COUNT 1000000).
    const cluster = x.opts.cluster;
    return r.weighted([
      [3, () => C(['EXISTS', k(), k(), k()])],
      [3, () => C(['TYPE', k()])],
      [2, () => C([r.pick(['DEL', 'UNLINK']), k(), ...(r.chance(0.3) ? [k()] : [])])],
      [1, () => C(['RENAME', ...x.keyPair()])],
      [1, () => C(['RENAMENX', ...x.keyPair()])],
      [1, () => C(['COPY', ...x.keyPair(), ...(r.chance(0.5) ? ['REPLACE'] : [])])],
      [cluster ? 0 : 1, () => C(['COPY', ...x.keyPair(), 'DB', x.int(1, 3)])],
      [cluster ? 0 : 1, () => C(['MOVE', k(), x.int(1, 3)])],
      [2, () => C(['EXPIRE', k(), x.ttl(), ...(r.chance(0.4) ? [r.pick(['NX', 'XX', 'GT', 'LT'])] : [])])],
      [1, () => C(['PEXPIRE', k(), `${x.ttl()}000`])],
      [1, () => C(['EXPIREAT', k(), String(Math.floor(Date.now() / 1000) + 100000)])],
      [1, () => C([r.pick(['EXPIRE', 'PEXPIRE']), k(), r.pick(['0', '-1'])])],
      [1, () => C(['PEXPIREAT', k(), '1000'])],
      [1, () => C(['PERSIST', k()])],
      [2, () => C(['TTL', k()], { cmp: { int: 2 } })],
      [1, () => C(['PTTL', k()], { cmp: { int: 2500 } })],
      [1, () => C(['EXPIRETIME', k()], { cmp: { int: 3 } })],
      [1, () => C(['PEXPIRETIME', k()], { cmp: { int: 3000 } })],
      [1, () => C(['OBJECT', 'ENCODING', k()])],
      [1, () => C(['TOUCH', k(), k()])],
      [1, () => C(['DUMP', k()], { cmp: 'dump' })],
      [1, () => C(['RESTORE', k(), '0', `${x.tag()}notadump`, 'REPLACE'])],
      [1, () => C(['SORT', x.key('l'), ...(r.chance(0.5) ? ['ALPHA'] : []), ...(r.chance(0.3) ? ['LIMIT', '0', '3'] : []), ...(r.chance(0.2) ? ['DESC'] : [])])],
      [1, () => C(['SORT', x.key('S'), 'ALPHA', 'BY', 'nosort'], { cmp: 'unordered' })],
      // Any key may hold a set by now (RENAME, COPY): no order without sorting.
      [cluster ? 0 : 1, () => C(['SORT', x.key('z'), 'BY', 'nosort', 'GET', '#', 'GET', `${x.keyPrefix()}:s*`], { cmp: 'unordered' })],
      [1, () => C(['KEYS', x.keyPattern()], { cmp: 'unordered' })],
      [cluster ? 0 : 1, () => C(['SCAN', '0', 'MATCH', x.keyPattern(), 'COUNT', '1000000'], { cmp: 'scan' })],
      [cluster ? 0 : 1, () => C(['SCAN', '0', 'MATCH', x.keyPattern(), 'COUNT', '1000000', 'TYPE', r.pick(['string', 'list', 'hash'])], { cmp: 'scan' })],
    ])();
  },
};
