'use strict';
// A deliberately small RESP2/RESP3 reader and a raw socket client, so the
// protocol tests see exactly the bytes the server sends, with no client
// library smoothing over framing or type differences.

const net = require('node:net');
const tls = require('node:tls');

// A socket to `target`: a port on 127.0.0.1, or {port, host} / {path} (Unix socket), with `tls`
// (node tls.connect options: ca, cert, key, servername...) for TLS. `onReady` runs once the
// connection, and its TLS handshake, is up.
function connectSocket(target, onReady) {
  const where = typeof target === 'number' ? { port: target, host: '127.0.0.1' } : { host: '127.0.0.1', ...target };
  if (where.path) delete where.host;
  if (where.tls) {
    const { tls: tlsOpts, ...rest } = where;
    return tls.connect({ ...rest, ...tlsOpts }, onReady);
  }
  const s = net.connect(where);
  s.once('connect', onReady);
  return s;
}

function describeTarget(target) {
  if (typeof target === 'number') return `127.0.0.1:${target}`;
  const where = target.path ? target.path : `${target.host || '127.0.0.1'}:${target.port}`;
  return target.tls ? `${where} (TLS)` : where;
}

class RespError {
  constructor(message) {
    this.message = message;
  }
  toString() {
    return `RespError(${this.message})`;
  }
}

// RESP3 push frames are kept apart from arrays: mixing them up is exactly the
// kind of bug a proxy can have.
class RespPush {
  constructor(items) {
    this.items = items;
  }
}

const NEED_MORE = Symbol('need-more');

function findCrlf(buf, from) {
  const i = buf.indexOf('\r\n', from, 'latin1');
  return i;
}

// Returns [value, nextOffset] or NEED_MORE.
function parseAt(buf, pos, opts) {
  if (pos >= buf.length) return NEED_MORE;
  const type = String.fromCharCode(buf[pos]);
  const eol = findCrlf(buf, pos + 1);
  if (eol < 0) return NEED_MORE;
  const line = buf.toString('latin1', pos + 1, eol);
  const after = eol + 2;
  const bulk = (len) => {
    if (len < 0) return [null, after];
    if (buf.length < after + len + 2) return NEED_MORE;
    const data = buf.subarray(after, after + len);
    if (buf[after + len] !== 13 || buf[after + len + 1] !== 10) {
      throw new Error(`bad bulk terminator at ${after + len}`);
    }
    return [opts.buffers ? Buffer.from(data) : data.toString('utf8'), after + len + 2];
  };
  const aggregate = (count, build) => {
    if (count < 0) return [null, after];
    const items = [];
    let p = after;
    for (let i = 0; i < count; i++) {
      const r = parseAt(buf, p, opts);
      if (r === NEED_MORE) return NEED_MORE;
      items.push(r[0]);
      p = r[1];
    }
    return [build(items), p];
  };
  switch (type) {
    case '+':
      return [line, after];
    case '-':
      return [new RespError(line), after];
    case ':':
      return [opts.intStrings ? line : Number(line), after];
    case '$':
      return bulk(Number(line));
    case '*':
      return aggregate(Number(line), (items) => items);
    // RESP3
    case '_':
      return [null, after];
    case ',': {
      const v = line === 'inf' ? Infinity : line === '-inf' ? -Infinity : Number(line);
      return [v, after];
    }
    case '#':
      return [line === 't', after];
    case '(':
      return [BigInt(line), after];
    case '=': {
      const r = bulk(Number(line));
      if (r === NEED_MORE) return r;
      const s = typeof r[0] === 'string' ? r[0].slice(4) : r[0].subarray(4);
      return [s, r[1]];
    }
    case '!': {
      const r = bulk(Number(line));
      if (r === NEED_MORE) return r;
      return [new RespError(r[0].toString()), r[1]];
    }
    case '%':
      return aggregate(Number(line) * 2, (items) => {
        const m = new Map();
        for (let i = 0; i < items.length; i += 2) {
          const k = Buffer.isBuffer(items[i]) ? items[i].toString('latin1') : items[i];
          m.set(k, items[i + 1]);
        }
        return m;
      });
    case '~':
      return aggregate(Number(line), (items) => items);
    case '>':
      return aggregate(Number(line), (items) => new RespPush(items));
    case '|': {
      // Attributes precede the real reply; tests do not use them, skip them.
      const r = aggregate(Number(line) * 2, () => null);
      if (r === NEED_MORE) return r;
      return parseAt(buf, r[1], opts);
    }
    default:
      throw new Error(`unknown RESP type byte 0x${buf[pos].toString(16)} at ${pos}`);
  }
}

