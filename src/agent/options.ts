import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { length } from 'class-validator';
import { defaultConcurrency } from './machine';

export interface AgentOptions {
  server: string;
  apiKey: string | undefined;
  /** The key came from VCP_API_KEY, not --api-key (a variable outlives the start it was set for). */
  apiKeyFromEnv: boolean;
  nodeId: string | undefined;
  concurrency: number;
  dataDir: string;
  region: string;
  json: boolean;
  graceMs: number;
  cacheBytes: number;
  /**
   * Print the node's public key (creating its key pair in the data dir if needed) and exit: what registering
   * a node for a node key needs before the agent ever ran.
   */
  printPublicKey: boolean;
  /** Print the usage and exit. */
  help: boolean;
}

export class OptionsError extends Error {}

/**
 * The server URL as the agent prints it: a password in it (basic auth for a proxy in front of the API) is
 * masked, since the agent's lines end up in logs that other people read.
 */
export function shownServer(server: string): string {
  const url = new URL(server);
  if (url.password) url.password = '***';
  return url.toString().replace(/\/+$/, '');
}

/** What the server accepts as a node id (RegisterNodeDto's pattern). */
export const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export const USAGE = `usage: npm run agent -- --server <url> --api-key <key> [--node-id <id>] [--concurrency <n>]
                     [--data-dir <dir>] [--region <r>] [--json]
       npm run agent -- --print-public-key [--data-dir <dir>]   (the key to register the node with; no server)
each flag also as env: VCP_SERVER_URL, VCP_API_KEY, VCP_NODE_ID, VCP_AGENT_CONCURRENCY, VCP_AGENT_DIR, VCP_REGION
(also --grace-secs / VCP_AGENT_GRACE_SECS, default 30; --cache-mb / VCP_AGENT_CACHE_MB, default 1024)`;

/** The agent's flags, as parseArgs reads them. */
export const AGENT_FLAGS = {
  server: { type: 'string' },
  'api-key': { type: 'string' },
  'node-id': { type: 'string' },
  concurrency: { type: 'string' },
  'data-dir': { type: 'string' },
  region: { type: 'string' },
  json: { type: 'boolean' },
  'grace-secs': { type: 'string' },
  'cache-mb': { type: 'string' },
  'print-public-key': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;
type AgentFlag = keyof typeof AGENT_FLAGS;

/** The environment variable each flag may also be given as. */
export const AGENT_FLAG_VARIABLES = {
  server: 'VCP_SERVER_URL',
  'api-key': 'VCP_API_KEY',
  'node-id': 'VCP_NODE_ID',
  concurrency: 'VCP_AGENT_CONCURRENCY',
  'data-dir': 'VCP_AGENT_DIR',
  region: 'VCP_REGION',
  'grace-secs': 'VCP_AGENT_GRACE_SECS',
  'cache-mb': 'VCP_AGENT_CACHE_MB',
} as const satisfies Partial<Record<AgentFlag, string>>;

/** A flag as a refusal names it: with its variable, as either may have given the value. */
const named = (flag: keyof typeof AGENT_FLAG_VARIABLES) => `--${flag} (${AGENT_FLAG_VARIABLES[flag]})`;

function integer(
  flag: keyof typeof AGENT_FLAG_VARIABLES,
  text: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (text === undefined) return fallback;
  // Digits only: Number() would take '0x10', '1e2', '+4' and a blank (0) as well.
  const value = /^\d{1,9}$/.test(text) ? Number(text) : NaN;
  if (!(value >= min && value <= max)) {
    throw new OptionsError(`${named(flag)} must be a whole number from ${min} to ${max}`);
  }
  return value;
}

/**
 * Whether arguments that did not parse (a usage error) ask for `--json`, read leniently (unknown flags, missing
 * values let through), so the error's `exited` line reaches the log pipeline that asked for lines. `--json`
 * given as another flag's value, or with a value (`--json=yes`), does not count.
 */
export function jsonAsked(argv: string[]): boolean {
  return parseArgs({ args: argv, options: AGENT_FLAGS, strict: false }).values.json === true;
}

/**
 * Flags win over the environment; the names are pinned by issue 17 (operators and scripts rely on them). An
 * empty variable (`VCP_AGENT_DIR=` in a compose file or a unit) is unset: an empty data dir would be the
 * current directory, and an empty region or node id a refusal.
 */
export function parseOptions(argv: string[], rawEnv: NodeJS.ProcessEnv): AgentOptions {
  const env = Object.fromEntries(Object.entries(rawEnv).filter(([, value]) => value !== ''));
  const { values } = parseArgs({ args: argv, options: AGENT_FLAGS, strict: true });
  const printPublicKey = values['print-public-key'] ?? false;
  const help = values.help ?? false;
  const server =
    values.server ?? env.VCP_SERVER_URL ?? (printPublicKey || help ? 'http://localhost:3000' : '');
  if (!server) throw new OptionsError(`${named('server')} is required`);
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new OptionsError('--server must be a URL such as http://host:3000');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new OptionsError('--server must be an http or https URL');
  }
  const nodeId = values['node-id'] ?? env.VCP_NODE_ID;
  // A flag's mistake, said before anything is created in the data dir (exit 64, like any bad flag).
  if (nodeId !== undefined && !NODE_ID.test(nodeId)) {
    throw new OptionsError(`${named('node-id')} must be 1–64 ASCII letters, digits, "-" or "_"`);
  }
  if (values['data-dir'] === '') throw new OptionsError('--data-dir must not be empty');
  const region = values.region ?? env.VCP_REGION ?? 'default';
  // Counted as the server's @Length(1, 32) counts (characters, not UTF-16 units), by the same function.
  if (!length(region, 1, 32)) throw new OptionsError(`${named('region')} must be 1–32 characters`);
  return {
    server: url.toString().replace(/\/+$/, ''),
    apiKey: values['api-key'] ?? env.VCP_API_KEY,
    apiKeyFromEnv: values['api-key'] === undefined && env.VCP_API_KEY !== undefined,
    nodeId,
    concurrency: integer(
      'concurrency',
      values.concurrency ?? env.VCP_AGENT_CONCURRENCY,
      defaultConcurrency(),
      1,
      256,
    ),
    dataDir: resolve(values['data-dir'] ?? env.VCP_AGENT_DIR ?? join(homedir(), '.vcp-agent')),
    region,
    json: values.json ?? false,
    graceMs: integer('grace-secs', values['grace-secs'] ?? env.VCP_AGENT_GRACE_SECS, 30, 0, 3600) * 1000,
    cacheBytes:
      integer('cache-mb', values['cache-mb'] ?? env.VCP_AGENT_CACHE_MB, 1024, 1, 1024 * 1024) * 1024 * 1024,
    printPublicKey,
    help,
  };
}
