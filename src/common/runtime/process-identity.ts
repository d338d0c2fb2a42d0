import { readFileSync, readlinkSync } from 'node:fs';

/**
 * When process `pid` started (clock ticks after boot: field 22 of /proc/<pid>/stat), or undefined where that
 * cannot be read (no /proc, as on macOS; no such process; or a /proc mounted with hidepid). A pid is reused,
 * even by the same program (a container's server is pid 1 on every start); the pid and its start time are not.
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 is the command in parentheses, which may itself hold spaces and parentheses: count after its end.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const startTime = fields[22 - 3];
    return startTime !== undefined && /^\d+$/.test(startTime) ? startTime : undefined;
  } catch {
    return undefined;
  }
}

/** This boot of the machine (start times count from it), or undefined where Linux's boot id is not readable. */
export function bootId(): string | undefined {
  try {
    const id = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return /^[0-9a-f-]+$/.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/** The PID namespace this process sees pids in (a container has its own), or undefined without /proc. */
export function pidNamespace(): string | undefined {
  try {
    return /^pid:\[(\d+)\]$/.exec(readlinkSync('/proc/self/ns/pid'))?.[1];
  } catch {
    return undefined;
  }
}
