import { randomUUID } from 'node:crypto';
import { jsonSha256Hex } from '../../src/common/crypto/json-hash';
import {
  generateNodeKeyPair,
  NodeKeyPair,
  resultReceipt,
  signReceipt,
} from '../../src/common/receipts/receipt';
import {
  keyIdOf,
  ReceiptRun,
  signTaskReceipt,
  SignedTaskReceipt,
  TaskReceipt,
  verificationOf,
} from '../../src/receipts/task-receipt';

export interface ReceiptFixture {
  file: SignedTaskReceipt;
  server: NodeKeyPair;
  nodes: NodeKeyPair[];
}

export interface ReceiptFixtureOptions {
  taskType?: string;
  minNodes?: number;
  quorum?: number;
  /** One run per key; the same key twice means one node ran twice. Defaults to `minNodes` fresh keys. */
  nodes?: NodeKeyPair[];
  output?: unknown;
}

/** A receipt as the server issues it, built and signed here with generated server and node keys. */
export function receiptFixture(options: ReceiptFixtureOptions = {}): ReceiptFixture {
  const taskType = options.taskType ?? 'wasm_execution';
  const minNodes = options.minNodes ?? 2;
  const zk = taskType === 'zk_proof';
  const nodes = options.nodes ?? Array.from({ length: minNodes }, () => generateNodeKeyPair());
  const server = generateNodeKeyPair();
  const taskId = randomUUID();
  const inputs = { numbers: [1, 2, 3] };
  const output = options.output ?? (zk ? { proof: { pi_a: ['1'] }, public_signals: ['33'] } : { sum: 6 });
  const moduleHash = zk ? undefined : jsonSha256Hex('module bytes');
  const circuitId = zk ? jsonSha256Hex('verification key') : undefined;
  const runs: ReceiptRun[] = nodes.map((keys, index) => {
    const receipt = resultReceipt({
      task_id: taskId,
      run_id: randomUUID(),
      fence: String(index + 1),
      inputs_hash: jsonSha256Hex(inputs),
      module_hash: moduleHash,
      circuit_id: circuitId,
      ...(zk
        ? {
            proof: (output as { proof?: unknown }).proof,
            public_signals: (output as { public_signals?: unknown }).public_signals,
          }
        : {}),
      output_hash: jsonSha256Hex(output),
      outcome: 'ok',
      execution_time_ms: 12 + index,
    });
    return {
      run_id: receipt.run_id,
      node_id: `node-${index + 1}`,
      node_public_key: keys.publicKeyBase64,
      verdict: minNodes > 1 ? 'valid' : null,
      receipt,
      signature: signReceipt(receipt, keys.privateKey),
    };
  });
  const receipt: TaskReceipt = {
    version: 1,
    task_id: taskId,
    task_type: taskType,
    inputs_hash: jsonSha256Hex(inputs),
    ...(moduleHash ? { module_hash: moduleHash } : {}),
    ...(circuitId ? { circuit_id: circuitId } : {}),
    verification: verificationOf(taskType, minNodes),
    min_nodes: minNodes,
    quorum: options.quorum ?? minNodes,
    output_hash: jsonSha256Hex(output),
    canonical_run_id: runs[0].run_id,
    ...(zk ? { proof_id: randomUUID() } : {}),
    completed_at: '2026-12-02T10:00:00.000Z',
    issued_at: '2026-12-02T10:05:00.000Z',
    server_key_id: keyIdOf(server.publicKeyBase64),
    server_public_key: server.publicKeyBase64,
    runs,
  };
  return { file: { receipt, signature: signTaskReceipt(receipt, server.privateKey) }, server, nodes };
}

/** The receipt re-signed (and re-keyed) by `keys`: what a server, or an impostor with its own key, would send. */
export function resign(receipt: TaskReceipt, keys: NodeKeyPair): SignedTaskReceipt {
  const rekeyed = {
    ...receipt,
    server_public_key: keys.publicKeyBase64,
    server_key_id: keyIdOf(keys.publicKeyBase64),
  };
  return { receipt: rekeyed, signature: signTaskReceipt(rekeyed, keys.privateKey) };
}

/** A deep copy to tamper with. */
export const copyOf = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** The same base64 text with one character changed (to a different character of the alphabet). */
export function flipBase64(text: string, at = 10): string {
  const replacement = text[at] === 'A' ? 'B' : 'A';
  return text.slice(0, at) + replacement + text.slice(at + 1);
}
