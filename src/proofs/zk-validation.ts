import { isOnG1Curve, isOnG2Curve } from './bn128-curve';
import { BN128_Q, BN128_R, CURVE, ProofSystem } from './proof-system';

/** A proof, key or signal that is not exactly what its protocol prescribes; `field` says where. */
export class ShapeError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'ShapeError';
  }
}

// r and q have 77 digits. The length is checked before BigInt: converting a megabyte of digits costs far more
// than a verification (the pattern, linear, does not), so the bound keeps a hostile body cheap to refuse.
const MAX_DIGITS = 78;
// One spelling per number: no sign, no leading zeros, no hex, no exponent, no whitespace. BigInt() alone would
// accept " 0x1f" and "-0", and snarkjs reduces what it gets, so aliases of a value would otherwise verify.
const CANONICAL_DECIMAL = /^(0|[1-9][0-9]*)$/;
export const MAX_PUBLIC_SIGNALS = 10_000;

/** `tooLarge`: the reason for a canonical decimal past MAX_DIGITS (the bound the caller holds it to). */
export function canonicalDecimal(value: unknown, field: string, tooLarge = 'has too many digits'): bigint {
  if (typeof value !== 'string') throw new ShapeError(field, 'must be a decimal string');
  if (value.length === 0 || !CANONICAL_DECIMAL.test(value)) {
    throw new ShapeError(
      field,
      'must be a canonical decimal (digits only: no sign, leading zero, hex or space)',
    );
  }
  // Before BigInt: a megabyte of digits is refused for its length, never converted.
  if (value.length > MAX_DIGITS) throw new ShapeError(field, tooLarge);
  return BigInt(value);
}

const BELOW_R = 'must be less than the bn128 scalar field order r';
const BELOW_Q = 'must be less than the bn128 base field order q';

/** A public signal or evaluation: must lie in F_r. snarkjs ≥ 0.7 also checks (CVE-2023-33252); we refuse
 *  before it runs, and with a reason, because x and x + r would otherwise be two spellings of one input. */
function scalar(value: unknown, field: string): bigint {
  const n = canonicalDecimal(value, field, BELOW_R);
  if (n >= BN128_R) throw new ShapeError(field, BELOW_R);
  return n;
}

/** A point coordinate: must lie in F_q, so that a coordinate has exactly one spelling (no x + q alias). */
function coordinate(value: unknown, field: string): bigint {
  const n = canonicalDecimal(value, field, BELOW_Q);
  if (n >= BN128_Q) throw new ShapeError(field, BELOW_Q);
  return n;
}

function tuple(value: unknown, length: number, field: string): unknown[] {
  if (!Array.isArray(value) || value.length !== length) {
    throw new ShapeError(field, `must be an array of ${length}`);
  }
  return value;
}

/** An object with exactly these keys: an unknown key would ride along into the stored proof unverified. */
function exactObject(value: unknown, keys: readonly string[], field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ShapeError(field, 'must be an object');
  }
  const record = value as Record<string, unknown>;
  const extra = Object.keys(record).find((key) => !keys.includes(key));
  if (extra !== undefined) throw new ShapeError(`${field}.${extra.slice(0, 64)}`, 'is not expected here');
  const missing = keys.find((key) => !(key in record));
  if (missing !== undefined) throw new ShapeError(`${field}.${missing}`, 'is required');
  return record;
}

/**
 * A G1 point in snarkjs's affine form [x, y, "1"], or the point at infinity ["0", "1", "0"]. Other z values
 * are projective spellings of the same point; refusing them keeps one encoding per point. `onCurve` also
 * checks the curve equation (for verification keys: a key with a point off the curve is corrupt, and would be
 * stored and hashed into a circuit id that no proof can ever verify against).
 */
