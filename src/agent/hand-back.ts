import { isFence } from '../common/validation/fence';
import type { AgentSetup } from './agent-setup';
import type { LeasedRun } from './transport';

/**
 * How long a stop waits for the server to take back the runs it stopped: short, so a server that does not
 * answer holds the exit no longer than this past the grace period (those leases then expire, as before).
 */
export const RELEASE_WAIT_MS = 2_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Hands back runs a stopping agent will not finish (POST /runs/:run_id/release): one release per run, all at
 * once, bounded by RELEASE_WAIT_MS; a failure is said in one line and leaves the lease to expire.
 */
export async function handBack(
  setup: Pick<AgentSetup, 'transport' | 'reporter'>,
  runs: LeasedRun[],
): Promise<void> {
  await releaseAll(
    setup,
    runs.map((run) => ({ runId: run.run_id, taskId: run.task_id, fence: run.fence })),
  );
}

/**
 * Hands back at once a leased run the agent will not start (`ignored`), so its task is queued again instead of
 * waiting out the lease. Not one this node runs already (a duplicate: releasing it would end the lease of the
 * run in progress), nor one without a run_id and fence to name it by. A release that fails or does not answer
 * within RELEASE_WAIT_MS is said in one line and the lease left to expire, as before.
 */
export async function handBackIgnored(
  setup: Pick<AgentSetup, 'transport' | 'reporter'>,
  run: unknown,
  held: ReadonlyMap<string, unknown>,
): Promise<void> {
  const { run_id: runId, task_id: taskId, fence } = (run ?? {}) as Partial<Record<string, unknown>>;
  // The run_id goes into the request's path: only a UUID, so a hostile claim answer cannot aim the node's key
  // at another route of the server.
  if (typeof runId !== 'string' || !UUID.test(runId) || !isFence(fence) || held.has(runId)) return;
  await releaseAll(setup, [{ runId, taskId: typeof taskId === 'string' ? taskId : null, fence }]);
}

/**
 * The releases, each said as `released` or `release_failed` before this returns (a stop's last line stays
 * `stopped`): a release still unanswered at RELEASE_WAIT_MS is said failed then, and its late answer is not.
 */
async function releaseAll(
  { transport, reporter }: Pick<AgentSetup, 'transport' | 'reporter'>,
  runs: { runId: string; taskId: string | null; fence: string }[],
): Promise<void> {
  if (runs.length === 0) return;
  const signal = AbortSignal.timeout(RELEASE_WAIT_MS);
  const unsaid = new Set(runs.map((run) => run.runId));
  const failed = (runId: string, why: string) =>
    reporter.emit({
      event: 'release_failed',
      run_id: runId,
      message: `${why}: its lease expires on the server`,
    });
  const released = Promise.all(
    runs.map(({ runId, taskId, fence }) =>
      transport.release(runId, fence, signal).then(
        () => {
          if (unsaid.delete(runId)) reporter.emit({ event: 'released', task_id: taskId, run_id: runId });
        },
        (error: unknown) => {
          if (unsaid.delete(runId)) failed(runId, error instanceof Error ? error.message : String(error));
        },
      ),
    ),
  );
  await withinReleaseWait(released);
  for (const runId of unsaid) failed(runId, `no answer within ${RELEASE_WAIT_MS / 1000} s`);
  unsaid.clear();
}

/** A transport that does not heed the release's signal is not waited for past it either. */
async function withinReleaseWait(released: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([released, new Promise((resolve) => (timer = setTimeout(resolve, RELEASE_WAIT_MS)))]);
  clearTimeout(timer);
}
