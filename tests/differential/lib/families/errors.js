'use strict';
// Errors: unknown commands, wrong arity (both refused before running, and abort a MULTI),
// syntax and value errors (raised while running), WRONGTYPE, bytes that are no command at all,
// and protocol errors (Redis answers and closes the connection).

const { C } = require('../ctx');

module.exports = {
  name: 'errors',
  weight: 4,
  plain: true,
  gen(x) {
    const r = x.rng;
    const st = x.st;
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
    if (st.reply === 'on' && !st.inMulti) {
      // No reply at all; keywarden must not invent one.
      choices.push([0.5, () => C([], { raw: Buffer.from('*0\r\n'), noCommand: true })]);
      choices.push([0.5, () => C([], { raw: Buffer.from('\r\n'), noCommand: true })]);
      // Redis answers a protocol error and closes the connection.
      choices.push([0.3, () => C(['<protocol error>'], {
        raw: r.pick([Buffer.from('*1\r\n$abc\r\n'), Buffer.from('*abc\r\n'), Buffer.from('SET "unbalanced\r\n'), Buffer.from('*2\r\n$3\r\nGET\r\n:1\r\n')]),
        effect: (s) => { s.closed = true; },
        rejected: false,
      })]);
    }
    return r.weighted(choices)();
  },
};
