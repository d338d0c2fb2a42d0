/**
 * Resolves at the first SIGTERM or SIGINT. Listening starts when it is called — the agent's first line — so a
 * signal while it registers or waits for its first heartbeat ends it with exit 0 like any stop, not killed by
 * the signal (exit 143 or 130 to a supervisor). A second one calls `forced`.
 */
export function stopSignals(forced: (signal: NodeJS.Signals) => void): Promise<NodeJS.Signals> {
  let first: NodeJS.Signals | undefined;
  return new Promise((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.on(signal, () => {
        if (first === undefined) resolve((first = signal));
        // A second Ctrl-C (or SIGTERM) means now: an operator must not have to wait out the grace period or a
        // request to a server that stopped answering. Leases left behind expire and their runs requeue.
        else forced(signal);
      });
    }
  });
}

/**
 * `work`'s value, or `stopped` when a stop comes first: nothing is leased yet, so nothing is waited for. What
 * `work` does later (a registration the server answers, a failure) goes unheard: the agent is leaving.
 */
export async function unlessStopped<T>(
  work: Promise<T>,
  stop: Promise<unknown>,
): Promise<{ stopped: true } | { stopped: false; value: T }> {
  work.catch(() => undefined);
  return Promise.race([
    work.then((value) => ({ stopped: false as const, value })),
    stop.then(() => ({ stopped: true as const })),
  ]);
}
