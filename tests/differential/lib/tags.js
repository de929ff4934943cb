'use strict';
// Every key, channel and value a client uses carries its client number as a tag:
//   keys      dt<N>.<gen>:<name>
//   channels  ch<N>.<gen>:<name>
//   values    c<N>.<text>
// Random filler is lowercase letters (or bytes outside printable ASCII), so a tag can only
// appear where the generator put it. A reply to client N carrying any other number is another
// client's data: the worst thing a proxy can do.

const TAG = /(?<![A-Za-z0-9])(?:dt|ch?)(\d+)\./g;

// Client numbers other than `self` that occur in `buf`.
function foreignNumbers(buf, self) {
  const text = Buffer.isBuffer(buf) ? buf.toString('latin1') : String(buf);
  const found = new Set();
  TAG.lastIndex = 0;
  for (let m = TAG.exec(text); m !== null; m = TAG.exec(text)) {
    if (Number(m[1]) !== self) found.add(Number(m[1]));
  }
  return [...found];
}

module.exports = { foreignNumbers };
