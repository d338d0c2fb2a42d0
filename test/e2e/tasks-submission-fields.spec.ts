import { useAdminApp } from '../support/admin';
import { bearer, newSession, Session } from '../support/auth';
import { ORIGINAL_TASK } from '../support/tasks';
import { expect422 } from '../support/validation';

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
});
