import { isCanonicalBase64, verifyEd25519, verifyReceipt, type RunReceipt } from '../common/receipts/receipt';
import {
  keyIdOf,
  RECEIPT_VERIFICATIONS,
  RUN_VERDICTS,
  TASK_RECEIPT_VERSION,
  taskReceiptBytes,
  type TaskReceipt,
  verificationOf,
} from './task-receipt';

/**
 * The offline check of a signed task receipt (`npm run verify-receipt`): no server, no database, no Nest.
 * Every check is named, so a changed byte is reported as the check it breaks.
 */

export const CHECKS = {
  format: 'format',
  serverSignature: 'server signature',
  serverKeyId: 'server key id',
  serverKeyPinned: 'server key pinned',
  runSignatures: 'run signatures',
  runsBindTask: 'runs bind the task',
  canonicalRun: 'canonical run',
  outputsAgree: 'outputs agree',
  quorum: 'quorum',
  proof: 'proof',
} as const;
export type CheckName = (typeof CHECKS)[keyof typeof CHECKS];

export interface ReceiptCheck {
  name: CheckName;
  holds: boolean;
  /** What broke (on failure), or what was established. */
  detail: string;
}

export interface CheckOptions {
  /** The server key the caller trusts (standard base64 of 32 raw bytes), e.g. from GET /receipts/public-key. */
  publicKey?: string;
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isText = (value: unknown): value is string => typeof value === 'string' && value.length > 0;
const isCount = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 1;
const idOf = (id: unknown) => (typeof id === 'string' ? id : '?');
/**
 * A value from the file, as text for a message. Never String(): a parsed object whose own `toString` is not a
 * function ({"toString": 1}) makes it throw, and a malformed receipt must fail its checks, not the checker.
 */
export const shown = (value: unknown): string =>
  typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));

const pass = (name: CheckName, detail: string): ReceiptCheck => ({ name, holds: true, detail });
const fail = (name: CheckName, detail: string): ReceiptCheck => ({ name, holds: false, detail });
const verdictOf = (name: CheckName, problems: string[], ok: string): ReceiptCheck =>
  problems.length === 0 ? pass(name, ok) : fail(name, problems.join('; '));

/** Every check of `file` (the parsed JSON of a receipt download); all must hold for the receipt to hold. */
export function checkReceipt(file: unknown, options: CheckOptions = {}): ReceiptCheck[] {
  if (!isObject(file) || !isObject(file.receipt)) {
    return [
      fail(CHECKS.format, 'the file is not a signed receipt: expected {"receipt": {…}, "signature": "…"}'),
    ];
  }
  const receipt = file.receipt;
  const runs = Array.isArray(receipt.runs) ? receipt.runs.map((run) => (isObject(run) ? run : {})) : [];
  const checks = [
    verdictOf(CHECKS.format, formatProblems(receipt), `version ${TASK_RECEIPT_VERSION} receipt`),
    serverSignature(receipt, file.signature),
    serverKeyId(receipt),
  ];
  if (options.publicKey !== undefined) checks.push(serverKeyPinned(receipt, options.publicKey));
  checks.push(
    verdictOf(CHECKS.runSignatures, runs.flatMap(signatureProblem), `${runs.length} run signature(s) verify`),
    verdictOf(
      CHECKS.runsBindTask,
      runs.flatMap((run) => bindingProblems(receipt, run)),
      'every run receipt names this task, its inputs and its module or circuit',
    ),
    runs.some((run) => run.run_id === receipt.canonical_run_id)
      ? pass(CHECKS.canonicalRun, `run ${idOf(receipt.canonical_run_id)} is among the runs`)
      : fail(CHECKS.canonicalRun, 'canonical_run_id names none of the runs'),
    verdictOf(
      CHECKS.outputsAgree,
      runs.flatMap((run) => outputProblem(receipt, run)),
      'every valid run has the receipt’s output_hash',
    ),
  );
  if (receipt.verification === 'quorum') checks.push(quorum(receipt, runs));
  if (receipt.verification === 'proof' || receipt.task_type === 'zk_proof') {
    const problems = [
      ...(isText(receipt.proof_id) ? [] : ['no proof_id']),
      ...(isText(receipt.circuit_id) ? [] : ['no circuit_id']),
    ];
    checks.push(verdictOf(CHECKS.proof, problems, `proof ${shown(receipt.proof_id)}`));
  }
  return checks;
}

