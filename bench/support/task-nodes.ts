/**
 * The test nodes of bench:tasks, run as a child process of its own (never inside the server, and not in the
 * bench's orchestrator): plain HTTP clients with node keys. Reads its job from VCP_TASKS_JOB, prints one JSON
 * line with what it measured, including its own CPU time so the bench can say whether the client saturated.
 */
import type { KeyObject } from 'node:crypto';
import { keyPairFromPem, resultReceipt, signReceipt } from '../../src/common/receipts/receipt';
import { jsonSha256Hex } from '../../src/common/crypto/json-hash';
import canonicalize from 'canonicalize';
import { createHash } from 'node:crypto';
import { Agent, request } from 'node:http';

export interface BenchNode {
  nodeId: string;
  nodeKey: string;
  /** PKCS#8 PEM of the node's Ed25519 key: results are signed like a real node's (issue 17). */
  privateKeyPem: string;
}

export type TaskNodesJob =
  | { mode: 'submit'; base: string; userKey: string; count: number; concurrency: number }
  | { mode: 'latency'; base: string; userKey: string; node: BenchNode; samples: number; warmup: number }
  | { mode: 'throughput'; base: string; nodes: BenchNode[]; max: number; expected: number };

export interface TaskNodesReport {
  /** latency: submit sent → run claimed, ms; and the submit's own round trip, ms. */
  dispatchMs?: number[];
  submitMs?: number[];
  /** throughput: runs completed and the time from the first claim to the last result. */
  completed?: number;
  elapsedMs?: number;
  claims?: number;
  /** throughput: results refused with 409 lease_lost (included in `completed`). */
  lost?: number;
  /** The client's CPU time over wall time during the measured part (1 = one core busy). */
  cpuShare: number;
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });
const TASK = {
  task_type: 'computation',
  inputs: { numbers: [1, 2, 3], operation: 'sum' },
  requirements: { min_nodes: 1, max_execution_time_sec: 60, require_gpu: false, require_proof: false },
};
const OUTPUT = { sum: 6 };
const OUTPUT_HASH = createHash('sha256')
  .update(canonicalize(OUTPUT) ?? 'null')
  .digest('hex');

interface Run {
  run_id: string;
  task_id: string;
  fence: string;
  spec: { inputs: unknown; module_id?: string | null };
}

const signingKeys = new Map<string, KeyObject>();

/** The signed receipt of an `ok` result with OUTPUT (the pinned form, src/common/receipts). */
function signature(node: BenchNode, run: Run): string {
  let key = signingKeys.get(node.nodeId);
  if (!key) {
    key = keyPairFromPem(node.privateKeyPem).privateKey;
    signingKeys.set(node.nodeId, key);
  }
  const receipt = resultReceipt({
    task_id: run.task_id,
    run_id: run.run_id,
    fence: run.fence,
    inputs_hash: jsonSha256Hex(run.spec.inputs),
    module_hash: run.spec.module_id,
    output: OUTPUT,
    output_hash: OUTPUT_HASH,
    outcome: 'ok',
    execution_time_ms: 1,
  });
  return signReceipt(receipt, key);
}

