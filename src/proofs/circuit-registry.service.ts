import { Injectable } from '@nestjs/common';
import { AuditAction } from '../audit/audit-actions';
import { AuditService } from '../audit/audit.service';
import type { RequestMeta } from '../common/auth/principal';
import { AppException } from '../common/errors/app.exception';
import { Page, pageRequest, toPage } from '../common/pagination/page';
import { SHA256_HEX_PATTERN } from '../common/validation/sha256';
import { TransactionRunner } from '../database/transaction-runner';
import { ErrorCode } from '../common/errors/error-code';
import { ContentIntegrityError, ContentStore, ContentUnavailableError } from '../storage/content-store';
import type { CircuitRegistration } from './circuit-registration.pipe';
import { CircuitRepository } from './circuit.repository';
import { CircuitDto, toCircuitDto } from './dto/circuit.dto';
import { CURVE } from './proof-system';
import { canonicalJson, sha256Hex } from './canonical-json';
import { wasmWitnessSize, zkeyWitnessSize } from './witness-size';
import { verificationKeyOfZkey } from './zkey-key';

interface StoredBlob {
  sha256: string;
  size: number;
}

export interface RegisterCircuitResult {
  circuit: CircuitDto;
  /**
   * True when this key was registered before: the existing circuit is returned, with the wasm or zkey of this
   * call filled in where it had none.
   */
  already_existed: boolean;
}

/**
 * A proving key must yield the verification key it is registered with: proofs made with another would all fail,
 * and each failed proof counts against the honest node that made it (it would end quarantined).
 */
async function assertZkeyOf(zkey: Buffer, circuitId: string): Promise<void> {
  let key: unknown;
  try {
    key = await verificationKeyOfZkey(zkey);
  } catch (error) {
    throw AppException.invalidField(
      'zkey',
      `is not a proving key snarkjs can read (${(error as Error).message})`,
    );
  }
  const keyId = sha256Hex(canonicalJson(key));
  if (keyId !== circuitId) {
    throw AppException.invalidField('zkey', `belongs to another verification key (circuit id ${keyId})`);
  }
}

/**
 * The witness generator must make the witness the proving key expects: with another circuit's wasm every
 * zk_proof task fails (`Invalid witness length`) on every node, and since those tasks reference the circuit
 * it can then only be retired, never fixed, as its artifacts never change. Checked when both come in one call.
 */
function assertWitnessesAgree(wasm: Buffer, zkey: Buffer): void {
  const made = wasmWitnessSize(wasm);
  const expected = zkeyWitnessSize(zkey);
  if (made === null || expected === null || made === expected) return;
  throw AppException.invalidField(
    'wasm',
    `makes a witness of ${made} values, and the zkey expects ${expected}: it is another circuit's witness generator`,
  );
}

@Injectable()
export class CircuitRegistryService {
  constructor(
    private readonly transactions: TransactionRunner,
    private readonly circuits: CircuitRepository,
    private readonly blobs: ContentStore,
    private readonly audit: AuditService,
  ) {}

