import { ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadOrCreateKeyPair } from '../../src/agent/identity';
import { exited, requireBuild } from './server-process';

export const AGENT_MAIN = join(__dirname, '../../dist/src/agent/main.js');

export interface AgentProcess {
  child: ChildProcess;
  /** The JSON lines printed so far, parsed. */
  events(): Record<string, unknown>[];
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A data dir an earlier start left: the node's key pair and node.json naming the node and its key. */
export function storeNode(dataDir: string, node = { node_id: 'n1', node_api_key: 'vcp_node_key' }): void {
  loadOrCreateKeyPair(dataDir);
  writeFileSync(join(dataDir, 'node.json'), JSON.stringify(node));
}

/** Runs the built agent (`npm run agent`) as its own process with the given flags and `--json`. */
export function startAgent(args: string[], env: Record<string, string> = {}): AgentProcess {
  requireBuild();
  return startNodeScript(AGENT_MAIN, [...args, '--json'], env);
}

/** Runs a node program (the agent, or another one that prints JSON lines) with only PATH and `env`. */
export function startNodeScript(
  script: string,
  args: string[],
  env: Record<string, string> = {},
): AgentProcess {
  const child = spawn(process.execPath, [script, ...args], {
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
