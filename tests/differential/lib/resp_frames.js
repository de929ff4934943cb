'use strict';
// RESP2/RESP3 frames with their exact bytes. A frame is
//   { t: type byte as a char, raw: Buffer of the whole frame, s?: scalar text (latin1),
//     items?: child frames (maps flattened key, value, key, value...) }
// so replies can be compared byte for byte, and still be looked into where a command's answer
// legitimately differs between servers (an id, a set's order, a TTL that ticked).

const NEED_MORE = null;

function lineEnd(buf, from) {
  return buf.indexOf('\r\n', from, 'latin1');
}

// Returns [frame, next] or NEED_MORE. Throws on bytes that are not RESP.
function parseFrame(buf, pos) {
  if (pos >= buf.length) return NEED_MORE;
  const t = String.fromCharCode(buf[pos]);
  const eol = lineEnd(buf, pos + 1);
  if (eol < 0) return NEED_MORE;
  const line = buf.toString('latin1', pos + 1, eol);
  const after = eol + 2;
  const scalar = () => [{ t, raw: buf.subarray(pos, after), s: line }, after];
  const bulk = () => {
    const len = Number(line);
    if (!Number.isInteger(len)) throw new Error(`bad bulk length ${JSON.stringify(line)}`);
    if (len < 0) return [{ t, raw: buf.subarray(pos, after), s: null }, after];
    if (buf.length < after + len + 2) return NEED_MORE;
    if (buf[after + len] !== 13 || buf[after + len + 1] !== 10) throw new Error('bad bulk terminator');
    return [{ t, raw: buf.subarray(pos, after + len + 2), s: buf.toString('latin1', after, after + len) }, after + len + 2];
  };
  const aggregate = (mult) => {
    const n = Number(line);
    if (!Number.isInteger(n)) throw new Error(`bad aggregate length ${JSON.stringify(line)}`);
    if (n < 0) return [{ t, raw: buf.subarray(pos, after), s: null, items: null }, after];
    const items = [];
    let p = after;
    for (let i = 0; i < n * mult; i++) {
      const r = parseFrame(buf, p);
      if (r === NEED_MORE) return NEED_MORE;
      items.push(r[0]);
      p = r[1];
    }
    return [{ t, raw: buf.subarray(pos, p), items }, p];
  };
  switch (t) {
    case '+':
    case '-':
    case ':':
    case '_':
    case ',':
    case '#':
    case '(':
      return scalar();
    case '$':
    case '=':
    case '!':
      return bulk();
    case '*':
    case '~':
    case '>':
      return aggregate(1);
    case '%':
    case '|':
      return aggregate(2);
    default:
      throw new Error(`not RESP: type byte 0x${buf[pos].toString(16)}`);
  }
}

// Splits a byte stream into top-level frames.
class FrameReader {
  constructor() {
    this.buf = Buffer.alloc(0);
  }

  // Returns the frames completed by `chunk`; each frame's raw bytes are its own copy.
  feed(chunk) {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out = [];
    let pos = 0;
    for (;;) {
      const r = parseFrame(this.buf, pos);
      if (r === NEED_MORE) break;
      out.push(r[1] - pos);
      pos = r[1];
    }
    const frames = [];
    let p = 0;
    for (const len of out) {
      // Re-parse from an owned copy so frames do not pin the (possibly large) read buffer.
      const own = Buffer.from(this.buf.subarray(p, p + len));
      frames.push(parseFrame(own, 0)[0]);
      p += len;
    }
    this.buf = pos === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(pos);
    return frames;
  }

  get pendingBytes() {
    return this.buf.length;
  }
}

function toBuf(a) {
  return Buffer.isBuffer(a) ? a : Buffer.from(String(a), 'latin1');
}

function encodeMultibulk(args) {
  const parts = [Buffer.from(`*${args.length}\r\n`, 'latin1')];
  for (const a of args) {
    const b = toBuf(a);
    parts.push(Buffer.from(`$${b.length}\r\n`, 'latin1'), b, Buffer.from('\r\n', 'latin1'));
  }
  return Buffer.concat(parts);
}

// Inline form, as redis-cli's "telnet" style: plain words, or double-quoted with escapes.
function encodeInline(args, quoted) {
  const words = args.map((a) => {
    const s = toBuf(a).toString('latin1');
    if (!quoted) return s;
    let q = '"';
    for (const ch of s) {
      const c = ch.charCodeAt(0);
      if (ch === '"' || ch === '\\') q += `\\${ch}`;
      else if (c < 32 || c > 126) q += `\\x${c.toString(16).padStart(2, '0')}`;
      else q += ch;
    }
    return `${q}"`;
  });
  return Buffer.from(`${words.join(' ')}\r\n`, 'latin1');
}

// Whether args can go inline unquoted: no whitespace, quotes or control bytes, and not empty.
function inlineSafe(args) {
  return args.every((a) => {
    const s = toBuf(a).toString('latin1');
    return s.length > 0 && s.length < 1000 && /^[\x21-\x7e]+$/.test(s) && !/["'\\]/.test(s);
  });
}

// Short readable form of a frame for reports: *2[$3"foo" :1].
function show(frame, max = 400) {
  const out = [];
  let len = 0;
  const walk = (f) => {
    if (len > max) return;
    let s;
    if (f.items === undefined) {
      s = f.s === null ? `${f.t}nil` : `${f.t}${JSON.stringify(f.s.length > 120 ? `${f.s.slice(0, 120)}...(${f.s.length})` : f.s)}`;
      if ('+-:_,#('.includes(f.t)) s = f.s === null ? `${f.t}nil` : `${f.t}${f.s}`;
      out.push(s);
      len += s.length;
      return;
    }
    if (f.items === null) {
      out.push(`${f.t}nil`);
      return;
    }
    out.push(`${f.t}${f.items.length / ('%|'.includes(f.t) ? 2 : 1)}[`);
    f.items.forEach((c, i) => {
      if (i) out.push(' ');
      walk(c);
    });
    out.push(']');
  };
  walk(frame);
  const s = out.join('');
  return s.length > max ? `${s.slice(0, max)}...` : s;
}

module.exports = { FrameReader, parseFrame, encodeMultibulk, encodeInline, inlineSafe, show, toBuf };
