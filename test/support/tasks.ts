import { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Headers } from './nodes';

/** The original demo's task body (a computation needing one node), unchanged. */
export const ORIGINAL_TASK = {
  task_type: 'computation',
  inputs: { numbers: [1, 2, 3], operation: 'sum' },
  requirements: { min_nodes: 1, max_execution_time_sec: 60, require_gpu: false, require_proof: false },
};

export interface TaskInfo {
  task_id: string;
  status: string;
  status_reason: string | null;
  attempts: number;
  assigned_nodes: string[];
  result: unknown;
  proof_id: string | null;
  verification?: Record<string, unknown>;
  runs?: {
    run_id: string;
    node_id: string;
    status: string;
    outcome: string | null;
    output_hash: string | null;
    verdict?: string | null;
    exit_code?: number | null;
    stdout_tail?: string | null;
    stderr_tail?: string | null;
  }[];
}

/** POST /tasks with exactly `body`, whatever the answer. */
export function postTask(app: NestFastifyApplication, headers: Headers, body: object) {
  return app.inject({ method: 'POST', url: '/api/v1/tasks', headers, payload: body });
}

export async function submitTask(
  app: NestFastifyApplication,
  headers: Headers,
  overrides: Record<string, unknown> = {},
): Promise<TaskInfo> {
  const res = await postTask(app, headers, { ...ORIGINAL_TASK, ...overrides });
  if (res.statusCode !== 201) throw new Error(`task submission failed: ${res.statusCode} ${res.body}`);
  return res.json<TaskInfo>();
}

export async function getTask(
  app: NestFastifyApplication,
  taskId: string,
  headers: Headers,
): Promise<TaskInfo> {
  const res = await app.inject({ method: 'GET', url: `/api/v1/tasks/${taskId}`, headers });
  if (res.statusCode !== 200) throw new Error(`task read failed: ${res.statusCode} ${res.body}`);
  return res.json<TaskInfo>();
}
