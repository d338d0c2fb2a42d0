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