  /**
   * Registers a checked circuit (CircuitRegistrationPipe), or finds it registered already. Either way the call
   * is audited as `circuit.registered`, in the same transaction as the insert: no circuit without its audit row.
   */
  async register(
    registration: CircuitRegistration,
    createdBy: string | null,
    meta: RequestMeta | null = null,
  ): Promise<RegisterCircuitResult> {
    const { circuitId, name, protocol } = registration;
    if (registration.zkey) await assertZkeyOf(registration.zkey, circuitId);
    if (registration.wasm && registration.zkey) assertWitnessesAgree(registration.wasm, registration.zkey);
    // Blobs are stored (content-addressed, idempotent) before the transaction, so no connection waits on disk.
    const wasm = await this.store(registration.wasm);
    const zkey = await this.store(registration.zkey);
    return this.transactions.run(async () => {
      await this.circuits.lockArtifacts();
      // A circuit deleted since our write may have taken files it shared with this one: store them again.
      await this.restore(wasm, registration.wasm);
      await this.restore(zkey, registration.zkey);
      const inserted = await this.circuits.insertIfAbsent({
        circuitId,
        name,
        protocol,
        curve: CURVE,
        nPublic: registration.nPublic,
        verificationKey: registration.verificationKey,
        wasmSha256: wasm?.sha256 ?? null,
        wasmSize: wasm?.size ?? null,
        zkeySha256: zkey?.sha256 ?? null,
        zkeySize: zkey?.size ?? null,
        createdBy,
      });
      const { created } = inserted;
      let record = inserted.record;
      const attached: string[] = [];
      if (!created) {
        // A key registered without its artifacts gets them now (zk_proof tasks need both); different ones than
        // it has are refused: tasks and proofs already rest on those.
        for (const [kind, blob, stored] of [
          ['wasm', wasm, record.wasmSha256],
          ['zkey', zkey, record.zkeySha256],
        ] as const) {
          if (!blob) continue;
          if (stored === null) attached.push(kind);
          else if (stored !== blob.sha256) {
            throw new AppException(
              ErrorCode.Conflict,
              `The circuit has another ${kind} (sha256 ${stored}); a registered circuit's artifacts do not change`,
            );
          }
        }
        if (attached.length > 0) record = await this.circuits.attachArtifacts(circuitId, wasm, zkey);
      }
      await this.audit.record(
        {
          action: AuditAction.CircuitRegistered,
          status: 'success',
          userId: createdBy,
          resourceType: 'circuit',
          resourceId: circuitId,
          metadata: {
            // The circuit's name as stored: a key registered again keeps its first name, whatever this one said.
            name: record.name,
            ...(record.name !== name ? { name_given: name } : {}),
            protocol,
            already_existed: !created,
            ...(attached.length > 0 ? { attached } : {}),
            wasm_sha256: wasm?.sha256 ?? null,
            zkey_sha256: zkey?.sha256 ?? null,
          },
        },
        meta,
      );
      return { circuit: toCircuitDto(record), already_existed: !created };
    });
  }

  /** `circuitId` is well formed (ParseSha256Pipe); an unknown one is a 404. */
  async get(circuitId: string): Promise<CircuitDto> {
    const record = await this.circuits.findById(circuitId);
    if (!record) throw AppException.notFound('Circuit not found');
    return toCircuitDto(record);
  }

  /**
   * Inside a transaction, before inserting new work that names the circuit: whether it exists and is
   * retired, decided as of that insert and held so until the transaction ends (CircuitRepository.retirement).
   * null when there is no such circuit.
   */
  async lockForNewWork(circuitId: string): Promise<{ retired: boolean } | null> {
    const circuit = await this.circuits.retirement(circuitId, true);
    return circuit && { retired: circuit.retiredAt !== null };
  }

  /**
   * Oldest first; `cursor` is a previous page's `next_cursor` (a tampered one is a 422); `retired` keeps only
   * retired or only active circuits.
   */
  async page(query: { limit?: number; cursor?: string; retired?: boolean }): Promise<Page<CircuitDto>> {
    const request = pageRequest(query, SHA256_HEX_PATTERN);
    const rows = await this.circuits.page(
      request.fetch,
      request.after ? { createdAt: request.after.t, circuitId: request.after.id } : null,
      query.retired,
    );
    return toPage(rows, request, (r) => ({ t: r.createdAt.toISOString(), id: r.circuitId }), toCircuitDto);
  }

  /**
   * A circuit's witness generator (`wasm`) or proving key (`zkey`), checked against its hash as it is read.
   * Nodes download these to prove zk_proof tasks; they are public inputs to proving, not secrets.
   */
  async artifact(circuitId: string, kind: 'wasm' | 'zkey'): Promise<Buffer> {
    const record = await this.circuits.findById(circuitId);
    const sha256 = kind === 'wasm' ? record?.wasmSha256 : record?.zkeySha256;
    if (!sha256) throw AppException.notFound(`Circuit not found, or it has no ${kind}`);
    try {
      return await this.blobs.open(sha256);
    } catch (error) {
      if (error instanceof ContentUnavailableError)
        throw AppException.notFound(`The circuit's ${kind} is missing`);
      if (error instanceof ContentIntegrityError) {
        throw new AppException(ErrorCode.Conflict, `The stored ${kind} no longer hashes to its id`);
      }
      throw error;
    }
  }

  /**
   * Under `lockArtifacts`, so no delete runs between this check and the commit. Presence only: the `put`
   * before the transaction verified the bytes, and reading and hashing up to two 50 MB files here would hold
   * every registration and deletion behind the lock meanwhile.
   */
  private async restore(blob: StoredBlob | null, bytes: Buffer | null): Promise<void> {
    if (blob && bytes && !(await this.blobs.exists(blob.sha256))) await this.blobs.put(bytes);
  }

  private async store(bytes: Buffer | null): Promise<StoredBlob | null> {
    return bytes === null ? null : { sha256: await this.blobs.put(bytes), size: bytes.byteLength };
  }
}
