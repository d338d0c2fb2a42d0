import { PROGRAMS, programNamed } from '../../src/programs/program-catalog';
import { ProgramsService } from '../../src/programs/programs.service';
import { ModuleChecker } from '../../src/wasm/module-checker';
import { ENGINE_LANE, WasmService } from '../../src/wasm/wasm.service';
import { useAdminApp } from '../support/admin';
import { TestAgent } from '../support/agent';
import { bearer, newSession, Session } from '../support/auth';
import { getTask, ORIGINAL_TASK, submitTask } from '../support/tasks';
import { expect422 } from '../support/validation';
import { fixture } from '../support/wasm';

const EXPRESSION_ID = programNamed('expression')!.sha256;

/** Issue 17, computation: GET /programs, built-ins in the module store, submission mapping, the run spec. */
describe('built-in programs over HTTP', () => {
  const ctx = useAdminApp({ env: { TASK_RETRY_BASE_MS: '0', NODE_MAX_CONCURRENT_RUNS: '100' } });
  let alice: Session;
  let bob: Session;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    bob = await newSession(ctx.app, 'bob');
  });

  const post = (payload: object, headers = bearer(alice.accessToken)) =>
    ctx.app.inject({ method: 'POST', url: '/api/v1/tasks', headers, payload });
  const computation = (inputs: unknown) => ({ ...ORIGINAL_TASK, inputs });
  const uploaders = async () =>
    (
      await ctx.dataSource.query<{ module_id: string; uploaded_by: string | null }[]>(
        `SELECT module_id, uploaded_by FROM wasm_modules WHERE module_id = ANY($1)`,
        [PROGRAMS.map((p) => p.sha256)],
      )
    ).sort((a, b) => a.module_id.localeCompare(b.module_id));

  it('GET /programs lists each program with its schema and module id, to any authenticated caller', async () => {
    expect((await ctx.app.inject({ method: 'GET', url: '/api/v1/programs' })).statusCode).toBe(401);
    const res = await ctx.app.inject({
      method: 'GET',
      url: '/api/v1/programs',
      headers: bearer(bob.accessToken),
    });
    expect(res.statusCode).toBe(200);
    const items = res.json<{ items: { name: string; module_id: string; input_schema: any }[] }>().items;
    expect(items.map((p) => [p.name, p.module_id])).toEqual(PROGRAMS.map((p) => [p.name, p.sha256]));
    expect(items[1].input_schema.properties.samples).toMatchObject({ type: 'integer', maximum: 100_000_000 });
    const doc = (await ctx.app.inject({ method: 'GET', url: '/api-docs/openapi.json' })).json();
    expect(doc.paths['/api/v1/programs'].get.responses['200']).toBeDefined();
  });

  it('registers every program at boot as a system module (no uploader), again after a user uploaded it', async () => {
    expect(await uploaders()).toEqual(
      PROGRAMS.map((p) => ({ module_id: p.sha256, uploaded_by: null })).sort((a, b) =>
        a.module_id.localeCompare(b.module_id),
      ),
    );
    const meta = await ctx.app.inject({
      method: 'GET',
      url: `/api/v1/modules/${EXPRESSION_ID}`,
      headers: bearer(alice.accessToken),
    });
    expect(meta.statusCode).toBe(200);
    // As if alice had uploaded the same bytes before the programs existed: the next boot takes them back.
    await ctx.dataSource.query(`UPDATE wasm_modules SET uploaded_by = $1 WHERE module_id = $2`, [
      alice.userId,
      EXPRESSION_ID,
    ]);
    expect((await uploaders()).find((m) => m.module_id === EXPRESSION_ID)?.uploaded_by).toBe(alice.userId);
    await ctx.app.get(ProgramsService).onApplicationBootstrap();
    expect((await uploaders()).every((m) => m.uploaded_by === null)).toBe(true);
  });

  it('parses the programs at boot without starting a check thread; a user’s upload still gets one', async () => {
    const checker = ctx.app.get(ModuleChecker);
    expect(checker.checks).toBeGreaterThanOrEqual(PROGRAMS.length);
    expect(checker.threadCount).toBe(0);
    const parsed = checker.checks;
    const upload = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/modules',
      headers: { ...bearer(alice.accessToken), 'content-type': 'application/wasm' },
      payload: fixture('echo'),
    });
    expect(upload.statusCode).toBe(201);
    expect(checker.checks).toBe(parsed + 1);
    expect(checker.threadCount).toBe(1);
  });

  it('a computation task runs its program: module_id set, inputs checked against the schema (422 names the field)', async () => {
    const ok = await post(computation({ program: 'expression', expression: '2+3*4' }));
    expect(ok.statusCode).toBe(201);
    expect(ok.json().module_id).toBe(EXPRESSION_ID);
    expect422(await post(computation({ program: 'monte_carlo_pi', samples: 100_000_001 })), 'inputs.samples');
    expect422(await post(computation({ program: 'expression' })), 'inputs.expression');
    expect422(await post(computation({ program: 'nope' })), 'inputs.program');
    expect422(
      await post(computation({ program: 'expression', expression: '1', module: 'x' })),
      'inputs.module',
    );
    const unknown = await post(computation({ prompt: 'write me a poem' }));
    expect422(unknown, 'inputs.prompt');
    expect(unknown.json().details[0].message).toContain('expression, monte_carlo_pi, text_stats');
    expect422(
      await post({ ...computation({ program: 'expression', expression: '1' }), module_id: EXPRESSION_ID }),
      'module_id',
    );
  });

  it('a test agent claiming computation tasks gets the program module and the mapped inputs in its spec', async () => {
    const agent = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    const h = bearer(alice.accessToken);
    const direct = await submitTask(ctx.app, h, { inputs: { program: 'expression', expression: '2+3*4' } });
    const prompt = await submitTask(ctx.app, h, {
      inputs: { prompt: 'Estimate pi with 5000 samples, seed 3' },
    });
    const original = await submitTask(ctx.app, h);
    const runs = await agent.claim({ max: 16, wait_ms: 0 });
    const specOf = (taskId: string) =>
      runs.find((r) => r.task_id === taskId)?.spec as Record<string, unknown>;
    expect(specOf(direct.task_id)).toMatchObject({
      module_id: EXPRESSION_ID,
      module_url: `/api/v1/modules/${EXPRESSION_ID}/download`,
      inputs: { program: 'expression', expression: '2+3*4' },
    });
    expect(specOf(prompt.task_id)).toMatchObject({
      module_id: programNamed('monte_carlo_pi')!.sha256,
      inputs: { program: 'monte_carlo_pi', samples: 5000, seed: 3 },
    });
    expect(specOf(original.task_id)).toMatchObject({
      module_id: EXPRESSION_ID,
      inputs: { program: 'expression', expression: '1+2+3' },
    });

    // The agent's part, by hand: download the module the spec names, run it with the spec's inputs, report.
    const run = runs.find((r) => r.task_id === direct.task_id)!;
    const download = await ctx.app.inject({
      method: 'GET',
      url: specOf(direct.task_id).module_url as string,
      headers: bearer(bob.accessToken),
    });
    expect(download.statusCode).toBe(200);
    const result = await ctx.app
      .get(WasmService)
      .runBytes(download.rawPayload, { inputs: run.spec.inputs, deterministic: true }, ENGINE_LANE);
    expect(result.module_hash).toBe(EXPRESSION_ID);
    expect((await agent.report(run, result.outcome, result.stdout)).statusCode).toBe(200);
    expect(await getTask(ctx.app, direct.task_id, h)).toMatchObject({
      status: 'completed',
      result: { result: 14, decimal: '14', exact: true },
    });
  });

  it('a program is charged to nobody, deleting the last task that ran it keeps its bytes, and an admin cannot delete it', async () => {
    const carol = await newSession(ctx.app, 'carol');
    const h = bearer(carol.accessToken);
    const task = await submitTask(ctx.app, h, { inputs: { program: 'expression', expression: '6*7' } });
    const usage = await ctx.app.inject({ method: 'GET', url: '/api/v1/modules/usage', headers: h });
    expect(usage.json()).toMatchObject({ used_bytes: 0, used_modules: 0 });
    const del = await ctx.app.inject({ method: 'DELETE', url: `/api/v1/tasks/${task.task_id}`, headers: h });
    expect(del.statusCode).toBeLessThan(300);
    const adminDelete = await ctx.app.inject({
      method: 'DELETE',
      url: `/api/v1/modules/${EXPRESSION_ID}`,
      headers: bearer(ctx.admin.accessToken),
    });
    expect(adminDelete.statusCode).toBe(403);
    expect(adminDelete.json().error).toBe('forbidden');
    const download = await ctx.app.inject({
      method: 'GET',
      url: `/api/v1/modules/${EXPRESSION_ID}/download`,
      headers: bearer(bob.accessToken),
    });
    expect(download.statusCode).toBe(200);
    // (An ordinary module with no owner and no live task is collected by the same delete: modules-ownership.)
    const rows = await ctx.dataSource.query<{ built_in: boolean }[]>(
      `SELECT built_in FROM wasm_modules WHERE module_id = $1`,
      [EXPRESSION_ID],
    );
    expect(rows).toEqual([{ built_in: true }]);
  });
});
