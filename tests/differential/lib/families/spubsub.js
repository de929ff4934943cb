'use strict';
// Sharded pub/sub: SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH (see pubsub.js).

module.exports = require('./pubsub').makeFamily(true);
