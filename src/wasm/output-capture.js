// @ts-check
'use strict';

/**
 * Collects up to `max` bytes of a guest's stdout or stderr, in both runtimes' worker threads (plain
 * JavaScript, like them, so it runs from src/ in tests and from dist/ once copied as an asset).
 */
class Capture {
  /** @param {number} max */
  constructor(max) {
    this.max = max;
    this.length = 0;
    /** @type {Uint8Array[]} */
    this.chunks = [];
  }

  /**
   * Keeps what fits, copied (the guest's memory changes under a view). Returns false once more than `max`
   * bytes were offered: the caller stops the guest with `output_limit`.
   * @param {Uint8Array} bytes
   */
  push(bytes) {
    // An empty write keeps nothing: a guest looping on them filled the worker's heap with empty chunks.
    if (bytes.length === 0) return true;
    const room = this.max - this.length;
    if (bytes.length > room) {
      if (room > 0) this.chunks.push(bytes.slice(0, room));
      this.length = this.max;
      return false;
    }
    this.chunks.push(bytes.slice());
    this.length += bytes.length;
    return true;
  }

  /** Everything kept, in an ArrayBuffer of its own (not Node's shared pool), so it can be transferred. */
  bytes() {
    if (this.chunks.length === 1) return this.chunks[0]; // a slice: its own ArrayBuffer, exactly
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}

module.exports = { Capture };
