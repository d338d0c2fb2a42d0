import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ClaimService } from '../../src/scheduling/claim.service';
import { TestAgent } from './agent';
import { bearer, Session } from './auth';
import { eventually } from './eventually';
import { submitTask } from './tasks';

/**
 * An agent of replica `b` waits in a long poll; a submission on replica `a` must wake it with that task, within
 * 10 s: the claim waits 25 s and looks once more at its end, so its answer alone would not tell a wake-up from
 * that last look.
 */
export async function wokenAcrossReplicas(
  a: NestFastifyApplication,
  b: NestFastifyApplication,
  user: Session,
): Promise<void> {
  const agent = await TestAgent.register(b, bearer(user.accessToken));
  const claims = b.get(ClaimService);
  const before = claims.waiting;
  const waiting = agent.claimRaw({ max: 1, wait_ms: 25_000 });
  await eventually(() => expect(claims.waiting).toBe(before + 1));
  const task = await submitTask(a, bearer(user.accessToken));
  await eventually(() => expect(claims.waiting).toBe(before), { timeoutMs: 10_000, intervalMs: 50 });
  const res = await waiting;
  expect(res.statusCode).toBe(200);
  expect(res.json().runs).toEqual([expect.objectContaining({ task_id: task.task_id })]);
}
