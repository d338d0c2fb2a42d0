import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { join } from 'node:path';
import { Piscina } from 'piscina';
import { checkModule, ModuleCheck } from './module-check';
import { WasmConfig } from './wasm.config';

const WORKER_FILE = join(__dirname, 'module-check.worker.js');

/**
 * Runs checkModule on a thread of its own (piscina), so a module's parsing and validation never block the
 * event loop. `checks` counts the modules parsed, for tests that must show a path parses nothing.
 */
@Injectable()
export class ModuleChecker implements OnApplicationShutdown {
  private readonly pool: Piscina<{ bytes: Uint8Array; limits: WasmConfig['structure'] }, ModuleCheck>;
  private readonly logger = new Logger(ModuleChecker.name);
  private parsed = 0;
  private closing: Promise<void> | null = null;

  constructor(private readonly config: WasmConfig) {
    this.pool = new Piscina({
      filename: WORKER_FILE,
      minThreads: 0,
      maxThreads: 2,
      // A thread that sat idle for a minute is let go: uploads are rare next to runs.
      idleTimeout: 60_000,
      // The scan needs little JS heap; V8's validation memory is bounded by the structural limits.
      resourceLimits: { maxOldGenerationSizeMb: 128 },
    });
    // A thread that fails outside a check (its file gone from under a running server) is the pool's 'error'
    // event: unheard, it would end the process; the check it was for fails on its own.
    this.pool.on('error', (error: unknown) =>
      this.logger.error(`module check thread failed: ${String(error)}`),
    );
  }

  get checks(): number {
    return this.parsed;
  }

  /** Check threads currently running. */
  get threadCount(): number {
    return this.pool.threads.length;
  }

  async check(bytes: Uint8Array): Promise<ModuleCheck> {
    this.parsed++;
    // A copy goes to the thread (structured clone): the caller keeps its bytes to store or run.
    return this.pool.run({ bytes, limits: this.config.structure });
  }

  /**
   * The same check on the event loop, for the built-in programs alone: ~40 KB each of the project's own bytes,
   * pinned by SHA-256 before they get here, parse in a few ms, and starting a thread for them at every boot
   * costs more than that. Never for bytes a user sent: those may be built to make parsing slow.
   */
  checkBuiltIn(bytes: Uint8Array): ModuleCheck {
    this.parsed++;
    return checkModule(bytes, this.config.structure);
  }

  /** Ends the threads (idempotent: the app and a test's teardown may both call it). */
  close(): Promise<void> {
    this.closing ??= this.pool.destroy();
    return this.closing;
  }

  /** After the HTTP server has closed, so an upload or run in flight at SIGTERM still has its check thread. */
  onApplicationShutdown(): Promise<void> {
    return this.close();
  }
}