function g1(value: unknown, field: string, onCurve = false): void {
  const [x, y, z] = tuple(value, 3, field);
  const cx = coordinate(x, `${field}[0]`);
  const cy = coordinate(y, `${field}[1]`);
  const cz = coordinate(z, `${field}[2]`);
  const affine = cz === 1n;
  const infinity = cx === 0n && cy === 1n && cz === 0n;
  if (!affine && !infinity) throw new ShapeError(`${field}[2]`, 'must be "1" (affine form)');
  if (onCurve && affine && !isOnG1Curve(cx, cy))
    throw new ShapeError(field, 'is not a point on the bn128 curve');
}

/** A G2 point: [[x0, x1], [y0, y1], ["1", "0"]] (or the point at infinity), each coordinate in F_q. */
function g2(value: unknown, field: string, onCurve = false): void {
  const pairs = tuple(value, 3, field).map((pair, i) =>
    tuple(pair, 2, `${field}[${i}]`).map((c, j) => coordinate(c, `${field}[${i}][${j}]`)),
  );
  const [[x0, x1], [y0, y1], [z0, z1]] = pairs;
  const affine = z0 === 1n && z1 === 0n;
  const infinity = x0 === 0n && x1 === 0n && y0 === 1n && y1 === 0n && z0 === 0n && z1 === 0n;
  if (!affine && !infinity) throw new ShapeError(`${field}[2]`, 'must be ["1", "0"] (affine form)');
  if (onCurve && affine && !isOnG2Curve([x0, x1], [y0, y1])) {
    throw new ShapeError(field, 'is not a point on the bn128 twist curve (G2)');
  }
}

const GROTH16_PROOF = ['pi_a', 'pi_b', 'pi_c', 'protocol', 'curve'] as const;
const PLONK_POINTS = ['A', 'B', 'C', 'Z', 'T1', 'T2', 'T3', 'Wxi', 'Wxiw'] as const;
const PLONK_EVALS = ['eval_a', 'eval_b', 'eval_c', 'eval_s1', 'eval_s2', 'eval_zw'] as const;
const FFLONK_POINTS = ['C1', 'C2', 'W1', 'W2'] as const;
// prettier-ignore
const FFLONK_EVALS = ['ql', 'qr', 'qm', 'qo', 'qc', 's1', 's2', 's3', 'a', 'b', 'c', 'z', 'zw', 't1w', 't2w', 'inv'] as const;

function protocolAndCurve(record: Record<string, unknown>, protocol: ProofSystem, field: string): void {
  if (record.protocol !== protocol) {
    throw new ShapeError(`${field}.protocol`, `must be "${protocol}", the circuit's protocol`);
  }
  if (record.curve !== CURVE) throw new ShapeError(`${field}.curve`, `must be "${CURVE}"`);
}

function asObject(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ShapeError(field, 'must be an object');
  }
  return value as Record<string, unknown>;
}

/** Checks a snarkjs proof object against the exact JSON snarkjs 0.7 writes for `protocol`. */
export function validateProof(protocol: ProofSystem, proof: unknown, field = 'proof'): void {
  const f = field;
  protocolAndCurve(asObject(proof, f), protocol, f);
  switch (protocol) {
    case 'groth16': {
      const p = exactObject(proof, GROTH16_PROOF, f);
      g1(p.pi_a, `${f}.pi_a`);
      g2(p.pi_b, `${f}.pi_b`);
      g1(p.pi_c, `${f}.pi_c`);
      return;
    }
    case 'plonk': {
      const p = exactObject(proof, [...PLONK_POINTS, ...PLONK_EVALS, 'protocol', 'curve'], f);
      for (const key of PLONK_POINTS) g1(p[key], `${f}.${key}`);
      for (const key of PLONK_EVALS) scalar(p[key], `${f}.${key}`);
      return;
    }
    case 'fflonk': {
      const p = exactObject(proof, ['polynomials', 'evaluations', 'protocol', 'curve'], f);
      const points = exactObject(p.polynomials, FFLONK_POINTS, `${f}.polynomials`);
      const evals = exactObject(p.evaluations, FFLONK_EVALS, `${f}.evaluations`);
      for (const key of FFLONK_POINTS) g1(points[key], `${f}.polynomials.${key}`);
      for (const key of FFLONK_EVALS) scalar(evals[key], `${f}.evaluations.${key}`);
      return;
    }
  }
}

