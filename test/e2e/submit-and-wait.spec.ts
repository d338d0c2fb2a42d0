import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentProcess, startNodeScript } from '../support/agent-process';
import { useAgentServer } from '../support/agent-server';
import { eventually } from '../support/eventually';
import { FaultProxy } from '../support/fault-proxy';

const EXAMPLE = join(__dirname, '../../examples/submit-and-wait.mjs');
const WASM = join(__dirname, '../fixtures/wasm');

/**
 * "Anyone can write a client": examples/submit-and-wait.mjs, written from README and the OpenAPI document alone
 * (no import from src/ or dist/, its own JCS and Ed25519 checks), submits with an API key, follows the task's
 * event stream, prints the result and checks the server-signed receipt. It runs as its own process against
 * the built server with two embedded nodes, through a proxy that records its requests and can lose an answer,
 * answer 503 `shutting_down` in the server's place, or tamper with a receipt.
 */
describe('a client written from the documentation (examples/submit-and-wait.mjs)', () => {
  const cluster = useAgentServer('client', {
    EMBEDDED_NODE: 'on',
    EMBEDDED_NODES: '2', // two owners: a trap reported by both fails the task as unexecutable
    TASK_RETRY_BASE_MS: '0',
    TASK_EVENTS_MAX_STREAMS_PER_USER: '1',
  });
  const { api } = cluster;
  let apiKey = '';
  let proxy: FaultProxy;
  let proxied = '';

  beforeAll(async () => {
    const created = await api('POST', '/api-keys', { name: 'script', scopes: ['tasks:read', 'tasks:write'] });
    expect(created.status).toBe(201);
    apiKey = created.json.api_key as string;
  });
  beforeEach(async () => {
    proxy = new FaultProxy(cluster.base);
    proxied = await proxy.start();
  });
  afterEach(() => proxy.stop());

  const run = async (args: string[], env: Record<string, string> = {}) => {
    const script = cluster.track(
      startNodeScript(EXAMPLE, ['--json', '--timeout', '60', ...args], {
        VCP_SERVER_URL: proxied,
        VCP_API_KEY: apiKey,
        ...env,
      }),
    );
    return { script, ...(await finished(script)) };
  };
  const finished = async (script: AgentProcess) => {
    const { code } = await script.exited;
    const reports = script.events();
    if (reports.length !== 1) throw new Error(`not one JSON report:\n${script.output()}`);
    return { code, report: reports[0] as Record<string, any> };
  };
  const lastLine = (script: AgentProcess) => script.output().trim().split('\n').pop();
  const ownTasks = async () => (await api('GET', '/tasks?limit=100')).json.items as { task_id: string }[];

  it('submits a computation, follows its events and prints the result with a receipt that verifies', async () => {
    const { code, report, script } = await run(['6*7']);
    expect({ code, output: code === 0 ? '' : script.output() }).toEqual({ code: 0, output: '' });
    expect(report).toMatchObject({
      status: 'completed',
      result: { result: 42, exact: true },
      receipt: { verified: true, failed: [], verification: 'none' },
      retries: { network_errors: 0, server_errors: 0, throttled: 0 },
    });
    const serverKey = (await api('GET', '/receipts/public-key')).json.key_id as string;
    expect(report.receipt.server_key_id).toBe(serverKey);
    const paths = proxy.requests.map((r) => `${r.method} ${r.path.replace(report.task_id, ':id')}`);
    expect(paths).toEqual([
      'POST /api/v1/tasks',
      'GET /api/v1/tasks/:id/events',
      'GET /api/v1/tasks/:id',
      'GET /api/v1/tasks/:id/receipt',
      'GET /api/v1/receipts/public-key',
    ]);
  });

  it('runs its own module inline (wasm_execution), and polls with --poll', async () => {
    const inputs = { zeta: 'héllo ✓', n: [1, 2.5, -3, 1e21], nested: { b: true, a: null } };
    const wasm = ['--wasm', join(WASM, 'echo.wasm'), '--inputs', JSON.stringify(inputs), '--poll'];
    const { code, report } = await run(wasm);
    expect(code).toBe(0);
    expect(report).toMatchObject({ status: 'completed', result: inputs, receipt: { verified: true } });
    expect(proxy.requests.some((r) => r.path.endsWith('/events'))).toBe(false);
  });

  it('retries a submission whose answer was lost, and a 503 shutting_down, with one Idempotency-Key: one task', async () => {
    const before = (await ownTasks()).length;
    proxy.once('POST', /^\/api\/v1\/tasks$/, { kind: 'lose-answer' });
    proxy.once('POST', /^\/api\/v1\/tasks$/, {
      kind: 'answer',
      status: 503,
      headers: { 'retry-after': '1' },
      body: { error: 'service_unavailable', reason: 'shutting_down', message: 'closing', request_id: 'x' },
    });
    const { code, report } = await run(['--program', 'text_stats', '--inputs', '{"text":"one two two"}']);
    expect(code).toBe(0);
    expect(report.retries).toEqual({ network_errors: 1, server_errors: 1, throttled: 0 });
    const posts = proxy.requests.filter((r) => r.method === 'POST');
    expect(posts.map((r) => r.status)).toEqual([0, 503, 201]);
    expect(new Set(posts.map((r) => r.headers['idempotency-key']))).toEqual(
      new Set([report.idempotency_key]),
    );
    expect(posts[2].at - posts[1].at).toBeGreaterThanOrEqual(1000); // the 503's Retry-After
    const tasks = await ownTasks();
    expect(tasks.length).toBe(before + 1);
    expect(tasks[0].task_id).toBe(report.task_id);

    // The script run again with that key (after a crash, say) gets the same task, not a second one.
    const again = await run([
      '--program',
      'text_stats',
      '--inputs',
      '{"text":"one two two"}',
      '--idempotency-key',
      report.idempotency_key,
    ]);
    expect(again.report).toMatchObject({
      task_id: report.task_id,
      status: 'completed',
      receipt: { verified: true },
    });
    expect((await ownTasks()).length).toBe(before + 1);
  });

  it('honours a 429 (too many event streams) by waiting its Retry-After, then follows the stream', async () => {
    // A task no node can take holds this user's only stream (TASK_EVENTS_MAX_STREAMS_PER_USER=1).
    const blocked = await api('POST', '/tasks', {
      task_type: 'computation',
      inputs: { program: 'expression', expression: '1' },
      requirements: { min_nodes: 1, max_execution_time_sec: 60, require_gpu: true },
    });
    const holder = new AbortController();
    const held = await fetch(`${cluster.base}/api/v1/tasks/${blocked.json.task_id}/events`, {
      headers: { 'x-api-key': apiKey },
      signal: holder.signal,
    });
    expect(held.status).toBe(200);

    const script = cluster.track(
      startNodeScript(EXAMPLE, ['--json', '--timeout', '60', '2*21'], {
        VCP_SERVER_URL: proxied,
        VCP_API_KEY: apiKey,
      }),
    );
    await eventually(
      () => expect(script.output()).toMatch(/rate limited: GET \/tasks\/\S+\/events: 429 rate_limited/),
      {
        timeoutMs: 20_000,
      },
    );
    holder.abort();
    const { code, report } = await finished(script);
    expect(code).toBe(0);
    expect(report).toMatchObject({ result: { result: 42 }, receipt: { verified: true } });
    expect(report.retries.throttled).toBeGreaterThanOrEqual(1);
    const streams = proxy.requests.filter((r) => r.path.endsWith('/events'));
    expect(streams[0].status).toBe(429);
    expect(streams.at(-1)?.status).toBe(200);
    expect(streams[1].at - streams[0].at).toBeGreaterThanOrEqual(2000); // Retry-After: 2
    await api('POST', `/tasks/${blocked.json.task_id}/cancel`);
  });

  it('checks the receipt of the original’s {prompt} against the program inputs the task shows it ran as', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vcp-prompt-task-'));
    const file = join(dir, 'task.json');
    writeFileSync(
      file,
      JSON.stringify({
        task_type: 'computation',
        inputs: { prompt: 'what is 2+2?' },
        requirements: { min_nodes: 1, max_execution_time_sec: 60 },
      }),
    );
    try {
      const { code, report, script } = await run(['--task', file]);
      expect({ code, output: code === 0 ? '' : script.output() }).toEqual({ code: 0, output: '' });
      expect(report).toMatchObject({
        status: 'completed',
        result: { result: 4 },
        receipt: { verified: true },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ends non-zero with the task’s reason when the task fails', async () => {
    const { code, report, script } = await run(['--wasm', join(WASM, 'trap.wasm')]);
    expect(code).toBe(1);
    expect(report).toMatchObject({ error: 'failed', status: 'failed', status_reason: 'unexecutable' });
    expect(lastLine(script)).toMatch(/^submit-and-wait: task \S+ failed: unexecutable \(last run trap/);
  });

  it('reports a tampered receipt, or one signed by another key than the pinned one, as not verifying', async () => {
    proxy.once('GET', /\/receipt$/, {
      kind: 'rewrite',
      rewrite: (body) => {
        const signed = JSON.parse(body);
        signed.receipt.completed_at = '2020-01-01T00:00:00.000Z'; // covered by the server's signature alone
        return JSON.stringify(signed);
      },
    });
    const tampered = await run(['1+1']);
    expect(tampered.code).toBe(3);
    expect(tampered.report).toMatchObject({
      error: 'receipt',
      receipt: { verified: false, failed: ['server signature'] },
    });
    expect(lastLine(tampered.script)).toMatch(/its receipt does not verify \(server signature\)$/);

    const otherKey = Buffer.alloc(32, 7).toString('base64');
    const pinned = await run(['1+1', '--public-key', otherKey]);
    expect(pinned.code).toBe(3);
    expect(pinned.report.receipt.failed).toEqual(['server key pinned']);
  });

  it('imports nothing but Node built-ins (no src/, dist/ or package: the documentation is enough)', () => {
    const source = readFileSync(EXAMPLE, 'utf8');
    const imported = [...source.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
    expect(imported.length).toBeGreaterThan(0);
    expect(imported.filter((specifier) => !specifier.startsWith('node:'))).toEqual([]);
    expect(source).not.toMatch(/\bimport\(|\brequire\(/);
  });
});
