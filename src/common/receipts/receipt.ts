import canonicalize from 'canonicalize';
import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, sign, verify } from 'node:crypto';
import { LruCache } from '../cache/lru-cache';
import { jsonSha256Hex } from '../crypto/json-hash';
import { isWeakEd25519PublicKey } from './weak-keys';

/**
 * The signed receipt of a run (issue 17, pinned so that anyone can write a node). The signature is the
 * standard base64 of the Ed25519 signature over the UTF-8 bytes of the RFC 8785 (JCS) form of this object.
 * Absent fields are omitted, never null: `module_hash` for WASM runs, `circuit_id` and `proof_hash` for zk runs.
 */
export interface RunReceipt {
  task_id: string;
  run_id: string;
  /** The decimal fence of the lease, as claimed. */
  fence: string;
  module_hash?: string;
  circuit_id?: string;
  /** Lowercase hex SHA-256 of the JCS form of the task's inputs. */
  inputs_hash: string;
  output_hash: string;
  proof_hash?: string;
  outcome: string;
  execution_time_ms: number;
}

/** What a result's receipt is made of: the run as leased and the result as reported, in wire names. */
export interface ResultReceiptParts {
  task_id: string;
  run_id: string;
  fence: string;
  inputs_hash: string;
  /** The module run (WASM runs); absent or null otherwise. */
  module_hash?: string | null;
  /** The task's circuit (zk runs); absent or null otherwise. */
  circuit_id?: string | null;
  /**
   * A zk run's reported `proof` and `public_signals` (the result's own fields, the proof the server verifies
   * and stores) give `proof_hash`; absent when the result carries no proof.
   */
  proof?: unknown;
  public_signals?: unknown;
  output_hash: string;
  outcome: string;
  execution_time_ms: number;
}

/**
 * The receipt of a result, as the node signs it and the server rebuilds it to check the signature: one
 * builder for both sides (server, agent, test and bench nodes), so they cannot drift apart.
 */
export function resultReceipt(parts: ResultReceiptParts): RunReceipt {
  const receipt: RunReceipt = {
    task_id: parts.task_id,
    run_id: parts.run_id,
    fence: parts.fence,
    inputs_hash: parts.inputs_hash,
    output_hash: parts.output_hash,
    outcome: parts.outcome,
    execution_time_ms: parts.execution_time_ms,
  };
  if (parts.module_hash) receipt.module_hash = parts.module_hash;
  if (parts.circuit_id) {
    receipt.circuit_id = parts.circuit_id;
    // The proof that is verified and stored, not whatever `output` holds: the signature must bind that one.
    if (parts.proof !== undefined) receipt.proof_hash = proofHash(parts.proof, parts.public_signals);
  }
  return receipt;
}

/** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the raw 32-byte key follows it. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** `proof_hash`: SHA-256 (hex) of the JCS form of `{proof, public_signals}`. */
export function proofHash(proof: unknown, publicSignals: unknown): string {
  return jsonSha256Hex({ proof, public_signals: publicSignals });
}

/** The receipt with every undefined field dropped (JCS would refuse them; null is never used for absence). */
function present(receipt: RunReceipt): Record<string, unknown> {
  return Object.fromEntries(Object.entries(receipt).filter(([, value]) => value !== undefined));
}

/** The exact bytes that are signed. */
export function receiptBytes(receipt: RunReceipt): Buffer {
  const canonical = canonicalize(present(receipt));
  if (canonical === undefined) throw new Error('receipt is not serializable');
  return Buffer.from(canonical, 'utf8');
}

export function signReceipt(receipt: RunReceipt, privateKey: KeyObject): string {
  // Ed25519 takes no digest algorithm: node:crypto wants null here.
  return sign(null, receiptBytes(receipt), privateKey).toString('base64');
}

/** Whether `signature` (standard base64) is the node's signature of the receipt; never throws. */
export function verifyReceipt(receipt: RunReceipt, signature: string, publicKeyBase64: string): boolean {
  try {
    return verifyEd25519(receiptBytes(receipt), signature, publicKeyBase64);
  } catch {
    return false; // a receipt JCS cannot serialize was signed by nobody
  }
}

/** Parsed public keys by their base64 text: building a KeyObject costs more than the verify itself. */
const publicKeys = new LruCache<string, KeyObject>({ maxEntries: 1024 });

/** The KeyObject of 32 raw Ed25519 key bytes in base64, or null; throws on bytes node:crypto cannot read. */
function ed25519KeyOf(publicKeyBase64: string): KeyObject | null {
  const cached = publicKeys.get(publicKeyBase64);
  if (cached) return cached;
  const raw = Buffer.from(publicKeyBase64, 'base64');
  if (raw.length !== 32 || isWeakEd25519PublicKey(raw)) return null;
  const key = createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, raw]),
    format: 'der',
    type: 'spki',
  });
  // Keyed by the exact text, so a node that registers another key never verifies against the old one.
  publicKeys.set(publicKeyBase64, key);
  return key;
}

/**
 * Whether `signature` (standard base64) is an Ed25519 signature of `bytes` by the key whose 32 raw bytes
 * `publicKeyBase64` holds; never throws.
 */
export function verifyEd25519(bytes: Buffer, signature: string, publicKeyBase64: string): boolean {
  try {
    if (typeof signature !== 'string' || typeof publicKeyBase64 !== 'string') return false;
    const key = ed25519KeyOf(publicKeyBase64);
    if (key === null) return false;
    // Pinned as standard base64: a text only a lenient decoder reads (junk, padding, base64url) would reach
    // server-signed receipts that strict verifiers refuse. Ed25519 signatures are 64 bytes.
    if (!isCanonicalBase64(signature, 64)) return false;
    return verify(null, bytes, key, Buffer.from(signature, 'base64'));
  } catch {
    return false; // a key or signature node:crypto cannot read verifies nothing
  }
}

/**
 * Standard base64 that decodes to exactly `bytes` bytes and is the one encoding of them. Buffer.from skips
 * characters outside the alphabet and ignores the unused low bits of the last character, so without this a
 * changed byte could still decode to the same signature.
 */
export function isCanonicalBase64(text: unknown, bytes: number): text is string {
  if (typeof text !== 'string') return false;
  const decoded = Buffer.from(text, 'base64');
  return decoded.length === bytes && decoded.toString('base64') === text;
}

export interface NodeKeyPair {
  privateKey: KeyObject;
  /** Standard base64 of the 32 raw bytes, the form nodes register. */
  publicKeyBase64: string;
}

export function generateNodeKeyPair(): NodeKeyPair {
  const { privateKey } = generateKeyPairSync('ed25519');
  return keyPairOf(privateKey);
}

export function keyPairOf(privateKey: KeyObject): NodeKeyPair {
  const der = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return { privateKey, publicKeyBase64: der.subarray(ED25519_SPKI_PREFIX.length).toString('base64') };
}

/** The PKCS#8 PEM a key pair is kept in on disk. */
export function privateKeyPem(pair: NodeKeyPair): string {
  return pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

export function keyPairFromPem(pem: string): NodeKeyPair {
  const key = createPrivateKey({ key: pem, format: 'pem' });
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('the key file does not hold an Ed25519 key');
  return keyPairOf(key);
}
