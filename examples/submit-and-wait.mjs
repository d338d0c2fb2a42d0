#!/usr/bin/env node
// Submit a task to VCP, wait for it, print its result and check its server-signed receipt: a REST client
// written from README.md and the OpenAPI document alone (/api-docs/openapi.json), with Node 20+ built-ins only.
//
//   VCP_SERVER_URL=http://localhost:3000 VCP_API_KEY=vcp_… node examples/submit-and-wait.mjs '6*7'
//   node examples/submit-and-wait.mjs --wasm test/fixtures/wasm/echo.wasm --inputs '{"hello":"world"}'
//   node examples/submit-and-wait.mjs --program monte_carlo_pi --inputs '{"samples":1000}' --min-nodes 2 --json
//
// Options: --wasm FILE (a wasm_execution task, the module sent inline as base64), --program NAME (a built-in
// program), --inputs JSON|@FILE, --task FILE (a whole POST /tasks body), --min-nodes N (1), --timeout SECS
// (300), --idempotency-key KEY (default: a new UUID; reuse one to re-run the script without a second task),
// --public-key BASE64 (or VCP_RECEIPT_PUBLIC_KEY: pin the receipt key instead of asking the server for it),
// --poll (skip the event stream), --json (one JSON object on stdout). Progress goes to stderr.
// Exit status: 0 completed and its receipt verifies; 1 the task failed or was cancelled; 2 usage; 3 the receipt
// does not verify; 4 timed out; 5 a request was refused, or the server stayed unreachable.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { parseArgs } from 'node:util';

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
const EXIT = { failed: 1, usage: 2, receipt: 3, timeout: 4, refused: 5 };
class Failure extends Error {
  constructor(kind, message, extra = {}) {
    super(message);
    Object.assign(this, { kind, extra });
  }
}

let opts;
try {
  opts = parseArgs({
    allowPositionals: true,
    options: Object.fromEntries(
      ['wasm', 'program', 'inputs', 'task', 'min-nodes', 'timeout', 'idempotency-key', 'public-key']
        .map((name) => [name, { type: 'string' }])
        .concat(['poll', 'json', 'help'].map((name) => [name, { type: 'boolean' }])),
    ),
  });
} catch (error) {
  usage(error.message);
}
const { values: flags, positionals } = opts;
if (flags.help) usage();
const server = (process.env.VCP_SERVER_URL ?? '').replace(/\/+$/, '').replace(/\/api\/v1$/, '');
const apiKey = process.env.VCP_API_KEY ?? '';
if (!server || !apiKey) usage('set VCP_SERVER_URL and VCP_API_KEY');
const timeoutSecs = Number(flags.timeout ?? 300);
if (!(timeoutSecs > 0)) usage('--timeout takes seconds');
const deadline = Date.now() + timeoutSecs * 1000;
const stats = { network_errors: 0, server_errors: 0, throttled: 0 };
let lastSeen = 'before submitting'; // what a timeout reports

function usage(problem) {
  if (problem) console.error(`submit-and-wait: ${problem}`);
  console.error('usage: submit-and-wait.mjs [EXPRESSION|--wasm FILE|--program NAME|--task FILE] [options]');
  process.exit(problem ? EXIT.usage : 0);
}
const progress = (line) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
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

const timedOut = () => new Failure('timeout', `timed out after ${timeoutSecs} s: ${lastSeen}`);
/** Waits `ms`, but never past the deadline: then the whole run has timed out. */
async function pause(ms, why, next = 'retrying') {
  if (Date.now() + ms > deadline) throw timedOut();
  progress(`${why}; ${next} in ${(ms / 1000).toFixed(1)} s`);
  await sleep(ms);
}
const backoff = (attempt) => Math.min(10_000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2); // jittered
/** Retry-After is integer seconds in VCP's answers; an HTTP-date is accepted too. */
function retryAfterMs(res) {
  const value = res.headers.get('retry-after');
  if (!value) return null;
  const ms = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) ? Math.max(ms, 0) : null;
}

/**
 * One API call, retried on network errors, 5xx (503 `shutting_down` included) and 429, which waits its
 * Retry-After. Retrying is safe for every request this script makes: reads, and a submission carrying an
 * Idempotency-Key (the same key and body return the first task). Other answers go back to the caller.
 */
