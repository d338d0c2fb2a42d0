// The agent's unit tests' stand-ins: a scripted server, an engine that echoes, and agents built on them.
import { createHash } from 'node:crypto';
import { Agent } from '../../src/agent/agent';
import type { AgentSetup } from '../../src/agent/agent-setup';
import { ContentCache } from '../../src/agent/content-cache';
import type { WasmEngine } from '../../src/agent/executors';
import type { AgentEvent } from '../../src/agent/reporter';
import {
  AgentTransport,
  HeartbeatAnswer,
  HeartbeatBody,
  LeasedRun,
  ANSWER_TOO_LARGE,
  ResultBody,
  SubmitAnswer,
  TransportError,
} from '../../src/agent/transport';
import { generateNodeKeyPair, NodeKeyPair } from '../../src/common/receipts/receipt';
import type { RunRequest } from '../../src/wasm/run-request';
import type { RunResult } from '../../src/wasm/wasm.service';

export const MODULE = Buffer.from('not really wasm: the engine is a stand-in here');
export const MODULE_ID = createHash('sha256').update(MODULE).digest('hex');

export const leasedRun = (n: number): LeasedRun => ({
  run_id: `00000000-0000-4000-8000-00000000000${n}`,
  task_id: `10000000-0000-4000-8000-00000000000${n}`,
  task_type: 'wasm_execution',
  fence: String(40 + n),
  lease_expires_at: new Date(Date.now() + 3000).toISOString(),
  spec: {
    module_id: MODULE_ID,
    module_url: `/api/v1/modules/${MODULE_ID}/download`,
    inputs: { n },
    args: [],
    deterministic: true,
    limits: { timeout_ms: 10_000, memory_mb: 64, output_bytes: 65536 },
  },
});

/** The server side of the protocol, scripted by each test. */
export class FakeServer implements AgentTransport {
  queue: LeasedRun[] = [];
  beats: HeartbeatBody[] = [];
  submitted: { runId: string; body: ResultBody; claimNext?: number }[] = [];
  /** Claims that leased something, made by the claim loop (not those a result carried). */
  leasingClaims = 0;
  /** Whether results may carry a claim (Claim-Next); a server that predates it answers without `next`. */
  offersClaimNext = true;
  leases: HeartbeatAnswer['leases'] = { renewed: [], lost: [], cancel: [] };
  submitAnswers: (SubmitAnswer | Error)[] = [];
  /** While set, submissions wait for releaseSubmits(). */
  holdSubmits = false;
  private readonly heldSubmits: (() => void)[] = [];

  /** Submissions waiting for releaseSubmits(). */
  get submitsWaiting(): number {
    return this.heldSubmits.length;
  }

  releaseSubmits(): void {
    this.holdSubmits = false;
    for (const resolve of this.heldSubmits.splice(0)) resolve();
  }

  /** Failures the next heartbeats meet, in order. */
  heartbeatFailures: Error[] = [];
  /** What heartbeat answers say of NODE_MAX_CONCURRENT_RUNS (absent: a server that does not say). */
  maxConcurrentRuns: number | undefined;
  /** The `max` of every claim the claim loop made. */
  claimMaxes: number[] = [];
  /** The wait and the slack past it of every claim the claim loop made. */
  claimWaits: { waitMs: number; slackMs: number | undefined }[] = [];
  /** The timeout of every submission, in order (undefined: the transport's own). */
  submitTimeouts: (number | undefined)[] = [];

  heartbeat(body: HeartbeatBody): Promise<HeartbeatAnswer> {
    const failure = this.heartbeatFailures.shift();
    if (failure) return Promise.reject(failure);
    this.beats.push(body);
    const leases = this.leases;
    this.leases = { renewed: [], lost: [], cancel: [] };
    const max = this.maxConcurrentRuns === undefined ? {} : { max_concurrent_runs: this.maxConcurrentRuns };
    return Promise.resolve({ heartbeat_interval_secs: 1, node_status: 'online', leases, ...max });
  }

  /**
   * How many leased runs an answer (a claim's, a result's `next`) holds before it is too large for the agent to
   * read: past it the call fails as HttpTransport's does, and the runs it leased are lost (they would expire).
   */
  answerFits = Infinity;

  /** Failures the next claims meet, in order. */
  claimFailures: Error[] = [];

