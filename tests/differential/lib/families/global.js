'use strict';
// Commands whose answer is about the whole server, not the client's own data: compared by type
// or shape only, and still checked for other clients' tags.

const { C } = require('../ctx');

module.exports = {
  name: 'global',
  weight: 1,
  plain: true,
  gen(x) {
    const r = x.rng;
    return r.weighted([
      [2, () => C(['DBSIZE'], { cmp: 'type' })],
      [1, () => C(['TIME'], { cmp: 'shape' })],
      [1, () => C(['LASTSAVE'], { cmp: 'type' })],
      [1, () => C(['INFO', 'keyspace'], { cmp: 'ignore' })],
      [1, () => C(['COMMAND', 'INFO', r.pick(['get', 'blpop', 'subscribe', 'eval'])])],
      [1, () => C(['COMMAND', 'COUNT'])],
      [1, () => C(['ECHO', x.val(true)])],
    ])();
  },
};
