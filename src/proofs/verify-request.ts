import { AppException } from '../common/errors/app.exception';
import { isStandardBase64 } from '../common/validation/base64';
import { isSha256Hex } from '../common/validation/sha256';
import { isUuid } from '../common/validation/uuid';
import type { BodyLimitContext } from '../common/http/body-limit';

/** A verification request in either accepted form, reduced to one shape (nothing checked against a circuit yet). */
export interface VerifyRequest {
  circuitId: string;
  proof: unknown;
  publicSignals: unknown;
  taskId: string | null;
  runId: string | null;
  /** The names the caller gave the proof and its signals, for the 422s that name a part of them. */
  fields: { proof: string; publicSignals: string };
}

const MODERN_FIELDS = { proof: 'proof', publicSignals: 'public_signals' } as const;
/** The original's form sends them as base64 of JSON: a path into the decoded JSON is named under its field. */
const LEGACY_FIELDS = { proof: 'proof_data', publicSignals: 'public_inputs' } as const;

/** The original's caps on its base64 fields, counted in base64 characters, before anything is decoded. */
export const MAX_PROOF_DATA_CHARS = 100 * 1024;
export const MAX_PUBLIC_INPUTS_CHARS = 10 * 1024;

/**
 * The verify route's body limit: the original's two base64 fields at their caps plus room for the rest, so a
 * field just over its cap still reaches the checks above and is a 422 naming it. Never below BODY_LIMIT_BYTES.
 */
export function verifyBodyLimit({ defaultLimit }: BodyLimitContext): number {
  return Math.max(MAX_PROOF_DATA_CHARS + MAX_PUBLIC_INPUTS_CHARS + 16 * 1024, defaultLimit);
}

const MODERN_KEYS = ['circuit_id', 'proof', 'public_signals', 'task_id', 'run_id'];
const LEGACY_KEYS = ['task_id', 'proof_data', 'public_inputs', 'circuit_id', 'run_id'];

/**
 * The body's fields, without those that are undefined: JSON cannot say `undefined`, but a validated DTO
 * instance declares every field it knows, so an absent field arrives as an own property holding undefined.
 */
function record(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw AppException.invalidField('body', 'must be a JSON object');
  }
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined));
}

function onlyKeys(body: Record<string, unknown>, allowed: string[]): void {
  const extra = Object.keys(body).find((key) => !allowed.includes(key));
  if (extra !== undefined)
    throw AppException.invalidField(extra.slice(0, 64), 'is not expected in this request');
}

function circuitId(value: unknown): string {
  if (!isSha256Hex(value)) {
    throw AppException.invalidField('circuit_id', 'must be 64 lowercase hex characters (a SHA-256)');
  }
  return value;
}

function optionalUuid(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  // Checked here so that a malformed id is a 422, not a database type error.
  if (!isUuid(value)) throw AppException.invalidField(field, 'must be a UUID');
  return value.toLowerCase();
}

/** Decodes one base64 field of JSON, refusing it by length before decoding anything. */
function base64Json(value: unknown, field: string, maxChars: number): unknown {
  if (typeof value !== 'string') throw AppException.invalidField(field, 'must be a base64 string');
  if (value.length > maxChars) {
    throw AppException.invalidField(field, `must be at most ${maxChars} base64 characters`);
  }
  if (!isStandardBase64(value))
    throw AppException.invalidField(field, 'must be standard base64 with padding');
  const text = Buffer.from(value, 'base64').toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw AppException.invalidField(field, 'must be base64 of JSON');
  }
}

/**
 * Accepts `{circuit_id, proof, public_signals, task_id?, run_id?}` or the original's
 * `{task_id, proof_data, public_inputs, circuit_id}` (the two fields are base64 of the same JSON). A refusal is
 * a 422 naming the field. Nothing here knows the circuit: the proof and signals are checked against it later.
 */
export function parseVerifyRequest(body: unknown): VerifyRequest {
  const b = record(body);
  const legacy = 'proof_data' in b || 'public_inputs' in b;
  onlyKeys(b, legacy ? LEGACY_KEYS : MODERN_KEYS);
  if (legacy) {
    if (b.task_id === undefined || b.task_id === null)
      throw AppException.invalidField('task_id', 'is required');
    const request = {
      circuitId: circuitId(b.circuit_id),
      taskId: optionalUuid(b.task_id, 'task_id'),
      runId: optionalUuid(b.run_id, 'run_id'),
    };
    return {
      ...request,
      proof: base64Json(b.proof_data, 'proof_data', MAX_PROOF_DATA_CHARS),
      publicSignals: base64Json(b.public_inputs, 'public_inputs', MAX_PUBLIC_INPUTS_CHARS),
      fields: LEGACY_FIELDS,
    };
  }
  if (!('proof' in b)) throw AppException.invalidField('proof', 'is required');
  if (!('public_signals' in b)) throw AppException.invalidField('public_signals', 'is required');
  return {
    circuitId: circuitId(b.circuit_id),
    proof: b.proof,
    publicSignals: b.public_signals,
    taskId: optionalUuid(b.task_id, 'task_id'),
    runId: optionalUuid(b.run_id, 'run_id'),
    fields: MODERN_FIELDS,
  };
}
