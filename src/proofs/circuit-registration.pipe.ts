import { Injectable, PipeTransform } from '@nestjs/common';
import { AppException } from '../common/errors/app.exception';
import type { BodyLimitContext } from '../common/http/body-limit';
import { base64Length, isStandardBase64 } from '../common/validation/base64';
import { isDisplayName } from '../common/validation/display-name';
import { validateDto } from '../common/validation/validate-dto';
import { canonicalJson, sha256Hex } from './canonical-json';
import { RegisterCircuitDto } from './dto/circuit.dto';
import { isProofSystem, PROOF_SYSTEMS, ProofSystem } from './proof-system';
import { ProofsConfig } from './proofs.config';
import { ShapeError, validateVerificationKey } from './zk-validation';

/** A registration body, as loosely typed as it arrives. */
export interface RegisterCircuitInput {
  name?: unknown;
  protocol?: unknown;
  verification_key?: unknown;
  /** base64 of the circuit's witness generator (.wasm). */
  wasm?: unknown;
  /** base64 of the circuit's proving key (.zkey). */
  zkey?: unknown;
}

/** A registration that passed every check: what the registry stores. */
export interface CircuitRegistration {
  /** SHA-256 (lowercase hex) of `verificationKey`. */
  circuitId: string;
  name: string;
  protocol: ProofSystem;
  nPublic: number;
  /** The key's canonical JSON (see canonical-json.ts). */
  verificationKey: string;
  wasm: Buffer | null;
  zkey: Buffer | null;
}

export interface UploadLimits {
  maxWasmBytes: number;
  maxZkeyBytes: number;
}

/** A verification key larger than this is not a bn128 key snarkjs made for a circuit we could verify. */
const MAX_VKEY_JSON_CHARS = 1024 * 1024;
// Cheap sanity checks on uploads: these bytes are stored for provers, never run or parsed here.
const WASM_MAGIC = Buffer.from([0x00, 0x61, 0x73, 0x6d]);
const ZKEY_MAGIC = Buffer.from('zkey', 'ascii');

/**
 * The body limit of a registration: both uploads at their caps in base64, the largest key we accept and room
 * for the rest of the JSON. A bigger body is refused by Fastify (413) before it is read; one under this limit
 * with an upload over its own cap is a 422 naming the field. Never below BODY_LIMIT_BYTES.
 */
export function circuitUploadBodyLimit({ get, defaultLimit }: BodyLimitContext): number {
  const { maxWasmBytes, maxZkeyBytes } = get(ProofsConfig);
  const limit = base64Length(maxWasmBytes) + base64Length(maxZkeyBytes) + MAX_VKEY_JSON_CHARS + 64 * 1024;
  return Math.max(limit, defaultLimit);
}

/** Decodes an optional base64 upload, refusing it by its encoded length before decoding anything. */
function upload(value: unknown, field: string, maxBytes: number, magic: Buffer): Buffer | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length === 0) {
    throw AppException.invalidField(field, 'must be a base64 string');
  }
  if (value.length > base64Length(maxBytes))
    throw AppException.invalidField(field, `must be at most ${maxBytes} bytes`);
  if (!isStandardBase64(value))
    throw AppException.invalidField(field, 'must be standard base64 with padding');
  const bytes = Buffer.from(value, 'base64');
  if (bytes.byteLength > maxBytes)
    throw AppException.invalidField(field, `must be at most ${maxBytes} bytes`);
  if (bytes.byteLength < magic.length || !bytes.subarray(0, magic.length).equals(magic)) {
    throw AppException.invalidField(field, `is not a ${field} file`);
  }
  return bytes;
}

/**
 * Everything the DTO's types and bounds cannot say: the name once trimmed, the key's exact snarkjs shape for
 * the declared protocol, its size, and the uploads' caps (from the configuration) and file types. The first
 * problem is a 422 naming its field.
 */
export function toCircuitRegistration(
  input: RegisterCircuitInput,
  limits: UploadLimits,
): CircuitRegistration {
  const name = typeof input.name === 'string' ? input.name.trim() : '';
  if (!isDisplayName(name)) {
    throw AppException.invalidField('name', 'must be 1 to 128 characters without control characters');
  }
  const protocol = input.protocol;
  if (!isProofSystem(protocol)) {
    throw AppException.invalidField('protocol', `must be one of ${PROOF_SYSTEMS.join(', ')}`);
  }
  let nPublic: number;
  try {
    ({ nPublic } = validateVerificationKey(protocol, input.verification_key));
  } catch (error) {
    if (error instanceof ShapeError) throw AppException.invalidField(error.field, error.reason);
    throw error;
  }
  const verificationKey = canonicalJson(input.verification_key);
  if (verificationKey.length > MAX_VKEY_JSON_CHARS)
    throw AppException.invalidField('verification_key', 'is too large');
  return {
    circuitId: sha256Hex(verificationKey),
    name,
    protocol,
    nPublic,
    verificationKey,
    wasm: upload(input.wasm, 'wasm', limits.maxWasmBytes, WASM_MAGIC),
    zkey: upload(input.zkey, 'zkey', limits.maxZkeyBytes, ZKEY_MAGIC),
  };
}

/** `POST /admin/circuits`: the DTO's types and bounds first (the global pipe's 422), then the checks above. */
@Injectable()
export class CircuitRegistrationPipe implements PipeTransform<unknown, Promise<CircuitRegistration>> {
  constructor(private readonly config: ProofsConfig) {}

  async transform(body: unknown): Promise<CircuitRegistration> {
    return toCircuitRegistration(await validateDto(RegisterCircuitDto, body), this.config);
  }
}
