import { EmbeddedNodes } from '../../src/embedded-node/embedded-node.service';
import { useAdminApp } from '../support/admin';
import { bearer, newSession } from '../support/auth';
import { eventually } from '../support/eventually';
import { getTask, submitTask } from '../support/tasks';
import { fixture } from '../support/wasm';
import { WasmService } from '../../src/wasm/wasm.service';

/**
 * The engine the embedded node shares with the server is saturated by other callers (the embedded nodes alone
 * never lease more runs than it has slots): a run the node leased finds the node agents' lane full and the
 * engine refuses it (503). The node could not run it: the run is reported as a node fault and the
 * task goes back to the queue, and the node goes on (its result is signed for what the server asks).
 */
describe('the embedded node when the engine refuses its run', () => {
  const ctx = useAdminApp({
    database: 'pglite',
    env: {
      EMBEDDED_NODE: 'on',
      EMBEDDED_NODE_CONCURRENCY: '2',
      WASM_MAX_CONCURRENCY: '2',
      WASM_MAX_QUEUED_PER_USER: '1',
      TASK_RETRY_BASE_MS: '0',
    },
  });

  it('reports the refused run (the task is requeued) and keeps running', async () => {
    const alice = await newSession(ctx.app, 'alice');
    const h = bearer(alice.accessToken);
    const loop = {
      task_type: 'wasm_execution',
      wasm_module: fixture('loop').toString('base64'),
      inputs: {},
      // Long enough that both are leased while the first still waits, on a loaded machine too.
      requirements: { min_nodes: 1, max_execution_time_sec: 10 },
      max_attempts: 3,
    };
    // Both engine slots busy with runs of the server's own (unbounded here, stopped at the end)…
    const engine = ctx.app.get(WasmService);
    const hold = new AbortController();
    const hogs = [1, 2].map(() =>
      engine.runBytes(fixture('loop'), {
        inputs: null,
        runtime: 'v8',
        timeoutMs: 30_000,
        signal: hold.signal,
      }),
    );
    await eventually(() => expect(engine.stats.active).toBe(2));
    // …the node's two runs, leased at once: one waits in the node agents' lane, the other finds it full.
    const ids = await Promise.all([1, 2].map(async () => (await submitTask(ctx.app, h, loop)).task_id));
    const refused = await eventually(
      async () => {
        const tasks = await Promise.all(ids.map((id) => getTask(ctx.app, id, h)));
        const run = tasks.flatMap((task) => task.runs ?? []).find((r) => r.outcome === 'error');
        if (!run) throw new Error('no refused run reported yet');
        return run;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    hold.abort();
    await Promise.allSettled(hogs);
    expect(refused.stderr_tail).toContain('retry later');
    expect(ctx.app.get(EmbeddedNodes).running).toBe(1);
    const node = await ctx.app.inject({
      method: 'GET',
      url: '/api/v1/nodes/embedded-1',
      headers: bearer(ctx.admin.accessToken),
    });
    expect(node.json()).toMatchObject({ status: expect.not.stringMatching(/rejected/) });
  }, 60_000);
});
