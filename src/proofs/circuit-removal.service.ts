import { Injectable } from '@nestjs/common';
import { AuditAction } from '../audit/audit-actions';
import { AuditService } from '../audit/audit.service';
import type { RequestMeta } from '../common/auth/principal';
import { AppException } from '../common/errors/app.exception';
import { TransactionRunner } from '../database/transaction-runner';
import { ContentStore } from '../storage/content-store';
import { CircuitRecord, CircuitRepository } from './circuit.repository';
import { ProofVerificationService } from './proof-verification.service';
import type { CircuitRemovalDto } from './dto/circuit.dto';

/**
 * Taking a circuit out of service (`DELETE /admin/circuits/:circuit_id`). A circuit nothing references is
 * deleted with the wasm and zkey files no other circuit uses. One that tasks or stored proofs name is retired
 * instead: those rows are evidence (a proof is only meaningful with the key it was checked against) and their
 * foreign keys hold it. A retired circuit stays readable, artifacts included, and its unfinished tasks run to
 * the end: they were accepted under it, its key is as sound as before, and each ends by its queue timeout or
 * attempts; an admin who wants one stopped cancels it. What it refuses is new work: zk_proof tasks and
 * `POST /proofs/verify` naming it (409 `circuit_retired`).
 */
@Injectable()
export class CircuitRemovalService {
  constructor(
    private readonly transactions: TransactionRunner,
    private readonly circuits: CircuitRepository,
    private readonly blobs: ContentStore,
    private readonly audit: AuditService,
    private readonly verification: ProofVerificationService,
  ) {}

  /**
   * Deletes or retires the circuit, audited in the same transaction. Repeatable: a retired circuit is
   * answered as retired again (same `retired_at`), or deleted once nothing references it any more; a deleted
   * one is a 404.
   */
  async remove(
    circuitId: string,
    actorId: string,
    meta: RequestMeta | null = null,
  ): Promise<CircuitRemovalDto> {
    const removed = await this.transactions.run(async (): Promise<CircuitRemovalDto> => {
      await this.circuits.lockArtifacts();
      const circuit = await this.circuits.lockById(circuitId);
      if (!circuit) throw AppException.notFound('Circuit not found');
      const references = await this.circuits.references(circuitId);
      if (!references.tasks && !references.proofs) return this.delete(circuit, actorId, meta);

      const retired = await this.circuits.retire(circuitId);
      const alreadyRetired = circuit.retiredAt !== null;
      await this.audit.record(
        {
          action: AuditAction.CircuitRetired,
          status: 'success',
          userId: actorId,
          resourceType: 'circuit',
          resourceId: circuitId,
          metadata: {
            name: circuit.name,
            already_retired: alreadyRetired,
            referenced_by_tasks: references.tasks,
            referenced_by_proofs: references.proofs,
            unfinished_tasks: references.unfinishedTasks,
          },
        },
        meta,
      );
      return {
        circuit_id: circuitId,
        outcome: 'retired',
        retired_at: retired.retiredAt?.toISOString() ?? null,
        already_retired: alreadyRetired,
        unfinished_tasks: references.unfinishedTasks,
      };
    });
    // Once committed: this replica's verifications then refuse it before they run (others find out at the
    // proof's insert, after verifying).
    this.verification.forget(circuitId);
    return removed;
  }

  /**
   * Inside the transaction: the row, the audit row, then the files no other circuit uses. The files go last
   * and before the commit (as modules' do): on PostgreSQL their rows roll back with the rest, and a
   * registration that stored the same bytes meanwhile waits on `lockArtifacts` and stores them again.
   */
  private async delete(
    circuit: CircuitRecord,
    actorId: string,
    meta: RequestMeta | null,
  ): Promise<CircuitRemovalDto> {
    await this.circuits.delete(circuit.circuitId);
    const unused: { kind: 'wasm' | 'zkey'; sha256: string }[] = [];
    for (const [kind, sha256] of [
      ['wasm', circuit.wasmSha256],
      ['zkey', circuit.zkeySha256],
    ] as const) {
      if (sha256 !== null && !(await this.circuits.artifactInUse(sha256))) unused.push({ kind, sha256 });
    }
    await this.audit.record(
      {
        action: AuditAction.CircuitDeleted,
        status: 'success',
        userId: actorId,
        resourceType: 'circuit',
        resourceId: circuit.circuitId,
        metadata: {
          name: circuit.name,
          was_retired: circuit.retiredAt !== null,
          wasm_sha256: circuit.wasmSha256,
          zkey_sha256: circuit.zkeySha256,
          artifacts_deleted: unused.map((artifact) => artifact.kind),
        },
      },
      meta,
    );
    for (const { sha256 } of unused) await this.blobs.delete(sha256);
    return {
      circuit_id: circuit.circuitId,
      outcome: 'deleted',
      retired_at: null,
      already_retired: false,
      unfinished_tasks: 0,
    };
  }
}