function call(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}${path}`,
      {
        method,
        agent,
        headers: payload ? { ...headers, 'content-type': 'application/json' } : headers,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function expectStatus(
  promise: Promise<{ status: number; body: string }>,
  ...ok: number[]
): Promise<{ status: number; body: string }> {
  const res = await promise;
  if (!ok.includes(res.status)) throw new Error(`unexpected ${res.status}: ${res.body.slice(0, 300)}`);
  return res;
}

const submit = (base: string, userKey: string) =>
  expectStatus(call(base, 'POST', '/api/v1/tasks', { 'x-api-key': userKey }, TASK), 201);

async function claim(base: string, node: BenchNode, max: number, waitMs: number): Promise<Run[]> {
  const res = await expectStatus(
    call(
      base,
      'POST',
      `/api/v1/nodes/${node.nodeId}/claim`,
      { 'x-api-key': node.nodeKey },
      { max, wait_ms: waitMs },
    ),
    200,
    204,
  );
  return res.status === 204 ? [] : (JSON.parse(res.body) as { runs: Run[] }).runs;
}

const report = (base: string, node: BenchNode, run: Run, ...ok: number[]) =>
  expectStatus(
    call(
      base,
      'POST',
      `/api/v1/runs/${run.run_id}/result`,
      { 'x-api-key': node.nodeKey },
      {
        fence: run.fence,
        outcome: 'ok',
        output: OUTPUT,
        output_hash: OUTPUT_HASH,
        stdout: '',
        stderr: '',
        exit_code: 0,
        execution_time_ms: 1,
        signature: signature(node, run),
      },
    ),
    200,
    ...ok,
  );

function measureCpu<T>(work: () => Promise<T>): Promise<{ value: T; cpuShare: number; wallMs: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  return work().then((value) => {
    const used = process.cpuUsage(cpu);
    const wallMs = performance.now() - started;
    return { value, cpuShare: (used.user + used.system) / 1000 / wallMs, wallMs };
  });
}

async function submitMany(job: Extract<TaskNodesJob, { mode: 'submit' }>): Promise<TaskNodesReport> {
  let next = 0;
  const { cpuShare } = await measureCpu(() =>
    Promise.all(
      Array.from({ length: job.concurrency }, async () => {
        while (next++ < job.count) await submit(job.base, job.userKey);
      }),
    ),
  );
  return { cpuShare };
}

/**
 * One idle node long-polls; each sample submits one task and times until the node's claim returns it. The
 * node reports the result (untimed) and waits again before the next submission, so every sample finds it idle.
 */
async function latency(job: Extract<TaskNodesJob, { mode: 'latency' }>): Promise<TaskNodesReport> {
  const dispatchMs: number[] = [];
  const submitMs: number[] = [];
  const { cpuShare } = await measureCpu(async () => {
    for (let i = 0; i < job.warmup + job.samples; i++) {
      const claimed = claim(job.base, job.node, 1, 25_000).then((runs) => ({ runs, at: performance.now() }));
      // Give the claim time to reach the server and find nothing, so that it is waiting when work arrives.
      await new Promise((resolve) => setTimeout(resolve, 15));
      const sent = performance.now();
      const submitted = await submit(job.base, job.userKey);
      const answered = performance.now();
      const { runs, at } = await claimed;
      const taskId = (JSON.parse(submitted.body) as { task_id: string }).task_id;
      if (runs.length !== 1 || runs[0].task_id !== taskId) {
        throw new Error(`the idle node got ${JSON.stringify(runs)} instead of task ${taskId}`);
      }
      if (i >= job.warmup) {
        dispatchMs.push(at - sent);
        submitMs.push(answered - sent);
      }
      await report(job.base, job.node, runs[0]);
    }
  });
  return { dispatchMs, submitMs, cpuShare };
}

/** Every node claims batches of up to `max` and reports each run at once, until `expected` runs are done. */
async function throughput(job: Extract<TaskNodesJob, { mode: 'throughput' }>): Promise<TaskNodesReport> {
  let completed = 0;
  let claims = 0;
  let lost = 0;
  const started = performance.now();
  let doneAt = 0;
  const { cpuShare } = await measureCpu(() =>
    Promise.all(
      job.nodes.map(async (node) => {
        while (completed < job.expected) {
          const runs = await claim(job.base, node, job.max, 200);
          claims++;
          // A 409 (lease lost: the lease expired before the result came) is counted, not hidden.
          const answers = await Promise.all(runs.map((run) => report(job.base, node, run, 409)));
          lost += answers.filter((answer) => answer.status === 409).length;
          completed += runs.length;
          if (completed >= job.expected && !doneAt) doneAt = performance.now();
        }
      }),
    ),
  );
  return { completed, claims, lost, elapsedMs: doneAt - started, cpuShare };
}

async function main(): Promise<void> {
  const job = JSON.parse(process.env.VCP_TASKS_JOB ?? '{}') as TaskNodesJob;
  const result =
    job.mode === 'submit'
      ? await submitMany(job)
      : job.mode === 'latency'
        ? await latency(job)
        : await throughput(job);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  agent.destroy();
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