async function call(method, path, { body, headers = {}, signal } = {}) {
  for (let attempt = 0; ; attempt++) {
    const timeout = AbortSignal.timeout(Math.max(deadline - Date.now(), 1));
    let res;
    try {
      res = await fetch(`${server}/api/v1${path}`, {
        method,
        headers: { 'x-api-key': apiKey, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
        body,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      if (Date.now() >= deadline) throw timedOut();
      const cause = error.cause?.code ?? error.message;
      if (++stats.network_errors > 8) throw new Failure('refused', `${server} unreachable: ${cause}`);
      await pause(backoff(attempt), `${method} ${path}: network error (${cause})`);
      continue;
    }
    if (res.status !== 429 && res.status < 500) return res;
    const answer = await res.json().catch(() => ({}));
    const what = `${method} ${path}: ${res.status} ${answer.error ?? ''}${answer.reason ? ` (${answer.reason})` : ''}`;
    if (res.status === 429) stats.throttled++;
    else if (++stats.server_errors > 8) throw new Failure('refused', `${what}: ${answer.message ?? ''}`);
    await pause(retryAfterMs(res) ?? backoff(attempt), res.status === 429 ? `rate limited: ${what}` : what);
  }
}
/** The JSON of a 2xx answer; anything else ends the run with the documented error body's code and message. */
async function ok(res, what) {
  const answer = await res.json().catch(() => null);
  if (res.ok) return answer;
  const code = `${answer?.error ?? res.status}${answer?.reason ? ` (${answer.reason})` : ''}`;
  const details = (answer?.details ?? []).map((d) => ` ${d.field}: ${d.message}`).join(';');
  const message = `${what}: ${res.status} ${code}: ${answer?.message ?? ''}${details}`;
  throw new Failure('refused', message, { status: res.status, answer });
}

function readInputs(text) {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text.startsWith('@') ? fs.readFileSync(text.slice(1), 'utf8') : text);
  } catch (error) {
    usage(`--inputs: ${error.message}`);
  }
}
/** The POST /tasks body, and the module bytes when the module goes inline. */
function taskBody() {
  const requirements = { min_nodes: Number(flags['min-nodes'] ?? 1), max_execution_time_sec: 60 };
  const inputs = readInputs(flags.inputs);
  if (flags.task) return { body: JSON.parse(fs.readFileSync(flags.task, 'utf8')) };
  if (flags.wasm) {
    const bytes = fs.readFileSync(flags.wasm);
    const body = { task_type: 'wasm_execution', wasm_module: bytes.toString('base64'), inputs, requirements };
    return { body, moduleBytes: bytes };
  }
  if (flags.program) {
    const body = { task_type: 'computation', inputs: { program: flags.program, ...inputs } };
    return { body: { ...body, requirements } };
  }
  if (positionals.length !== 1) usage('give one expression, or --wasm, --program or --task');
  const body = { task_type: 'computation', inputs: { program: 'expression', expression: positionals[0] } };
  return { body: { ...body, requirements } };
}

/** Reads `text/event-stream` messages ({id, event, data}) as they arrive. */
async function* sseMessages(stream) {
  let buffer = '';
  let message = { data: [] };
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    const lines = buffer.split(/\r\n|\r|\n/);
    buffer = lines.pop();
    for (const line of lines) {
      if (line === '') {
        if (message.data.length) yield { ...message, data: message.data.join('\n') };
        message = { data: [] };
        continue;
      }
      const [, field, value = ''] = /^([^:]*)(?::\s?(.*))?$/.exec(line);
      if (field === 'data') message.data.push(value);
      else if (field === 'id' || field === 'event') message[field] = value;
    }
  }
}

/**
 * Follows GET /tasks/:id/events until a terminal status event (reconnecting with Last-Event-ID when the stream
 * breaks); answers null when the stream is not available, so the caller polls instead.
 */
