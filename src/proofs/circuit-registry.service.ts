import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import type { RequestMeta } from '../common/auth/principal';
import { AppException } from '../common/errors/app.exception';
import { decodeCursor, encodeCursor } from '../common/pagination/cursor';
import { AppConfig } from '../config/app-config';
import { TransactionRunner } from '../database/transaction-runner';
import { ContentStore } from '../storage/content-store';
import { canonicalJson, sha256Hex } from './canonical-json';
import { CircuitRecord, CircuitRepository } from './circuit.repository';
import { CURVE, isProofSystem, PROOF_SYSTEMS, ProofSystem } from './proof-system';
import { ShapeError, validateVerificationKey } from './zk-validation';

export interface RegisterCircuitInput {
  name?: unknown;
  protocol?: unknown;
  verification_key?: unknown;
  /** base64 of the circuit's witness generator (.wasm). */
  wasm?: unknown;
  /** base64 of the circuit's proving key (.zkey). */
  zkey?: unknown;
}

export interface CircuitView {
  circuit_id: string;
  name: string;
  protocol: ProofSystem;
  curve: string;
  n_public: number;
  verification_key: unknown;
  wasm_sha256: string | null;
  wasm_size: number | null;
  zkey_sha256: string | null;
  zkey_size: number | null;
  created_at: string;
}

export interface CircuitPage {
  items: CircuitView[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  next_cursor: string | null;
}

interface StoredBlob {
  sha256: string;
  size: number;
}

export interface RegisterCircuitResult {
  circuit: CircuitView;
  /** True when this key was registered before: nothing was changed, the existing circuit is returned. */
  already_existed: boolean;
}

/** A verification key larger than this is not a bn128 key snarkjs made for a circuit we could verify. */
const MAX_VKEY_JSON_CHARS = 1024 * 1024;
const NAME = /^[^\p{Cc}]{1,128}$/u;
const CIRCUIT_ID = /^[0-9a-f]{64}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// Cheap sanity checks on uploads: these bytes are stored for provers, never run or parsed here.
const WASM_MAGIC = Buffer.from([0x00, 0x61, 0x73, 0x6d]);
const ZKEY_MAGIC = Buffer.from('zkey', 'ascii');

function invalid(field: string, message: string): AppException {
  return AppException.validation([{ field, message }], `${field}: ${message}`);
}

export function circuitView(record: CircuitRecord): CircuitView {
  return {
    circuit_id: record.circuitId,
    name: record.name,
    protocol: record.protocol,
    curve: record.curve,
    n_public: record.nPublic,
    verification_key: JSON.parse(record.verificationKey) as unknown,
    wasm_sha256: record.wasmSha256,
    wasm_size: record.wasmSize,
    zkey_sha256: record.zkeySha256,
    zkey_size: record.zkeySize,
    created_at: record.createdAt.toISOString(),
  };
}

/** circuit_id = SHA-256 (lowercase hex) of the verification key's canonical JSON (see canonical-json.ts). */
export function circuitIdOf(verificationKey: unknown): string {
  return sha256Hex(canonicalJson(verificationKey));
}

const base64Chars = (bytes: number) => Math.ceil(bytes / 3) * 4;

/**
 * The body limit of a registration: both uploads at their caps in base64, the largest key we accept and room
 * for the rest of the JSON. A bigger body is refused by Fastify (413) before it is read; one under this limit
 * with an upload over its own cap is a 422 naming the field. Never below BODY_LIMIT_BYTES.
 */
export function circuitUploadBodyLimit(config: AppConfig): number {
  const { maxWasmBytes, maxZkeyBytes } = config.proofs;
  const limit = base64Chars(maxWasmBytes) + base64Chars(maxZkeyBytes) + MAX_VKEY_JSON_CHARS + 64 * 1024;
  return Math.max(limit, config.http.bodyLimitBytes);
}

@Injectable()
export class CircuitRegistryService {
  constructor(
    private readonly transactions: TransactionRunner,
    private readonly circuits: CircuitRepository,
    private readonly blobs: ContentStore,
    private readonly audit: AuditService,
    private readonly config: AppConfig,
  ) {}

