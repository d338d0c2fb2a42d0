import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { LeasedRun, TestAgent } from './agent';
import { bearer, newSession, Session } from './auth';

/**
 * The app settings quorum specs run under: a failed run is retried at once, leases are swept only when a test
 * asks, and one node may hold many runs.
 */
export const QUORUM_APP_ENV = {
  TASK_RETRY_BASE_MS: '0',
  SCHEDULER_SWEEP_INTERVAL_SECS: '3600',
  NODE_MAX_CONCURRENT_RUNS: '100',
};

export const QUORUM_TASK = { requirements: { min_nodes: 2, max_execution_time_sec: 60 } };
/** Claimed before anything an earlier test left in the queue. */
export const FIRST = { ...QUORUM_TASK, priority: 9 };

/** Operators (users) and their test agents: a quorum needs nodes of distinct owners. */
export function quorumAgents(ctx: { app: NestFastifyApplication }) {
  const operator = (name: string) => newSession(ctx.app, `${name}_${Math.random().toString(36).slice(2, 8)}`);
  const agentOf = async (owner?: Session) =>
    TestAgent.register(ctx.app, bearer((owner ?? (await operator('op'))).accessToken));
  return { operator, agentOf };
}

/** The honest answer for a run: a function of its inputs, so honest nodes agree and a liar's answer differs. */
export const honest = (run: LeasedRun) => ({ echo: run.spec.inputs });
export const LIE = { echo: 'forged' };

/** A node's reputation as an admin reads it. */
export async function reputationOf(
  ctx: { app: NestFastifyApplication; admin: { accessToken: string } },
  agent: TestAgent,
): Promise<{ reputation: Record<string, unknown> }> {
  const res = await ctx.app.inject({
    method: 'GET',
    url: `/api/v1/nodes/${agent.nodeId}`,
    headers: bearer(ctx.admin.accessToken),
  });
  return res.json<{ reputation: Record<string, unknown> }>();
}
