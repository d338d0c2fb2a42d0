/**
 * Distinct, valid WASI commands of a chosen size, written byte by byte (no toolchain): `_start` does nothing,
 * and the rest of the size is code in other functions (`i32.const <seeded>; drop` pairs), so each module costs
 * an engine real compile work and compiled code in proportion to its size, and no two seeds share a hash.
 */
import { leb } from './leb128';
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) return [...out, b];
    out.push(b | 0x80);
  }
};
const name = (s: string) => [...leb(s.length), ...Buffer.from(s)];
const section = (id: number, body: number[] | Buffer): Buffer =>
  Buffer.concat([Buffer.from([id, ...leb(body.length)]), Buffer.from(body)]);

/** Bytes of code per filler function: small enough that engines compile them as ordinary functions. */
const FUNCTION_BODY_BYTES = 16 * 1024;

/** A module of about `sizeBytes` (within a few hundred bytes), distinct for each `seed`. */
export function largeModule(sizeBytes: number, seed: number): Buffer {
  const pairsPerFunction = Math.floor(FUNCTION_BODY_BYTES / 7);
  const functions = Math.max(1, Math.round(sizeBytes / (pairsPerFunction * 7 + 8)));
  const bodies: Buffer[] = [Buffer.from([2, 0, 0x0b])]; // _start: no locals, end
  for (let f = 0; f < functions; f++) {
    const code: number[] = [0];
    for (let i = 0; i < pairsPerFunction; i++) {
      // A 5-byte signed LEB keeps every pair 7 bytes, whatever the value.
      const value = ((seed * 1_000_003 + f * 7919 + i) | 0x10000000) & 0x1fffffff;
      code.push(0x41, ...sleb(value), 0x1a);
    }
    code.push(0x0b);
    bodies.push(Buffer.concat([Buffer.from(leb(code.length)), Buffer.from(code)]));
  }
  const count = functions + 1;
  return Buffer.concat([
    Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]),
    section(1, [1, 0x60, 0, 0]),
    section(3, [...leb(count), ...new Array<number>(count).fill(0)]),
    section(5, [1, 0x01, 1, 1]),
    section(7, [2, ...name('_start'), 0x00, 0, ...name('memory'), 0x02, 0]),
    section(10, Buffer.concat([Buffer.from(leb(count)), ...bodies])),
  ]);
}
