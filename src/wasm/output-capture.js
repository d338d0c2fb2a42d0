// @ts-check
'use strict';

/**
 * Small writes are copied into blocks of this size: one buffer per write (a program that putc()s) filled the
 * guest worker's 64 MB heap long before the output cap, with ~300 000 one-byte writes.
 */
const BLOCK_BYTES = 64 * 1024;

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
    /** Bytes used in the last chunk (a block being filled). */
    this.used = 0;
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
    const kept = bytes.length > room ? bytes.subarray(0, room) : bytes;
    this.append(kept);
    return bytes.length <= room;
  }

  /** @param {Uint8Array} bytes */
  append(bytes) {
    if (bytes.length === 0) return;
    const last = this.chunks[this.chunks.length - 1];
    if (last && this.used + bytes.length <= last.length) {
      last.set(bytes, this.used);
      this.used += bytes.length;
    } else if (bytes.length >= BLOCK_BYTES) {
      this.seal();
      this.chunks.push(bytes.slice());
      this.used = bytes.length;
    } else {
      this.seal();
      const block = new Uint8Array(Math.min(BLOCK_BYTES, this.max - this.length));
      block.set(bytes);
      this.chunks.push(block);
      this.used = bytes.length;
    }
    this.length += bytes.length;
  }

  /** Trims the last block to what it holds, before another chunk follows it. */
  seal() {
    const index = this.chunks.length - 1;
    if (index >= 0 && this.used < this.chunks[index].length)
      this.chunks[index] = this.chunks[index].slice(0, this.used);
  }

  /** Everything kept, in an ArrayBuffer of its own (not Node's shared pool), so it can be transferred. */
  bytes() {
    this.seal();
    if (this.chunks.length === 1) return this.chunks[0]; // its own ArrayBuffer, exactly
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
