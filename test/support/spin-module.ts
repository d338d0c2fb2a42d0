import { leb, name, section, vector, WASM_HEADER } from './wasm-encoding';

/** Signed LEB128 (i32.const immediates). */
const sleb = (value: number): number[] => {
  const out: number[] = [];
  let n = value | 0;
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
};

/**
 * A WASI command that counts to `iterations` and exits 0 with no output: a task that takes a while (a few
 * hundred milliseconds for 10^9), built byte by byte so it needs no toolchain. Imports nothing.
 */
export function spinModule(iterations: number): Buffer {
  const body = [
    ...vector([[1, 0x7f]]), // one i32 local
    0x03,
    0x40, // loop
    0x20,
    0x00,
    0x41,
    0x01,
    0x6a,
    0x22,
    0x00, // local.get 0; i32.const 1; i32.add; local.tee 0
    0x41,
    ...sleb(iterations),
    0x49,
    0x0d,
    0x00, // i32.const n; i32.lt_u; br_if 0
    0x0b, // end loop
    0x0b, // end function
  ];
  return Buffer.from([
    ...WASM_HEADER,
    ...section(1, vector([[0x60, 0x00, 0x00]])),
    ...section(3, vector([[0x00]])),
    ...section(5, vector([[0x00, 0x01]])),
    ...section(
      7,
      vector([
        [...name('_start'), 0x00, 0x00],
        [...name('memory'), 0x02, 0x00],
      ]),
    ),
    ...section(10, vector([[...leb(body.length), ...body]])),
  ]);
}
