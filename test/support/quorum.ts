import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { TestAgent } from './agent';
import { bearer, newSession, Session } from './auth';

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
