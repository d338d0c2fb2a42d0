import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomBytes } from 'node:crypto';

/** The original demo's registration body, unchanged (ambient-vcp README: node-001, us-west, compute …). */
export const ORIGINAL_NODE = {
  node_id: 'node-001',
  region: 'us-west',
  node_type: 'compute',
  capabilities: { bandwidth_mbps: 150, cpu_cores: 8, memory_gb: 16, gpu_available: true },
};

export const uniqueNodeId = (prefix = 'node') => `${prefix}-${randomBytes(4).toString('hex')}`;

export type Headers = Record<string, string>;

export interface RegisteredNode {
  node_id: string;
  owner_id: string | null;
  status: string;
  health_score: number;
  node_api_key: string;
}

export async function registerNode(
  app: NestFastifyApplication,
  headers: Headers,
  overrides: Record<string, unknown> = {},
): Promise<RegisteredNode> {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/nodes',
    headers,
    payload: { ...ORIGINAL_NODE, node_id: uniqueNodeId(), ...overrides },
  });
  if (res.statusCode !== 201) throw new Error(`node registration failed: ${res.statusCode} ${res.body}`);
  return res.json<RegisteredNode>();
}

export function heartbeat(
  app: NestFastifyApplication,
  nodeId: string,
  headers: Headers,
  payload: object = {},
) {
  return app.inject({ method: 'PUT', url: `/api/v1/nodes/${nodeId}/heartbeat`, headers, payload });
}
