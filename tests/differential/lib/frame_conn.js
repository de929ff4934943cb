'use strict';
// One raw client connection that hands out whole reply frames, in order, with their bytes.

const net = require('node:net');
const { FrameReader } = require('./resp_frames');

class FrameConn {
  constructor(socket) {
    this.socket = socket;
    this.reader = new FrameReader();
    this.frames = [];
    this.waiter = null;
    this.isClosed = false;
    this.parseError = null;
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.isClosed = true;
        this.wake();
        resolve();
      });
    });
    socket.on('error', () => {}); // resets end up as 'close'
    socket.on('data', (chunk) => {
      try {
        for (const f of this.reader.feed(chunk)) this.frames.push(f);
      } catch (e) {
        this.parseError = e;
        socket.destroy();
      }
      this.wake();
    });
  }

  static connect(port, host = '127.0.0.1', timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host });
      s.setNoDelay(true);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`connect to ${host}:${port} timed out`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(new FrameConn(s));
      });
      s.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  wake() {
    const w = this.waiter;
    if (w && (this.frames.length >= w.n || this.isClosed)) {
      this.waiter = null;
      clearTimeout(w.timer);
      w.resolve();
    }
  }

  write(buf) {
    if (!this.isClosed) this.socket.write(buf);
  }

  // Resolves { frames, error }: error is null, 'timeout' or 'closed' (then frames holds what came).
  async read(n, timeoutMs) {
    if (this.frames.length < n && !this.isClosed) {
      await new Promise((resolve) => {
        this.waiter = { n, resolve, timer: setTimeout(() => { this.waiter = null; resolve(); }, timeoutMs) };
      });
    }
    const frames = this.frames.splice(0, Math.min(n, this.frames.length));
    let error = null;
    if (frames.length < n) {
      if (this.parseError) error = `unparsable bytes: ${this.parseError.message}`;
      else error = this.isClosed ? 'closed' : 'timeout';
    }
    return { frames, error };
  }

  // Frames that arrived but nobody asked for (yet).
  surplus() {
    return this.frames.splice(0);
  }

  async waitClosed(timeoutMs) {
    let timer;
    const r = await Promise.race([
      this.closed.then(() => true),
      new Promise((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return r;
  }

  destroy() {
    this.socket.destroy();
  }
}

module.exports = { FrameConn };