async function waitByEvents(taskId) {
  let lastId;
  for (let breaks = 0; breaks < 5; breaks++) {
    const idle = new AbortController(); // no byte for 60 s: the heartbeat comments stopped, reconnect
    let timer = setTimeout(() => idle.abort(), 60_000);
    try {
      const headers = lastId ? { 'last-event-id': lastId } : {};
      const res = await call('GET', `/tasks/${taskId}/events`, { headers, signal: idle.signal });
      if (res.status === 204) return 'finished'; // Last-Event-ID was the finished task's last event
      if (!res.ok || !res.headers.get('content-type')?.startsWith('text/event-stream')) {
        progress(`event stream unavailable (${res.status}); polling instead`);
        return null;
      }
      for await (const message of sseMessages(res.body)) {
        clearTimeout(timer);
        timer = setTimeout(() => idle.abort(), 60_000);
        if (message.id) lastId = message.id;
        const event = JSON.parse(message.data);
        if (message.event === 'run') progress(`run ${event.run_id} on ${event.node_id}: ${event.status}`);
        if (message.event !== 'status') continue;
        progress(seen(taskId, event));
        if (TERMINAL.has(event.status)) return 'finished';
      }
    } catch (error) {
      if (error instanceof Failure) throw error;
      if (Date.now() >= deadline) break;
      stats.network_errors++;
      progress(`event stream broke (${error.cause?.code ?? error.name}); reconnecting`);
    } finally {
      clearTimeout(timer);
    }
  }
  return null;
}

function seen(taskId, { status, status_reason }) {
  const hint = TERMINAL.has(status) ? '' : ` (it goes on: POST /api/v1/tasks/${taskId}/cancel stops it)`;
  lastSeen = `task ${taskId} ${status}${status_reason ? `: ${status_reason}` : ''}${hint}`;
  return `task ${status}${status_reason ? `: ${status_reason}` : ''}`;
}
async function waitByPolling(taskId) {
  for (let delay = 500; ; delay = Math.min(delay * 1.5, 5000)) {
    const task = await ok(await call('GET', `/tasks/${taskId}`), 'GET /tasks/:task_id');
    if (TERMINAL.has(task.status)) return task;
    await pause(delay * (0.8 + Math.random() * 0.4), seen(taskId, task), 'asking again');
  }
}

function ed25519Verifies(publicKey, value, signature) {
  try {
    const x = Buffer.from(publicKey, 'base64').toString('base64url');
    const key = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
    return crypto.verify(null, Buffer.from(jcs(value), 'utf8'), key, Buffer.from(signature, 'base64'));
  } catch {
    return false; // a malformed key or signature verifies nothing
  }
}

/** The checks of docs/receipts.md, plus what only the submitter knows: the inputs sent and the module's bytes. */
async function checkReceipt(task, sent, moduleBytes) {
  const { receipt: r, signature } = await ok(await call('GET', `/tasks/${task.task_id}/receipt`), 'receipt');
  // The key is pinned when given; else asked of the server, which only proves the receipt is its own.
  const pinned =
    flags['public-key'] ??
    process.env.VCP_RECEIPT_PUBLIC_KEY ??
    (await ok(await call('GET', '/receipts/public-key'), 'GET /receipts/public-key')).public_key;
  const bindsTask = (run) =>
    run.receipt.task_id === r.task_id &&
    run.receipt.run_id === run.run_id &&
    run.receipt.inputs_hash === r.inputs_hash &&
    run.receipt.module_hash === r.module_hash &&
    run.receipt.circuit_id === r.circuit_id &&
    run.receipt.outcome === 'ok';
  const runs = r.runs.filter((run) => ed25519Verifies(run.node_public_key, run.receipt, run.signature));
  const vouching = runs.filter((run) => bindsTask(run) && run.receipt.output_hash === r.output_hash);
  // A run vouches when judged valid, or when it is the canonical run; one not compared (verdict null) does not.
  const voices = new Set(
    vouching
      .filter((run) => run.verdict === 'valid' || run.run_id === r.canonical_run_id)
      .map((run) => run.node_public_key),
  );
  const module = moduleBytes ? sha256(moduleBytes) : task.module_id; // an inline module's id is its SHA-256
  const inputs = sent.inputs === undefined ? {} : sent.inputs;
  // The original's {prompt} or {numbers, operation} runs as the program inputs it maps to, which only the
  // task's own view shows (task.inputs): the receipt is checked against those.
  const mapped = sent.task_type === 'computation' && !Object.hasOwn(Object(inputs), 'program');
  const checks = {
    'server key pinned': r.server_public_key === pinned,
    'server key id': r.server_key_id === sha256(Buffer.from(r.server_public_key, 'base64')),
    'server signature': ed25519Verifies(r.server_public_key, r, signature),
    'this task': r.task_id === task.task_id && r.min_nodes === task.requirements.min_nodes,
    'inputs sent': r.inputs_hash === jcsHash(mapped ? task.inputs : inputs),
    'module or circuit': task.circuit_id ? r.circuit_id === task.circuit_id : r.module_hash === module,
    // They decide a module's output with its inputs (receipts issued before they were added lack them).
    'arguments sent':
      Boolean(task.circuit_id) ||
      r.args === undefined ||
      (jcsHash(r.args) === jcsHash(sent.args ?? []) && r.deterministic === (sent.deterministic ?? true)),
    'result printed': r.output_hash === jcsHash(task.result),
    'run signatures': runs.length === r.runs.length && r.runs.every(bindsTask),
    'canonical run': vouching.some((run) => run.run_id === r.canonical_run_id),
    // Only a quorum receipt claims agreement; a trusted node's (adaptive replication) names one run alone.
    quorum: r.verification !== 'quorum' || voices.size >= r.quorum,
  };
  const failed = Object.keys(checks).filter((name) => !checks[name]);
  const { verification, server_key_id } = r;
  return { verified: failed.length === 0, failed, verification, server_key_id };
}

