import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isOnG1Curve, isOnG2Curve } from './bn128-curve';
import { ProofSystem } from './proof-system';
import { ShapeError, validateVerificationKey } from './zk-validation';

const fixture = (name: string) =>
  JSON.parse(readFileSync(join(__dirname, '../../test/fixtures/zk', name), 'utf8')) as Record<
    string,
    unknown
  >;

/** The key with one coordinate of one point moved by one: a point off the curve. */
function withMovedCoordinate(
  vkey: Record<string, unknown>,
  path: (string | number)[],
): Record<string, unknown> {
  const copy = structuredClone(vkey);
  let at: Record<string | number, unknown> = copy;
  for (const step of path.slice(0, -1)) at = at[step] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  at[last] = String(BigInt(at[last] as string) + 1n);
  return copy;
}

const fieldOf = (thrown: () => unknown): string => {
  try {
    thrown();
  } catch (error) {
    if (error instanceof ShapeError) return error.field;
    throw error;
  }
  throw new Error('no ShapeError');
};

describe('bn128 point checks of verification keys', () => {
  const keys: [ProofSystem, string][] = [
    ['groth16', 'multiplier.groth16.vkey.json'],
    ['groth16', 'poseidon_preimage.groth16.vkey.json'],
    ['plonk', 'multiplier.plonk.vkey.json'],
    ['plonk', 'poseidon_preimage.plonk.vkey.json'],
    ['fflonk', 'multiplier.fflonk.vkey.json'],
  ];

  it.each(keys)('accepts the real %s key %s (every point on the curve)', (protocol, name) => {
    expect(validateVerificationKey(protocol, fixture(name)).nPublic).toBeGreaterThan(0);
  });

  it.each([
    ['groth16', 'multiplier.groth16.vkey.json', ['vk_alpha_1', 1], 'verification_key.vk_alpha_1'],
    ['groth16', 'multiplier.groth16.vkey.json', ['IC', 1, 0], 'verification_key.IC[1]'],
    ['groth16', 'multiplier.groth16.vkey.json', ['vk_delta_2', 1, 1], 'verification_key.vk_delta_2'],
    ['plonk', 'multiplier.plonk.vkey.json', ['Qm', 0], 'verification_key.Qm'],
    ['plonk', 'multiplier.plonk.vkey.json', ['X_2', 0, 0], 'verification_key.X_2'],
    ['fflonk', 'multiplier.fflonk.vkey.json', ['C0', 1], 'verification_key.C0'],
  ] as [ProofSystem, string, (string | number)[], string][])(
    'refuses a %s key (%s) with the point at %j moved off the curve, naming %s',
    (protocol, name, path, field) => {
      const altered = withMovedCoordinate(fixture(name), path);
      expect(fieldOf(() => validateVerificationKey(protocol, altered))).toBe(field);
    },
  );

  it('knows the generators and refuses their neighbours', () => {
    expect(isOnG1Curve(1n, 2n)).toBe(true);
    expect(isOnG1Curve(1n, 3n)).toBe(false);
    const g2x = [
      10857046999023057135944570762232829481370756359578518086990519993285655852781n,
      11559732032986387107991004021392285783925812861821192530917403151452391805634n,
    ] as const;
    const g2y = [
      8495653923123431417604973247489272438418190587263600148770280649306958101930n,
      4082367875863433681332203403145435568316851327593401208105741076214120093531n,
    ] as const;
    expect(isOnG2Curve(g2x, g2y)).toBe(true);
    expect(isOnG2Curve(g2x, [g2y[0], g2y[1] + 1n])).toBe(false);
  });
});
