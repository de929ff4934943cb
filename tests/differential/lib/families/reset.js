'use strict';
// RESET: back to a fresh connection's state (RESP2, db 0, no MULTI/WATCH/subscriptions/name,
// replies on), also inside MULTI, while subscribed, with replies off, and pipelined behind
// commands still in flight.

const { C } = require('../ctx');

module.exports = {
  name: 'reset',
  weight: 1,
  plain: false,
  gen() {
    return C(['RESET'], { replyWhenOff: true, effect: (s) => s.reset() });
  },
};
