import { Logger } from '@nestjs/common';
import type { Package, Wasmer } from '@wasmer/sdk/node';
import { ConcurrencyLimiter } from '../concurrency-limiter';
import { LruCache } from '../lru-cache';
import { RuntimeJob, RuntimeResult, WasmRuntime } from '../runtime';

const WASI_MODULE = 'wasi_snapshot_preview1';
// Past the timeout: when the caller gets `timeout` anyway, and when a still-running SDK call counts as stuck.
const SOFT_GRACE_MS = 250;
const HARD_GRACE_MS = 10_000;
const CLOSE_TIMEOUT_MS = 5000;

type WasmerSdk = typeof import('@wasmer/sdk/node');

/**
 * Runs WASI/WASIX commands with @wasmer/sdk. Each call gets a fresh sandbox (so no file a guest writes
 * survives into another call), with networking disabled and only the virtual file system. The SDK is
 * loaded lazily: it costs ~250 MB of memory, which a deployment that only uses v8 should not pay.
 *
 * Limits of this runtime, recorded in the README: no deterministic mode (the SDK offers no way to replace
 * the guest's clock or random source), and output past the cap is truncated but the guest keeps running
 * until it exits or times out (the SDK's streaming API did not return on this machine).
 */
export class WasmerRuntime implements WasmRuntime {
  readonly name = 'wasmer' as const;
  readonly supportsDeterminism = false;
  private readonly logger = new Logger('WasmerRuntime');
  private client: Promise<{ sdk: WasmerSdk; wasmer: Wasmer }> | null = null;
  private readonly packages: LruCache<string, Promise<Package>>;
  private closed = false;
  private readonly serial = new ConcurrencyLimiter(1, Number.MAX_SAFE_INTEGER);

  constructor(options: { cacheSize?: number } = {}) {
    this.packages = new LruCache(options.cacheSize ?? 64);
  }

  supportsImport(module: string): boolean {
    return module === WASI_MODULE || /^wasix_[A-Za-z0-9_]+$/.test(module);
  }

  /**
   * Measured here: with several runaway guests at once the SDK enforced none of their timeouts and its
   * close() then hung; one at a time, every timeout fired. So calls into the SDK are serialised.
   */
  run(job: RuntimeJob): Promise<RuntimeResult> {
    return this.serial.run(() => this.runOne(job));
  }

  private async runOne(job: RuntimeJob): Promise<RuntimeResult> {
    if (this.closed) throw new Error('WasmerRuntime is closed');
    if (job.deterministic) throw new Error('the wasmer runtime has no deterministic mode');
    const { sdk, wasmer } = await this.connect();
    const empty = { stdout: new Uint8Array(), stderr: new Uint8Array(), memoryBytes: null };
    let pkg: Package;
    try {
      pkg = await this.load(wasmer, job);
    } catch (error) {
      return { end: 'invalid_module', exitCode: null, ...empty, detail: this.describe(error) };
    }
    // No network, no host directories, and only the variables the task lists: the sandbox starts empty.
    const sandbox = await wasmer.sandboxes.create({
      packages: [pkg],
      network: { mode: 'disabled' },
      env: { ...job.env },
    });
    const started = performance.now();
    const settled = sandbox
      .command(pkg, [...job.args])
      .run({ stdin: job.stdin, timeoutMs: job.timeoutMs, outputBytes: job.maxOutputBytes, check: false })
      .then(
        (output): RuntimeResult => {
          const result = { stdout: output.stdout.bytes, stderr: output.stderr.bytes, memoryBytes: null };
          if (output.stdout.truncated || output.stderr.truncated) {
            return { end: 'output_limit', exitCode: null, ...result, detail: null };
          }
          if (output.reason === 'timeout') return { end: 'timeout', exitCode: null, ...result, detail: null };
          if (output.reason === 'terminated') {
            return { end: 'trap', exitCode: null, ...result, detail: 'terminated' };
          }
          return { end: 'exited', exitCode: output.exitCode, ...result, detail: null };
        },
        (error: unknown): RuntimeResult => {
          // A guest trap is thrown by the SDK (EXECUTION_ERROR) even with check: false.
          if (error instanceof sdk.WasmerError && error.code === 'EXECUTION_ERROR') {
            return { end: 'trap', exitCode: null, ...empty, detail: this.describe(error) };
          }
          // Anything else means the SDK itself is in trouble: rebuild it so the next call starts clean.
          this.logger.warn(`wasmer client reset after: ${this.describe(error)}`);
          this.reset();
          return { end: 'trap', exitCode: null, ...empty, detail: 'the wasmer runtime failed' };
        },
      )
      .finally(() =>
        sandbox.close().catch((error: unknown) => this.logger.warn(`sandbox close: ${this.describe(error)}`)),
      );
    // The SDK stops a runaway guest 0.1–0.7 s after its timeout; the caller gets its answer at the deadline
    // (+ a small grace) regardless, and the SDK finishes killing the guest in the background.
    let soft: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      soft = setTimeout(() => resolve('deadline'), job.timeoutMs + SOFT_GRACE_MS);
    });
    const first = await Promise.race([settled, deadline]);
    clearTimeout(soft);
    if (first !== 'deadline') return first;
    const hard = setTimeout(() => {
      // The SDK did not stop the guest at all: a stuck client is replaced rather than trusted again.
      this.logger.warn(
        `wasmer ignored a ${job.timeoutMs} ms timeout for ${Math.round(performance.now() - started)} ms`,
      );
      this.reset();
    }, HARD_GRACE_MS);
    void settled.finally(() => clearTimeout(hard));
    return { end: 'timeout', exitCode: null, ...empty, detail: null };
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = null;
    this.packages.clear();
    if (!client) return;
    // Bounded: a client stuck on a guest it failed to stop must not hold up shutdown.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      client.then(({ wasmer }) => wasmer.close()),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS).unref())),
    ]).finally(() => clearTimeout(timer));
  }

  private connect(): Promise<{ sdk: WasmerSdk; wasmer: Wasmer }> {
    this.client ??= (async () => {
      // ESM-only package; `module: node20` keeps this a real dynamic import in the CommonJS build.
      const sdk = await import('@wasmer/sdk/node');
      // cache: false — nothing is written to disk (the default is a .wasmer directory in the cwd).
      const wasmer = new sdk.Wasmer({ cache: false });
      await wasmer.ready();
      return { sdk, wasmer };
    })();
    this.client.catch(() => (this.client = null));
    return this.client;
  }

  private load(wasmer: Wasmer, job: RuntimeJob): Promise<Package> {
    let pkg = this.packages.get(job.moduleHash);
    if (!pkg) {
      pkg = wasmer.packages.load(job.bytes());
      pkg.catch(() => this.packages.delete(job.moduleHash));
      this.packages.set(job.moduleHash, pkg);
    }
    return pkg;
  }

  private reset(): void {
    const client = this.client;
    this.client = null;
    this.packages.clear();
    if (client) {
      void client
        .then(({ wasmer }) => wasmer.close())
        .catch((error: unknown) =>
          this.logger.warn(`closing a failed wasmer client: ${this.describe(error)}`),
        );
    }
  }

  private describe(error: unknown): string {
    const message = error instanceof Error ? error.message : String(error);
    return message.split('\n')[0].slice(0, 200);
  }
}
