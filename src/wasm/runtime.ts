import { WasmRuntimeName } from './wasm.config';

/**
 * WASIX functions that start another module or thread (proc_exec3, proc_spawn, proc_fork, thread_spawn, …): not
 * available. A module a guest writes to its file system and starts is not the one whose memory was capped, and
 * a probe's child grew to 2 GiB, several at once, past WASM_MAX_MEMORY_MB.
 */
export const WASIX_SPAWNS = /^(proc_exec|proc_spawn|proc_fork|thread_spawn)/;

/** One execution, as handed to a runtime. Everything is already validated and capped by WasmService. */
export interface RuntimeJob {
  moduleHash: string;
  /** The memory-capped module bytes; only called on a compiled-module cache miss. */
  bytes: () => Uint8Array<ArrayBuffer>;
  stdin: Uint8Array;
  /** argv[1..]; argv[0] is always "main". */
  args: readonly string[];
  env: Readonly<Record<string, string>>;
  timeoutMs: number;
  maxOutputBytes: number;
  /** When set, the clock is fixed and random_get is seeded (v8 only). */
  deterministic: { seed: string } | null;
  /** Aborting ends the run at once, like a timeout (the caller discards its result). */
  signal?: AbortSignal;
}

/** The `detail` of a run stopped through its `signal` (ended as a `timeout`). */
export const CANCELLED = 'cancelled';

export type RuntimeEnd = 'exited' | 'trap' | 'timeout' | 'output_limit' | 'invalid_module';

export interface RuntimeResult {
  end: RuntimeEnd;
  exitCode: number | null;
  stdout: Uint8Array;
  stderr: Uint8Array;
  /** Linear memory at the end, when the runtime can see it (v8). */
  memoryBytes: number | null;
  /** A short reason for trap / invalid_module, safe to show. */
  detail: string | null;
}

/** The one interface both engines implement; the shared conformance suite runs against each. */
export interface WasmRuntime {
  readonly name: WasmRuntimeName;
  /** Import modules this runtime can satisfy, checked before a module reaches it. */
  supportsImport(module: string, name: string): boolean;
  readonly supportsDeterminism: boolean;
  run(job: RuntimeJob): Promise<RuntimeResult>;
  close(): Promise<void>;
}
