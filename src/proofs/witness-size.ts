import { kindOf, Reader, sections, skipImportDesc } from '../wasm/wasm-binary';

/**
 * The witness a circom witness generator makes, read from the binary without running it: its exported
 * `getWitnessSize` is `i32.const n; end`. Null when the module is not shaped so (another generator): no check.
 */
export function wasmWitnessSize(wasm: Uint8Array): number | null {
  try {
    let importedFunctions = 0;
    let exported: number | null = null;
    let code: { start: number; end: number } | null = null;
    for (const s of sections(wasm)) {
      const r = new Reader(wasm, s.contentStart, s.end);
      if (s.id === 2) {
        for (let n = r.u32(); n > 0; n--) {
          r.name();
          r.name();
          const kind = kindOf(r.byte());
          if (kind === 'function') importedFunctions++;
          skipImportDesc(r, kind);
        }
      } else if (s.id === 7) {
        for (let n = r.u32(); n > 0; n--) {
          const name = r.name();
          const kind = r.byte();
          const index = r.u32();
          if (name === 'getWitnessSize' && kind === 0) exported = index;
        }
      } else if (s.id === 10) code = { start: s.contentStart, end: s.end };
    }
    if (exported === null || code === null || exported < importedFunctions) return null;
    const r = new Reader(wasm, code.start, code.end);
    const count = r.u32();
    const target = exported - importedFunctions;
    if (target >= count) return null;
    for (let i = 0; i < target; i++) r.skip(r.u32());
    const size = r.u32();
    const end = r.pos + size;
    // No locals, i32.const n, end.
    if (r.u32() !== 0 || r.byte() !== 0x41) return null;
    const witness = r.i32();
    return r.byte() === 0x0b && r.pos === end ? witness : null;
  } catch {
    return null;
  }
}

/**
 * The witness a snarkjs proving key expects (its header's nVars: Groth16, PLONK and fflonk keys alike begin
 * section 2 with n8q, q, n8r, r, nVars). Null when the bytes are not shaped so.
 */
export function zkeyWitnessSize(zkey: Buffer): number | null {
  try {
    if (zkey.subarray(0, 4).toString('latin1') !== 'zkey') return null;
    let at = 12;
    for (let n = zkey.readUInt32LE(8); n > 0; n--) {
      const type = zkey.readUInt32LE(at);
      const size = Number(zkey.readBigUInt64LE(at + 4));
      if (type === 2) {
        let h = at + 12;
        h += 4 + zkey.readUInt32LE(h); // n8q, q
        h += 4 + zkey.readUInt32LE(h); // n8r, r
        return zkey.readUInt32LE(h);
      }
      at += 12 + size;
    }
    return null;
  } catch {
    return null;
  }
}
