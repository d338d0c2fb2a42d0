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
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';

export interface BenchNode {
  nodeId: string;
  nodeKey: string;
  /** PKCS#8 PEM of the node's Ed25519 key: results are signed like a real node's (issue 17). */
  privateKeyPem: string;
}

export type TaskNodesJob =
  | {
      mode: 'submit';
      base: string;
      userKey: string;
      count: number;
      concurrency: number;
      /** Replaces the default task's requirements (quorum tasks, adaptive replication). */
      requirements?: Record<string, unknown>;
    }
  | { mode: 'latency'; base: string; userKey: string; node: BenchNode; samples: number; warmup: number }
  | {
      mode: 'throughput';
      base: string;
      nodes: BenchNode[];
      max: number;
      /** Stop once this many runs are done; or, with `untilIdle`, once every node found no work for 1 s. */
      expected: number;
      untilIdle?: boolean;
      /** The server's pid: its CPU time is read at the start and after the last result (not the idle tail). */
      serverPid?: number;
      /** Nodes that report a wrong output (validly signed): the planted liars of the verification rows. */
      liars?: string[];
    };

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
  /** throughput: results the liars reported, and claims a quarantine refused (403). */
  lies?: number;
  refused?: number;
  /** throughput with serverPid: the server's CPU seconds from the start to the last result. */
  serverCpuSeconds?: number;
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
const LIE = { sum: 7 };
const hashOf = (output: unknown) =>
  createHash('sha256')
    .update(canonicalize(output) ?? 'null')
    .digest('hex');
const OUTPUT_HASH = hashOf(OUTPUT);
const LIE_HASH = hashOf(LIE);

interface Run {
  run_id: string;
  task_id: string;
  fence: string;
  spec: { inputs: unknown; module_id?: string | null };
}

const signingKeys = new Map<string, KeyObject>();

/** The signed receipt of an `ok` result with `output` (the pinned form, src/common/receipts). */
function signature(node: BenchNode, run: Run, outputHash: string): string {
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
    output_hash: outputHash,
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

const submit = (base: string, userKey: string, requirements?: Record<string, unknown>) =>
  expectStatus(
    call(
      base,
      'POST',
      '/api/v1/tasks',
      { 'x-api-key': userKey },
      requirements ? { ...TASK, requirements } : TASK,
    ),
    201,
  );

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

const report = (base: string, node: BenchNode, run: Run, lie: boolean, ...ok: number[]) => {
  const [output, outputHash] = lie ? [LIE, LIE_HASH] : [OUTPUT, OUTPUT_HASH];
  return expectStatus(
    call(
      base,
      'POST',
      `/api/v1/runs/${run.run_id}/result`,
      { 'x-api-key': node.nodeKey },
      {
        fence: run.fence,
        outcome: 'ok',
        output,
        output_hash: outputHash,
        stdout: '',
        stderr: '',
        exit_code: 0,
        execution_time_ms: 1,
        signature: signature(node, run, outputHash),
      },
    ),
    200,
    ...ok,
  );
};

/** CPU seconds a process has used so far (user + system), from /proc (USER_HZ = 100 on Linux). */
function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

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
        while (next++ < job.count) await submit(job.base, job.userKey, job.requirements);
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
      await report(job.base, job.node, runs[0], false);
    }
  });
  return { dispatchMs, submitMs, cpuShare };
}

/**
 * Every node claims batches of up to `max` and reports each run at once, until `expected` runs are done (or,
 * with `untilIdle`, until no node has found work for 1 s: quorum tasks take a varying number of runs).
 */
async function throughput(job: Extract<TaskNodesJob, { mode: 'throughput' }>): Promise<TaskNodesReport> {
  let completed = 0;
  let claims = 0;
  let lost = 0;
  let lies = 0;
  let refused = 0;
  let idle = 0;
  const liars = new Set(job.liars ?? []);
  const serverCpu = () => (job.serverPid === undefined ? 0 : processCpuSeconds(job.serverPid));
  const serverCpuAtStart = serverCpu();
  let serverCpuAtDone = serverCpuAtStart;
  const started = performance.now();
  let doneAt = 0;
  const finished = () => (job.untilIdle ? idle >= job.nodes.length : completed >= job.expected);
  const { cpuShare } = await measureCpu(() =>
    Promise.all(
      job.nodes.map(async (node) => {
        let emptyFor = 0;
        let quarantined = false;
        while (!finished()) {
          const runs = quarantined
            ? []
            : await claim(job.base, node, job.max, 200).catch((error: Error) => {
                // A quarantined liar's claims are refused (403 node_quarantined): it stops asking.
                if (!error.message.startsWith('unexpected 403')) throw error;
                refused++;
                quarantined = true;
                return [];
              });
          claims++;
          if (runs.length === 0) {
            if (++emptyFor === 5) idle++;
            if (quarantined) await new Promise((resolve) => setTimeout(resolve, 200));
            continue;
          }
          if (emptyFor >= 5) idle--;
          emptyFor = 0;
          const lie = liars.has(node.nodeId);
          // A 409 (lease lost: the lease expired before the result came) is counted, not hidden.
          const answers = await Promise.all(runs.map((run) => report(job.base, node, run, lie, 409)));
          lost += answers.filter((answer) => answer.status === 409).length;
          if (lie) lies += runs.length;
          completed += runs.length;
          doneAt = performance.now();
          serverCpuAtDone = serverCpu();
        }
      }),
    ),
  );
  return {
    completed,
    claims,
    lost,
    lies,
    refused,
    elapsedMs: doneAt - started,
    cpuShare,
    serverCpuSeconds: serverCpuAtDone - serverCpuAtStart,
  };
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
