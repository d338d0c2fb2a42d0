import canonicalize from 'canonicalize';
import { createHash, KeyObject, sign } from 'node:crypto';
import type { RunReceipt } from '../common/receipts/receipt';

/**
 * The receipt of a completed task (issue 18), signed by the server: what was computed (inputs, module or
 * circuit), how the result was verified, the output, and every accepted run with its node's own signed receipt.
 * Plain types and pure functions only: the offline checker (`verify-receipt`) loads this without Nest.
 */

export const TASK_RECEIPT_VERSION = 1;

/** `trusted_node`: adaptive replication let one node with a long valid streak run a quorum task alone. */
export const RECEIPT_VERIFICATIONS = ['none', 'quorum', 'proof', 'trusted_node'] as const;
export type ReceiptVerification = (typeof RECEIPT_VERIFICATIONS)[number];

export const RUN_VERDICTS = ['valid', 'invalid'] as const;
export type RunVerdict = (typeof RUN_VERDICTS)[number];

export interface ReceiptRun {
  run_id: string;
  /** The node the server leased the run to (null once the node was deleted). */
  node_id: string | null;
  /** The node's registered key (standard base64 of the 32 raw bytes) that `signature` verifies with. */
  node_public_key: string;
  /** null: not compared (a task that needed one run). */
  verdict: RunVerdict | null;
  /** The run receipt exactly as the node signed it. */
  receipt: RunReceipt;
  /** Standard base64 Ed25519 signature of the node over the RFC 8785 form of `receipt`. */
  signature: string;
}

export interface TaskReceipt {
  version: typeof TASK_RECEIPT_VERSION;
  task_id: string;
  task_type: string;
  inputs_hash: string;
  /** WASM tasks: the module's SHA-256 (its id). Absent otherwise. */
  module_hash?: string;
  /**
   * WASM tasks: the arguments the module ran with (after its name) and whether the run was deterministic,
   * which decide its output with the inputs. Absent otherwise, and from receipts issued before they were added.
   */
  args?: string[];
  deterministic?: boolean;
  /** zk_proof tasks: the circuit (the SHA-256 of its verification key). Absent otherwise. */
  circuit_id?: string;
  verification: ReceiptVerification;
  min_nodes: number;
  quorum: number;
  /** The canonical run's output hash: lowercase hex SHA-256 of the RFC 8785 form of the output. */
  output_hash: string;
  canonical_run_id: string;
  /** zk_proof tasks: the accepted proof. Absent otherwise. */
  proof_id?: string;
  completed_at: string;
  issued_at: string;
  /** Lowercase hex SHA-256 of the server's raw 32-byte public key. */
  server_key_id: string;
  server_public_key: string;
  runs: ReceiptRun[];
}

/** The body of `GET /tasks/:task_id/receipt`, and the file `npm run verify-receipt` reads. */
export interface SignedTaskReceipt {
  receipt: TaskReceipt;
  /** Standard base64 Ed25519 signature of the server over the RFC 8785 form of `receipt`. */
  signature: string;
}

/** How a task was verified: a zk task by its proof, a task run on several nodes by their quorum. */
export function verificationOf(taskType: string, minNodes: number, trusted = false): ReceiptVerification {
  if (taskType === 'zk_proof') return 'proof';
  if (minNodes === 1) return 'none';
  return trusted ? 'trusted_node' : 'quorum';
}

/** The exact bytes the server signs: UTF-8 of the RFC 8785 (JCS) form of the receipt. */
export function taskReceiptBytes(receipt: TaskReceipt): Buffer {
  const canonical = canonicalize(receipt);
  if (canonical === undefined) throw new Error('receipt is not serializable');
  return Buffer.from(canonical, 'utf8');
}

export function signTaskReceipt(receipt: TaskReceipt, privateKey: KeyObject): string {
  // Ed25519 takes no digest algorithm: node:crypto wants null here.
  return sign(null, taskReceiptBytes(receipt), privateKey).toString('base64');
}

/** A key's id: lowercase hex SHA-256 of its 32 raw bytes (given as standard base64). */
export function keyIdOf(publicKeyBase64: string): string {
  return createHash('sha256').update(Buffer.from(publicKeyBase64, 'base64')).digest('hex');
}