  /**
   * Registers a circuit, or finds it registered already. Either way the call is audited as
   * `circuit.registered`, in the same transaction as the insert: no circuit appears without its audit row.
   */
  async register(
    input: RegisterCircuitInput,
    createdBy: string | null,
    meta: RequestMeta | null = null,
  ): Promise<RegisterCircuitResult> {
    const name = typeof input.name === 'string' ? input.name.trim() : '';
    if (!NAME.test(name)) throw invalid('name', 'must be 1 to 128 characters without control characters');
    const protocol = input.protocol;
    if (!isProofSystem(protocol)) throw invalid('protocol', `must be one of ${PROOF_SYSTEMS.join(', ')}`);
    let nPublic: number;
    try {
      ({ nPublic } = validateVerificationKey(protocol, input.verification_key));
    } catch (error) {
      if (error instanceof ShapeError) throw invalid(error.field, error.reason);
      throw error;
    }
    const verificationKey = canonicalJson(input.verification_key);
    if (verificationKey.length > MAX_VKEY_JSON_CHARS) throw invalid('verification_key', 'is too large');
    const circuitId = sha256Hex(verificationKey);

    const { maxWasmBytes, maxZkeyBytes } = this.config.proofs;
    const wasm = await this.storeUpload(input.wasm, 'wasm', maxWasmBytes, WASM_MAGIC);
    const zkey = await this.storeUpload(input.zkey, 'zkey', maxZkeyBytes, ZKEY_MAGIC);
    // Blobs are stored (content-addressed, idempotent) before the transaction, so no connection waits on disk.
    return this.transactions.run(async () => {
      const { record, created } = await this.circuits.insertIfAbsent({
        circuitId,
        name,
        protocol,
        curve: CURVE,
        nPublic,
        verificationKey,
        wasmSha256: wasm?.sha256 ?? null,
        wasmSize: wasm?.size ?? null,
        zkeySha256: zkey?.sha256 ?? null,
        zkeySize: zkey?.size ?? null,
        createdBy,
      });
      await this.audit.record(
        {
          action: 'circuit.registered',
          status: 'success',
          userId: createdBy,
          resourceType: 'circuit',
          resourceId: circuitId,
          metadata: {
            name,
            protocol,
            already_existed: !created,
            wasm_sha256: wasm?.sha256 ?? null,
            zkey_sha256: zkey?.sha256 ?? null,
          },
        },
        meta,
      );
      return { circuit: circuitView(record), already_existed: !created };
    });
  }

  async get(circuitId: string): Promise<CircuitView> {
    const record = CIRCUIT_ID.test(circuitId) ? await this.circuits.findById(circuitId) : null;
    if (!record) throw AppException.notFound('Circuit not found');
    return circuitView(record);
  }

  /** Oldest first; `cursor` is a previous page's `next_cursor` (a tampered one is a 422). */
  async page(limit: number, cursor: string | undefined): Promise<CircuitPage> {
    const after = decodeCursor(cursor, CIRCUIT_ID);
    const bounded = Math.min(Math.max(Math.trunc(limit), 1), 100);
    const rows = await this.circuits.page(
      bounded + 1,
      after ? { createdAt: after.t, circuitId: after.id } : null,
    );
    const items = rows.slice(0, bounded);
    const last = items[items.length - 1];
    return {
      items: items.map(circuitView),
      next_cursor:
        rows.length > bounded && last
          ? encodeCursor({ t: last.createdAt.toISOString(), id: last.circuitId })
          : null,
    };
  }

  /** Decodes an optional base64 upload, refusing it by its encoded length before decoding anything. */
  private async storeUpload(
    value: unknown,
    field: string,
    maxBytes: number,
    magic: Buffer,
  ): Promise<StoredBlob | null> {
    if (value === undefined || value === null) return null;
    if (typeof value !== 'string' || value.length === 0) throw invalid(field, 'must be a base64 string');
    if (value.length > Math.ceil(maxBytes / 3) * 4) throw invalid(field, `must be at most ${maxBytes} bytes`);
    if (!BASE64.test(value)) throw invalid(field, 'must be standard base64 with padding');
    const bytes = Buffer.from(value, 'base64');
    if (bytes.byteLength > maxBytes) throw invalid(field, `must be at most ${maxBytes} bytes`);
    if (bytes.byteLength < magic.length || !bytes.subarray(0, magic.length).equals(magic)) {
      throw invalid(field, `is not a ${field} file`);
    }
    return { sha256: await this.blobs.put(bytes), size: bytes.byteLength };
  }
}
