import { NestFastifyApplication } from '@nestjs/platform-fastify';
import canonicalize from 'canonicalize';
import { createHash } from 'node:crypto';
import { apiKeyHeader } from './auth';
import type { RegisteredNode } from './nodes';

export interface LeasedRun {
  run_id: string;
  task_id: string;
  task_type: string;
  fence: string;
  lease_expires_at: string;
  spec: { inputs: unknown; args: string[]; module_id: string | null; limits: Record<string, number> };
}

/** The pinned output hash, computed the way a third-party node would: SHA-256 of the RFC 8785 form. */
export const outputHash = (output: unknown) =>
  createHash('sha256')
    .update(canonicalize(output ?? null) ?? 'null', 'utf8')
    .digest('hex');

/** A test agent: plain HTTP calls with the node's key, no engine. */
export class TestAgent {
  constructor(
    private readonly app: NestFastifyApplication,
    readonly node: RegisteredNode,
  ) {}

  get nodeId(): string {
    return this.node.node_id;
  }

  claimRaw(body: object = { max: 1, wait_ms: 0 }) {
    return this.app.inject({
      method: 'POST',
      url: `/api/v1/nodes/${this.nodeId}/claim`,
      headers: apiKeyHeader(this.node.node_api_key),
      payload: body,
    });
  }

  async claim(body: object = { max: 1, wait_ms: 0 }): Promise<LeasedRun[]> {
    const res = await this.claimRaw(body);
    if (res.statusCode === 204) return [];
    if (res.statusCode !== 200) throw new Error(`claim failed: ${res.statusCode} ${res.body}`);
    return res.json<{ runs: LeasedRun[] }>().runs;
  }

  report(run: Pick<LeasedRun, 'run_id' | 'fence'>, outcome: string, output: unknown, extra: object = {}) {
    return this.app.inject({
      method: 'POST',
      url: `/api/v1/runs/${run.run_id}/result`,
      headers: apiKeyHeader(this.node.node_api_key),
      payload: {
        fence: run.fence,
        outcome,
        output,
        output_hash: outputHash(output),
        stdout: '',
        stderr: '',
        exit_code: outcome === 'ok' ? 0 : null,
        execution_time_ms: 12,
        ...extra,
      },
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
