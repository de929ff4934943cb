'use strict';
// Errors: unknown commands, wrong arity (both refused before running, and abort a MULTI),
// syntax and value errors (raised while running), WRONGTYPE.

const { C } = require('../ctx');

module.exports = {
  name: 'errors',
  weight: 4,
  plain: true,
  gen(x) {
    const r = x.rng;
    const choices = [
      [3, () => C([r.pick(['NOSUCHCMD', 'GETT', 'xyzzy']), x.val(), x.key('s')], { rejected: true, noInline: true })],
      [3, () => C(r.pick([['GET'], ['GET', x.key('s'), 'extra'], ['SET', x.key('s')], ['HSET', x.key('h'), 'f'], ['LPUSH', x.key('l')], ['ZADD', x.key('z')], ['EXPIRE']]), { rejected: true })],
      [0.5, () => C(['OBJECT', 'NOSUCH', x.key('s')], { rejected: true })],
      [2, () => C(['SET', x.key('s'), x.val(), 'NX', 'XX'])],
      [1, () => C(['SET', x.key('s'), x.val(), 'EX', r.pick(['0', '-5', 'abc'])])],
      [1, () => C(['INCRBY', x.key('n'), r.pick(['abc', '1.5', '99999999999999999999'])])],
      [1, () => C(['ZADD', x.key('z'), r.pick(['nan', 'abc', '1x']), x.member()])],
      [1, () => C(['LRANGE', x.key('l'), 'a', 'b'])],
      [1, () => C(['EXPIRE', x.key('s'), 'soon'])],
      [1, () => C(['LSET', x.key('l'), '1000', x.val()])],
      [1, () => C(['HINCRBY', x.key('h'), x.field(), 'x'])],
      [2, () => C([r.pick(['LLEN', 'SCARD', 'HLEN', 'ZCARD', 'XLEN', 'STRLEN']), x.anyKey()])],
    ];
    return r.weighted(choices)();
  },
};
