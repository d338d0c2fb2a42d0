import { EventEmitter } from 'node:events';

/**
 * npm passes the SIGINT/SIGTERM it gets on to the script it runs, so Ctrl-C on `npm run agent` reaches the agent
 * twice at once; so does a supervisor signalling both the process and its process group (`timeout`, for one).
 * One repeat of the first signal within this long is that same stop, not an operator's second one.
 */
export const REPEAT_MS = 1000;

/** A supervisor's stop (SIGTERM), Ctrl-C (SIGINT), the terminal or SSH session it runs in closing (SIGHUP). */
export const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/** The exit status of a second signal, which stops at once: 128 + the signal's number, as if killed by it. */
export const FORCED_EXIT_CODES: Record<(typeof STOP_SIGNALS)[number], number> = {
  SIGHUP: 129,
  SIGINT: 130,
  SIGTERM: 143,
};

/**
 * Resolves at the first SIGTERM, SIGINT or SIGHUP. Listening starts when it is called — the agent's first
 * line — so a signal while it registers or waits for its first heartbeat ends it with exit 0 like any stop, not
 * killed by the signal (exit 143, 130 or 129 to a supervisor). A second one (another signal, or the first a
 * second later) calls `forced`.
 */
export function stopSignals(
  forced: (signal: (typeof STOP_SIGNALS)[number]) => void,
  { signals = process, now = Date.now }: { signals?: EventEmitter; now?: () => number } = {},
): Promise<NodeJS.Signals> {
  let first: { signal: NodeJS.Signals; at: number; repeated: boolean } | undefined;
  return new Promise((resolve) => {
    for (const signal of STOP_SIGNALS) {
      signals.on(signal, () => {
        if (first === undefined) {
          first = { signal, at: now(), repeated: false };
          resolve(signal);
        } else if (!first.repeated && signal === first.signal && now() - first.at < REPEAT_MS) {
          first.repeated = true;
        }
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
