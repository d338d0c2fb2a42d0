import { V8Runtime } from '../wasm/v8/v8.runtime';
import { DEFAULT_STRUCTURAL_LIMITS, WasmConfig } from '../wasm/wasm.config';
import { WasmService } from '../wasm/wasm.service';

/**
 * The server's WASM engine, built without Nest for a standalone agent: the v8 runtime with all its limits
 * (memory cap written into the module, timeout by terminating the worker, output cap, deterministic mode).
 * The engine's own caps are the widest the server may ask for; each run is held to its spec's limits.
 */
export function standaloneEngine(concurrency: number): {
  engine: WasmService;
  /** Starts the workers of the slots the agent uses (the server may lease it fewer runs than `concurrency`). */
  warmUp: (workers: number) => void;
  close: () => Promise<void>;
} {
  const config = new WasmConfig({
    allowedRoots: [],
    maxModuleBytes: 1024 * 1024 * 1024,
    timeoutMs: 3_600_000,
    maxMemoryBytes: 4096 * 1024 * 1024,
    maxConcurrency: concurrency,
    maxConcurrencyPerUser: concurrency,
    maxQueuedPerUser: 10_000,
    defaultRuntime: 'v8',
    maxOutputBytes: 64 * 1024 * 1024,
    // The server's defaults: a module the server accepted passes here too (the server checked it first).
    structure: DEFAULT_STRUCTURAL_LIMITS,
    moduleCacheBytes: 256 * 1024 * 1024,
    moduleQuotaBytes: 0,
    moduleQuotaCount: 0,
  });
  // Workers start on demand, or at warmUp once the server has said how many runs it leases one node: a
  // --concurrency 64 against its limit of 4 started 64 idle workers (~600 MB).
  const runtime = new V8Runtime({ poolSize: concurrency });
  const engine = new WasmService(config, undefined, [runtime]);
  return { engine, warmUp: (workers) => runtime.warmUp(workers), close: () => engine.close() } as const;
}
