// @ts-check
'use strict';
const { createHash } = require('node:crypto');

/** A reproducible byte stream: SHA-256(seed ‖ counter) blocks. */
function seededStream(/** @type {string} */ seed) {
  let counter = 0;
  let block = Buffer.alloc(0);
  return (/** @type {number} */ length) => {
    const out = Buffer.alloc(length);
    let filled = 0;
    while (filled < length) {
      if (block.length === 0) block = createHash('sha256').update(`${seed}:${counter++}`).digest();
      const n = Math.min(block.length, length - filled);
      block.copy(out, filled, 0, n);
      block = block.subarray(n);
      filled += n;
    }
    return out;
  };
}

module.exports = { seededStream };
