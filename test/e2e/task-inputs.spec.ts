import canonicalize from 'canonicalize';
import { createHash } from 'node:crypto';
import { useAdminApp } from '../support/admin';
import { TestAgent } from '../support/agent';
import { bearer, newSession, Session } from '../support/auth';
import { ORIGINAL_TASK } from '../support/tasks';
import { fixture } from '../support/wasm';

/** What a REST client checks a receipt's inputs_hash against: the SHA-256 of the RFC 8785 form, done here. */
const jcsSha256 = (value: unknown) =>
  createHash('sha256')
    .update(canonicalize(value) ?? 'null', 'utf8')
    .digest('hex');

const solo = { min_nodes: 1, max_execution_time_sec: 60 };
/**
 * Sent as text: numbers in spellings JSON.stringify never writes (an exponent, a trailing zero, -0), escapes, and
 * keys out of JCS order, so the view's inputs are the stored value, not an echo of a JavaScript object.
 */
const MODULE_TASK_BODY = `{"task_type": "wasm_execution", "wasm_module": "${fixture('echo').toString('base64')}",
  "requirements": {"min_nodes": 1, "max_execution_time_sec": 60},
  "inputs": {"z": [1E21, 1.50, -0, 5e-324, 0.1], "a": "\\u00e9 \\ud83d\\ude00 \\"q\\"", "n": null, "m": {"b": true, "a": []}}}`;

/** `GET /tasks/:task_id` shows the inputs the task runs with: exactly what its receipt's inputs_hash hashes. */
describe('a task’s inputs in its own view', () => {
  const ctx = useAdminApp({
    database: 'pglite',
    env: { TASK_RETRY_BASE_MS: '0', SCHEDULER_SWEEP_INTERVAL_SECS: '3600' },
  });
  let alice: Session;
  let bob: Session;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    bob = await newSession(ctx.app, 'bob');
  });

  const submit = async (payload: string | object) => {
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: { ...bearer(alice.accessToken), 'content-type': 'application/json' },
      payload,
    });
    expect(res.statusCode).toBe(201);
    return res.json<{ task_id: string }>();
  };
  const read = (url: string, headers = bearer(alice.accessToken), method: 'GET' | 'POST' = 'GET') =>
    ctx.app.inject({ method, url: `/api/v1/tasks${url}`, headers });

  it.each([
    [
      'a module task’s inputs, as sent (as JSON values: -0 is 0)',
      MODULE_TASK_BODY,
      JSON.parse(JSON.stringify(JSON.parse(MODULE_TASK_BODY).inputs)),
    ],
    [
      'the original’s {prompt}: the program inputs it was mapped to',
      { task_type: 'computation', inputs: { prompt: 'what is 2+2?' }, requirements: solo },
      { program: 'expression', expression: '2+2' },
    ],
    [
      'the original’s {numbers, operation}: the program inputs it was mapped to',
      ORIGINAL_TASK,
      { program: 'expression', expression: '1+2+3' },
    ],
  ])('%s; their JCS SHA-256 is the receipt’s inputs_hash', async (_, body, stored) => {
    const task = await submit(body);
    const agent = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    const [run] = await agent.claim();
    expect(run.task_id).toBe(task.task_id);
    expect((await agent.report(run, 'ok', { v: 1 })).json()).toMatchObject({ task_status: 'completed' });

    const view = await read(`/${task.task_id}`);
    expect(view.statusCode).toBe(200);
    expect(view.json().inputs).toEqual(stored);
    // What the node was given, too.
    expect(view.json().inputs).toEqual(run.spec.inputs);
    const receipt = await read(`/${task.task_id}/receipt`);
    expect(receipt.statusCode).toBe(200);
    expect(jcsSha256(view.json().inputs)).toBe(receipt.json().receipt.inputs_hash);
    // An admin's view of the task is the same; another user's is the same 404 as for no task at all.
    expect((await read(`/${task.task_id}`, bearer(ctx.admin.accessToken))).json().inputs).toEqual(stored);
    expect((await read(`/${task.task_id}`, bearer(bob.accessToken))).statusCode).toBe(404);
  });

  it('a null is shown as the null it is; no inputs sent are stored and shown as {}', async () => {
    for (const [inputs, shown] of [
      [null, null],
      [undefined, {}],
    ]) {
      const task = await submit({ task_type: 'wasm_execution', ...moduleOf(), inputs });
      const view = (await read(`/${task.task_id}`)).json();
      expect(view).toHaveProperty('inputs', shown);
    }
  });

  it('the cancel answer is the task’s own view; the submission’s answer and lists leave the inputs out', async () => {
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: bearer(alice.accessToken),
      payload: { ...ORIGINAL_TASK, inputs: { prompt: 'what is 6*7?' } },
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).not.toHaveProperty('inputs');
    const cancelled = await read(`/${res.json().task_id}/cancel`, bearer(alice.accessToken), 'POST');
    expect(cancelled.statusCode).toBe(200);
    expect(cancelled.json().inputs).toEqual({ program: 'expression', expression: '6*7' });

    for (const url of ['', '?status=cancelled']) {
      const page = await read(url);
      expect(page.statusCode).toBe(200);
      expect(page.json().items.length).toBeGreaterThan(0);
      for (const item of page.json().items) expect(item).not.toHaveProperty('inputs');
    }
    const all = await read('?all=true', bearer(ctx.admin.accessToken));
    for (const item of all.json().items) expect(item).not.toHaveProperty('inputs');
  });
});

function moduleOf() {
  return { wasm_module: fixture('echo').toString('base64'), requirements: solo };
}
