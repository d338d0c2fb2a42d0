import { readFileSync } from 'node:fs';

/** USER_HZ on Linux: /proc/<pid>/stat and /proc/stat count CPU time in these. */
export const CLOCK_TICKS = 100;

/** CPU seconds the process has used so far (user + system), from /proc; 0 once it has exited. */
export function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** The machine's CPU time so far, from /proc/stat's first line (in USER_HZ ticks); zeros where there is none. */
export function machineTicks(): { busy: number; steal: number; total: number } {
  let line: string;
  try {
    line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  } catch {
    return { busy: 0, steal: 0, total: 0 };
  }
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return { busy: total - idle - iowait - steal, steal, total };
}

/** Steal (time the hypervisor gave to other guests) as a share of the machine's time between two readings. */
export function stealShare(
  before: ReturnType<typeof machineTicks>,
  after: ReturnType<typeof machineTicks>,
): number {
  const total = after.total - before.total;
  return total > 0 ? (after.steal - before.steal) / total : 0;
}

/**
 * At or above this share of the machine's time taken by the hypervisor, a measurement is not of the machine
 * the targets assume. On 2026-12-03 single bench:tasks rows saw 5–17 % and ran 10–25 % slower than rows of
 * the same code without it.
 */
export const STEAL_LIMIT = 0.05;
