import type { AgentSetup } from './agent-setup';
import type { LeasedRun } from './transport';

/**
 * How long a stop waits for the server to take back the runs it stopped: short, so a server that does not
 * answer holds the exit no longer than this past the grace period (those leases then expire, as before).
 */
const RELEASE_WAIT_MS = 2_000;

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
  // A transport that does not heed the signal is not waited for past it either.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([released, new Promise((resolve) => (timer = setTimeout(resolve, RELEASE_WAIT_MS)))]);
  clearTimeout(timer);
}
