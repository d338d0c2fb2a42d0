/**
 * Issue 13, row 4, in bounded form: distinct large modules uploaded and run against a server in a child
 * process (`node dist/src/main.js`, embedded database in a fresh DATA_DIR). For each variant the bench polls
 * the server's RSS from outside (/proc/<pid>/status) and prints peak RSS over its idle baseline and the module
 * bytes on disk; one user uploads ABUSE_STORAGE_MODULES (16) distinct ABUSE_STORAGE_MODULE_MB (9) MB modules
 * and runs each, with a quota that fits ABUSE_STORAGE_FIT (12) of them, so the rest are refused (413
 * `storage_quota_exceeded`); then every module is deleted and the bytes on disk are printed again.
 *
 * Variants: a compiled-module budget (WASM_MODULE_CACHE_BYTES = ABUSE_STORAGE_CACHE_MB, 64) smaller than the
 * modules run, and, for comparison in the same run, a budget no run here reaches (what a cache bounded only by
 * entries did with fewer than 64 modules).
 *
 *   npm run build && node dist/bench/abuse/module-storage.js
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { largeModule } from '../support/large-module';
import { statusField } from '../support/server-child';

const MODULES = Number(process.env.ABUSE_STORAGE_MODULES ?? 16);
const MODULE_MB = Number(process.env.ABUSE_STORAGE_MODULE_MB ?? 9);
const FIT = Number(process.env.ABUSE_STORAGE_FIT ?? 12);
const MIB = 1024 * 1024;
/** The compiled-module budget of the first variant: by default room for two of the 9 MB modules (3 bytes charged per byte). */
const CACHE_BYTES = Number(process.env.ABUSE_STORAGE_CACHE_MB ?? 64) * MIB;
/** Allowed peak over idle with the budget: the budget plus room for uploads in flight and the verified-bytes cache. */
const SLACK_BYTES = 384 * MIB;
const MAIN = join(__dirname, '..', '..', 'src', 'main.js');

interface Server {
  child: ChildProcess;
  base: string;
  stop(): Promise<void>;
}

function startServer(env: Record<string, string>): Promise<Server> {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let port: string | null = null;
  // The log is kept only until the server says where it listens (it would grow with every request after).
  const collect = (chunk: Buffer) => {
    if (port !== null) return;
    out += chunk.toString();
    port = /listening on http:\/\/[^:]+:(\d+)/.exec(out)?.[1] ?? null;
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  return new Promise((resolve, reject) => {
    // Generous: on a loaded machine the embedded database's first start takes a while.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start:\n${out}`));
    }, 300_000);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${out}`)));
    const poll = setInterval(() => {
      if (port === null) return;
      clearInterval(poll);
      clearTimeout(timer);
      resolve({
        child,
        base: `http://127.0.0.1:${port}/api/v1`,
        stop: () =>
          new Promise((done) => {
            child.removeAllListeners('exit');
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    }, 100);
  });
}

function bytesOnDisk(dir: string): number {
  try {
    return readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
  } catch {
    return 0; // not created yet: nothing stored
  }
}

const mb = (bytes: number) => `${(bytes / MIB).toFixed(0)} MB`;