class RespReader {
  constructor(opts = {}) {
    // intStrings: integers as their decimal text (exact beyond 2^53).
    this.opts = { buffers: !!opts.buffers, intStrings: !!opts.intStrings };
    this.buf = Buffer.alloc(0);
    this.types = []; // first byte of each parsed top-level reply
  }
  feed(chunk) {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out = [];
    let pos = 0;
    for (;;) {
      const r = parseAt(this.buf, pos, this.opts);
      if (r === NEED_MORE) break;
      out.push({ value: r[0], type: String.fromCharCode(this.buf[pos]) });
      pos = r[1];
    }
    this.buf = pos === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(pos);
    return out;
  }
}

function encodeCommand(args) {
  const parts = [Buffer.from(`*${args.length}\r\n`, 'latin1')];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a), 'utf8');
    parts.push(Buffer.from(`$${b.length}\r\n`, 'latin1'), b, Buffer.from('\r\n', 'latin1'));
  }
  return Buffer.concat(parts);
}

class RawClient {
  constructor(socket, opts) {
    this.socket = socket;
    this.reader = new RespReader(opts);
    this.replies = [];
    this.waiters = [];
    this.isClosed = false;
    this.lastType = null;
    this.parseError = null;
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.isClosed = true;
        for (const w of this.waiters.splice(0)) w.reject(new Error('connection closed'));
        resolve();
      });
    });
    socket.on('error', () => {}); // ECONNRESET and friends end up as 'close'
    socket.on('data', (chunk) => {
      let items;
      try {
        items = this.reader.feed(chunk);
      } catch (e) {
        this.parseError = e;
        socket.destroy();
        return;
      }
      for (const it of items) {
        const w = this.waiters.shift();
        if (w) {
          this.lastType = it.type;
          w.resolve(it.value);
        } else {
          this.replies.push(it);
        }
      }
    });
  }

  static connect(port, host = '127.0.0.1', opts = {}) {
    return RawClient.open({ port, host }, opts);
  }

  // A client on any target connectSocket takes (TCP, Unix socket, TLS).
  static open(target, opts = {}) {
    return new Promise((resolve, reject) => {
      let timer = null;
      const s = connectSocket(target, () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(new RawClient(s, opts));
      });
      if (!target.path) s.setNoDelay(true);
      timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`connect to ${describeTarget(target)} timed out`));
      }, opts.connectTimeoutMs ?? 5000);
      s.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  write(data) {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  send(...args) {
    this.write(encodeCommand(args));
  }

  // Resolves with the next reply; error replies resolve as RespError so tests
  // can assert on their text. Rejects on timeout or when the server closes.
  read(timeoutMs = 5000) {
    const it = this.replies.shift();
    if (it) {
      this.lastType = it.type;
      return Promise.resolve(it.value);
    }
    if (this.isClosed) {
      const why = this.parseError ? `unparsable reply: ${this.parseError.message}` : 'connection closed';
      return Promise.reject(new Error(why));
    }
    return new Promise((resolve, reject) => {
      const w = {
        resolve: (v) => {
          clearTimeout(w.timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(w.timer);
          reject(e);
        },
      };
      w.timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  async call(...args) {
    this.send(...args);
    return this.read();
  }

  async readMany(n, timeoutMs = 30000) {
    const deadline = Date.now() + timeoutMs;
    const out = [];
    for (let i = 0; i < n; i++) out.push(await this.read(Math.max(1, deadline - Date.now())));
    return out;
  }

  // Resolves true when the server closed the connection within timeoutMs.
  async waitClosed(timeoutMs = 5000) {
    let timer;
    const timeout = new Promise((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const r = await Promise.race([this.closed.then(() => true), timeout]);
    clearTimeout(timer);
    return r;
  }

  close() {
    this.socket.destroy();
  }

  // Half-close and wait for the server to close too, so it has certainly
  // processed the disconnect (matters for client-count limits).
  async quitGracefully(timeoutMs = 5000) {
    this.socket.end();
    const ok = await this.waitClosed(timeoutMs);
    if (!ok) this.socket.destroy();
    return ok;
  }
}

module.exports = { RespError, RespPush, RespReader, RawClient, connectSocket, describeTarget, encodeCommand };
