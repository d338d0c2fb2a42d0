/** The field prime of Curve25519, 2^255 − 19. */
const P = 2n ** 255n - 19n;
/** The y-coordinate of the points of order 8 (the other two have P − Y8). */
const Y8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022n;
/** The y-coordinates of the 8 points of small order (the identity, orders 2, 4 and 8); x's sign does not matter. */
const SMALL_ORDER_Y = new Set([1n, P - 1n, 0n, Y8, P - Y8]);

/**
 * Whether 32 raw bytes are an Ed25519 public key no signature can be pinned on: a point of small order, for
 * which signatures such as R = identity, S = 0 verify over any message (node:crypto accepts them), or an
 * encoding of y at or past the prime (RFC 8032 refuses it; some verifiers do not). A node with such a key
 * could deny every result it signed, so it is refused at registration and verifies nothing.
 */
export function isWeakEd25519PublicKey(raw: Uint8Array): boolean {
  if (raw.length !== 32) return true;
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? raw[i] & 0x7f : raw[i]);
  return y >= P || SMALL_ORDER_Y.has(y);
}
