'use strict';
// Seeded pseudo-random numbers (sfc32 seeded through xmur3), so every client's command sequence
// is a pure function of (seed, run name, client number).

function xmur3(str) {
  let h = 1779033703 ^ str.length;
  for (let i = 0; i < str.length; i++) {
    h = Math.imul(h ^ str.charCodeAt(i), 3432918353);
    h = (h << 13) | (h >>> 19);
  }
  return () => {
    h = Math.imul(h ^ (h >>> 16), 2246822507);
    h = Math.imul(h ^ (h >>> 13), 3266489909);
    h ^= h >>> 16;
    return h >>> 0;
  };
}

class Rng {
  constructor(seedText) {
    const s = xmur3(String(seedText));
    this.a = s();
    this.b = s();
    this.c = s();
    this.d = s();
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32() {
    // sfc32
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  float() {
    return this.u32() / 4294967296;
  }

  // Integer in [lo, hi] (inclusive).
  int(lo, hi) {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  chance(p) {
    return this.float() < p;
  }

  pick(list) {
    return list[Math.floor(this.float() * list.length)];
  }

  // entries: [[weight, value], ...]
  weighted(entries) {
    let total = 0;
    for (const [w] of entries) total += w;
    let r = this.float() * total;
    for (const [w, v] of entries) {
      r -= w;
      if (r < 0) return v;
    }
    return entries[entries.length - 1][1];
  }

  // Lowercase letters only: random filler must never form another client's tag (see tags.js).
  letters(lo, hi) {
    const n = this.int(lo, hi);
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(97 + this.int(0, 25));
    return s;
  }

  shuffle(list) {
    const a = list.slice();
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }
}

// A fresh random 32-bit seed for a run that was not given one.
function randomSeed() {
  return String(require('node:crypto').randomInt(1, 2 ** 31 - 1));
}

module.exports = { Rng, randomSeed };
