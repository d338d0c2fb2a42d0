import { createPublicKey } from 'node:crypto';
import { isWeakEd25519PublicKey } from '../common/receipts/weak-keys';

/** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the raw 32-byte key follows it. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * An Ed25519 public key given as standard base64 of its 32 raw bytes or as an SPKI PEM, normalised to the
 * base64 of the raw bytes (the form results will be verified against); null when it is neither, WEAK_PUBLIC_KEY for a
 * key no signature can be pinned on (isWeakEd25519PublicKey). Parsing is left to node:crypto, which also
 * refuses keys of other algorithms.
 */
/** What normalizeEd25519PublicKey answers for a key no signature can be pinned on. */
export const WEAK_PUBLIC_KEY = Symbol('weak Ed25519 public key');

export function normalizeEd25519PublicKey(text: string): string | null | typeof WEAK_PUBLIC_KEY {
  const trimmed = text.trim();
  if (trimmed.startsWith('-----BEGIN PUBLIC KEY-----')) {
    try {
      const key = createPublicKey({ key: trimmed, format: 'pem' });
      if (key.asymmetricKeyType !== 'ed25519') return null;
      const raw = key.export({ format: 'der', type: 'spki' }).subarray(ED25519_SPKI_PREFIX.length);
      return isWeakEd25519PublicKey(raw) ? WEAK_PUBLIC_KEY : raw.toString('base64');
    } catch {
      return null; // not a PEM node:crypto can read: refused by the caller with a 422
    }
  }
  if (!/^[A-Za-z0-9+/]{43}=$/.test(trimmed)) return null;
  const raw = Buffer.from(trimmed, 'base64');
  if (raw.length !== 32) return null;
  if (isWeakEd25519PublicKey(raw)) return WEAK_PUBLIC_KEY;
  try {
    // Builds the key to be sure node:crypto accepts it (a point it refuses could never verify anything).
    createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  } catch {
    return null;
  }
  return raw.toString('base64');
}
