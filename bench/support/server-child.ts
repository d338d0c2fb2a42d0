import { ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The built server, from dist/bench/support/. */
const MAIN = join(__dirname, '..', '..', 'src', 'main.js');

export interface ServerChild {
  child: ChildProcess;
  base: string;
  /** Resident set of the server process now, in bytes (Linux /proc). */
  rss(): number;
  stop(): Promise<void>;
}

/** A size field of a process's /proc status (VmRSS: resident now, VmHWM: its peak), in bytes (0 for a zombie). */
export const statusField = (pid: number, field: 'VmRSS' | 'VmHWM') =>
  Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) *
  1024;

/** Starts `node dist/src/main.js` in its own process (the measured one) and waits until it listens. */
export async function startServerChild(env: Record<string, string>): Promise<ServerChild> {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out = (out + chunk.toString()).slice(-20_000)));
  child.stderr?.on('data', (chunk: Buffer) => (out = (out + chunk.toString()).slice(-20_000)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL'); // never leave a half-started server behind
      reject(new Error(`server did not start:\n${out}`));
    }, 300_000);
    child.stdout?.on('data', () => {
      const match = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });
  const pid = child.pid as number;
  return {
    child,
    base: `http://127.0.0.1:${port}/api/v1`,
    rss: () => statusField(pid, 'VmRSS'),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Polls a process's RSS every `everyMs` while `work` runs (and `afterMs` after); returns the peak seen. */
export async function peakRss<T>(
  rss: () => number,
  work: () => Promise<T>,
  { everyMs = 20, afterMs = 0 } = {},
): Promise<{ value: T; peak: number }> {
  let peak = rss();
  const timer = setInterval(() => (peak = Math.max(peak, rss())), everyMs);
  try {
    const value = await work();
    if (afterMs > 0) await new Promise((resolve) => setTimeout(resolve, afterMs));
    return { value, peak: Math.max(peak, rss()) };
  } finally {
    clearInterval(timer);
  }
}