/** Exactly nPublic canonical decimals, each < r. Returns them as given (already canonical). */
export function validatePublicSignals(signals: unknown, nPublic: number, field = 'public_signals'): string[] {
  if (!Array.isArray(signals)) throw new ShapeError(field, 'must be an array of decimal strings');
  // snarkjs throws on an empty list; a circuit always has at least one public signal here.
  if (signals.length === 0) throw new ShapeError(field, 'must not be empty');
  if (signals.length !== nPublic) {
    throw new ShapeError(field, `must have exactly ${nPublic} entries (the circuit's nPublic)`);
  }
  signals.forEach((signal, i) => scalar(signal, `${field}[${i}]`));
  return signals as string[];
}

function integer(value: unknown, min: number, max: number, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ShapeError(field, `must be a whole number from ${min} to ${max}`);
  }
  return value;
}

const VKEY_KEYS: Record<ProofSystem, readonly string[]> = {
  groth16: ['vk_alpha_1', 'vk_beta_2', 'vk_gamma_2', 'vk_delta_2', 'vk_alphabeta_12', 'IC'],
  plonk: ['power', 'k1', 'k2', 'Qm', 'Ql', 'Qr', 'Qo', 'Qc', 'S1', 'S2', 'S3', 'X_2', 'w'],
  fflonk: ['power', 'k1', 'k2', 'w', 'w3', 'w4', 'w8', 'wr', 'X_2', 'C0'],
};

/**
 * A verification key as snarkjs exports it for `protocol`, for curve bn128, with nothing else in it: the key
 * is hashed into the circuit id, so unknown fields would give one circuit several ids.
 */
export function validateVerificationKey(protocol: ProofSystem, vkey: unknown): { nPublic: number } {
  const f = 'verification_key';
  protocolAndCurve(asObject(vkey, f), protocol, f);
  const k = exactObject(vkey, ['protocol', 'curve', 'nPublic', ...VKEY_KEYS[protocol]], f);
  const nPublic = integer(k.nPublic, 1, MAX_PUBLIC_SIGNALS, `${f}.nPublic`);
  switch (protocol) {
    case 'groth16': {
      g1(k.vk_alpha_1, `${f}.vk_alpha_1`, true);
      for (const key of ['vk_beta_2', 'vk_gamma_2', 'vk_delta_2']) g2(k[key], `${f}.${key}`, true);
      tuple(k.vk_alphabeta_12, 2, `${f}.vk_alphabeta_12`).forEach((row, i) =>
        tuple(row, 3, `${f}.vk_alphabeta_12[${i}]`).forEach((pair, j) =>
          tuple(pair, 2, `${f}.vk_alphabeta_12[${i}][${j}]`).forEach((c, m) =>
            coordinate(c, `${f}.vk_alphabeta_12[${i}][${j}][${m}]`),
          ),
        ),
      );
      tuple(k.IC, nPublic + 1, `${f}.IC`).forEach((point, i) => g1(point, `${f}.IC[${i}]`, true));
      break;
    }
    case 'plonk':
      integer(k.power, 1, 28, `${f}.power`);
      for (const key of ['k1', 'k2', 'w']) scalar(k[key], `${f}.${key}`);
      for (const key of ['Qm', 'Ql', 'Qr', 'Qo', 'Qc', 'S1', 'S2', 'S3']) g1(k[key], `${f}.${key}`, true);
      g2(k.X_2, `${f}.X_2`, true);
      break;
    case 'fflonk':
      integer(k.power, 1, 28, `${f}.power`);
      for (const key of ['k1', 'k2', 'w', 'w3', 'w4', 'w8', 'wr']) scalar(k[key], `${f}.${key}`);
      g2(k.X_2, `${f}.X_2`, true);
      g1(k.C0, `${f}.C0`, true);
      break;
  }
  return { nPublic };
}
