import { NestFastifyApplication } from '@nestjs/platform-fastify';
import canonicalize from 'canonicalize';
import { createHash, KeyObject } from 'node:crypto';
import { ClientRequest, request } from 'node:http';
import { jsonSha256Hex } from '../../src/common/crypto/json-hash';
import {
  generateNodeKeyPair,
  NodeKeyPair,
  resultReceipt,
  RunReceipt,
  signReceipt,
} from '../../src/common/receipts/receipt';
import { ClaimService } from '../../src/scheduling/claim.service';
import { apiKeyHeader } from './auth';
import { eventually } from './eventually';
import { Headers, registerNode, RegisteredNode } from './nodes';

export interface LeasedRun {
  run_id: string;
  task_id: string;
  task_type: string;
  fence: string;
  lease_expires_at: string;
  spec: {
    inputs: unknown;
    args: string[];
    module_id: string | null;
    module_url: string | null;
    circuit_id?: string;
    deterministic: boolean;
    limits: Record<string, number>;
  };
}

/** The receipt a node signs for a result (issue 17), built the way a third-party node would. */
export function receiptFor(run: LeasedRun, body: Record<string, unknown>): RunReceipt {
  return resultReceipt({
    task_id: run.task_id,
    run_id: run.run_id,
    fence: String(body.fence),
    inputs_hash: jsonSha256Hex(run.spec.inputs),
    module_hash: run.spec.module_id,
    circuit_id: run.spec.circuit_id,
    proof: body.proof,
    public_signals: body.public_signals,
    output_hash: String(body.output_hash),
    outcome: String(body.outcome),
    execution_time_ms: Number(body.execution_time_ms),
  });
}

/** The pinned output hash, computed the way a third-party node would: SHA-256 of the RFC 8785 form. */
export const outputHash = (output: unknown) =>
  createHash('sha256')
    .update(canonicalize(output ?? null) ?? 'null', 'utf8')
    .digest('hex');

/**
 * The result body a node sends for a run, signed over its receipt with `privateKey` unless `extra` names its
 * own `signature` (even undefined: then none is sent).
 */
export function signedResult(
  run: LeasedRun,
  outcome: string,
  output: unknown,
  privateKey: KeyObject,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const body: Record<string, unknown> = {
    fence: run.fence,
    outcome,
    output,
    output_hash: outputHash(output),
    stdout: '',
    stderr: '',
    exit_code: outcome === 'ok' ? 0 : null,
    execution_time_ms: 12,
    ...extra,
  };
  if (!('signature' in extra)) body.signature = signReceipt(receiptFor(run, body), privateKey);
  return body;
}

/** The signed result body of an `ok` run with this output. */
export const signedOkResult = (run: LeasedRun, output: unknown, privateKey: KeyObject) =>
  signedResult(run, 'ok', output, privateKey);

/** A test agent: plain HTTP calls with the node's key, no engine; results signed with its own key pair. */
export class TestAgent {
  constructor(
    private readonly app: NestFastifyApplication,
    readonly node: RegisteredNode,
    readonly keys: NodeKeyPair,
  ) {}

  /** Registers a node with a fresh Ed25519 key pair (as the real agent does) and returns its agent. */
  static async register(
    app: NestFastifyApplication,
    headers: Headers,
    overrides: Record<string, unknown> = {},
  ): Promise<TestAgent> {
    const keys = generateNodeKeyPair();
    const node = await registerNode(app, headers, { public_key: keys.publicKeyBase64, ...overrides });
    return new TestAgent(app, node, keys);
  }

  get nodeId(): string {
    return this.node.node_id;
  }

  /**
   * A long-poll claim over a real connection to the listening app at `baseUrl`, closed by this client once the
   * server is waiting on it (an agent stopped mid-poll).
   */
  /** A claim sent over a real connection (to `baseUrl`), which the caller can close by destroying it. */
  openClaim(baseUrl: string, claim: object = { max: 1, wait_ms: 0 }): ClientRequest {
    const body = JSON.stringify(claim);
    const req = request(`${baseUrl}/api/v1/nodes/${this.nodeId}/claim`, {
      method: 'POST',
      headers: {
        'x-api-key': this.node.node_api_key,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      },
    });
    req.on('error', () => undefined); // the client's own destroy
    req.end(body);
    return req;
  }

  async abandonClaim(baseUrl: string): Promise<void> {
    const claims = this.app.get(ClaimService);
    const req = this.openClaim(baseUrl, { max: 1, wait_ms: 20_000 });
    await eventually(() => expect(claims.waiting).toBe(1));
    req.destroy();
    await eventually(() => expect(claims.waiting).toBe(0));
  }

  claimRaw(body: object = { max: 1, wait_ms: 0 }, headers: Headers = {}) {
    return this.app.inject({
      method: 'POST',
      url: `/api/v1/nodes/${this.nodeId}/claim`,
      headers: { ...apiKeyHeader(this.node.node_api_key), ...headers },
      payload: body,
    });
  }

  async claim(body: object = { max: 1, wait_ms: 0 }, headers: Headers = {}): Promise<LeasedRun[]> {
    const res = await this.claimRaw(body, headers);
    if (res.statusCode === 204) return [];
    if (res.statusCode !== 200) throw new Error(`claim failed: ${res.statusCode} ${res.body}`);
    return res.json<{ runs: LeasedRun[] }>().runs;
  }

  /** Reports a result, signed over its receipt unless `extra` names its own `signature`. */
  report(
    run: LeasedRun,
    outcome: string,
    output: unknown,
    extra: Record<string, unknown> = {},
    headers: Headers = {},
  ) {
    return this.app.inject({
      method: 'POST',
      url: `/api/v1/runs/${run.run_id}/result`,
      headers: { ...apiKeyHeader(this.node.node_api_key), ...headers },
      payload: signedResult(run, outcome, output, this.keys.privateKey, extra),
    });
  }

  /** Hands a run back (POST /runs/:run_id/release) with its fence, or `fence`; with `headers` instead of the key. */
  release(run: Pick<LeasedRun, 'run_id' | 'fence'>, fence: unknown = run.fence, headers?: Headers) {
    return this.app.inject({
      method: 'POST',
      url: `/api/v1/runs/${run.run_id}/release`,
      headers: headers ?? apiKeyHeader(this.node.node_api_key),
      payload: { fence },
    });
  }

  heartbeat(runs: Pick<LeasedRun, 'run_id' | 'fence'>[]) {
    return this.app.inject({
      method: 'PUT',
      url: `/api/v1/nodes/${this.nodeId}/heartbeat`,
      headers: apiKeyHeader(this.node.node_api_key),
      payload: { runs: runs.map((run) => ({ run_id: run.run_id, fence: run.fence })) },
    });
  }
}