  async claim(max: number, waitMs: number, signal: AbortSignal, slackMs?: number): Promise<LeasedRun[]> {
    const failure = this.claimFailures.shift();
    if (failure) throw failure;
    this.claimMaxes.push(max);
    this.claimWaits.push({ waitMs, slackMs });
    const runs = this.queue.splice(0, max);
    if (runs.length > this.answerFits) throw tooLarge(`POST /nodes/n/claim`);
    if (runs.length > 0) this.leasingClaims++;
    if (runs.length === 0) await new Promise((resolve) => setTimeout(resolve, signal.aborted ? 0 : 20));
    return runs;
  }

  async submit(
    runId: string,
    body: ResultBody,
    claimNext?: number,
    signal?: AbortSignal,
    timeoutMs?: number,
  ): Promise<SubmitAnswer> {
    this.submitTimeouts.push(timeoutMs);
    if (this.holdSubmits) {
      // A held submission given up (signal) fails as HttpTransport's does when its request is aborted.
      await new Promise<void>((resolve, reject) => {
        this.heldSubmits.push(resolve);
        signal?.addEventListener('abort', () =>
          reject(new TransportError(`POST /runs/${runId}/result: aborted`, true)),
        );
      });
    }
    const answer = this.submitAnswers.shift() ?? { accepted: true, taskStatus: 'completed' };
    if (answer instanceof Error) return Promise.reject(answer);
    if (!answer.accepted) return answer;
    this.submitted.push({ runId, body, claimNext });
    const next =
      claimNext !== undefined && this.offersClaimNext ? this.queue.splice(0, claimNext) : undefined;
    if (next !== undefined && next.length > this.answerFits) {
      this.submitted.pop(); // the answer never arrived: the result is sent again
      throw tooLarge(`POST /runs/${runId}/result`);
    }
    return { ...answer, next };
  }

  /** The runs handed back (release), in order. */
  released: { runId: string; fence: string }[] = [];

  release(runId: string, fence: string): Promise<void> {
    this.released.push({ runId, fence });
    return Promise.resolve();
  }

  module(): Promise<Uint8Array> {
    return Promise.resolve(MODULE);
  }

  circuit(): never {
    throw new Error('no circuits here');
  }

  circuitArtifact(): never {
    throw new Error('no circuits here');
  }
}

const tooLarge = (call: string) =>
  new TransportError(
    `${call}: the answer is larger than 256 MiB, the most the agent reads`,
    true,
    null,
    ANSWER_TOO_LARGE,
  );

/** Echoes the inputs after `release()` is called for the run (or at once), and notices a cancel. */
export class FakeEngine implements WasmEngine {
  readonly started: RunRequest[] = [];
  readonly aborted: RunRequest[] = [];
  hold = false;
  private readonly waiting: (() => void)[] = [];

  async runBytes(bytes: Uint8Array, request: RunRequest): Promise<RunResult> {
    this.started.push(request);
    if (this.hold) {
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve);
        request.signal?.addEventListener('abort', () => {
          this.aborted.push(request);
          resolve();
        });
      });
    }
    return {
      exit_code: 0,
      stdout: request.inputs,
      stderr: '',
      execution_time_ms: 3,
      module_hash: createHash('sha256').update(bytes).digest('hex'),
      inputs_hash: 'x',
      output_hash: 'x',
      runtime: 'v8',
      outcome: 'ok',
    };
  }

  releaseAll(): void {
    for (const resolve of this.waiting.splice(0)) resolve();
  }
}

export const until = async (check: () => boolean, timeoutMs = 5000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

/** An agent with one slot, a fresh key, a silent reporter and short claims, unless `setup` says otherwise. */
export const testAgent = (setup: Pick<AgentSetup, 'transport' | 'engine'> & Partial<AgentSetup>) =>
  new Agent({
    nodeId: 'n2',
    concurrency: 1,
    keys: generateNodeKeyPair(),
    cache: new ContentCache(null, 1024 * 1024),
    reporter: { emit: () => undefined },
    version: 'test',
    claimWaitMs: 20,
    random: () => 0,
    ...setup,
  });

export const oneSlotAgent = (transport: AgentTransport, engine: WasmEngine) =>
  testAgent({ transport, engine });

/** The agent most tests share: two slots, a recording reporter, started on a fresh server and engine. */
export async function startSharedAgent(keys: NodeKeyPair): Promise<{
  server: FakeServer;
  engine: FakeEngine;
  events: AgentEvent[];
  sut: Agent;
}> {
  const server = new FakeServer();
  const engine = new FakeEngine();
  const events: AgentEvent[] = [];
  const sut = testAgent({
    nodeId: 'n1',
    concurrency: 2,
    keys,
    transport: server,
    engine,
    reporter: { emit: (event) => events.push(event) },
  });
  await sut.start();
  return { server, engine, events, sut };
}