function formatProblems(receipt: Json): string[] {
  const problems: string[] = [];
  if (receipt.version !== TASK_RECEIPT_VERSION) problems.push(`version is not ${TASK_RECEIPT_VERSION}`);
  for (const field of [
    'task_id',
    'task_type',
    'inputs_hash',
    'output_hash',
    'canonical_run_id',
    'completed_at',
    'issued_at',
    'server_key_id',
    'server_public_key',
  ]) {
    if (!isText(receipt[field])) problems.push(`${field} is missing`);
  }
  for (const field of ['module_hash', 'circuit_id', 'proof_id']) {
    if (field in receipt && !isText(receipt[field])) problems.push(`${field} is not a string`);
  }
  const { args, deterministic } = receipt;
  if ('args' in receipt && !(Array.isArray(args) && args.every((arg) => typeof arg === 'string')))
    problems.push('args is not a list of strings');
  if ('deterministic' in receipt && typeof deterministic !== 'boolean')
    problems.push('deterministic is not true or false');
  if (('args' in receipt || 'deterministic' in receipt) && !('module_hash' in receipt))
    problems.push('args and deterministic belong to WASM receipts (with module_hash)');
  if (!RECEIPT_VERIFICATIONS.includes(receipt.verification as never)) problems.push('unknown verification');
  if (!isCount(receipt.min_nodes) || !isCount(receipt.quorum) || receipt.quorum > receipt.min_nodes) {
    problems.push('min_nodes and quorum must be whole numbers with 1 ≤ quorum ≤ min_nodes');
  } else if (
    isText(receipt.task_type) &&
    receipt.verification !== verificationOf(receipt.task_type, receipt.min_nodes) &&
    receipt.verification !== verificationOf(receipt.task_type, receipt.min_nodes, true)
  ) {
    problems.push(`verification does not follow from task_type and min_nodes`);
  }
  if (!Array.isArray(receipt.runs)) problems.push('runs is not a list');
  else {
    receipt.runs.forEach((run: unknown, index) => {
      const ok =
        isObject(run) &&
        isText(run.run_id) &&
        isText(run.node_public_key) &&
        isText(run.signature) &&
        isObject(run.receipt) &&
        (run.verdict === null || RUN_VERDICTS.includes(run.verdict as never)) &&
        (run.node_id === null || isText(run.node_id));
      if (!ok)
        problems.push(`run #${index + 1} lacks run_id, node_public_key, verdict, receipt or signature`);
    });
  }
  return problems;
}

function serverSignature(receipt: Json, signature: unknown): ReceiptCheck {
  if (!isCanonicalBase64(signature, 64)) {
    return fail(CHECKS.serverSignature, 'signature is not standard base64 of a 64-byte Ed25519 signature');
  }
  if (!isCanonicalBase64(receipt.server_public_key, 32)) {
    return fail(CHECKS.serverSignature, 'server_public_key is not standard base64 of a 32-byte Ed25519 key');
  }
  let bytes: Buffer;
  try {
    bytes = taskReceiptBytes(receipt as unknown as TaskReceipt);
  } catch (error) {
    return fail(CHECKS.serverSignature, `the receipt has no RFC 8785 form (${(error as Error).message})`);
  }
  return verifyEd25519(bytes, signature, receipt.server_public_key)
    ? pass(CHECKS.serverSignature, 'the server’s signature over the receipt verifies with server_public_key')
    : fail(CHECKS.serverSignature, 'the signature does not verify over the receipt with server_public_key');
}

