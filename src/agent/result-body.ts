import type { KeyObject } from 'node:crypto';
import { jsonSha256Hex } from '../common/crypto/json-hash';
import { resultReceipt, signReceipt } from '../common/receipts/receipt';
import { Execution, outputHashOf } from './executors';
import type { LeasedRun, ResultBody } from './transport';

/** The result as reported: the output, its pinned hash, and the node's signature over the receipt. */
export function resultBodyOf(run: LeasedRun, execution: Execution, privateKey: KeyObject): ResultBody {
  const outputHash = outputHashOf(execution.output);
  const receipt = resultReceipt({
    task_id: run.task_id,
    run_id: run.run_id,
    fence: run.fence,
    inputs_hash: jsonSha256Hex(run.spec.inputs),
    module_hash: execution.moduleHash,
    circuit_id: execution.circuitId,
    proof: execution.proof?.proof,
    public_signals: execution.proof?.publicSignals,
    output_hash: outputHash,
    outcome: execution.outcome,
    execution_time_ms: execution.executionTimeMs,
  });
  const body: ResultBody = {
    fence: run.fence,
    outcome: execution.outcome,
    output: execution.output,
    output_hash: outputHash,
    execution_time_ms: execution.executionTimeMs,
    signature: signReceipt(receipt, privateKey),
  };
  if (execution.stdout !== undefined) body.stdout = execution.stdout;
  if (execution.stderr !== undefined) body.stderr = execution.stderr;
  if (execution.exitCode !== undefined) body.exit_code = execution.exitCode;
  if (execution.proof) {
    body.proof = execution.proof.proof;
    body.public_signals = execution.proof.publicSignals;
  }
  return body;
}
