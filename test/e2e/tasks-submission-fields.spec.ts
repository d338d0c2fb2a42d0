import { useAdminApp } from '../support/admin';
import { useTestApp } from '../support/app';
import { bearer, newSession, Session } from '../support/auth';
import { ORIGINAL_TASK } from '../support/tasks';
import { expect422 } from '../support/validation';
import { fixture, sha256 } from '../support/wasm';
import { name, section } from '../support/wasm-encoding';

/** POST /tasks: how optional requirement fields are read (null, defaults) and that answered ones round-trip. */
describe('task submission fields', () => {
  const ctx = useAdminApp();
  let alice: Session;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
  });

  const post = (payload: object, headers: Record<string, string>) =>
    ctx.app.inject({ method: 'POST', url: '/api/v1/tasks', headers, payload });
  const call = (method: 'POST', url: string, headers: Record<string, string>) =>
    ctx.app.inject({ method, url: `/api/v1${url}`, headers });

  it('an optional field sent as null is absent (its default), as @IsOptional validated it, in every field', async () => {
    // Generated clients send every optional field they do not set as null. Top-level nulls already meant
    // "absent" (priority: null → 0); quorum, max_runs, module_id, circuit_id and wasm_module were read as
    // present by the per-type checks: a 422 with a wrong message ("must be a majority of min_nodes") instead.
    const nulls = {
      wasm_module: null,
      module_id: null,
      circuit_id: null,
      args: null,
      deterministic: null,
      priority: null,
      max_attempts: null,
      queue_timeout_sec: null,
    };
    const requirementNulls = {
      quorum: null,
      max_runs: null,
      verification: null,
      require_gpu: null,
      require_proof: null,
      min_cpu_cores: null,
      min_memory_gb: null,
    };
    const h = bearer(alice.accessToken);
    for (const min_nodes of [1, 2]) {
      const requirements = { min_nodes, max_execution_time_sec: 60, ...requirementNulls };
      const res = await post({ ...ORIGINAL_TASK, ...nulls, requirements }, h);
      expect({ min_nodes, status: res.statusCode, details: res.json().details }).toEqual({
        min_nodes,
        status: 201,
        details: undefined,
      });
      expect(res.json()).toMatchObject({
        priority: 0,
        max_attempts: 3,
        circuit_id: null,
        requirements: { min_nodes, require_gpu: false, require_proof: false },
        verification: { method: min_nodes === 1 ? 'none' : 'quorum' },
      });
      if (min_nodes === 2) expect(res.json().requirements).toMatchObject({ quorum: 2, max_runs: 4 });
    }
  });

  it('the requirements a task answers with are accepted again (min_nodes 1000: max_runs defaults to 1002)', async () => {
    const h = bearer(alice.accessToken);
    const first = await post(
      { ...ORIGINAL_TASK, requirements: { min_nodes: 1000, max_execution_time_sec: 60 } },
      h,
    );
    expect(first.json().requirements).toMatchObject({ quorum: 1000, max_runs: 1002 });
    const again = await post({ ...ORIGINAL_TASK, requirements: first.json().requirements }, h);
    expect([again.statusCode, again.json().details]).toEqual([201, undefined]);
    expect(again.json().requirements).toEqual(first.json().requirements);
    expect422(
      await post({ ...ORIGINAL_TASK, requirements: { ...first.json().requirements, max_runs: 1003 } }, h),
      'requirements.max_runs',
    );
    for (const task of [first, again]) await call('POST', `/tasks/${task.json().task_id}/cancel`, h);
  });

  it('refuses args and deterministic where the task would store and not use them; counts an argument in UTF-16 units', async () => {
    const h = bearer(alice.accessToken);
    // A built-in program reads only its inputs, a prover only its witness.
    expect422(await post({ ...ORIGINAL_TASK, args: ['--fast'] }, h), 'args');
    expect(await post({ ...ORIGINAL_TASK, args: [] }, h)).toMatchObject({ statusCode: 201 });
    expect422(
      await post(
        {
          ...ORIGINAL_TASK,
          task_type: 'zk_proof',
          circuit_id: 'a'.repeat(64),
          deterministic: false,
          inputs: {},
        },
        h,
      ),
      'deterministic',
    );
    // 129 emoji are 258 UTF-16 units, past the run route's and the engine's 256.
    expect422(
      await post({ ...ORIGINAL_TASK, task_type: 'wasm_execution', args: ['\u{1F600}'.repeat(129)] }, h),
      'args',
    );
  });
});

/** POST /tasks's body limit: a module at its cap inline, beside a task body that fits BODY_LIMIT_BYTES. */
describe('task submission body limit', () => {
  // Above the largest built-in program (registered at boot under the same cap).
  const cap = 48 * 1024;
  // The echo fixture padded with a custom section to exactly the cap (64 KiB of base64).
  const echo = fixture('echo');
  const padding = cap - echo.length - 1 - 3 - name('pad').length;
  const module = Buffer.concat([echo, Buffer.from(section(0, [...name('pad'), ...Buffer.alloc(padding)]))]);
  const ctx = useTestApp({
    database: 'pglite',
    env: { WASM_MAX_MODULE_BYTES: String(cap), BODY_LIMIT_BYTES: '4096' },
  });
  let h: Record<string, string>;

  beforeAll(async () => {
    h = bearer((await newSession(ctx.app, 'carol')).accessToken);
  });

  const post = (payload: object) =>
    ctx.app.inject({ method: 'POST', url: '/api/v1/tasks', headers: h, payload });
  const task = (inputs: object, wasm_module?: string) => ({
    task_type: 'wasm_execution',
    ...(wasm_module ? { wasm_module } : { module_id: sha256(module) }),
    inputs,
    requirements: { min_nodes: 1, max_execution_time_sec: 60 },
  });

  it('admits a module at WASM_MAX_MODULE_BYTES inline with inputs a body without it may carry', async () => {
    expect(module.length).toBe(cap);
    const inputs = { text: 'x'.repeat(3000) };
    // The control: these inputs alone are well within BODY_LIMIT_BYTES (the module stored first).
    const upload = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/modules',
      headers: { ...h, 'content-type': 'application/wasm' },
      payload: module,
    });
    expect(upload.statusCode).toBe(201);
    expect((await post(task(inputs))).statusCode).toBe(201);
    // With the module inline: was a 413, the route's limit leaving 1 KiB beside the module.
    const inline = await post(task(inputs, module.toString('base64')));
    expect([inline.statusCode, inline.json().error]).toEqual([201, undefined]);
    // Past the module's base64 and BODY_LIMIT_BYTES together: 413 still.
    const over = await post(task({ text: 'x'.repeat(4200) }, module.toString('base64')));
    expect(over.statusCode).toBe(413);
  });

  it('holds inputs to BODY_LIMIT_BYTES: the larger route limit makes room for an inline module only', async () => {
    // Within the route's limit (the module's allowance), but no module: was a 201, storing ~63 KB of inputs.
    const inputs = { parts: Array.from({ length: 7 }, () => 'x'.repeat(9000)) };
    const big = await post(task(inputs));
    expect(big.statusCode).toBe(413);
    expect(big.json<{ message: string }>().message).toBe(
      `inputs take ${JSON.stringify(inputs).length} bytes as JSON, over BODY_LIMIT_BYTES (4096): a task's body ` +
        'may be larger only by its inline module',
    );
    // Just within it, no module (negative control): taken.
    expect((await post(task({ text: 'x'.repeat(3900) }))).statusCode).toBe(201);
  });
});