function serverKeyId(receipt: Json): ReceiptCheck {
  const key = receipt.server_public_key;
  if (!isCanonicalBase64(key, 32)) return fail(CHECKS.serverKeyId, 'server_public_key is not a 32-byte key');
  return keyIdOf(key) === receipt.server_key_id
    ? pass(CHECKS.serverKeyId, `server_key_id ${shown(receipt.server_key_id)} is server_public_key’s`)
    : fail(CHECKS.serverKeyId, 'server_key_id is not the SHA-256 of server_public_key');
}

function serverKeyPinned(receipt: Json, trusted: string): ReceiptCheck {
  const embedded = receipt.server_public_key;
  const same =
    typeof embedded === 'string' &&
    Buffer.from(embedded, 'base64').equals(Buffer.from(trusted, 'base64')) &&
    isCanonicalBase64(embedded, 32);
  return same
    ? pass(CHECKS.serverKeyPinned, 'server_public_key is the key given with --public-key')
    : fail(CHECKS.serverKeyPinned, 'server_public_key is not the key given with --public-key');
}

const runName = (run: Json) => `run ${idOf(run.run_id)}`;

function signatureProblem(run: Json): string[] {
  const ok =
    isObject(run.receipt) &&
    isText(run.signature) &&
    isText(run.node_public_key) &&
    verifyReceipt(run.receipt as unknown as RunReceipt, run.signature, run.node_public_key);
  return ok
    ? []
    : [`${runName(run)}: the signature does not verify over its receipt with its node_public_key`];
}

function bindingProblems(receipt: Json, run: Json): string[] {
  if (!isObject(run.receipt)) return [`${runName(run)}: no receipt`];
  const signed = run.receipt;
  const differs = ['task_id', 'inputs_hash', 'module_hash', 'circuit_id'].filter(
    (field) => signed[field] !== receipt[field],
  );
  if (signed.run_id !== run.run_id) differs.push('run_id');
  const problems = differs.map((field) => `${runName(run)}: its receipt names another ${field}`);
  if (signed.outcome !== 'ok') problems.push(`${runName(run)}: its receipt's outcome is not ok`);
  return problems;
}

/** The runs that vouch for the output: marked valid, or the canonical run itself. */
const vouches = (receipt: Json, run: Json) =>
  run.verdict === 'valid' || run.run_id === receipt.canonical_run_id;

function outputProblem(receipt: Json, run: Json): string[] {
  if (run.run_id === receipt.canonical_run_id && run.verdict === 'invalid') {
    return [`${runName(run)}: the canonical run is marked invalid`];
  }
  if (!vouches(receipt, run)) return [];
  const output = isObject(run.receipt) ? run.receipt.output_hash : undefined;
  return output === receipt.output_hash ? [] : [`${runName(run)}: its output_hash is not the receipt’s`];
}

/**
 * Distinct node keys among the runs that vouch for the output and hold up on their own (signature, binding,
 * output): a forged or mismatched run never counts, and one key running twice counts once.
 */
function quorum(receipt: Json, runs: Json[]): ReceiptCheck {
  const keys = new Set(
    runs
      .filter(
        (run) =>
          vouches(receipt, run) &&
          signatureProblem(run).length === 0 &&
          bindingProblems(receipt, run).length === 0 &&
          outputProblem(receipt, run).length === 0,
      )
      .map((run) => Buffer.from(String(run.node_public_key), 'base64').toString('base64')),
  );
  const needed = isCount(receipt.quorum) ? receipt.quorum : Infinity;
  const detail = `${keys.size} distinct node key(s) vouch for the output; quorum ${shown(receipt.quorum)}`;
  return keys.size >= needed ? pass(CHECKS.quorum, detail) : fail(CHECKS.quorum, detail);
}
