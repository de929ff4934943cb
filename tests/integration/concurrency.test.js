'use strict';
// Many clients at once, each on its own keys: every reply must belong to the
// client that asked, with nothing lost or swapped between connections.

const assert = require('node:assert/strict');
const { describe } = require('node:test');
const Redis = require('ioredis');
const h = require('./harness');

describe('concurrency', () => {
  let redis;
  let kw;

  h.withServers((r, k) => {
    redis = r;
    kw = k;
  });

  h.test('200 concurrent clients each SET/GET 50 keys of their own', { timeout: 90000 }, async () => {
    const nClients = 200;
    const nKeys = 50;
    const clients = [];
    try {
      for (let i = 0; i < nClients; i++) {
        // Alternate protocols so both reply paths carry load.
        clients.push(new Redis({
          port: kw.port,
          host: h.HOST,
          protocol: i % 2 === 0 ? 3 : 2,
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          retryStrategy: () => null,
          enableOfflineQueue: false,
        }));
      }
      await h.within(30000, Promise.all(clients.map((c) => c.connect())), 'connecting 200 clients');

      const mismatches = [];
      await h.within(60000, Promise.all(clients.map(async (c, ci) => {
        for (let k = 0; k < nKeys; k++) {
          const key = `kw:conc:${ci}:${k}`;
          const val = `client${ci}-key${k}-${'x'.repeat((ci * 7 + k) % 200)}`;
          const s = await c.set(key, val);
          if (s !== 'OK') mismatches.push(`SET ${key} -> ${s}`);
          const got = await c.get(key);
          if (got !== val) mismatches.push(`GET ${key} -> ${JSON.stringify(got)} expected ${JSON.stringify(val)}`);
        }
      })), '200 clients x 50 SET/GET');
      assert.deepEqual(mismatches.slice(0, 20), [], `${mismatches.length} mismatched replies`);

      // Every write landed where it should.
      const check = clients[0];
      for (let ci = 0; ci < nClients; ci++) {
        const keys = Array.from({ length: nKeys }, (_, k) => `kw:conc:${ci}:${k}`);
        const vals = await check.mget(keys);
        vals.forEach((v, k) => {
          assert.equal(v, `client${ci}-key${k}-${'x'.repeat((ci * 7 + k) % 200)}`, keys[k]);
        });
      }
    } finally {
      for (const c of clients) c.disconnect();
    }
  });
});
