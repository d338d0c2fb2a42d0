import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { wasmWitnessSize, zkeyWitnessSize } from './witness-size';

const fixture = (name: string) => readFileSync(join(__dirname, '../../test/fixtures/zk', name));

describe('witness sizes', () => {
  it('reads what a circom witness generator makes, without running it', () => {
    expect(wasmWitnessSize(fixture('multiplier.wasm'))).toBe(4);
    expect(wasmWitnessSize(fixture('poseidon_preimage.wasm'))).toBe(417);
  });

  it('reads what a proving key expects, for each protocol', () => {
    for (const protocol of ['groth16', 'plonk', 'fflonk']) {
      expect(zkeyWitnessSize(fixture(`multiplier.${protocol}.zkey`))).toBe(4);
    }
    expect(zkeyWitnessSize(fixture('poseidon_preimage.plonk.zkey'))).toBe(417);
  });

  it('says nothing (null) of bytes not shaped so, rather than refuse another generator', () => {
    // A WASI module (no getWitnessSize), a truncated module, and bytes that are no zkey.
    expect(wasmWitnessSize(readFileSync(join(__dirname, '../../test/fixtures/wasm/echo.wasm')))).toBeNull();
    expect(wasmWitnessSize(fixture('multiplier.wasm').subarray(0, 100))).toBeNull();
    expect(zkeyWitnessSize(Buffer.from('not a zkey at all'))).toBeNull();
    expect(zkeyWitnessSize(fixture('multiplier.groth16.zkey').subarray(0, 20))).toBeNull();
  });
});
