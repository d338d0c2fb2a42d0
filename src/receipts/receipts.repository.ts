import { Injectable } from '@nestjs/common';
import type { RunReceipt } from '../common/receipts/receipt';
import { DatabaseSession } from '../database/transaction-runner';
import type { RunVerdict } from './task-receipt';

/** An accepted run with the evidence stored for it (any of it may be missing on rows older than issue 18). */
export interface AcceptedRunRecord {
  runId: string;
  nodeId: string | null;
  /** The key the signature was checked with when the result was accepted (else the node's current key). */
  nodePublicKey: string | null;
  verdict: RunVerdict | null;
  receipt: RunReceipt | null;
  signature: string | null;
}

export interface ReceiptEvidence {
  inputsHash: string | null;
  /** The task's arguments and determinism: with the module and the inputs, what decides a WASM run's output. */
  args: string[];
  deterministic: boolean;
  runs: AcceptedRunRecord[];
}

interface EvidenceRow {
  inputs_hash: string | null;
  args: string[];
  deterministic: boolean;
  run_id: string | null;
  node_id: string | null;
  public_key: string | null;
  verdict: RunVerdict | null;
  receipt: RunReceipt | null;
  signature: string | null;
}

/** What a task's receipt is built from: its inputs hash and its accepted runs with their signed receipts. */
@Injectable()
export class ReceiptsRepository {
  constructor(private readonly db: DatabaseSession) {}

  /**
   * The accepted runs: succeeded, and either judged valid or the canonical run itself (a task that needed
   * one run compares nothing, so its run has no verdict). null: no such task.
   */
  async evidence(taskId: string): Promise<ReceiptEvidence | null> {
    // LEFT JOIN: a task without accepted runs still yields one row (its inputs hash, run columns null).
    const rows = await this.db.query<EvidenceRow>(
      `SELECT t.inputs_hash, t.args, t.deterministic, r.run_id, r.node_id, COALESCE(r.node_public_key, n.public_key) AS public_key,
              r.verdict, r.receipt, r.signature
         FROM tasks t
         LEFT JOIN task_runs r
           ON r.task_id = t.task_id AND r.status = 'succeeded'
          AND (r.verdict = 'valid' OR r.run_id = t.canonical_run_id)
         LEFT JOIN nodes n ON n.node_id = r.node_id
        WHERE t.task_id = $1
        ORDER BY r.fence`,
      [taskId],
    );
    if (rows.length === 0) return null;
    return {
      inputsHash: rows[0].inputs_hash,
      args: rows[0].args,
      deterministic: rows[0].deterministic,
      runs: rows
        .filter((row): row is EvidenceRow & { run_id: string } => row.run_id !== null)
        .map((row) => ({
          runId: row.run_id,
          nodeId: row.node_id,
          nodePublicKey: row.public_key,
          verdict: row.verdict,
          receipt: row.receipt,
          signature: row.signature,
        })),
    };
  }
}
