'use strict';
// A Lua loop of a few tens of milliseconds: while it runs, the server serves nobody else, so
// every other client's pipeline queues up behind it (in keywarden: on the shared upstream
// connection). The loop count is calibrated at start to the reference server's speed.

const { C } = require('../ctx');

module.exports = {
  name: 'busy',
  weight: 0.4,
  plain: false,
  gen(x) {
    const loops = Math.max(1000, Math.round(x.opts.busyLoopsPerMs * x.rng.int(30, 90)));
    return C(['EVAL', `local n = 0 for i = 1, tonumber(ARGV[1]) do n = n + 1 end return n -- ${x.tag()}busy`, '0', String(loops)], { blockMs: 2000 });
  },
};
