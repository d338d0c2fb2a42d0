import { ChildProcess, ChildProcessByStdio, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

export const MAIN = join(__dirname, '../../dist/src/main.js');

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  output(): string;
  /** Sends the signal and resolves with how the process ended and how long it took. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

export function requireBuild(): void {
  if (!existsSync(MAIN))
    throw new Error(`${MAIN} is missing: these tests run the built server (npm run build)`);
}

export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** `node dist/src/main.js`, or that run by a launcher (such as `unshare --pid --fork`). */
function serverCommand(launcher: string[]): [string, string[]] {
  return launcher.length
    ? [launcher[0], [...launcher.slice(1), process.execPath, MAIN]]
    : [process.execPath, [MAIN]];
}

/** The built server as `npm start` runs it, on a free loopback port, with no embedded node unless `env` says. */
export function spawnServer(
  env: Record<string, string>,
  launcher: string[] = [],
): ChildProcessByStdio<null, Readable, Readable> {
  requireBuild();
  return spawn(...serverCommand(launcher), {
    env: {
      PATH: process.env.PATH ?? '',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      EMBEDDED_NODE: 'off',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs the built server as `npm start` does (node dist/src/main.js) and waits until it listens. */
export async function startServer(
  env: Record<string, string>,
  timeoutMs = 90_000,
  launcher: string[] = [],
): Promise<ServerProcess> {
  const child = spawnServer(env, launcher);
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in time:\n${out}`)), timeoutMs);
    const onData = () => {
      const match = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${out}`));
    });
  });
  return {
    child,
    port,
    output: () => out,
    stop: async (signal = 'SIGTERM') => {
      const started = Date.now();
      const done = exited(child);
      child.kill(signal);
      const result = await done;
      return { ...result, ms: Date.now() - started };
    },
  };
}

/**
 * How long the server said its close took ("closed in N ms; exiting 0"), NaN when it did not say. Exit 0 is the
 * server's own word that it closed before SHUTDOWN_TIMEOUT_MS (at the deadline it exits 1), and this time is
 * measured by the same clock as that deadline; seen from outside, the signal's delivery and the process's exit
 * add to it on a loaded machine.
 */
export function loggedCloseMs(server: ServerProcess): number {
  return Number(/closed in (\d+) ms; exiting 0/.exec(server.output())?.[1]);
}

/** Runs the server expecting it to refuse to start; resolves with its exit code and output. */
export async function runServerToExit(
  env: Record<string, string>,
  launcher: string[] = [],
): Promise<{ code: number | null; output: string }> {
  requireBuild();
  const child = spawn(...serverCommand(launcher), {
    env: { PATH: process.env.PATH ?? '', PORT: '0', EMBEDDED_NODE: 'off', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // A server that would not exit; generous, as a start on a loaded 2-core CI machine took over 20 s once.
  const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
  const { code } = await exited(child);
  clearTimeout(timer);
  return { code, output };
}