async function request(
  base: string,
  method: string,
  path: string,
  key: string | null,
  body?: Buffer | object,
) {
  const headers: Record<string, string> = key ? { 'x-api-key': key } : {};
  if (Buffer.isBuffer(body)) headers['content-type'] = 'application/wasm';
  else if (body) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: Buffer.isBuffer(body) ? new Uint8Array(body) : body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

interface VariantResult {
  idle: number;
  peak: number;
  diskAfterUploads: number;
  diskAfterDeletes: number;
  /** The store before the uploads: the built-in programs' modules, which are never collected. */
  diskBefore: number;
  accepted: number;
  refusedForQuota: number;
  otherRefusals: string[];
  runsOk: number;
}

async function variant(cacheBytes: number, modules: Buffer[]): Promise<VariantResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'vcp-bench-storage-'));
  const moduleSize = modules[0].length;
  const server = await startServer({
    DATA_DIR: dataDir,
    WASM_MODULE_CACHE_BYTES: String(cacheBytes),
    MODULE_STORAGE_QUOTA_BYTES: String(Math.floor(moduleSize * (FIT + 0.5))),
    WASM_MAX_MODULE_BYTES: String(Math.max(10 * MIB, moduleSize + MIB)),
    RATE_LIMIT_TASK_RPM: '100000',
    RATE_LIMIT_TASK_BURST: '100000',
    RATE_LIMIT_GENERAL_RPM: '100000',
    RATE_LIMIT_GENERAL_BURST: '100000',
  });
  const pid = server.child.pid!;
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, statusField(pid, 'VmRSS'))), 50);
  try {
    const user = await request(server.base, 'POST', '/auth/register', null, {
      username: `bench_${Date.now()}`,
      password: 'bench password 123',
    });
    const key = user.json.api_key as string;
    // Idle baseline: after one small upload and run, so the runtime's workers exist.
    const warm = largeModule(64 * 1024, 1_000_000);
    const warmUp = await request(server.base, 'POST', '/modules', key, warm);
    await request(server.base, 'POST', `/modules/${warmUp.json.module_id as string}/run`, key, {
      inputs: null,
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const idle = statusField(pid, 'VmRSS');
    peak = idle;
    const result: VariantResult = {
      idle,
      peak: 0,
      diskBefore: 0,
      diskAfterUploads: 0,
      diskAfterDeletes: 0,
      accepted: 0,
      refusedForQuota: 0,
      otherRefusals: [],
      runsOk: 0,
    };
    const store = join(dataDir, 'wasm-modules');
    const ids: string[] = [warmUp.json.module_id as string];
    for (const id of ids) {
      const deleted = await request(server.base, 'DELETE', `/modules/${id}`, key);
      if (deleted.status !== 200) result.otherRefusals.push(`delete ${deleted.status}`);
    }
    result.diskBefore = bytesOnDisk(store);
    ids.length = 0;
    for (const bytes of modules) {
      const uploaded = await request(server.base, 'POST', '/modules', key, bytes);
      if (uploaded.status === 201) {
        result.accepted++;
        const id = uploaded.json.module_id as string;
        ids.push(id);
        const ran = await request(server.base, 'POST', `/modules/${id}/run`, key, { inputs: null });
        if (ran.json.outcome === 'ok') result.runsOk++;
        else result.otherRefusals.push(`run ${ran.status} ${String(ran.json.outcome ?? ran.json.error)}`);
      } else if (uploaded.status === 413 && uploaded.json.reason === 'storage_quota_exceeded') {
        result.refusedForQuota++;
      } else {
        result.otherRefusals.push(`upload ${uploaded.status} ${String(uploaded.json.error)}`);
      }
    }
    result.peak = Math.max(peak, statusField(pid, 'VmRSS'));
    result.diskAfterUploads = bytesOnDisk(store);
    for (const id of ids) {
      const deleted = await request(server.base, 'DELETE', `/modules/${id}`, key);
      if (deleted.status !== 200) result.otherRefusals.push(`delete ${deleted.status}`);
    }
    result.diskAfterDeletes = bytesOnDisk(store);
    return result;
  } finally {
    clearInterval(sampler);
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function run(): Promise<{ name: string; lines: string[]; pass: boolean }> {
  const modules = Array.from({ length: MODULES }, (_, i) => largeModule(MODULE_MB * MIB, i));
  const size = modules[0].length;
  const lines = [`${MODULES} distinct ${mb(size)} modules, each uploaded then run (v8); quota fits ${FIT}`];
  const budgeted = await variant(CACHE_BYTES, modules);
  const unbounded = await variant(64 * 1024 * MIB, modules);
  const over = (r: VariantResult) => r.peak - r.idle;
  for (const [label, r] of [
    [`cache budget ${mb(CACHE_BYTES)}`, budgeted],
    ['no effective budget', unbounded],
  ] as const) {
    lines.push(
      `${label}: idle ${mb(r.idle)}, peak ${mb(r.peak)} (+${mb(over(r))}); ${r.accepted} stored and run ok ` +
        `${r.runsOk}, ${r.refusedForQuota} refused 413 storage_quota_exceeded; on disk ${mb(r.diskAfterUploads)}, ` +
        `after deleting all ${mb(r.diskAfterDeletes)} (${r.diskAfterDeletes - r.diskBefore} bytes more than the ` +
        `built-in programs' ${r.diskBefore} before the uploads)` +
        (r.otherRefusals.length ? `; unexpected: ${r.otherRefusals.slice(0, 3).join(', ')}` : ''),
    );
  }
  lines.push(
    `peak over idle, budget / no budget: ${(over(budgeted) / Math.max(over(unbounded), 1)).toFixed(2)}`,
  );
  const quotaHeld =
    budgeted.accepted === Math.min(FIT, MODULES) && budgeted.refusedForQuota === MODULES - budgeted.accepted;
  const bounded = over(budgeted) <= CACHE_BYTES + SLACK_BYTES;
  const freed = budgeted.diskAfterDeletes <= budgeted.diskBefore;
  const clean = budgeted.otherRefusals.length === 0 && budgeted.runsOk === budgeted.accepted;
  lines.push(
    `quota ${quotaHeld ? 'held' : 'NOT HELD'}; peak over idle ${bounded ? '≤' : '>'} budget + ${mb(SLACK_BYTES)}; ` +
      `disk ${freed ? 'freed' : 'NOT FREED'} by deletes`,
  );
  return { name: 'module storage (row 4)', lines, pass: quotaHeld && bounded && freed && clean };
}

if (require.main === module) {
  run().then(
    (result) => {
      process.stdout.write(
        `${result.name}: ${result.pass ? 'PASS' : 'FAIL'}\n${result.lines.map((l) => `  ${l}`).join('\n')}\n`,
      );
      process.exit(result.pass ? 0 : 1);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
