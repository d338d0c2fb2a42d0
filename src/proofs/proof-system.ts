/** The proof systems snarkjs verifies, all over the bn128 (alt_bn128, BN254) curve. */
export const PROOF_SYSTEMS = ['groth16', 'plonk', 'fflonk'] as const;
export type ProofSystem = (typeof PROOF_SYSTEMS)[number];

export const CURVE = 'bn128';

/** bn128 scalar field order r: public signals and evaluations are elements of F_r. */
export const BN128_R = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;
/** bn128 base field order q: curve point coordinates are elements of F_q. */
export const BN128_Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583n;

export function isProofSystem(value: unknown): value is ProofSystem {
  return typeof value === 'string' && (PROOF_SYSTEMS as readonly string[]).includes(value);
}
