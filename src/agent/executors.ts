import { internalLane } from '../common/concurrency/fair-queue';
import { jsonSha256Hex } from '../common/crypto/json-hash';
import { storableText } from '../common/validation/unstorable-text';
import type { WasmService } from '../wasm/wasm.service';
import { ContentCache, ContentMismatchError } from './content-cache';
import { checkedLimits } from './leased-run';
import { prove } from './prover';
import { setTimeout as sleep } from 'node:timers/promises';
import { retryWaitMs } from './pacing';
import { AgentTransport, LeasedRun, retryAfterOf, RunLimits, TransportError } from './transport';

/** The part of the WASM engine the agent uses: runs bytes it downloaded, under the run's limits. */
export type WasmEngine = Pick<WasmService, 'runBytes'>;

/** What executing a run produced, before it is signed and reported. */
export interface Execution {
  outcome: string;
  output: unknown;
  stdout?: string;
  stderr?: string;
  exitCode?: number;
  executionTimeMs: number;
  /** For the receipt: the module's SHA-256 (WASM runs) or the circuit (zk runs). */
  moduleHash?: string;
  circuitId?: string;
  /** zk runs that produced a proof. */
  proof?: { proof: unknown; publicSignals: unknown };
  /** Wall time of the engine call itself (WASM runs): what the agent adds is measured against it. */
  engineMs?: number;
}

export interface ExecutorDeps {
  transport: AgentTransport;
  engine: WasmEngine;
  cache: ContentCache;
}

/** The agent's runs wait for the engine's slots in their own lane (the embedded node shares the server's engine). */
const AGENT_LANE = internalLane('node-agent');
const MAX_TEXT = 65_536;

const clip = (text: string) => (text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) : text);

/** A run the node could not execute at all (`error`, a node fault: the task goes back to the queue). */
export const refused = (message: string, extra: Partial<Execution> = {}): Execution => ({
  outcome: 'error',
  output: null,
  stderr: clip(message),
  executionTimeMs: 0,
  ...extra,
});

export async function execute(deps: ExecutorDeps, run: LeasedRun, signal: AbortSignal): Promise<Execution> {
  const limits = checkedLimits(run);
  if (typeof limits === 'string') {
    return refused(limits, { moduleHash: run.spec.module_id ?? undefined, circuitId: run.spec.circuit_id });
  }
  switch (run.task_type) {
    case 'wasm_execution':
    case 'computation':
      return executeWasm(deps, run, limits, signal);
    case 'zk_proof':
      return executeProof(deps, run, limits, signal);
    case 'federated_learning':
      return refused('federated_learning is not supported by this agent yet (its own issue)');
    default:
      return refused(`unknown task type ${run.task_type}`);
  }
}

/** Tries of one download that fails for the network or the server (a reset, a 502, a timeout) before giving up. */
export const DOWNLOAD_TRIES = 4;
/** The longest wait between two tries: the run's lease is held (and renewed by heartbeats) meanwhile. */
const DOWNLOAD_RETRY_CAP_MS = 5_000;

/**
 * `call` (a download), tried again with backoff after a failure the network or the server may get over (a
 * retryable TransportError): one lost answer must not cost someone's task an attempt.
 */
async function retried<T>(call: () => Promise<T>, signal: AbortSignal): Promise<T> {
  for (let failures = 1; ; failures++) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof TransportError && error.retryable) || failures >= DOWNLOAD_TRIES) throw error;
      const waitMs = retryWaitMs(failures, Math.random(), retryAfterOf(error), DOWNLOAD_RETRY_CAP_MS);
      await sleep(waitMs, undefined, { signal });
    }
  }
}

/**
 * `work`, or the signal's abort, whichever comes first: a dropped run (`lost`, `cancel`) frees its slot at once
 * instead of waiting for a slow download, which goes on for the cache (other runs may share it).
 */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Downloads through the content-addressed cache; a mismatch or a missing object refuses the run. */
async function fetchChecked(
  cache: ContentCache,
  sha256: string,
  download: () => Promise<Uint8Array>,
  signal: AbortSignal,
): Promise<Uint8Array | string> {
  try {
    return await retried(() => untilAborted(cache.get(sha256, download), signal), signal);
  } catch (error) {
    if (error instanceof ContentMismatchError) return `the downloaded content does not hash to ${sha256}`;
    const status = (error as { status?: number | null }).status;
    if (status === 404) return `${sha256} is not on the server`;
    throw error; // still failing: the run is refused (executeOrRefuse), or the agent's own disk failed it
  }
}

/** A file system error of the node's own (its data dir: permissions, a full disk), not the network's. */
export function isLocalFileError(error: unknown): error is NodeJS.ErrnoException {
  // Not `instanceof Error`: Node's own errors come from another realm under a test runner's sandbox.
  const { code, path, syscall } = (typeof error === 'object' && error !== null ? error : {}) as Record<
    string,
    unknown
  >;
  return typeof code === 'string' && typeof path === 'string' && typeof syscall === 'string';
}

/**
 * `execute`, with a failure the node met (a download failed on the network, an engine that refused the run,
 * busy) made a refused run: the task goes back to the queue, and the receipt names what the server bound the
 * run to, so it verifies. A file system error of the node's own data dir is thrown instead (isLocalFileError):
 * it is no fault of the task's.
 */
