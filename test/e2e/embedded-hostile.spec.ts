import { useAdminApp } from '../support/admin';
import { bearer, newSession, Session } from '../support/auth';
import { eventually } from '../support/eventually';
import { finalTask } from '../support/task-waits';
import { submitTask } from '../support/tasks';
import { Fixture, fixture } from '../support/wasm';

const task = (name: Fixture, seconds: number, extra: Record<string, unknown> = {}) => ({
  task_type: 'wasm_execution',
  wasm_module: fixture(name).toString('base64'),
  inputs: {},
  requirements: { min_nodes: 1, max_execution_time_sec: seconds },
  max_attempts: 2,
  ...extra,
});

/** A WASI command that writes the three bytes `a`, NUL, `b` to stdout (fd_write of a data segment). */
const NUL_PRINTER_BASE64 =
  'AGFzbQEAAAABDAJgBH9/f38Bf2AAAAIjARZ3YXNpX3NuYXBzaG90X3ByZXZpZXcxCGZkX3dyaXRlAAADAgEBBQMBAAEHEwIGbWVtb3J5AgAGX3N0YXJ0AAEKHQEbAEEAQRA2AgBBBEEDNgIAQQFBAEEBQQgQABoLCwkBAEEQCwNhAGI=';

/**
 * Issue 17, acceptance 5: the WASM engine's hostile fixtures, run as tasks by two embedded nodes, end in the
 * right outcome while the nodes keep heartbeating: the loop runs longer than a lease, so its lease survives
 * only if heartbeats renew it during the run (no lease may be lost).
 */
describe('hostile modules as tasks (two embedded nodes)', () => {
  const ctx = useAdminApp({
    database: 'pglite',
    env: {
      EMBEDDED_NODE: 'on',
      EMBEDDED_NODES: '2',
      EMBEDDED_NODE_CONCURRENCY: '2',
      // Engine slots for both nodes' two (the nodes together never lease more runs than the engine runs).
      WASM_MAX_CONCURRENCY: '4',
      RUN_LEASE_SECS: '3',
      SCHEDULER_SWEEP_INTERVAL_SECS: '1',
      TASK_RETRY_BASE_MS: '0',
      WASM_MAX_MEMORY_MB: '32',
      WASM_MAX_OUTPUT_BYTES: '65536',
    },
  });
  let alice: Session;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
  });

  it('loop → timeout, memory bomb → memory_limit, flood → output_limit, trap → trap; no lease lost', async () => {
    const h = bearer(alice.accessToken);
    const cases: [Fixture, number, string, string][] = [
      // [fixture, timeout, run outcome, how the task ends]
      ['loop', 5, 'timeout', 'attempts_exhausted'],
      ['memory_bomb', 30, 'memory_limit', 'unexecutable'],
      ['flood', 30, 'output_limit', 'attempts_exhausted'],
      ['trap', 30, 'trap', 'unexecutable'],
    ];
    const submitted = await Promise.all(
      cases.map(async ([name, seconds]) => (await submitTask(ctx.app, h, task(name, seconds))).task_id),
    );
    for (const [i, [name, , outcome, reason]] of cases.entries()) {
      const done = await finalTask(ctx.app, submitted[i], h, 90_000);
      expect({ name, status: done.status, reason: done.status_reason }).toEqual({
        name,
        status: 'failed',
        reason,
      });
      // Two runs to the same outcome. A task fault (unexecutable) needs a second node to confirm it, so both
      // nodes ran those; a run that timed out or flooded may be retried by the same node once the lease time
      // has passed (a busy machine keeps the other node on the longer tasks), so only the outcomes are pinned.
      const runs = done.runs!.map((run) => [run.node_id, run.outcome]).sort();
      expect({ name, outcomes: runs.map(([, runOutcome]) => runOutcome) }).toEqual({
        name,
        outcomes: [outcome, outcome],
      });
      if (reason === 'unexecutable') {
        expect({ name, runs }).toEqual({
          name,
          runs: [
            ['embedded-1', outcome],
            ['embedded-2', outcome],
          ],
        });
      }
    }
    // The submitter can read why: the trap's stderr is in the task's runs.
    const trapped = await finalTask(ctx.app, submitted[3], h);
    for (const run of trapped.runs!) {
      expect(run).toMatchObject({ exit_code: null, stderr_tail: expect.stringContaining('about to trap') });
    }
    const [{ lost }] = await ctx.dataSource.query(
      `SELECT count(*)::int AS lost FROM task_runs WHERE outcome = 'lease_expired'`,
    );
    expect(lost).toBe(0);
    const [{ audited }] = await ctx.dataSource.query(
      `SELECT count(*)::int AS audited FROM audit_log WHERE action = 'run.lease_lost'`,
    );
    expect(audited).toBe(0);
    const nodes = await ctx.dataSource.query(
      `SELECT node_id, status FROM nodes WHERE node_id LIKE 'embedded-%' ORDER BY node_id`,
    );
    expect(nodes).toEqual([
      { node_id: 'embedded-1', status: 'online' },
      { node_id: 'embedded-2', status: 'online' },
    ]);
  }, 180_000);

  it('a program that prints a NUL: both nodes report it as U+FFFD and agree (PostgreSQL stores no U+0000)', async () => {
    const h = bearer(alice.accessToken);
    const printsNul = {
      task_type: 'wasm_execution',
      wasm_module: NUL_PRINTER_BASE64,
      inputs: {},
      requirements: { min_nodes: 2, max_execution_time_sec: 30 },
    };
    const submitted = await submitTask(ctx.app, h, printsNul);
    const done = await finalTask(ctx.app, submitted.task_id, h, 60_000);
    expect(done).toMatchObject({ status: 'completed', result: 'a\ufffdb' });
  }, 90_000);

  it('a cancelled task stops its run at once: the slot is free long before the run would have timed out', async () => {
    const h = bearer(alice.accessToken);
    // Each node has 2 slots: fill all four with loops that would run for a minute.
    const loops = await Promise.all(
      [1, 2, 3, 4].map(async () => (await submitTask(ctx.app, h, task('loop', 60))).task_id),
    );
    await eventually(
      async () => {
        const [{ n }] = await ctx.dataSource.query(
          `SELECT count(*)::int AS n FROM task_runs WHERE task_id = ANY($1) AND status = 'leased'`,
          [loops],
        );
        expect(n).toBe(4);
      },
      { timeoutMs: 30_000 },
    );
    for (const id of loops) {
      const res = await ctx.app.inject({ method: 'POST', url: `/api/v1/tasks/${id}/cancel`, headers: h });
      expect(res.statusCode).toBe(200);
    }
    // With every slot held by a minute-long loop, this task completes only if the cancels freed them.
    const echo = await submitTask(ctx.app, h, task('echo', 30, { inputs: { after: 'cancel' } }));
    const done = await finalTask(ctx.app, echo.task_id, h, 30_000);
    expect(done).toMatchObject({ status: 'completed', result: { after: 'cancel' } });
  }, 120_000);
});
