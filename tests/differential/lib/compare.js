'use strict';
// Reply comparison. By default two frames are equal when their bytes are; a command whose
// answer legitimately differs between two servers carries a spec saying what may differ:
//   'type'       same RESP type only (CLIENT ID, TIME element values...)
//   'shape'      same type and element count (SRANDMEMBER with a count, TIME)
//   'unordered'  same type and the same elements in any order (SMEMBERS: hash-seed order)
//   'scan'       [cursor, elements]: same cursor, elements in any order
//   'pairs'      a hash listing (HGETALL): the same field/value pairs in any order
//   'scanPairs'  HSCAN: same cursor, pairs in any order
//   'dump'       DUMP: exact, except the length only for hashtable-encoded sets and hashes
//                and for streams
//   'hello'      HELLO's map with the connection id compared by type only
//   'ignore'     nothing (still checked for other clients' tags)
//   {int: tol}   integers within tol of each other (TTL and friends)
//   {elems: [spec, ...]}  an aggregate compared element-wise (EXEC)
//   'unsubAll'   the frames of one UNSUBSCRIBE/PUNSUBSCRIBE without arguments, which Redis
//                emits in the order of its channel dict (seeded hash): the same channels in
//                any order, and the same sequence of counts.
//   'anyOrder'   the frames of one command in any order (messages for several patterns)

function isAgg(f) {
  return f.items !== undefined;
}

function sortedRaws(f) {
  return f.items.map((c) => c.raw.toString('latin1')).sort();
}

function sameFrame(spec, a, b) {
  if (spec === undefined || spec === null) return a.raw.equals(b.raw);
  if (spec === 'ignore') return true;
  if (spec === 'type') return a.t === b.t;
  if (spec === 'shape') {
    if (a.t !== b.t) return false;
    if (isAgg(a) && isAgg(b)) return (a.items === null) === (b.items === null) && (a.items === null || a.items.length === b.items.length);
    return isAgg(a) === isAgg(b);
  }
  if (spec === 'unordered') {
    if (!isAgg(a) || !isAgg(b) || a.items === null || b.items === null) return a.raw.equals(b.raw);
    if (a.t !== b.t || a.items.length !== b.items.length) return false;
    const x = sortedRaws(a);
    const y = sortedRaws(b);
    return x.every((v, i) => v === y[i]);
  }
  if (spec === 'pairs') {
    // A hash listing: field/value pairs in any order (a hashtable-encoded hash lists them in
    // hash-seed order).
    if (!isAgg(a) || !isAgg(b) || a.items === null || b.items === null) return a.raw.equals(b.raw);
    if (a.t !== b.t || a.items.length !== b.items.length || a.items.length % 2) return a.raw.equals(b.raw);
    const pairs = (f) => {
      const out = [];
      for (let i = 0; i < f.items.length; i += 2) out.push(f.items[i].raw.toString('latin1') + '\0' + f.items[i + 1].raw.toString('latin1'));
      return out.sort();
    };
    const x = pairs(a);
    const y = pairs(b);
    return x.every((v, i) => v === y[i]);
  }
  if (spec === 'scanPairs') {
    if (!isAgg(a) || !isAgg(b) || !a.items || !b.items || a.items.length !== 2 || b.items.length !== 2) return a.raw.equals(b.raw);
    return a.t === b.t && a.items[0].raw.equals(b.items[0].raw) && sameFrame('pairs', a.items[1], b.items[1]);
  }
  if (spec === 'dump') {
    // DUMP serializes a hashtable-encoded set (RDB type 2) or hash (type 4) in hash-seed order,
    // and a stream (15, 19, 21) with its consumer groups' delivery and seen times.
    if (a.t === '$' && b.t === '$' && a.s !== null && b.s !== null && a.s.charCodeAt(0) === b.s.charCodeAt(0) && [2, 4, 15, 19, 21].includes(a.s.charCodeAt(0))) return a.s.length === b.s.length;
    return a.raw.equals(b.raw);
  }
  if (spec === 'scan') {
    if (!isAgg(a) || !isAgg(b) || !a.items || !b.items || a.items.length !== 2 || b.items.length !== 2) return a.raw.equals(b.raw);
    return a.t === b.t && a.items[0].raw.equals(b.items[0].raw) && sameFrame('unordered', a.items[1], b.items[1]);
  }
  if (spec === 'hello') {
    if (!isAgg(a) || !isAgg(b) || !a.items || !b.items || a.t !== b.t || a.items.length !== b.items.length) return a.raw.equals(b.raw);
    for (let i = 0; i < a.items.length; i += 2) {
      if (!a.items[i].raw.equals(b.items[i].raw)) return false;
      const valSpec = a.items[i].s === 'id' ? 'type' : undefined;
      if (!sameFrame(valSpec, a.items[i + 1], b.items[i + 1])) return false;
    }
    return true;
  }
  if (typeof spec === 'object' && spec.int !== undefined) {
    if (a.t === ':' && b.t === ':') return Math.abs(Number(a.s) - Number(b.s)) <= spec.int;
    return a.raw.equals(b.raw);
  }
  if (typeof spec === 'object' && spec.elems) {
    if (!isAgg(a) || !isAgg(b) || !a.items || !b.items || a.t !== b.t || a.items.length !== b.items.length) return a.raw.equals(b.raw);
    if (a.items.length !== spec.elems.length) return a.raw.equals(b.raw);
    return a.items.every((c, i) => sameFrame(spec.elems[i], c, b.items[i]));
  }
  throw new Error(`unknown compare spec ${JSON.stringify(spec)}`);
}

// Compares the frames one command produced. Returns null when equal, else a reason.
function compareFrames(spec, ref, got) {
  if (ref.length !== got.length) return `expected ${ref.length} frame(s), got ${got.length}`;
  if (spec === 'anyOrder') {
    // Pub/sub messages for several matching patterns come in the order of Redis's pattern dict.
    const x = ref.map((f) => f.raw.toString('latin1')).sort();
    const y = got.map((f) => f.raw.toString('latin1')).sort();
    return x.every((v, i) => v === y[i]) ? null : 'different frames (compared in any order)';
  }
  if (spec === 'unsubAll') {
    const key = (f) => (isAgg(f) && f.items && f.items.length === 3 ? `${f.t}|${f.items[0].raw}|${f.items[1].raw}` : f.raw.toString('latin1'));
    const count = (f) => (isAgg(f) && f.items && f.items.length === 3 ? f.items[2].raw.toString('latin1') : '');
    const ka = ref.map(key).sort();
    const kb = got.map(key).sort();
    if (!ka.every((k, i) => k === kb[i])) return 'different unsubscribe frames';
    if (!ref.every((f, i) => count(f) === count(got[i]))) return 'different subscription counts';
    return null;
  }
  for (let i = 0; i < ref.length; i++) {
    if (!sameFrame(spec, ref[i], got[i])) {
      let where = '';
      const a = ref[i];
      const b = got[i];
      if (a.items && b.items && a.items.length === b.items.length) {
        const specs = spec && spec.elems && spec.elems.length === a.items.length ? spec.elems : [];
        const k = a.items.findIndex((x, j) => !sameFrame(specs[j], x, b.items[j]));
        if (k >= 0) where = ` (element ${k + 1} of ${a.items.length})`;
      }
      return (ref.length > 1 ? `frame ${i + 1} of ${ref.length} differs` : 'reply differs') + where;
    }
  }
  return null;
}

module.exports = { compareFrames, sameFrame };
