import { Injectable } from '@nestjs/common';
import { AuditAction } from '../audit/audit-actions';
import { AuditService } from '../audit/audit.service';
import type { RequestMeta } from '../common/auth/principal';
import { AppException } from '../common/errors/app.exception';
import { TransactionRunner } from '../database/transaction-runner';
import { CircuitRepository } from './circuit.repository';
import { CircuitDto, toCircuitDto } from './dto/circuit.dto';

/**
 * Bringing a retired circuit back into service (`POST /admin/circuits/:circuit_id/restore`), the way out of a
 * retirement made by mistake: `retired_at` is cleared and new zk_proof tasks and proofs may name it again. Its
 * key, files and the tasks and proofs resting on it never changed while it was retired, so nothing else is
 * undone. A deleted circuit is gone (its key registers anew); there is nothing to restore.
 */
@Injectable()
export class CircuitRestorationService {
  constructor(
    private readonly transactions: TransactionRunner,
    private readonly circuits: CircuitRepository,
    private readonly audit: AuditService,
  ) {}

  /**
   * Restores the circuit, audited in the same transaction; an active one is returned unchanged (audited too,
   * with `already_active`). The row is read with the remover's own lock, so a restore and a removal run one
   * after the other: a deletion that commits first leaves nothing to restore (404), and a removal that comes
   * second sees the circuit active.
   */
  async restore(circuitId: string, actorId: string, meta: RequestMeta | null = null): Promise<CircuitDto> {
    return this.transactions.run(async () => {
      const circuit = await this.circuits.lockById(circuitId);
      if (!circuit) throw AppException.notFound('Circuit not found');
      const alreadyActive = circuit.retiredAt === null;
      const restored = alreadyActive ? circuit : await this.circuits.restore(circuitId);
      await this.audit.record(
        {
          action: AuditAction.CircuitRestored,
          status: 'success',
          userId: actorId,
          resourceType: 'circuit',
          resourceId: circuitId,
          metadata: {
            name: circuit.name,
            already_active: alreadyActive,
            retired_at: circuit.retiredAt?.toISOString() ?? null,
          },
        },
        meta,
      );
      return toCircuitDto(restored);
    });
  }
}
