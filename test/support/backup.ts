import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { generateNodeKeyPair, NodeKeyPair } from '../../src/common/receipts/receipt';
import { LeasedRun, signedOkResult } from './agent';
import { ORIGINAL_NODE, uniqueNodeId } from './nodes';

/** Helpers for the backup-and-restore specs, which drive the built server over HTTP. */

export interface Call {
  token?: string;
  apiKey?: string;
  json?: unknown;
  wasm?: Buffer;
}

export async function call(
  port: number,
  method: string,
  path: string,
  { token, apiKey, json, wasm }: Call = {},
) {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (apiKey) headers['x-api-key'] = apiKey;
  if (json !== undefined) headers['content-type'] = 'application/json';
  if (wasm) headers['content-type'] = 'application/wasm';
  return fetch(`http://127.0.0.1:${port}/api/v1${path}`, {
    method,
    headers,
    body: json !== undefined ? JSON.stringify(json) : wasm && new Uint8Array(wasm),
  });
}

export async function ok<T>(response: Promise<Response>, status = 200): Promise<T> {
  const res = await response;
  const text = await res.text();
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

export async function bytes(response: Promise<Response>): Promise<Buffer> {
  const res = await response;
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

export const login = (port: number, who: { username: string; password: string }) =>
  ok<{ access_token: string; refresh_token: string }>(call(port, 'POST', '/auth/login', { json: who }));

export const filesIn = (dir: string) =>
  readdirSync(dir, { recursive: true, withFileTypes: true }).filter((entry) => !entry.isDirectory());

export const pgTool = (name: string) =>
  ['/usr/bin', '/usr/local/bin'].map((dir) => join(dir, name)).find(existsSync);

export function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
}

/** README's PostgreSQL steps 2 and the restore: `pg_dump` of `from`, `pg_restore` into the empty `to`. */
export function dumpAndRestore(from: string, to: string, file: string): void {
  const [pgDump, pgRestore] = [pgTool('pg_dump'), pgTool('pg_restore')];
  if (!pgDump || !pgRestore) throw new Error('pg_dump or pg_restore not found in /usr/bin or /usr/local/bin');
  run(pgDump, ['--format=custom', `--file=${file}`, from]);
  run(pgRestore, ['--no-owner', '--exit-on-error', `--dbname=${to}`, file]);
}

/**
 * A node that speaks the protocol over HTTP with its node key (no engine): its results are signed with its own
 * key pair. Its port is whichever server it is pointed at, as an agent behind a balancer would be.
 */
export class HttpNode {
  private constructor(
    readonly nodeId: string,
    readonly key: string,
    private readonly keys: NodeKeyPair,
  ) {}

  static async register(port: number, token: string): Promise<HttpNode> {
    const keys = generateNodeKeyPair();
    const nodeId = uniqueNodeId();
    const { node_api_key: key } = await ok<{ node_api_key: string }>(
      call(port, 'POST', '/nodes', {
        token,
        json: { ...ORIGINAL_NODE, node_id: nodeId, public_key: keys.publicKeyBase64 },
      }),
      201,
    );
    return new HttpNode(nodeId, key, keys);
  }

  async claim(port: number, max: number): Promise<LeasedRun[]> {
    const res = await call(port, 'POST', `/nodes/${this.nodeId}/claim`, {
      apiKey: this.key,
      json: { max, wait_ms: 0 },
    });
    if (res.status === 204) return [];
    return (await ok<{ runs: LeasedRun[] }>(Promise.resolve(res))).runs;
  }

  /** The signed result body of an `ok` run with this output. */
  result(run: LeasedRun, output: unknown): Record<string, unknown> {
    return signedOkResult(run, output, this.keys.privateKey);
  }

  report(port: number, run: LeasedRun, body: Record<string, unknown>) {
    return call(port, 'POST', `/runs/${run.run_id}/result`, { apiKey: this.key, json: body });
  }

  heartbeat(port: number, runs: LeasedRun[]) {
    return ok<{ leases: { renewed: string[]; lost: string[]; cancel: string[] } }>(
      call(port, 'PUT', `/nodes/${this.nodeId}/heartbeat`, {
        apiKey: this.key,
        json: { runs: runs.map((r) => ({ run_id: r.run_id, fence: r.fence })) },
      }),
    );
  }
}
