#!/usr/bin/env node
// A minimal VCP node, written from README.md ("Nodes", "Tasks and scheduling") and the OpenAPI document alone:
// no dependency, nothing from src/. It runs `wasm_execution` and `computation` tasks one at a time with
// node:wasi and refuses other kinds the documented way (`outcome: "error"`). The real agent (`npm run agent`)
// does more: several slots, memory caps, zk proofs, a disk cache, telemetry, backoff with jitter. Modules get
// no file system (no preopened directory) and no network here either, but only the timeout bounds them.
//
//   VCP_SERVER_URL=http://localhost:3000 VCP_API_KEY=vcp_… VCP_NODE_ID=my-node node examples/minimal-node.mjs
//
// VCP_API_KEY is a user key with nodes:write, used once to register the node; the node key the server answers
// is kept in VCP_NODE_DIR (default ./minimal-node) beside the Ed25519 key pair, and used from then on.
// Output: one JSON line per event. SIGTERM/SIGINT: stop claiming, report the run in hand, exit 0.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { WASI } from 'node:wasi';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const log = (event, fields = {}) => console.log(JSON.stringify({ event, ...fields }));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const sha256 = (bytes) => crypto.createHash('sha256').update(bytes).digest('hex');

/** RFC 8785 (JCS): JSON.stringify's strings and numbers, object keys sorted by UTF-16 code units, no spaces. */
function jcs(value) {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(jcs).join(',')}]`;
  const keys = Object.keys(value).filter((key) => value[key] !== undefined);
  const members = keys.sort().map((key) => `${JSON.stringify(key)}:${jcs(value[key])}`);
  return `{${members.join(',')}}`;
}
const jcsHash = (value) => sha256(Buffer.from(jcs(value ?? null), 'utf8'));

// ---- Running a module: in a worker thread, so that a timeout can stop it (worker.terminate()). ----
if (!isMainThread) {
  const { bytes, stdin, args, seed } = workerData;
  const dir = fs.mkdtempSync(join(os.tmpdir(), 'minimal-node-'));
  const paths = ['stdin', 'stdout', 'stderr'].map((name) => join(dir, name));
  fs.writeFileSync(paths[0], stdin);
  const [stdinFd, stdoutFd, stderrFd] = paths.map((path, i) => fs.openSync(path, i ? 'w' : 'r'));
  // argv[0] is "main", as on the server's engine; no environment, no preopened directory.
  const wasi = new WASI({
    version: 'preview1',
    args: ['main', ...args],
    env: {},
    stdin: stdinFd,
    stdout: stdoutFd,
    stderr: stderrFd,
  });
  const imports = wasi.getImportObject();
  let memory;
  if (seed) {
    // A `deterministic` run: the clocks start at 1 700 000 000 s and advance 1 ms per read; random_get reads
    // the stream SHA-256(`${seed}:0`) ‖ SHA-256(`${seed}:1`) ‖ …, so that every node prints the same bytes.
    let [ticks, counter, block] = [0n, 0, Buffer.alloc(0)];
    const put = (ptr, value) => (new DataView(memory.buffer).setBigUint64(ptr, value, true), 0);
    Object.assign(imports.wasi_snapshot_preview1, {
      clock_time_get: (id, _precision, ptr) =>
        id > 3 ? 8 : put(ptr, 1_700_000_000n * 10n ** 9n + ticks++ * 10n ** 6n),
      clock_res_get: (id, ptr) => (id > 3 ? 8 : put(ptr, 10n ** 6n)), // 8: EBADF
      random_get: (ptr, length) => {
        for (let filled = 0; filled < length;) {
          if (block.length === 0) block = crypto.createHash('sha256').update(`${seed}:${counter++}`).digest();
          const n = Math.min(block.length, length - filled);
          new Uint8Array(memory.buffer, ptr + filled, n).set(block.subarray(0, n));
          [block, filled] = [block.subarray(n), filled + n];
        }
        return 0;
      },
    });
  }
  let [exitCode, trap] = [null, null];
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), imports);
    memory = instance.exports.memory;
    exitCode = wasi.start(instance);
  } catch (error) {
    trap = String(error);
  }
  [stdinFd, stdoutFd, stderrFd].forEach((fd) => fs.closeSync(fd));
  const [stdout, stderr] = [fs.readFileSync(paths[1]), fs.readFileSync(paths[2], 'utf8')];
  fs.rmSync(dir, { recursive: true, force: true });
  parentPort.postMessage({ exitCode, trap, stdout, stderr });
} else {
  await main();
}

function runModule(bytes, spec, signal) {
  // The inputs go to stdin as compact JSON (JSON.stringify, keys in the order spec.inputs has them).
  const stdin = Buffer.from(JSON.stringify(spec.inputs ?? null), 'utf8');
  const args = spec.args ?? [];
  const seed = spec.deterministic
    ? sha256(`${spec.module_id}:${sha256(stdin)}:${JSON.stringify(args)}`)
    : null;
  const started = performance.now();
  return new Promise((resolve) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { bytes, stdin, args, seed } });
    const end = (result) => {
      clearTimeout(timer);
      void worker.terminate();
      resolve({ ...result, ms: Math.round(performance.now() - started) });
    };
    const timeoutMs = spec.limits.timeout_ms;
    const timer = setTimeout(
      () => end({ outcome: 'timeout', stderr: `stopped after ${timeoutMs} ms` }),
      timeoutMs,
    );
    signal.addEventListener('abort', () => end({ outcome: 'aborted' }), { once: true });
    worker.on('error', (error) => end({ outcome: 'trap', stderr: String(error) }));
    worker.on('message', ({ exitCode, trap, stdout, stderr }) => {
      const text = Buffer.from(stdout).toString('utf8');
      if (trap) return end({ outcome: 'trap', stdout: text, stderr: `${stderr}${trap}` });
      if (stdout.length > spec.limits.output_bytes) return end({ outcome: 'output_limit', stderr, exitCode });
      if (exitCode !== 0) return end({ outcome: 'exit_nonzero', stdout: text, stderr, exitCode });
      // The output: stdout parsed as JSON (surrounding whitespace trimmed), else its text as it is.
      let output = text;
      try {
        if (text.trim() !== '') output = JSON.parse(text.trim());
      } catch {
        // not JSON: the output is the text
      }
      end({ outcome: 'ok', output, stderr, exitCode });
    });
  });
}

// ---- Talking to the server. ----
async function main() {
  const server = process.env.VCP_SERVER_URL ?? 'http://localhost:3000';
  const nodeId = process.env.VCP_NODE_ID ?? 'minimal-node';
  const dir = process.env.VCP_NODE_DIR ?? './minimal-node';
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });

  /** One request; network errors, 429 and 5xx are retried (after Retry-After), with the same headers. */
  async function api(method, path, { body, key = nodeKey, headers = {}, signal, raw = false } = {}) {
    for (let delay = 500; ; delay = Math.min(delay * 2, 30_000)) {
      try {
        const res = await fetch(new URL(path, server), {
          method,
          signal,
          body: body === undefined ? undefined : JSON.stringify(body),
          headers: { 'x-api-key': key, 'content-type': 'application/json', ...headers },
        });
        if (res.status !== 429 && res.status < 500) {
          if (raw && res.ok) return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) };
          const text = await res.text();
          return { status: res.status, json: text ? JSON.parse(text) : null };
        }
        log('retrying', { path, status: res.status });
        await sleep(Number(res.headers.get('retry-after')) * 1000 || delay);
      } catch (error) {
        if (signal?.aborted) throw error;
        log('retrying', { path, error: String(error.cause ?? error) });
        await sleep(delay);
      }
    }
  }
  const fatal = (message, answer) => (log('fatal', { message, answer }), process.exit(78));

  // Identity: an Ed25519 key pair (registered as the base64 of the 32 raw public-key bytes) and the node key.
  const keyFile = join(dir, 'node-key.pem');
  if (!fs.existsSync(keyFile)) {
    const pem = crypto.generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' });
    fs.writeFileSync(keyFile, pem, { mode: 0o600 });
  }
  const privateKey = crypto.createPrivateKey(fs.readFileSync(keyFile));
  const rawPublicKey = crypto.createPublicKey(privateKey).export({ format: 'jwk' }).x; // base64url
  const publicKey = Buffer.from(rawPublicKey, 'base64url').toString('base64');
  const nodeKeyFile = join(dir, 'node-api-key');
  let nodeKey = fs.existsSync(nodeKeyFile) ? fs.readFileSync(nodeKeyFile, 'utf8').trim() : undefined;
  if (!nodeKey) {
    if (!process.env.VCP_API_KEY) fatal('no node key yet: set VCP_API_KEY to a user key with nodes:write');
    const memoryGb = Math.max(0.1, Math.round(os.totalmem() / 2 ** 30));
    const capabilities = {
      bandwidth_mbps: 100,
      cpu_cores: os.cpus().length,
      memory_gb: memoryGb,
      gpu_available: false,
    };
    const region = process.env.VCP_REGION ?? 'local';
    const res = await api('POST', '/api/v1/nodes', {
      key: process.env.VCP_API_KEY,
      body: { node_id: nodeId, region, node_type: 'compute', capabilities, public_key: publicKey },
    });
    if (res.status !== 201) fatal('registration refused', res.json);
    nodeKey = res.json.node_api_key;
    fs.writeFileSync(nodeKeyFile, nodeKey, { mode: 0o600 });
  }
  log('started', { node_id: nodeId, public_key: publicKey });

  // Heartbeats at the interval the server answers, and while holding a run at least every third of its lease
  // (which a renewal extends by as long again), naming the run to renew its lease; `lost` or `cancel` for it
  // stops it, and nothing is reported.
  let current = null; // { run, abort: AbortController, leaseMs }
  let [lastBeat, intervalMs] = [0, 0];
  async function heartbeat() {
    lastBeat = Date.now();
    const runs = current ? [{ run_id: current.run.run_id, fence: current.run.fence }] : [];
    const body = { active_tasks: runs.length, agent_version: 'minimal-node/1', runs };
    const res = await api('PUT', `/api/v1/nodes/${nodeId}/heartbeat`, { body });
    if (res.status !== 200) fatal('heartbeat refused', res.json);
    const { lost = [], cancel = [] } = res.json.leases ?? {};
    if (current && [...lost, ...cancel].includes(current.run.run_id)) current.abort.abort();
    intervalMs = res.json.heartbeat_interval_secs * 1000;
  }
  await heartbeat();
  void (async () => {
    for (;;) {
      await sleep(250);
      if (Date.now() - lastBeat >= Math.min(intervalMs, current ? current.leaseMs / 3 : Infinity))
        await heartbeat();
    }
  })();

  // Stopping: a long poll whose connection closes leases nothing; the run in hand is finished and reported.
  let stopping = false;
  const claimAbort = new AbortController();
  const stop = () => {
    if (stopping) process.exit(143);
    stopping = true;
    claimAbort.abort();
  };
  process.on('SIGTERM', stop).on('SIGINT', stop);

  const modules = new Map(); // module_id → bytes: downloads are rate-limited (tier general), so fetch each once
  const refuse = (why) => ({ outcome: 'error', stderr: why, ms: 0 }); // the node's fault: the task runs elsewhere
  async function execute(run, signal) {
    const { spec } = run;
    if (!['wasm_execution', 'computation'].includes(run.task_type) || !spec.module_id)
      return refuse(`this node does not run ${run.task_type} tasks`);
    if (!modules.has(spec.module_id)) {
      const res = await api('GET', spec.module_url, { raw: true });
      if (res.status !== 200) return refuse(`the module's download answered ${res.status}`);
      if (sha256(res.bytes) !== spec.module_id) return refuse('the downloaded bytes are not the module');
      modules.set(spec.module_id, res.bytes);
    }
    return runModule(modules.get(spec.module_id), spec, signal);
  }

  /** Runs one leased run and reports it; answers the runs the result's Claim-Next leased. */
  async function work(run) {
    const leaseMs = Math.max(3000, Date.parse(run.lease_expires_at) - Date.now()); // as the server counts it
    current = { run, abort: new AbortController(), leaseMs };
    const result = await execute(run, current.abort.signal);
    current = null;
    if (result.outcome === 'aborted') return (log('dropped', { run_id: run.run_id }), []);
    const output = result.outcome === 'ok' ? result.output : null;
    const outputHash = jcsHash(output);
    // The receipt names the task's module (or circuit) whatever the outcome: the server rebuilds it from the task.
    const receipt = {
      task_id: run.task_id,
      run_id: run.run_id,
      fence: run.fence,
      module_hash: run.spec.module_id ?? undefined, // undefined: left out (never null)
      circuit_id: run.spec.circuit_id ?? undefined,
      inputs_hash: jcsHash(run.spec.inputs),
      output_hash: outputHash,
      outcome: result.outcome,
      execution_time_ms: result.ms,
    };
    // MINIMAL_NODE_NONCANONICAL=1 signs JSON.stringify's key order instead: the server must refuse that (422).
    const signed = process.env.MINIMAL_NODE_NONCANONICAL === '1' ? JSON.stringify(receipt) : jcs(receipt);
    const body = {
      fence: run.fence,
      outcome: result.outcome,
      output,
      output_hash: outputHash,
      execution_time_ms: result.ms,
      signature: crypto.sign(null, Buffer.from(signed, 'utf8'), privateKey).toString('base64'),
      stdout: result.stdout?.slice(0, 65536), // optional fields: JSON.stringify leaves out the undefined ones
      stderr: result.stderr?.slice(0, 65536),
      exit_code: result.exitCode ?? undefined,
    };
    // Claim-Next: the result also claims the next run; its Idempotency-Key would be resent with a retry.
    const headers = stopping ? {} : { 'claim-next': '1', 'idempotency-key': crypto.randomUUID() };
    const res = await api('POST', `/api/v1/runs/${run.run_id}/result`, { body, headers });
    log('result', { run_id: run.run_id, outcome: result.outcome, status: res.status, answer: res.json });
    if (res.status === 422 && res.json?.reason === 'signature_invalid')
      fatal('our signature was refused', res.json);
    return res.status === 200 ? (res.json.next_runs ?? []) : []; // 409 lease_lost: the run is not ours any more
  }

  let queue = [];
  while (!stopping) {
    if (queue.length === 0) {
      const claim = { body: { max: 1, wait_ms: 20_000 }, signal: claimAbort.signal };
      const headers = { 'idempotency-key': crypto.randomUUID() }; // one per logical claim, kept by its retries
      const res = await api('POST', `/api/v1/nodes/${nodeId}/claim`, { ...claim, headers }).catch(() => null);
      if (res?.status === 200) queue = res.json.runs;
      else if (res && res.status !== 204) fatal('claim refused', res.json);
    }
    while (queue.length > 0) {
      const run = queue.shift();
      log('claimed', { run_id: run.run_id, task_id: run.task_id, task_type: run.task_type });
      queue.push(...(await work(run)));
    }
  }
  log('stopped');
  process.exit(0);
}
