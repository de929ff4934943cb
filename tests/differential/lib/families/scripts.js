'use strict';
// Lua scripts with 0 and N keys. Every script's text carries the client's tag and key
// generation: the script cache is shared by all clients, and EVALSHA of a script nobody else
// can load is the only deterministic kind.

const crypto = require('node:crypto');
const { C } = require('../ctx');

function sha1(text) {
  return crypto.createHash('sha1').update(text).digest('hex');
}

module.exports = {
  name: 'scripts',
  weight: 4,
  plain: true,
  sha1,
  gen(x) {
    const r = x.rng;
    const mark = `-- ${x.tag()}${x.gen}`;
    const body = (lua) => `${lua} ${mark}`;
    const s = () => x.key('s');
    const n = () => x.key('n');
    const scripts = [
      [4, () => C(['EVAL', body("return redis.call('GET', KEYS[1])"), '1', s()])],
      [3, () => C(['EVAL', body("redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCR', KEYS[2])"), '2', s(), n(), x.val()])],
      [2, () => C(['EVAL', body('return {KEYS[1], KEYS[2], ARGV[1], 7, {8, ARGV[2]}}'), '2', s(), n(), x.val(), x.val()])],
      [2, () => C(['EVAL', body('return ARGV'), '0', x.val(), x.val()])],
      [1, () => C(['EVAL', body("return {1, 2.5, true, false, nil, 'x'}"), '0'])],
      [1, () => C(['EVAL', body("return redis.status_reply('" + x.tag() + "ok')"), '0'])],
      [1, () => C(['EVAL', body("return redis.error_reply('" + x.tag() + "failed')"), '0'])],
      [1, () => C(['EVAL', body("return redis.call('INCR', '" + x.key('n') + "')"), '0'])],
      [1, () => C(['EVAL', body("return redis.call('LPUSH', KEYS[1], ARGV[1])"), '1', x.anyKey(), x.val()])],
      [1, () => C(['EVAL', body("return redis.pcall('LPUSH', KEYS[1], 'v')"), '1', x.anyKey()])],
      [1, () => C(['EVAL', body("redis.setresp(3); return redis.call('HGETALL', KEYS[1])"), '1', x.key('h')], { cmp: 'pairs' })],
      [1, () => C(['EVAL', body("redis.setresp(3); return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')"), '1', x.key('z')])],
      [1, () => C(['EVAL', body('return {double=3.25}'), '0'])],
      [1, () => C(['EVAL', body('return nosuchglobal'), '0'])],
      [1, () => C(['EVAL', body('return ('), '0'])],
      [1, () => C(['EVAL', body("return redis.call('nosuchcommand')"), '0'])],
      [1, () => C(['EVAL', body('return 1'), r.pick(['2', '-1', 'x']), s()])],
      [1, () => C(['EVAL_RO', body("return redis.call('GET', KEYS[1])"), '1', s()])],
      [1, () => C(['EVAL_RO', body("return redis.call('SET', KEYS[1], 'x')"), '1', s()])],
      [2, () => {
        const text = body(`return {'${x.uniq()}', redis.call('EXISTS', KEYS[1])}`);
        return C(['SCRIPT', 'LOAD', text]);
      }],
      [2, () => {
        // Either a script this connection loaded or evaluated before (same text), or one never seen.
        const text = body(r.chance(0.5) ? "return redis.call('GET', KEYS[1])" : `return '${x.uniq()}'`);
        return C(['EVALSHA', sha1(text), '1', s()]);
      }],
      [1, () => C(['SCRIPT', 'EXISTS', sha1(body("return redis.call('GET', KEYS[1])")), sha1(body(`return '${x.uniq()}'`))])],
    ];
    return r.weighted(scripts)();
  },
};
