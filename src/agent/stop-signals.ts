/**
 * Resolves at the first SIGTERM or SIGINT. Listening starts when it is called — the agent's first line — so a
 * signal while it registers or waits for its first heartbeat ends it with exit 0 like any stop, not killed by
 * the signal (exit 143 or 130 to a supervisor).
 */
export function stopSignals(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => resolve(signal));
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
