import { isFence } from '../common/validation/fence';
import type { AgentSetup } from './agent-setup';
import type { LeasedRun } from './transport';

/**
 * How long a stop waits for the server to take back the runs it stopped: short, so a server that does not
 * answer holds the exit no longer than this past the grace period (those leases then expire, as before).
 */
const RELEASE_WAIT_MS = 2_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Hands back runs a stopping agent will not finish (POST /runs/:run_id/release): one release per run, all at
 * once, bounded by RELEASE_WAIT_MS; a failure leaves the lease to expire.
 */
export async function handBack(
  { transport, reporter }: Pick<AgentSetup, 'transport' | 'reporter'>,
  runs: LeasedRun[],
): Promise<void> {
  if (runs.length === 0) return;
  const signal = AbortSignal.timeout(RELEASE_WAIT_MS);
  const released = Promise.all(
    runs.map((run) =>
      transport.release(run.run_id, run.fence, signal).then(
        () => reporter.emit({ event: 'released', task_id: run.task_id, run_id: run.run_id }),
        () => undefined,
      ),
    ),
  );
  await withinReleaseWait(released);
}

/**
 * Hands back at once a leased run the agent will not start (`ignored`), so its task is queued again instead of
 * waiting out the lease. Not one this node runs already (a duplicate: releasing it would end the lease of the
 * run in progress), nor one without a run_id and fence to name it by. A release that fails or does not answer
 * within RELEASE_WAIT_MS is said in one line and the lease left to expire, as before.
 */
export async function handBackIgnored(
  { transport, reporter }: Pick<AgentSetup, 'transport' | 'reporter'>,
  run: unknown,
  held: ReadonlyMap<string, unknown>,
): Promise<void> {
  const { run_id: runId, task_id: taskId, fence } = (run ?? {}) as Partial<Record<string, unknown>>;
  // The run_id goes into the request's path: only a UUID, so a hostile claim answer cannot aim the node's key
  // at another route of the server.
  if (typeof runId !== 'string' || !UUID.test(runId) || !isFence(fence) || held.has(runId)) return;
  const task = typeof taskId === 'string' ? taskId : null;
  const signal = AbortSignal.timeout(RELEASE_WAIT_MS);
  const released = transport.release(runId, fence, signal).then(
    () => reporter.emit({ event: 'released', task_id: task, run_id: runId }),
    (error: unknown) =>
      reporter.emit({
        event: 'release_failed',
        run_id: runId,
        message: `${error instanceof Error ? error.message : String(error)}: its lease expires on the server`,
      }),
  );
  await withinReleaseWait(released);
}

/** A transport that does not heed the release's signal is not waited for past it either. */
async function withinReleaseWait(released: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([released, new Promise((resolve) => (timer = setTimeout(resolve, RELEASE_WAIT_MS)))]);
  clearTimeout(timer);
}
