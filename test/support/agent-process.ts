import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { exited, requireBuild } from './server-process';

export const AGENT_MAIN = join(__dirname, '../../dist/src/agent/main.js');

export interface AgentProcess {
  child: ChildProcess;
  /** The `--json` lines printed so far, parsed. */
  events(): Record<string, unknown>[];
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs the built agent (`npm run agent`) as its own process with the given flags and `--json`. */
export function startAgent(args: string[], env: Record<string, string> = {}): AgentProcess {
  requireBuild();
  const child = spawn(process.execPath, [AGENT_MAIN, ...args, '--json'], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return {
    child,
    events: () =>
      out
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    output: () => `${out}\n${err}`,
    exited: exited(child),
  };
}
