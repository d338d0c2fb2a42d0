/**
 * SIGUSR1 asks for the counters. Installed by the entry point's first imports, before the agent's modules load
 * (~0.5 s, longer while it registers): until a process handles SIGUSR1, Node's default opens the inspector on
 * 127.0.0.1:9229, where any local user could attach and read the node's keys. A request that comes before the
 * agent runs is answered once it does.
 */
let report: (() => void) | null = null;
let asked = false;

process.on('SIGUSR1', () => {
  if (report) report();
  else asked = true;
});

/** From now on SIGUSR1 calls `reportCounters`, at once if it was asked for already. */
export function answerCountersSignal(reportCounters: () => void): void {
  report = reportCounters;
  if (asked) {
    asked = false;
    reportCounters();
  }
}
