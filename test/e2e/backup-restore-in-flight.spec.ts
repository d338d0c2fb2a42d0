import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { call, dumpAndRestore, HttpNode, login, ok, pgTool } from '../support/backup';
import { eventually } from '../support/eventually';
import { createTestDatabase, TestDatabase } from '../support/postgres';
import { ServerProcess, startServer } from '../support/server-process';

const ALICE = { username: 'alice', password: 'correct horse battery' };
const BOB = { username: 'bob', password: 'another horse battery' };
/** What the built-in program answers for `6*7` (README, built-in programs): a quorum's runs must agree on it. */
const ANSWER = { result: 42, decimal: '42', exact: true, fraction: '42' };

type Task = Record<string, any> & { task_id: string; status: string; runs: Record<string, any>[] };

/**
 * README, "Backup and restore", on PostgreSQL, with work in flight at the dump: a task leased to a node that
 * lives on, tasks leased to a node that is gone, a quorum task half reported, and pending tasks. The restored
 * deployment (its embedded node the only worker) finishes every one of them once.
 */
describe('backup and restore with tasks in flight (PostgreSQL)', () => {
  let scratch: string;
  const servers: ServerProcess[] = [];
  const databases: TestDatabase[] = [];
  beforeEach(() => (scratch = mkdtempSync(join(tmpdir(), 'vcp-backup-'))));
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      if (server.child.exitCode === null && server.child.signalCode === null) await server.stop();
    }
    await Promise.all(databases.splice(0).map((db) => db.drop()));
    rmSync(scratch, { recursive: true, force: true });
  });

  const start = async (env: Record<string, string>) => {
    const server = await startServer(env);
    servers.push(server);
    return server;
  };

  it('restores leases, a half-reported quorum and the queue into a state that finishes every task once', async () => {
    if (!pgTool('pg_dump') || !pgTool('pg_restore')) {
      console.warn('pg_dump or pg_restore not found in /usr/bin or /usr/local/bin: not run');
      return;
    }
    // Empty: the original is made by the first replica's start, the copy by the restore.
    const [original, restored] = [
      await createTestDatabase({ migrated: false }),
      await createTestDatabase({ migrated: false }),
    ];
    databases.push(original, restored);
    // The task tier's 30 a minute would throttle the test's polling of six tasks.
    const limits = { RATE_LIMIT_TASK_RPM: '6000', RATE_LIMIT_TASK_BURST: '200' };
    // Production style: the secrets in the environment, the same for every replica and for the restore.
    const secrets = {
      JWT_SECRET: randomBytes(32).toString('hex'),
      REFRESH_TOKEN_PEPPER: randomBytes(32).toString('hex'),
      API_KEY_PEPPER: randomBytes(32).toString('hex'),
      RECEIPT_SIGNING_KEY: randomBytes(32).toString('base64'),
    };
    const replica = (name: string, leaseSecs: number) =>
      start({
        ...secrets,
        ...limits,
        DATABASE_URL: original.url,
        DATA_DIR: join(scratch, name),
        RUN_LEASE_SECS: String(leaseSecs),
      });
    // Two replicas serving while the dump is taken. Their lease lengths differ so that, whatever the restore
    // takes on a loaded machine, the leases granted by `long` are live after it and those of `short` run out
    // soon (before the restored server starts, or after).
    const [long, short] = await Promise.all([replica('long', 600), replica('short', 8)]);

    await ok(call(long.port, 'POST', '/auth/register', { json: ALICE }), 201);
    await ok(call(long.port, 'POST', '/auth/register', { json: BOB }), 201);
    const alice = (await login(long.port, ALICE)).access_token;
    const bob = (await login(long.port, BOB)).access_token;
    const submit = async (priority: number, minNodes = 1) =>
      (
        await ok<{ task_id: string }>(
          call(long.port, 'POST', '/tasks', {
            token: alice,
            json: {
              task_type: 'computation',
              inputs: { program: 'expression', expression: '6*7' },
              requirements: { min_nodes: minNodes, max_execution_time_sec: 60 },
              priority,
            },
          }),
          201,
        )
      ).task_id;
    const taskIds = {
      half: await submit(9, 2),
      gone: await submit(8),
      live: await submit(7),
      done: await submit(6),
    };
    // Bob's node reports its run of the quorum task; Alice's node `gone` takes the other run and the next task
    // on the short lease, and never speaks again; Alice's node `live` takes two on the long lease.
    const [bobs, gone, live] = [
      await HttpNode.register(long.port, bob),
      await HttpNode.register(long.port, alice),
      await HttpNode.register(long.port, alice),
    ];
    const [bobsHalf] = await bobs.claim(long.port, 1);
    expect(bobsHalf.task_id).toBe(taskIds.half);
    await ok(bobs.report(long.port, bobsHalf, bobs.result(bobsHalf, ANSWER)));
    const goneRuns = await gone.claim(short.port, 2);
    expect(goneRuns.map((r) => r.task_id).sort()).toEqual([taskIds.half, taskIds.gone].sort());
    const liveRuns = await live.claim(long.port, 2);
    const leasedTo = (id: string) => liveRuns.find((r) => r.task_id === id)!;
    const [liveRun, doneRun] = [leasedTo(taskIds.live), leasedTo(taskIds.done)];
    expect(liveRuns).toHaveLength(2);
    await ok(live.report(long.port, doneRun, live.result(doneRun, ANSWER)));
    const pending = [await submit(0), await submit(0)];
    const done = await ok<Task>(call(long.port, 'GET', `/tasks/${taskIds.done}`, { token: alice }));
    expect(done.status).toBe('completed');

    dumpAndRestore(original.url, restored.url, join(scratch, 'vcp.dump'));

    // After the dump the old deployment goes on: `live` reports its run, and takes a new one.
    const liveResult = live.result(liveRun, ANSWER);
    await ok(live.report(long.port, liveRun, liveResult));
    // (A pending one; on a machine slow enough, one whose short lease ran out since: the same to the restore.)
    const [afterDump] = await live.claim(long.port, 1);
    expect([taskIds.half, taskIds.gone, ...pending]).toContain(afterDump?.task_id);
    await Promise.all([long.stop(), short.stop()]);

    const server = await start({
      ...secrets,
      ...limits,
      DATABASE_URL: restored.url,
      DATA_DIR: join(scratch, 'restored'),
      EMBEDDED_NODE: 'on',
      // Nothing but the leases in the restored database may time the lease sweep: no periodic sweep, no lease
      // granted here that runs out, no node marked offline within the test.
      SCHEDULER_SWEEP_INTERVAL_SECS: '3600',
      RUN_LEASE_SECS: '600',
      NODE_OFFLINE_AFTER_SECS: '3600',
    });
    const port = server.port;

    // `live`'s agent now reaches the restored deployment. The run leased before the dump is still its own
    // there (live lease, same fence): renewed, and its result accepted once — a repeat gets the same answer.
    // The run leased after the dump is unknown: lost, and its result refused.
    const beat = await live.heartbeat(port, [liveRun, afterDump]);
    expect(beat.leases).toEqual({ renewed: [liveRun.run_id], lost: [afterDump.run_id], cancel: [] });
    const accepted = await ok(live.report(port, liveRun, liveResult));
    expect(await ok(live.report(port, liveRun, liveResult))).toEqual(accepted);
    await expectLeaseLost(live.report(port, afterDump, live.result(afterDump, ANSWER)));

    // Everything else is done by the restored embedded node: the gone node's leases run out and their tasks
    // are let again, the quorum gets its second run, the queue is worked off.
    const all = [...Object.values(taskIds), ...pending];
    const tasks = await eventually(
      async () => {
        const read = await Promise.all(
          all.map((id) => ok<Task>(call(port, 'GET', `/tasks/${id}`, { token: alice }))),
        );
        expect(read.map((task) => task.status)).toEqual(all.map(() => 'completed'));
        return new Map(read.map((task) => [task.task_id, task]));
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    );
    // Late results of the gone node are refused: its leases ended.
    for (const run of goneRuns) await expectLeaseLost(gone.report(port, run, gone.result(run, ANSWER)));

    const runsOf = (id: string) =>
      tasks
        .get(id)!
        .runs.map((r) => `${nodeName(r.node_id as string)} ${r.status as string}`)
        .sort();
    const nodeName = (id: string) =>
      ({ [bobs.nodeId]: 'bob', [gone.nodeId]: 'gone', [live.nodeId]: 'live' })[id] ??
      (id.startsWith('embedded-') ? 'embedded' : id);
    expect(runsOf(taskIds.done)).toEqual(['live succeeded']);
    expect(tasks.get(taskIds.done)).toEqual(done);
    expect(runsOf(taskIds.live)).toEqual(['live succeeded']);
    expect(runsOf(taskIds.gone)).toEqual(['embedded succeeded', 'gone expired']);
    expect(runsOf(taskIds.half)).toEqual(['bob succeeded', 'embedded succeeded', 'gone expired']);
    expect(tasks.get(taskIds.half)!.verification).toMatchObject({ method: 'quorum' });
    for (const id of pending) expect(runsOf(id)).toEqual(['embedded succeeded']);
    for (const task of tasks.values()) expect(task.result).toEqual(ANSWER);

    // Nothing lost, nothing doubled, nothing left held: the event trail of the restored database.
    const db = new Client({ connectionString: restored.url });
    await db.connect();
    try {
      const { rows } = await db.query<{ task_id: string; completions: number }>(
        `SELECT t.task_id, count(e.*)::int AS completions FROM tasks t
           LEFT JOIN task_events e ON e.task_id = t.task_id AND e.event_type = 'status'
                                  AND e.data->>'status' = 'completed'
          GROUP BY t.task_id`,
      );
      expect(rows.map((r) => [r.task_id, r.completions]).sort()).toEqual(all.map((id) => [id, 1]).sort());
      const leased = await db.query(`SELECT 1 FROM task_runs WHERE status = 'leased'`);
      expect(leased.rowCount).toBe(0);
    } finally {
      await db.end();
    }
  }, 300_000);
});

async function expectLeaseLost(response: Promise<Response>): Promise<void> {
  const res = await response;
  const body = (await res.json()) as { reason?: string };
  expect([res.status, body.reason]).toEqual([409, 'lease_lost']);
}
