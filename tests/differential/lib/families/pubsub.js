'use strict';
// SUBSCRIBE / PSUBSCRIBE (family pubsub) and SSUBSCRIBE (family spubsub) and their UNSUBSCRIBEs with 0..N channels (subscribed or
// not), PUBLISH to the client's own channels from the connection itself (RESP3) or from a second
// connection of the same client, PING and refused commands in RESP2 subscribed mode, PUBSUB
// introspection limited to the client's own channels. Only the client itself subscribes to its
// channels, so every receiver count is known.

const { C } = require('../ctx');

function globMatch(pattern, text) {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else if (ch === '[') {
      const j = pattern.indexOf(']', i);
      re += pattern.slice(i, j + 1);
      i = j;
    } else re += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`${re}$`).test(text);
}

// Frames a PUBLISH to `channel` makes this connection receive.
function receivers(st, channel) {
  let n = st.channels.has(channel) ? 1 : 0;
  for (const p of st.patterns) if (globMatch(p, channel)) n++;
  return n;
}

function some(x, make, lo, hi) {
  const out = [];
  const n = x.rng.int(lo, hi);
  for (let i = 0; i < n; i++) out.push(make());
  return out;
}

// shard: the sharded commands (SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH) instead of the others.
const makeFamily = (shard) => ({
  name: shard ? 'spubsub' : 'pubsub',
  weight: shard ? 1.5 : 5,
  plain: false,
  when: (st) => !st.inMulti && st.reply === 'on',
  gen(x) {
    const r = x.rng;
    const st = x.st;
    const shardChan = () => `${x.chanPrefix()}:s${r.int(0, 2)}`;
    // With a cluster upstream, PUBLISH counts the receivers of the node it ran on and PUBSUB
    // NUMSUB/CHANNELS/SHARDCHANNELS answer for one node: compared by type, or left out.
    const cluster = x.opts.cluster;
    const perNode = cluster ? 0 : 1;
    const sub = (kind, list) => C([kind, ...list], {
      base: list.length,
      effect: (s) => {
        for (const c of list) (kind === 'SUBSCRIBE' ? s.channels : kind === 'PSUBSCRIBE' ? s.patterns : s.shardChannels).add(c);
        s.everSubscribed = true;
        s.hadSubscriptions = true;
      },
    });
    const unsub = (kind, list) => {
      const set = (s) => (kind === 'UNSUBSCRIBE' ? s.channels : kind === 'PUNSUBSCRIBE' ? s.patterns : s.shardChannels);
      return C([kind, ...list], {
        base: list.length ? list.length : Math.max(1, set(st).size),
        cmp: list.length ? undefined : 'unsubAll',
        effect: (s) => {
          if (list.length) for (const c of list) set(s).delete(c);
          else set(s).clear();
        },
      });
    };
    const publishHere = () => {
      const ch = shard ? shardChan() : x.chan();
      const n = shard ? (st.shardChannels.has(ch) ? 1 : 0) : receivers(st, ch);
      return C([shard ? 'SPUBLISH' : 'PUBLISH', ch, x.val()], { base: 1 + n, cmp: n > 1 ? 'anyOrder' : cluster && !shard ? 'type' : undefined });
    };
    const publishAux = () => {
      const ch = shard ? shardChan() : x.chan();
      const n = shard ? (st.shardChannels.has(ch) ? 1 : 0) : receivers(st, ch);
      return { kind: 'aux', cmds: [C([shard ? 'SPUBLISH' : 'PUBLISH', ch, x.val()], cluster && !shard ? { cmp: 'type' } : {})], mainFrames: n };
    };
    const choices = shard ? [
      [4, () => sub('SSUBSCRIBE', some(x, shardChan, 1, 3))],
      [3, () => unsub('SUNSUBSCRIBE', some(x, shardChan, 0, 3))],
      [0.3, () => C(['SSUBSCRIBE'], { rejected: true })],
      [3, publishAux],
      [perNode, () => ({ kind: 'aux', cmds: [C(['PUBSUB', 'SHARDNUMSUB', shardChan(), shardChan()])], mainFrames: 0 })],
      [perNode * 0.5, () => ({ kind: 'aux', cmds: [C(['PUBSUB', 'SHARDCHANNELS', `${x.chanPrefix()}:*`], { cmp: 'unordered' })], mainFrames: 0 })],
      [1, () => C(['PING', ...(r.chance(0.5) ? [x.val()] : [])])],
    ] : [
      [4, () => sub('SUBSCRIBE', some(x, () => x.chan(), 1, 4))],
      [2, () => sub('PSUBSCRIBE', some(x, () => x.chanPattern(), 1, 3))],
      [3, () => unsub('UNSUBSCRIBE', some(x, () => x.chan(), 0, 4))],
      [2, () => unsub('PUNSUBSCRIBE', some(x, () => x.chanPattern(), 0, 3))],
      [0.3, () => C(['SUBSCRIBE'], { rejected: true })],
      [4, publishAux],
      [perNode, () => ({ kind: 'aux', cmds: [C(['PUBSUB', 'NUMSUB', x.chan(), x.chan()])], mainFrames: 0 })],
      [perNode * 0.5, () => ({ kind: 'aux', cmds: [C(['PUBSUB', 'CHANNELS', `${x.chanPrefix()}:*`], { cmp: 'unordered' })], mainFrames: 0 })],
      [1, () => C(['PING', ...(r.chance(0.5) ? [x.val()] : [])])],
    ];
    if (st.restricted) {
      // Refused in RESP2 subscribed mode; keywarden must refuse them the same way.
      choices.push([1.5, () => C(r.pick([['GET', x.key('s')], ['ECHO', x.val()], ['HELLO', '2'], ['SELECT', '0'], ['CLIENT', 'GETNAME'], ['MULTI'], ['PUBLISH', x.chan(), x.val()], ['CLIENT', 'REPLY', 'OFF']]))]);
    } else {
      choices.push([2, publishHere]);
      if (!shard) {
        choices.push([perNode * 0.5, () => C(['PUBSUB', 'NUMSUB', x.chan(), x.chan()])]);
        choices.push([0.3, () => C(['PUBSUB', 'NUMPAT'], { cmp: 'type' })]);
      } else {
        choices.push([perNode * 0.5, () => C(['PUBSUB', 'SHARDNUMSUB', shardChan()])]);
      }
    }
    return r.weighted(choices)();
  },
});

module.exports = makeFamily(false);
module.exports.makeFamily = makeFamily;
module.exports.globMatch = globMatch;