async function main() {
  const { body, moduleBytes } = taskBody();
  const idempotencyKey = flags['idempotency-key'] ?? crypto.randomUUID();
  // One key for every attempt of this submission: a retry after a lost answer returns the task it created.
  const headers = { 'idempotency-key': idempotencyKey };
  const submitted = await ok(
    await call('POST', '/tasks', { body: JSON.stringify(body), headers }),
    'POST /tasks',
  );
  const taskId = submitted.task_id;
  progress(`task ${taskId} submitted (${seen(taskId, submitted)}; Idempotency-Key ${idempotencyKey})`);
  let task = submitted;
  if (!TERMINAL.has(task.status)) {
    const streamed = flags.poll ? null : await waitByEvents(taskId);
    task = streamed ? null : await waitByPolling(taskId);
  }
  // The status events carry no result: read the finished task once.
  task ??= await ok(await call('GET', `/tasks/${taskId}`), 'GET /tasks/:task_id');
  const report = { task_id: taskId, idempotency_key: idempotencyKey, status: task.status };
  Object.assign(report, { status_reason: task.status_reason, result: task.result, retries: stats });
  if (task.status !== 'completed') {
    const run = (task.runs ?? []).findLast((r) => r.status === 'failed');
    const stderr = run?.stderr_tail ? `: ${run.stderr_tail.trim()}` : '';
    const why = `${task.status_reason ?? 'no reason given'}${run ? ` (last run ${run.outcome}${stderr})` : ''}`;
    throw new Failure('failed', `task ${taskId} ${task.status}: ${why}`, report);
  }
  report.receipt = await checkReceipt(task, body, moduleBytes);
  const { verified, failed, verification, server_key_id: keyId } = report.receipt;
  const unverified = `task ${taskId}: its receipt does not verify (${failed.join(', ')})`;
  if (!verified) throw new Failure('receipt', unverified, report);
  if (flags.json) console.log(JSON.stringify(report));
  else {
    console.log(JSON.stringify(task.result, null, 2));
    console.error(`task ${taskId} completed; receipt verified (${verification}, server key ${keyId})`);
  }
}

main().catch((error) => {
  const failure = error instanceof Failure ? error : new Failure('refused', `unexpected: ${error.stack}`);
  const message = failure.message.replace(/\s*\n\s*/g, ' ');
  const report = { error: failure.kind, message, ...failure.extra, retries: stats };
  if (flags.json) console.log(JSON.stringify(report));
  console.error(`submit-and-wait: ${message}`);
  process.exit(EXIT[failure.kind] ?? 1);
});