export async function executeOrRefuse(
  deps: ExecutorDeps,
  run: LeasedRun,
  signal: AbortSignal,
): Promise<Execution> {
  try {
    return await execute(deps, run, signal);
  } catch (error) {
    if (isLocalFileError(error)) throw error;
    return refused(String(error), {
      moduleHash: run.spec.module_id ?? undefined,
      circuitId: run.spec.circuit_id,
    });
  }
}

async function executeWasm(
  deps: ExecutorDeps,
  run: LeasedRun,
  limits: RunLimits,
  signal: AbortSignal,
): Promise<Execution> {
  const { spec } = run;
  if (!spec.module_id) {
    return refused(`this ${run.task_type} task names no module (built-in programs need a newer server)`);
  }
  const moduleId = spec.module_id;
  const bytes = await fetchChecked(deps.cache, moduleId, () => deps.transport.module(moduleId), signal);
  if (typeof bytes === 'string') return refused(bytes, { moduleHash: moduleId });
  const engineStarted = performance.now();
  const result = await deps.engine.runBytes(
    bytes,
    {
      inputs: spec.inputs,
      args: spec.args,
      runtime: 'v8',
      timeoutMs: limits.timeout_ms,
      deterministic: spec.deterministic,
      limits: {
        maxMemoryBytes: limits.memory_mb * 1024 * 1024,
        maxOutputBytes: limits.output_bytes,
      },
      signal,
    },
    AGENT_LANE,
  );
  const engineMs = performance.now() - engineStarted;
  const execution: Execution = {
    engineMs,
    outcome: result.outcome,
    // The output is stdout parsed as JSON, else its text (the engine's rule); a program may print a NUL,
    // which the server could not store: it is reported as U+FFFD, the same on every node.
    output: result.outcome === 'ok' ? storableText(result.stdout) : null,
    executionTimeMs: result.execution_time_ms,
    moduleHash: result.module_hash,
    stderr: storableText(clip(result.stderr)),
  };
  // The engine has parsed JSON stdout already; a failed run's tail is text either way, for its owner to read.
  if (result.outcome !== 'ok' && result.stdout !== undefined && result.stdout !== null) {
    const text = typeof result.stdout === 'string' ? result.stdout : JSON.stringify(result.stdout);
    execution.stdout = storableText(clip(text));
  }
  if (result.exit_code !== null) execution.exitCode = result.exit_code;
  return execution;
}

async function executeProof(
  deps: ExecutorDeps,
  run: LeasedRun,
  limits: RunLimits,
  signal: AbortSignal,
): Promise<Execution> {
  const circuitId = run.spec.circuit_id;
  if (!circuitId) return refused('this zk_proof task names no circuit');
  const circuit = await retried(() => untilAborted(deps.transport.circuit(circuitId), signal), signal);
  if (!circuit.wasm_sha256 || !circuit.zkey_sha256) {
    return refused('the circuit has no witness generator and proving key', { circuitId });
  }
  const wasm = await fetchChecked(
    deps.cache,
    circuit.wasm_sha256,
    () => deps.transport.circuitArtifact(circuitId, 'wasm'),
    signal,
  );
  if (typeof wasm === 'string') return refused(wasm, { circuitId });
  const zkey = await fetchChecked(
    deps.cache,
    circuit.zkey_sha256,
    () => deps.transport.circuitArtifact(circuitId, 'zkey'),
    signal,
  );
  if (typeof zkey === 'string') return refused(zkey, { circuitId });
  const started = performance.now();
  const result = await prove({
    protocol: circuit.protocol,
    inputs: witnessInputs(run.spec.inputs),
    wasm,
    zkey,
    timeoutMs: limits.timeout_ms,
    signal,
  });
  const executionTimeMs = Math.round(performance.now() - started);
  switch (result.end) {
    case 'proved': {
      const output = { proof: result.proof, public_signals: result.publicSignals };
      return {
        outcome: 'ok',
        output,
        executionTimeMs,
        circuitId,
        proof: { proof: result.proof, publicSignals: result.publicSignals },
      };
    }
    case 'failed':
      // The inputs do not satisfy the circuit: the task's own fault, like a guest trap.
      return { outcome: 'trap', output: null, stderr: clip(result.message), executionTimeMs, circuitId };
    case 'timeout':
    case 'cancelled':
      return { outcome: 'timeout', output: null, executionTimeMs, circuitId };
    case 'error':
      return refused(`the prover failed: ${result.message}`, { circuitId, executionTimeMs });
  }
}

/** The pinned output hash: SHA-256 of the RFC 8785 form of the output. */
export const outputHashOf = (output: unknown) => jsonSha256Hex(output ?? null);

/**
 * The circuit's input signals: a zk_proof task's `inputs` also state the public signals the proof must have
 * (`public_signals`, checked by the server), which are not a signal of the circuit (the witness calculator
 * refuses unknown signals).
 */
export function witnessInputs(inputs: unknown): unknown {
  if (inputs === null || typeof inputs !== 'object' || Array.isArray(inputs)) return inputs;
  const signals: Record<string, unknown> = { ...(inputs as Record<string, unknown>) };
  delete signals.public_signals;
  return signals;
}
